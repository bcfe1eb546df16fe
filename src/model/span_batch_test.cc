#include "model/span_batch.h"

#include <gtest/gtest.h>

#include <string>

namespace waggle::model {
namespace {

// A span with every member away from its default, and `attributes` attributes whose strings
// are `text`.
Span FullSpan(size_t attributes, const std::string& text) {
  Span s;
  s.trace_id.bytes[0] = 1;
  s.span_id.value = 2;
  s.parent_span_id.value = 3;
  for (std::string* str :
       {&s.environment, &s.service, &s.dataset, &s.name, &s.status_message, &s.http_method,
        &s.http_route, &s.http_url, &s.client_ip, &s.user_agent, &s.db_system, &s.peer,
        &s.trace_state, &s.scope_name, &s.scope_version}) {
    *str = text;
  }
  s.kind = SpanKind::kServer;
  s.start_ns = 4;
  s.end_ns = 5;
  s.in_progress = true;
  s.status_flags = kStatusFault;
  s.http_status = 500;
  s.flags = 1;
  s.otel_status = 2;
  s.sample_rate = 10;
  s.from_xray_document = true;
  for (size_t i = 0; i < attributes; ++i) {
    s.attributes.push_back({text + std::to_string(i), AttributeValue::String(text)});
  }
  s.attributes.push_back({"n", AttributeValue::Int(7), AttributeRole::kResource});
  s.events.push_back({9, "exception", {}});
  s.links.emplace_back();
  return s;
}

TEST(SpanBatch, ARecycledSpanComesBackInItsDefaultState) {
  SpanBatch batch;
  batch.spans.push_back(FullSpan(3, "a string longer than the inline buffer"));
  batch.documents.emplace_back();
  batch.spans_from_documents = true;
  batch.source = "source";
  batch.Recycle();
  EXPECT_TRUE(batch.empty());
  EXPECT_FALSE(batch.spans_from_documents);
  EXPECT_TRUE(batch.source.empty());
  ASSERT_EQ(batch.kept(), 1u);
  batch.BeginFill();
  const Span& s = batch.AddSpan();
  EXPECT_EQ(s, Span{});
  EXPECT_EQ(batch.kept(), 0u);
  EXPECT_EQ(batch.AddSpan(), Span{});  // none kept: a new one
  batch.EndFill();
  EXPECT_EQ(batch.spans.size(), 2u);
}

// Filling in place hands the kept spans out where they lie, in their default state; a
// dropped span is reset and handed out again; EndFill leaves the spans added, and keeps the
// ones not handed out for the next fill.
TEST(SpanBatch, FillingHandsOutKeptSpansInPlaceAndKeepsTheRest) {
  SpanBatch batch;
  for (int i = 0; i < 3; ++i) batch.spans.push_back(FullSpan(2, "a string longer than inline"));
  batch.Recycle();
  ASSERT_EQ(batch.kept(), 3u);
  batch.BeginFill();
  EXPECT_EQ(batch.filled(), 0u);
  Span& first = batch.AddSpan();
  EXPECT_EQ(&first, batch.spans.data());  // in place: not moved into a new slot
  EXPECT_EQ(first, Span{});
  EXPECT_GE(first.name.capacity(), 20u);  // its strings keep their memory
  first.name = "first";
  Span& dropped = batch.AddSpan(/*keep_attributes=*/true);
  dropped.name = "dropped";
  dropped.events.emplace_back();
  EXPECT_EQ(batch.filled(), 2u);
  batch.DropLastSpan();
  EXPECT_EQ(batch.filled(), 1u);
  Span& again = batch.AddSpan();
  EXPECT_EQ(&again, &batch.spans[1]);
  EXPECT_EQ(again, Span{});
  again.name = "second";
  batch.EndFill();
  ASSERT_EQ(batch.spans.size(), 2u);
  EXPECT_EQ(batch.spans[0].name, "first");
  EXPECT_EQ(batch.spans[1].name, "second");
  EXPECT_EQ(batch.kept(), 1u);  // the third, for the next request
  // Past the kept ones, filling appends new spans.
  batch.Recycle();
  ASSERT_EQ(batch.kept(), 3u);
  batch.BeginFill();
  for (int i = 0; i < 5; ++i) batch.AddSpan().span_id.value = static_cast<uint64_t>(i + 1);
  batch.EndFill();
  ASSERT_EQ(batch.spans.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(batch.spans[i].span_id.value, uint64_t(i + 1));
  EXPECT_EQ(batch.kept(), 0u);
  // A fill into a batch that holds spans already appends after them.
  batch.BeginFill();
  EXPECT_EQ(batch.filled(), 5u);
  batch.AddSpan().span_id.value = 6;
  batch.EndFill();
  ASSERT_EQ(batch.spans.size(), 6u);
  EXPECT_EQ(batch.spans[5].span_id.value, 6u);
}

TEST(SpanBatch, MaterializePutsEachSpansContextBeforeItsOwnAttributes) {
  SpanBatch batch;
  batch.contexts.push_back({{"service.name", AttributeValue::String("a"), AttributeRole::kResource},
                            {"lib", AttributeValue::Int(1), AttributeRole::kScope}});
  batch.contexts.push_back(
      {{"service.name", AttributeValue::String("b"), AttributeRole::kResource}});
  batch.BeginFill();
  Span& first = batch.AddSpan();
  first.context = 1;
  first.attributes.push_back({"own", AttributeValue::String("x")});
  batch.AddSpan();  // no context
  batch.AddSpan().context = 0;
  batch.EndFill();
  EXPECT_EQ(batch.ContextOf(batch.spans[0]), &batch.contexts[1]);
  EXPECT_EQ(batch.ContextOf(batch.spans[1]), nullptr);
  batch.Materialize();
  EXPECT_TRUE(batch.contexts.empty());
  const Attributes want0 = {{"service.name", AttributeValue::String("b"), AttributeRole::kResource},
                            {"own", AttributeValue::String("x")}};
  EXPECT_EQ(batch.spans[0].attributes, want0);
  EXPECT_TRUE(batch.spans[1].attributes.empty());
  EXPECT_EQ(batch.spans[2].attributes.size(), 2u);
  EXPECT_EQ(batch.spans[2].attributes[1].key, "lib");
  for (const Span& s : batch.spans) EXPECT_EQ(s.context, kNoContext);
  // Recycled, a span with a context comes back without one, and the contexts go.
  batch.spans[2].context = 0;
  batch.contexts.emplace_back();
  batch.Recycle();
  EXPECT_TRUE(batch.contexts.empty());
  batch.BeginFill();
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(batch.AddSpan().context, kNoContext);
  batch.EndFill();
}

TEST(SpanBatch, AFillerAssignsOverStaleAttributesThenAppendsAndDropsTheRest) {
  SpanBatch batch;
  batch.spans.push_back(FullSpan(4, "stale attribute text, long enough to be allocated"));
  batch.Recycle();
  batch.BeginFill();
  Span& s = batch.AddSpan(/*keep_attributes=*/true);
  EXPECT_EQ(s.attributes.size(), 5u);  // stale until the filler finishes
  const char* kept_memory = s.attributes[0].key.data();
  AttributeFiller filler(&s.attributes);
  Attribute& first = filler.Add();
  EXPECT_EQ(first, Attribute{});
  first = {"k", AttributeValue::Double(1.5), AttributeRole::kScope};
  filler.Add() = {"dropped", AttributeValue::String("x")};
  filler.Drop();
  filler.Add() = {"b", AttributeValue::Bool(true)};
  filler.Finish();
  ASSERT_EQ(s.attributes.size(), 2u);
  EXPECT_EQ(s.attributes[0], (Attribute{"k", AttributeValue::Double(1.5), AttributeRole::kScope}));
  EXPECT_EQ(s.attributes[1], (Attribute{"b", AttributeValue::Bool(true)}));
  EXPECT_EQ(s.attributes[0].key.data(), kept_memory);  // assigned over, not allocated again

  // More than were stale: the rest are appended.
  Span& t = batch.AddSpan(/*keep_attributes=*/true);
  AttributeFiller more(&t.attributes);
  for (int i = 0; i < 3; ++i) more.Add().key = std::to_string(i);
  more.Finish();
  ASSERT_EQ(t.attributes.size(), 3u);
  EXPECT_EQ(t.attributes[2].key, "2");
  batch.EndFill();
}

TEST(SpanBatch, WhatAKeptBatchHoldsIsBounded) {
  SpanBatch batch;
  const std::string large(SpanBatch::kKeptStringBytes * 8, 'x');
  for (size_t i = 0; i < SpanBatch::kKeptSpans + 10; ++i)
    batch.spans.push_back(FullSpan(40, large));
  batch.Recycle();
  EXPECT_EQ(batch.kept(), SpanBatch::kKeptSpans);
  batch.BeginFill();
  for (size_t i = 0; i < SpanBatch::kKeptSpans; ++i) {
    Span& s = batch.AddSpan(/*keep_attributes=*/true);
    ASSERT_LE(s.name.capacity(), SpanBatch::kKeptStringBytes);
    ASSERT_LE(s.http_url.capacity(), SpanBatch::kKeptStringBytes);
    ASSERT_LE(s.attributes.capacity(), SpanBatch::kKeptAttributes);
    for (const Attribute& a : s.attributes) {
      ASSERT_LE(a.key.capacity(), SpanBatch::kKeptStringBytes);
      ASSERT_LE(a.value.string_value.capacity(), SpanBatch::kKeptStringBytes);
    }
    ASSERT_EQ(s.events.capacity(), 0u);
  }
  EXPECT_EQ(batch.kept(), 0u);
  batch.EndFill();
}

}  // namespace
}  // namespace waggle::model
