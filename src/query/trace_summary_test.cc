#include "query/trace_summary.h"

#include <gtest/gtest.h>

#include <set>
#include "query/testing/spans.h"

#include "base/clock.h"

namespace waggle::query {
namespace {

model::Span Span(uint64_t id, uint64_t parent, std::string service, double start, double end) {
  model::Span s = testing::MakeSpan(id, parent, std::move(service), "n", start, end);
  s.from_xray_document = true;  // as the X-Ray parser marks spans of documents
  return s;
}

// Front service (root segment, two subsegments) calling a back service; the back service's
// segment arrives in its own document, as does a streamed subsegment of the front.
storage::TraceData TwoServiceTrace() {
  storage::TraceData t;
  model::TraceId::ParseXRay("1-6b012c3b-ea32f0ae513b261c9810593f", &t.id);
  model::Span root = Span(1, 0, "front", 100.0, 100.5);
  root.http_method = "GET";
  root.http_url = "http://front/api";
  root.http_status = 500;
  root.status_flags = model::kStatusFault;
  root.attributes.push_back(
      {"aws.xray.origin", model::AttributeValue::String("AWS::EC2::Instance"), {}});
  root.attributes.push_back({"enduser.id", model::AttributeValue::String("alice"), {}});
  root.attributes.push_back(
      {"user_id", model::AttributeValue::String("andrew"), model::AttributeRole::kAnnotation});
  model::Span call = Span(2, 1, "front", 100.1, 100.4);
  call.kind = model::SpanKind::kClient;
  model::Span streamed = Span(3, 2, "", 100.15, 100.16);
  streamed.attributes.push_back(
      {"result_length", model::AttributeValue::Int(3), model::AttributeRole::kAnnotation});
  model::Span back = Span(4, 2, "back", 100.2, 100.7);
  back.status_flags = model::kStatusThrottle | model::kStatusError;
  back.attributes.push_back(
      {"user_id", model::AttributeValue::String("andrew"), model::AttributeRole::kAnnotation});
  t.spans = {root, call, streamed, back};
  t.documents = {{t.id, model::SpanId{1}, {}, false, false, "default", "{}"},
                 {t.id, model::SpanId{3}, model::SpanId{2}, false, true, "default", "{}"},
                 {t.id, model::SpanId{4}, model::SpanId{2}, false, false, "default", "{}"}};
  return t;
}

TEST(AssembleTrace, GivesStreamedSubsegmentsTheirSegmentsService) {
  storage::TraceData t = TwoServiceTrace();
  AssembleTrace(&t);
  EXPECT_EQ(t.spans[2].service, "front");
}

TEST(IndexSegments, OfTwoRootsAsEarlyTheLowerIdWhateverTheOrder) {
  // Two OTel parentless spans starting together: the root does not depend on which came first.
  for (bool reversed : {false, true}) {
    storage::TraceData t;
    model::Span a = testing::MakeSpan(7, 0, "a", "n", 100.0, 101.0);
    model::Span b = testing::MakeSpan(3, 0, "b", "n", 100.0, 102.0);
    t.spans = reversed ? std::vector<model::Span>{b, a} : std::vector<model::Span>{a, b};
    const SegmentIndex index = IndexSegments(t);
    ASSERT_NE(index.root, SIZE_MAX);
    EXPECT_EQ(t.spans[index.root].span_id.value, 3u) << reversed;
  }
}

TEST(SummarizeTrace, ComputesXRaySummaryFields) {
  storage::TraceData t = TwoServiceTrace();
  AssembleTrace(&t);
  TraceSummary s = SummarizeTrace(t);
  EXPECT_DOUBLE_EQ(s.start_time, 100.0);
  EXPECT_NEAR(s.duration, 0.7, 1e-9);       // 100.0 .. 100.7 across both services
  EXPECT_NEAR(s.response_time, 0.5, 1e-9);  // the root segment alone
  EXPECT_TRUE(s.has_fault);
  EXPECT_FALSE(s.has_error);
  EXPECT_TRUE(s.has_throttle);  // any segment
  EXPECT_FALSE(s.is_partial);
  EXPECT_EQ(s.http.status, 500);
  EXPECT_EQ(s.http.method, "GET");
  ASSERT_TRUE(s.entry_point.has_value());
  EXPECT_EQ(s.entry_point->name, "front");
  EXPECT_EQ(s.entry_point->type, "AWS::EC2::Instance");
  ASSERT_EQ(s.service_ids.size(), 2u);
  ASSERT_EQ(s.users.size(), 1u);
  EXPECT_EQ(s.users[0].first, "alice");
  ASSERT_EQ(s.annotations.count("user_id"), 1u);
  ASSERT_EQ(s.annotations["user_id"].size(), 1u);
  EXPECT_EQ(s.annotations["user_id"][0].service_ids.size(), 2u);
  ASSERT_EQ(s.annotations.count("result_length"), 1u);
  EXPECT_EQ(s.annotations["result_length"][0].value, model::AttributeValue::Int(3));
  EXPECT_EQ(s.revision, 3);
}

// Times come from clients: an OTLP root that never said when it ended (end 0, not in progress)
// took 0 s, not minus 100 years; times far apart are at most INT64_MAX ns, not an overflow.
TEST(SummarizeTrace, TimesAClientGotWrongNeitherOverflowNorGoNegative) {
  storage::TraceData t = TwoServiceTrace();
  t.spans[0].end_ns = 0;
  TraceSummary s = SummarizeTrace(t);
  EXPECT_EQ(s.response_time, 0);
  EXPECT_NEAR(s.duration, 0.7, 1e-6);  // from the root's start to the back segment's end
  t.spans[0].start_ns = INT64_MIN + 1;
  t.spans[0].end_ns = INT64_MAX;
  s = SummarizeTrace(t);
  EXPECT_EQ(s.response_time, NanosToSeconds(INT64_MAX));
  EXPECT_EQ(s.duration, NanosToSeconds(INT64_MAX));
}

// An OTel frontend calling backend-flask, which sends X-Ray segments (what `waggle demo`
// sends): the OTel spans are segments too, and the OTel server span is the root.
TEST(SummarizeTrace, CountsOTelSpansInATraceThatAlsoHasXRayDocuments) {
  storage::TraceData t;
  t.id.bytes[0] = 9;
  model::Span front = Span(1, 0, "frontend", 100.0, 101.0);
  front.from_xray_document = false;
  front.kind = model::SpanKind::kServer;
  front.http_status = 500;
  front.status_flags = model::kStatusFault;
  model::Span fetch = Span(2, 1, "frontend", 100.1, 100.9);
  fetch.from_xray_document = false;
  fetch.kind = model::SpanKind::kClient;
  model::Span back = Span(3, 2, "backend-flask", 100.2, 100.8);  // its own segment document
  t.documents = {{t.id, model::SpanId{3}, {}, false, false, "default", "{}"}};
  t.spans = {front, fetch, back};
  for (auto& s : t.spans) s.trace_id = t.id;
  const TraceSummary s = SummarizeTrace(t);
  std::set<std::string> services;
  for (const ServiceId& id : s.service_ids) services.insert(id.name);
  EXPECT_EQ(services, (std::set<std::string>{"frontend", "backend-flask"}));
  EXPECT_NEAR(s.duration, 1.0, 1e-9);
  EXPECT_NEAR(s.response_time, 1.0, 1e-9);
  EXPECT_TRUE(s.has_fault);
}

TEST(SummarizeTrace, MarksInProgressTracesPartial) {
  storage::TraceData t = TwoServiceTrace();
  t.documents[2].in_progress = true;
  t.spans[3].in_progress = true;
  TraceSummary s = SummarizeTrace(t);
  EXPECT_TRUE(s.is_partial);
  EXPECT_NEAR(s.duration, 0.5, 1e-9);
}

}  // namespace
}  // namespace waggle::query

namespace waggle::query {
namespace {

// front (fault) -> call-db (client, fault, DBError); front -> call-back (client, error)
// -> back (error, NotFound) -> lookup.
storage::TraceData RootCauseTrace() {
  storage::TraceData t;
  model::TraceId::ParseXRay("1-6b012c3b-ea32f0ae513b261c98105940", &t.id);
  auto span = [](uint64_t id, uint64_t parent, std::string service, std::string name, double start,
                 double end, model::SpanKind kind, uint8_t flags) {
    model::Span s = Span(id, parent, std::move(service), start, end);
    s.name = std::move(name);
    s.kind = kind;
    s.status_flags = flags;
    return s;
  };
  model::Span db =
      span(2, 1, "front", "call-db", 100.0, 100.2, model::SpanKind::kClient, model::kStatusFault);
  db.events.push_back({0,
                       "exception",
                       {{"exception.type", model::AttributeValue::String("DBError"), {}},
                        {"exception.message", model::AttributeValue::String("timeout"), {}}}});
  model::Span back =
      span(4, 3, "back", "back", 100.25, 100.85, model::SpanKind::kServer, model::kStatusError);
  back.events.push_back(
      {0, "exception", {{"exception.type", model::AttributeValue::String("NotFound"), {}}}});
  t.spans = {
      span(1, 0, "front", "front", 100.0, 101.0, model::SpanKind::kServer, model::kStatusFault), db,
      span(3, 1, "front", "call-back", 100.2, 100.9, model::SpanKind::kClient, model::kStatusError),
      back, span(5, 4, "back", "lookup", 100.3, 100.8, model::SpanKind::kInternal, 0)};
  t.documents = {{t.id, model::SpanId{1}, {}, false, false, "default", "{}"},
                 {t.id, model::SpanId{4}, model::SpanId{3}, false, false, "default", "{}"}};
  return t;
}

TEST(SummarizeTrace, FindsWhereFaultsAndErrorsBegan) {
  TraceSummary s = SummarizeTrace(RootCauseTrace());
  ASSERT_EQ(s.fault_root_causes.size(), 1u);
  const RootCause& fault = s.fault_root_causes[0];
  EXPECT_TRUE(fault.client_impacting);
  ASSERT_EQ(fault.services.size(), 1u);
  EXPECT_EQ(fault.services[0].id.name, "front");
  ASSERT_EQ(fault.services[0].entity_path.size(), 2u);
  EXPECT_EQ(fault.services[0].entity_path[0].name, "front");
  const RootCauseEntity& db = fault.services[0].entity_path[1];
  EXPECT_EQ(db.name, "call-db");
  EXPECT_TRUE(db.remote);
  ASSERT_EQ(db.exceptions.size(), 1u);
  EXPECT_EQ(db.exceptions[0], (std::pair<std::string, std::string>{"DBError", "timeout"}));

  // call-back carries the error only because back, below it, failed: back is the cause.
  ASSERT_EQ(s.error_root_causes.size(), 1u);
  const RootCause& error = s.error_root_causes[0];
  EXPECT_FALSE(error.client_impacting);
  ASSERT_EQ(error.services.size(), 1u);
  EXPECT_EQ(error.services[0].id.name, "back");
  ASSERT_EQ(error.services[0].entity_path.size(), 1u);
  EXPECT_EQ(error.services[0].entity_path[0].exceptions[0].first, "NotFound");
}

TEST(SummarizeTrace, FollowsTheSlowestChildForResponseTime) {
  TraceSummary s = SummarizeTrace(RootCauseTrace());
  ASSERT_EQ(s.response_time_root_causes.size(), 1u);
  const auto& services = s.response_time_root_causes[0].services;
  ASSERT_EQ(services.size(), 2u);
  EXPECT_EQ(services[0].id.name, "front");
  ASSERT_EQ(services[0].entity_path.size(), 2u);
  EXPECT_EQ(services[0].entity_path[1].name, "call-back");
  EXPECT_NEAR(services[0].entity_path[0].coverage, 1.0, 1e-9);
  EXPECT_NEAR(services[0].entity_path[1].coverage, 0.7, 1e-9);
  EXPECT_EQ(services[1].id.name, "back");
  ASSERT_EQ(services[1].entity_path.size(), 2u);
  EXPECT_EQ(services[1].entity_path[1].name, "lookup");
  EXPECT_NEAR(services[1].entity_path[1].coverage, 0.5, 1e-9);
}

}  // namespace
}  // namespace waggle::query
