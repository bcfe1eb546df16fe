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
