#include "storage/trace_data.h"

#include <gtest/gtest.h>

namespace waggle::storage {
namespace {

model::Span FullSpan(const model::TraceId& trace, uint64_t id, bool in_progress) {
  model::Span s;
  s.trace_id = trace;
  s.span_id.value = id;
  s.parent_span_id.value = 7;
  s.environment = "prod";
  s.service = "backend-flask";
  s.name = "GET /api";
  s.kind = model::SpanKind::kServer;
  s.start_ns = 1795238971550969000;
  s.end_ns = in_progress ? 0 : s.start_ns + 3'340'000;
  s.in_progress = in_progress;
  s.status_flags = model::kStatusFault;
  s.status_message = "kaboom";
  s.http_method = "GET";
  s.http_url = "http://h/api";
  s.http_status = 500;
  s.client_ip = "127.0.0.1";
  s.user_agent = "curl";
  s.db_system = "postgresql";
  s.peer = "db";
  s.attributes = {
      {"user_id", model::AttributeValue::String("andrew"), model::AttributeRole::kAnnotation},
      {"n", model::AttributeValue::Int(-3), {}},
      {"ratio", model::AttributeValue::Double(0.25), {}},
      {"ok", model::AttributeValue::Bool(true), {}},
      {"aws.xray.metadata.default", model::AttributeValue::Json("{\"a\":[1]}"),
       model::AttributeRole::kMetadata}};
  s.events = {{s.start_ns + 5,
               "exception",
               {{"exception.message", model::AttributeValue::String("x"), {}}}}};
  s.links = {{trace, model::SpanId{9}, "vendor=1", {{"k", model::AttributeValue::Int(1), {}}}}};
  s.dataset = "classic-dataset";
  s.trace_state = "ot=th:c";
  s.scope_name = "@opentelemetry/instrumentation-http";
  s.scope_version = "0.1.0";
  s.flags = 0x301;
  s.otel_status = 2;
  s.sample_rate = 20;
  s.attributes.push_back(
      {"service.name", model::AttributeValue::String("api"), model::AttributeRole::kResource});
  return s;
}

TEST(TraceFragment, RoundTripsEverySpanField) {
  model::TraceId trace;
  ASSERT_TRUE(model::TraceId::ParseXRay("1-6b012c3b-ea32f0ae513b261c9810593f", &trace));
  model::SpanBatch batch;
  batch.spans.push_back(FullSpan(trace, 1, false));
  batch.documents.push_back(
      {trace, model::SpanId{1}, model::SpanId{7}, false, true, "default", "{\"id\":1}"});
  auto fragments = SplitByTrace(batch);
  ASSERT_EQ(fragments.size(), 1u);
  std::string encoded;
  EncodeFragment(fragments[0].header, fragments[0].spans, fragments[0].documents, false, &encoded);

  FragmentHeader header;
  ASSERT_TRUE(DecodeFragmentHeader(encoded, &header).ok());
  EXPECT_EQ(header.trace_id, trace);
  EXPECT_EQ(header.min_start_ns, batch.spans[0].start_ns);
  EXPECT_EQ(header.max_end_ns, batch.spans[0].end_ns);

  TraceData data;
  data.id = trace;
  ASSERT_TRUE(DecodeFragment(encoded, nullptr, &data).ok());
  ASSERT_EQ(data.spans.size(), 1u);
  EXPECT_EQ(data.spans[0], batch.spans[0]);
  ASSERT_EQ(data.documents.size(), 1u);
  EXPECT_EQ(data.documents[0], batch.documents[0]);
}

// A batch of many traces, their spans and documents interleaved: one fragment a trace, in the
// order each trace first appears, with its spans and documents in batch order and the range
// of its spans' times.
TEST(TraceFragment, SplitByTraceGroupsInterleavedSpansByTraceInOrderOfFirstAppearance) {
  model::SpanBatch batch;
  constexpr int kTraces = 300;
  auto trace_id = [](int t) {
    model::TraceId id;
    id.bytes[0] = static_cast<uint8_t>(t);
    id.bytes[15] = static_cast<uint8_t>(t >> 8);
    return id;
  };
  for (int i = 0; i < 3 * kTraces; ++i) {
    model::Span& s = batch.spans.emplace_back();
    s.trace_id = trace_id((i * 7) % kTraces);
    s.span_id.value = static_cast<uint64_t>(i + 1);
    s.start_ns = 1000 + i;
    s.end_ns = i % 5 == 0 ? 0 : 2000 + i;  // some in progress
  }
  batch.documents.push_back({trace_id(5), model::SpanId{1}, {}, false, true, "default", "{}"});
  batch.documents.push_back({trace_id(kTraces + 1), model::SpanId{2}, {}, false, true, "d", "{}"});
  const std::vector<BatchFragment> fragments = SplitByTrace(batch);
  ASSERT_EQ(fragments.size(), size_t{kTraces + 1});
  for (size_t f = 0; f < kTraces; ++f) {
    const BatchFragment& fragment = fragments[f];
    EXPECT_EQ(fragment.header.trace_id, trace_id(static_cast<int>(f * 7 % kTraces))) << f;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    std::vector<const model::Span*> want;
    for (const model::Span& s : batch.spans) {
      if (s.trace_id != fragment.header.trace_id) continue;
      want.push_back(&s);
      lo = std::min(lo, s.start_ns);
      hi = std::max({hi, s.start_ns, s.end_ns});
    }
    EXPECT_EQ(fragment.spans, want) << f;
    EXPECT_EQ(fragment.header.min_start_ns, lo) << f;
    EXPECT_EQ(fragment.header.max_end_ns, hi) << f;
    EXPECT_EQ(fragment.documents.size(), fragment.header.trace_id == trace_id(5) ? 1u : 0u) << f;
    EXPECT_EQ(fragment.contexts, &batch.contexts);
  }
  const BatchFragment& documents_only = fragments.back();
  EXPECT_EQ(documents_only.header.trace_id, trace_id(kTraces + 1));
  EXPECT_TRUE(documents_only.spans.empty());
  EXPECT_EQ(documents_only.documents, std::vector<const model::Document*>{&batch.documents[1]});
  EXPECT_EQ(documents_only.header.min_start_ns, 0);
  EXPECT_EQ(documents_only.header.max_end_ns, 0);
}

TEST(TraceFragment, DetectsTruncation) {
  model::TraceId trace;
  trace.bytes[0] = 1;
  model::SpanBatch batch;
  batch.spans.push_back(FullSpan(trace, 1, false));
  auto fragments = SplitByTrace(batch);
  std::string encoded;
  EncodeFragment(fragments[0].header, fragments[0].spans, fragments[0].documents, false, &encoded);
  for (size_t cut = 0; cut < encoded.size(); ++cut) {
    TraceData data;
    data.id = trace;
    EXPECT_FALSE(DecodeFragment(std::string_view(encoded).substr(0, cut), nullptr, &data).ok())
        << cut;
  }
}

// The bytes of docs/wal-format.md, "Record type 1", written out by hand for one small span.
TEST(TraceFragment, EncodesTheDocumentedBytes) {
  model::Span s;
  for (size_t i = 0; i < 16; ++i) s.trace_id.bytes[i] = static_cast<uint8_t>(0x10 + i);
  s.span_id.value = 1;
  s.name = "a";
  s.kind = model::SpanKind::kServer;
  s.start_ns = 1;
  s.end_ns = 3;
  s.attributes = {{"k", model::AttributeValue::Int(-1), {}}};
  model::SpanBatch batch;
  batch.spans.push_back(s);
  const auto fragments = SplitByTrace(batch);
  std::string encoded;
  EncodeFragment(fragments[0].header, fragments[0].spans, fragments[0].documents, false, &encoded);
  std::string expected = "\x02";  // version
  for (size_t i = 0; i < 16; ++i) expected.push_back(static_cast<char>(0x10 + i));
  expected += std::string("\x02\x06\x00\x01", 4);    // times 1 and 3, flags, 1 span
  expected += std::string("\x01\0\0\0\0\0\0\0", 8);  // span id
  expected += std::string(8, '\0');                  // parent
  expected += std::string(
      "\x00\x00\x01"
      "a\x02\x02\x04",
      7);                                               // env, service, name; kind 2, times
  expected += std::string(2 + 4 + 1 + 4, '\0');         // flags; 4 strings; status; 4 strings
  expected += std::string("\x01\x01k\x00\x01\x01", 6);  // attribute k = int -1
  expected += std::string("\x00\x00", 2);               // no events, no links
  expected += std::string(4 + 1, '\0') + "\x01";        // 4 strings, flags; rate 1
  expected += std::string(2 + 1, '\0');                 // status, X-Ray flag; 0 documents
  EXPECT_EQ(encoded, expected);
}

// Every number at its widest and every string empty or long: what the writer sizes its room
// for (debug builds assert that the room was enough) and what comes back.
TEST(TraceFragment, RoundTripsExtremeValues) {
  model::TraceId trace;
  trace.bytes.fill(0xff);
  model::Span s = FullSpan(trace, UINT64_MAX, false);
  s.parent_span_id.value = UINT64_MAX;
  s.start_ns = INT64_MIN;
  s.end_ns = INT64_MAX;
  s.http_status = INT32_MIN;
  s.flags = UINT32_MAX;
  s.sample_rate = UINT32_MAX;
  s.environment = std::string(300, 'e');
  s.name.clear();
  s.attributes.push_back({"", model::AttributeValue::Int(INT64_MIN), {}});
  s.attributes.push_back({std::string(200, 'k'), model::AttributeValue::Int(INT64_MAX), {}});
  model::Attribute bytes{"b", model::AttributeValue::String(std::string(1000, '\0')), {}};
  bytes.value.type = model::AttributeValue::Type::kBytes;
  s.attributes.push_back(bytes);
  s.events.push_back({INT64_MAX, "", {{"n", model::AttributeValue::Int(INT64_MIN), {}}}});
  s.links.push_back({trace, model::SpanId{UINT64_MAX}, std::string(130, 't'), {}});
  model::SpanBatch batch;
  for (int i = 0; i < 3; ++i) batch.spans.push_back(s);
  batch.spans[1].span_id.value = 1;
  batch.spans[2].attributes.clear();
  batch.spans[2].events.clear();
  batch.spans[2].links.clear();
  const auto fragments = SplitByTrace(batch);
  std::string encoded;
  EncodeFragment(fragments[0].header, fragments[0].spans, fragments[0].documents, false, &encoded);
  TraceData data;
  data.id = trace;
  ASSERT_TRUE(DecodeFragment(encoded, nullptr, &data).ok());
  ASSERT_EQ(data.spans.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(data.spans[i], batch.spans[i]) << i;
}

// What a reader does with fragments: append them in log order, then deduplicate once.
void AppendAndDeduplicate(TraceData* into, TraceData&& more) {
  for (model::Span& s : more.spans) into->spans.push_back(std::move(s));
  for (model::Document& d : more.documents) into->documents.push_back(std::move(d));
  Deduplicate(into);
}

TEST(Deduplicate, CompleteReplacesInProgressButNotTheOtherWayRound) {
  model::TraceId trace;
  trace.bytes[0] = 1;
  TraceData a;
  a.id = trace;
  a.spans.push_back(FullSpan(trace, 1, /*in_progress=*/true));
  a.documents.push_back(
      {trace, model::SpanId{1}, {}, true, false, "default", "{\"in_progress\":true}"});
  TraceData b;
  b.id = trace;
  b.spans.push_back(FullSpan(trace, 1, false));
  b.spans.push_back(FullSpan(trace, 2, false));
  b.documents.push_back({trace, model::SpanId{1}, {}, false, false, "default", "{\"end_time\":1}"});
  AppendAndDeduplicate(&a, std::move(b));
  ASSERT_EQ(a.spans.size(), 2u);
  EXPECT_FALSE(a.spans[0].in_progress);
  ASSERT_EQ(a.documents.size(), 1u);
  EXPECT_EQ(a.documents[0].json, "{\"end_time\":1}");

  TraceData late;
  late.id = trace;
  late.documents.push_back(
      {trace, model::SpanId{1}, {}, true, false, "default", "{\"in_progress\":true}"});
  AppendAndDeduplicate(&a, std::move(late));
  EXPECT_EQ(a.documents[0].json, "{\"end_time\":1}");
}

}  // namespace
}  // namespace waggle::storage
