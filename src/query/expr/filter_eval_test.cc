#include "query/expr/filter_eval.h"

#include <gtest/gtest.h>

#include "query/expr/filter_pushdown.h"
#include "query/testing/spans.h"

namespace waggle::query::filter {
namespace {

using model::AttributeRole;
using model::AttributeValue;

model::Span Span(uint64_t id, uint64_t parent, std::string service, std::string name, double start,
                 double end) {
  model::Span s = testing::MakeSpan(id, parent, std::move(service), std::move(name), start, end);
  s.from_xray_document = true;
  return s;
}

void Attr(model::Span* s, std::string key, AttributeValue v,
          AttributeRole role = AttributeRole::kPlain) {
  s->attributes.push_back({std::move(key), std::move(v), role});
}

// api (root, 500) -> backend (429) and -> DynamoDB table "Scores" (uninstrumented, slow).
storage::TraceData GameTrace() {
  storage::TraceData t;
  model::TraceId::ParseXRay("1-6b012c3b-ea32f0ae513b261c9810593f", &t.id);
  model::Span api = Span(1, 0, "api.example.com", "api.example.com", 100.0, 106.5);
  api.kind = model::SpanKind::kServer;
  api.http_method = "GET";
  api.http_url = "http://api.example.com/v2/api/game/42";
  api.http_status = 500;
  api.status_flags = model::kStatusFault;
  api.user_agent = "curl/8";
  api.client_ip = "10.0.0.1";
  Attr(&api, "aws.xray.origin", AttributeValue::String("AWS::EC2::Instance"));
  Attr(&api, "enduser.id", AttributeValue::String("alice"));
  Attr(&api, "cloud.availability_zone", AttributeValue::String("us-east-1a"));
  Attr(&api, "account", AttributeValue::String("12345"), AttributeRole::kAnnotation);
  Attr(&api, "age", AttributeValue::Int(30), AttributeRole::kAnnotation);
  Attr(&api, "vip", AttributeValue::Bool(true), AttributeRole::kAnnotation);
  model::Span call = Span(2, 1, "api.example.com", "backend.example.com", 100.1, 101.0);
  call.kind = model::SpanKind::kClient;
  call.peer = "backend.example.com";
  call.status_flags = model::kStatusError | model::kStatusThrottle;
  model::Span dynamo = Span(3, 1, "api.example.com", "DynamoDB", 101.0, 106.0);
  dynamo.kind = model::SpanKind::kClient;
  dynamo.peer = "Scores";
  Attr(&dynamo, "aws.xray.namespace", AttributeValue::String("aws"));
  Attr(&dynamo, "aws.table_name", AttributeValue::String("Scores"));
  dynamo.status_flags = model::kStatusFault;
  model::SpanEvent ex;
  ex.name = "exception";
  ex.attributes.push_back({"exception.type", AttributeValue::String("ProvisionedThroughput"), {}});
  ex.attributes.push_back({"exception.message", AttributeValue::String("slow down"), {}});
  dynamo.events.push_back(ex);
  model::Span back = Span(4, 2, "backend.example.com", "backend.example.com", 100.2, 100.9);
  back.kind = model::SpanKind::kServer;
  back.http_status = 429;
  back.status_flags = model::kStatusError | model::kStatusThrottle;
  Attr(&back, "aws.xray.origin", AttributeValue::String("AWS::Lambda::Function"));
  Attr(&back, "cloud.account.id", AttributeValue::String("111122223333"));
  Attr(&back, "enduser.id", AttributeValue::String("bob"));
  t.spans = {api, call, dynamo, back};
  t.documents = {{t.id, model::SpanId{1}, {}, false, false, "default", "{}"},
                 {t.id, model::SpanId{4}, model::SpanId{2}, false, false, "default", "{}"}};
  return t;
}

class FilterEval : public ::testing::Test {
 protected:
  FilterEval() : facts_(GameTrace()) {}

  bool Match(std::string_view text) {
    auto e = Parse(text);
    EXPECT_TRUE(e.ok()) << text << ": " << e.status().message();
    return e.ok() && Matches(*e, facts_);
  }

  TraceFacts facts_;
};

TEST_F(FilterEval, TraceLevelKeywordsReadTheRootSegment) {
  EXPECT_TRUE(Match("fault"));
  EXPECT_TRUE(Match("fault = true"));
  EXPECT_FALSE(Match("fault = false"));
  EXPECT_FALSE(Match("error"));  // only the backend's segment has an error
  EXPECT_FALSE(Match("ok"));
  EXPECT_TRUE(Match("throttle"));  // any segment
  EXPECT_FALSE(Match("partial"));
  EXPECT_TRUE(Match("!partial"));
  EXPECT_TRUE(Match("inferred"));  // the DynamoDB table
  EXPECT_TRUE(Match("responsetime > 5"));
  EXPECT_TRUE(Match("responsetime >= 6.5 AND responsetime <= 6.5"));
  EXPECT_FALSE(Match("responsetime > 6.5"));
  EXPECT_TRUE(Match("duration >= 5 AND duration <= 8"));
  EXPECT_TRUE(Match("http.status = 500"));
  EXPECT_TRUE(Match("http.status != 200"));
  EXPECT_TRUE(Match(R"(http.url CONTAINS "/api/game/")"));
  EXPECT_TRUE(
      Match(R"(http.url BEGINSWITH "http://api.example.com/" AND http.url ENDSWITH "/42")"));
  EXPECT_FALSE(Match(R"(http.url = "http://api.example.com/")"));
  EXPECT_TRUE(
      Match(R"(http.method = "GET" AND http.useragent = "curl/8" AND http.clientip = "10.0.0.1")"));
  EXPECT_TRUE(Match("http.url AND responseTime > 2"));
  EXPECT_TRUE(Match(R"(user CONTAINS "")"));
  EXPECT_TRUE(Match(R"(user = "bob")"));  // the user of any segment
  EXPECT_FALSE(Match(R"(user != "bob")"));
  EXPECT_TRUE(Match(R"(availabilityzone = "us-east-1a")"));
  EXPECT_FALSE(Match(R"(instance.id = "i-1")"));
}

TEST_F(FilterEval, AnnotationsCompareByTheLiteralsType) {
  EXPECT_TRUE(Match(R"(annotation.account = "12345")"));
  EXPECT_FALSE(Match("annotation.account = 12345"));  // a string, not a number
  EXPECT_TRUE(Match("annotation.age > 29"));
  EXPECT_FALSE(Match("annotation.age > 30"));
  EXPECT_FALSE(Match(R"(annotation.age = "30")"));
  EXPECT_TRUE(Match("annotation.vip = true"));
  EXPECT_TRUE(Match("annotation.age"));
  EXPECT_FALSE(Match("!annotation.age"));
  EXPECT_TRUE(Match("!annotation.missing"));
  EXPECT_TRUE(Match("annotation.age != 31"));
  EXPECT_FALSE(Match("annotation.age != 30"));
}

TEST_F(FilterEval, ServiceBracesReadThatServicesSegments) {
  EXPECT_TRUE(Match(R"(service("api.example.com"))"));
  EXPECT_TRUE(Match(R"(service("api.example.com") { fault })"));
  EXPECT_TRUE(Match(R"(service("api.example.com") { root = true and fault = true })"));
  EXPECT_FALSE(Match(R"(service("backend.example.com") { root })"));
  EXPECT_TRUE(
      Match(R"(service("backend.example.com") { error AND throttle AND http.status = 429 })"));
  EXPECT_FALSE(Match(R"(service("backend.example.com") { fault })"));
  EXPECT_TRUE(Match(
      R"(service("api.example.com") { fault = true OR responsetime > 2.5 } AND annotation.account = "12345")"));
  EXPECT_TRUE(Match(R"(service() { error })"));
  EXPECT_FALSE(Match(R"(service("nothing"))"));
  EXPECT_TRUE(Match(R"(!service("nothing"))"));
  EXPECT_TRUE(Match(
      R"(service(id(name: "backend.example.com", type: "AWS::Lambda::Function")) { error })"));
  EXPECT_TRUE(Match(R"(service(id(type: "AWS::Lambda::Function")) { error })"));
  EXPECT_FALSE(Match(R"(service(id(type: "AWS::Lambda::Function")) { fault })"));
  EXPECT_TRUE(Match(R"(service(id(account.id: "111122223333")))"));
  EXPECT_TRUE(
      Match(R"(service("Scores") { inferred AND fault AND type = "AWS::DynamoDB::Table" })"));
  EXPECT_TRUE(Match(R"(service("api.example.com") { name = "api.example.com" AND !inferred })"));
}

TEST_F(FilterEval, EdgeBracesReadTheCallersSubsegments) {
  EXPECT_TRUE(Match(R"(edge("api.example.com", "backend.example.com") { error })"));
  EXPECT_TRUE(Match(R"(edge("api.example.com", "backend.example.com") { responsetime < 1 })"));
  EXPECT_FALSE(Match(R"(edge("api.example.com", "backend.example.com") { fault })"));
  EXPECT_TRUE(Match(R"(edge("api.example.com", "Scores") { fault AND responsetime >= 5 })"));
  EXPECT_FALSE(Match(R"(edge("backend.example.com", "api.example.com"))"));
}

TEST_F(FilterEval, RootCauses) {
  EXPECT_TRUE(Match(R"(rootcause.fault.service { name = "api.example.com" })"));
  EXPECT_TRUE(Match(R"(rootcause.fault.entity { name = "DynamoDB" AND remote })"));
  EXPECT_TRUE(Match(
      R"(rootcause.fault.exception { name = "ProvisionedThroughput" AND message CONTAINS "slow" })"));
  EXPECT_FALSE(Match(R"(rootcause.fault.service { name = "backend.example.com" })"));
  EXPECT_TRUE(
      Match(R"(rootcause.error.service { name = "backend.example.com" AND first AND last })"));
  EXPECT_TRUE(
      Match(R"(rootcause.responsetime.entity { name = "DynamoDB" AND last AND coverage > 0.7 })"));
  EXPECT_TRUE(
      Match(R"(rootcause.responsetime.service { index = 0 AND type = "AWS::EC2::Instance" })"));
  EXPECT_TRUE(Match(
      R"(rootcause.json = #[{ "Services": [ { "Name": "api.example.com", "EntityPath": [{ "Name": "DynamoDB" }] } ] }])"));
  EXPECT_FALSE(Match(R"(rootcause.json = #[{ "Services": [ { "Name": "elsewhere" } ] }])"));
}

TEST_F(FilterEval, BooleanStructure) {
  EXPECT_TRUE(Match("ok OR fault"));
  EXPECT_FALSE(Match("ok AND fault"));
  EXPECT_TRUE(Match("NOT ok"));
  EXPECT_TRUE(Match("(error OR fault) AND !(ok)"));
}

TEST_F(FilterEval, GroupsEvaluateTheirResolvedExpression) {
  GroupLookup lookup = [](Keyword, std::string_view g) -> Result<std::string> {
    if (g == "slow") return std::string("responsetime > 5");
    if (g == "fast") return std::string("responsetime < 1");
    return Status::NotFound("no");
  };
  auto slow = Compile(R"(group.name = "slow" AND user = "alice")", lookup);
  ASSERT_TRUE(slow.ok());
  EXPECT_TRUE(Matches(*slow, facts_));
  auto fast = Compile(R"(group.name = "fast")", lookup);
  ASSERT_TRUE(fast.ok());
  EXPECT_FALSE(Matches(*fast, facts_));
}

TEST_F(FilterEval, PartialTraces) {
  storage::TraceData trace = GameTrace();
  trace.spans[0].in_progress = true;
  trace.spans[0].end_ns = 0;
  TraceFacts facts(std::move(trace));
  auto partial = Parse("partial AND !(responsetime > 0)");
  ASSERT_TRUE(partial.ok());
  EXPECT_TRUE(Matches(*partial, facts));
}

// What each expression pushes down, condition by condition: the columns, bounds and values a
// store is asked for, and what is not pushed at all. (That pushing them down never changes
// which traces an expression selects is checked through a store, over the generated
// workload, by XRayApiTest.APushedDownSearchSelectsWhatEvaluatingEveryTraceSelects.)
TEST_F(FilterEval, RequirementsTakeTheShapeOfTheExpression) {
  auto req = [](std::string_view text) {
    auto e = Parse(text);
    EXPECT_TRUE(e.ok());
    return Requirements(*e);
  };
  auto fault = req(R"(fault AND service("Scores") AND annotation.age >= 30 AND user = "bob")");
  ASSERT_EQ(fault.size(), 4u);
  EXPECT_EQ(fault[0].any_of[0][0].column, storage::ColumnRef::Of(storage::IntField::kStatusFlags));
  EXPECT_EQ(fault[0].any_of[0][0].lo, model::kStatusFault);
  ASSERT_EQ(fault[1].any_of.size(), 3u);  // service, peer or name "Scores"
  EXPECT_EQ(fault[1].any_of[1][0].column, storage::ColumnRef::Of(storage::StringField::kPeer));
  EXPECT_EQ(fault[2].any_of[0][0].lo, 30);
  EXPECT_EQ(fault[2].any_of[0][0].hi, INT64_MAX);
  EXPECT_EQ(fault[3].any_of[0][0].values, std::vector<std::string>{"bob"});
  EXPECT_EQ(req("responsetime > 5")[0].any_of[0][0].lo, 5'000'000'000);
  EXPECT_TRUE(req("!fault").empty());
  EXPECT_TRUE(req("ok OR fault").empty());  // `ok` pushes nothing, so neither can the OR
  EXPECT_EQ(req("http.status = 500 OR http.status = 502")[0].any_of.size(), 2u);
  // Braces ask it of the same span: a segment of Scores that faulted and took 1 s or more.
  auto braced = req(R"(service("Scores") { fault AND responsetime >= 1 AND !ok })");
  ASSERT_EQ(braced.size(), 1u);
  ASSERT_EQ(braced[0].any_of.size(), 3u);
  for (const auto& alt : braced[0].any_of) {
    ASSERT_EQ(alt.size(), 3u);
    EXPECT_EQ(alt[1].column, storage::ColumnRef::Of(storage::IntField::kStatusFlags));
    EXPECT_EQ(alt[2].column, storage::ColumnRef::Of(storage::IntField::kDurationNs));
    EXPECT_EQ(alt[2].lo, 1'000'000'000);
  }
  EXPECT_EQ(braced[0].any_of[0][0].column, storage::ColumnRef::Of(storage::StringField::kService));
  // An edge's braces read the caller's calls, which a store may hold without the caller's
  // service (a subsegment sent on its own): a span of the caller, and a span meeting them.
  auto edge = req(R"(edge("Scores", "api") { http.status = 503 })");
  ASSERT_EQ(edge.size(), 3u);
  ASSERT_EQ(edge[0].any_of.size(), 1u);
  ASSERT_EQ(edge[0].any_of[0].size(), 1u);
  EXPECT_EQ(edge[0].any_of[0][0].values, std::vector<std::string>{"Scores"});
  ASSERT_EQ(edge[1].any_of.size(), 1u);
  ASSERT_EQ(edge[1].any_of[0].size(), 1u);
  EXPECT_EQ(edge[1].any_of[0][0].lo, 503);
  EXPECT_EQ(edge[2].any_of.size(), 3u);  // the callee, named any way
  // No named service: the braces' conditions on some span.
  auto any_service = req(R"(service() { error })");
  ASSERT_EQ(any_service.size(), 1u);
  EXPECT_EQ(any_service[0].any_of[0][0].lo, model::kStatusError);
  EXPECT_TRUE(req("http.status < 500").empty());  // an absent status would match too
  EXPECT_TRUE(req(R"(http.url CONTAINS "x")").empty());
}

TEST_F(FilterEval, MinTraceExtentComesFromDurationAndResponseTimeBounds) {
  auto extent = [](std::string_view text) {
    auto e = Parse(text);
    EXPECT_TRUE(e.ok()) << text;
    return e.ok() ? MinTraceExtentNs(*e) : -1;
  };
  EXPECT_EQ(extent("duration > 0.1"), 99'999'999);
  EXPECT_EQ(extent("fault AND responsetime >= 2 AND duration > 1"), 1'999'999'999);
  EXPECT_EQ(extent("duration > 3 OR responsetime > 1"), 999'999'999);
  EXPECT_EQ(extent("duration > 3 OR fault"), 0);  // the fault branch asks no length
  EXPECT_EQ(extent("duration < 3"), 0);
  EXPECT_EQ(extent("!(duration > 3)"), 0);
  EXPECT_EQ(extent(R"(service("a") { duration > 3 })"), 0);  // one segment's, not the trace's
  // The game trace (6.5 s from first start to last end) reaches each bound it matches.
  for (const char* text : {"duration > 6", "responsetime >= 6.5", "duration = 6.5"}) {
    auto e = Parse(text);
    ASSERT_TRUE(e.ok());
    EXPECT_TRUE(Matches(*e, facts_)) << text;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (const model::Span& s : facts_.trace().spans) {
      lo = std::min(lo, s.start_ns);
      hi = std::max({hi, s.start_ns, s.end_ns});
    }
    EXPECT_GE(hi - lo, MinTraceExtentNs(*e)) << text;
  }
}

}  // namespace
}  // namespace waggle::query::filter
