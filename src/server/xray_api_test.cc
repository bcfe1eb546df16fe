#include "server/xray_api.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include "base/testing/temp_dir.h"

#include "storage/columnar/engine.h"

namespace waggle::server {
namespace {

std::string Doc(const std::string& trace, const std::string& id, double start) {
  return R"({"trace_id":")" + trace + R"(","id":")" + id + R"(","name":"svc","start_time":)" +
         std::to_string(start) + R"(,"end_time":)" + std::to_string(start + 0.5) +
         R"(,"http":{"request":{"method":"GET","url":"http://svc/x"},"response":{"status":200}}})";
}

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

class XRayApiTest : public testing::Test {
 protected:
  void SetUp() override {
    storage::columnar::EngineOptions options;
    options.dir = dir_.path();
    options.document_decoder = &decoder_;
    store_ = std::move(*storage::columnar::Engine::Open(options));
    ingester_ = std::make_unique<ingest::XRayDocumentIngester>(store_.get(), &counters_);
    sampling::SamplingOptions so;
    so.default_rule_modified_at = 1795235388;
    sampling_ = std::make_unique<sampling::SamplingService>(so);
    MakeApi({});
  }

  void MakeApi(std::vector<AwsCredential> creds) {
    api_ = std::make_unique<XRayApi>(
        XRayApi::Options{"us-east-1", "000000000000", std::move(creds), 3}, store_.get(),
        ingester_.get(), sampling_.get(), &clock_);
  }

  net::HttpResponse Post(const std::string& path, const std::string& body) {
    net::HttpRequest r;
    r.method = "POST";
    r.path = r.target = path;
    r.body = body;
    return api_->Handle(r);
  }

  simdjson::dom::element Parse(const std::string& body) { return parser_.parse(body).value(); }

  test_util::TempDir dir_;  // declared first: removed after the store has closed
  FakeClock clock_{1795239045LL * kNanosPerSecond};
  ingest::XRayDocumentDecoder decoder_;
  std::unique_ptr<storage::columnar::Engine> store_;
  ingest::IngestCounters counters_;
  std::unique_ptr<ingest::XRayDocumentIngester> ingester_;
  std::unique_ptr<sampling::SamplingService> sampling_;
  std::unique_ptr<XRayApi> api_;
  simdjson::dom::parser parser_;
};

TEST_F(XRayApiTest, PutTraceSegmentsKeepsGoodDocumentsAndListsBadOnes) {
  std::string good = Doc("1-6b012c3b-ea32f0ae513b261c9810593f", "becc573249943fcf", 1795238971.5);
  auto res =
      Post("/TraceSegments", "{\"TraceSegmentDocuments\":[" + Quote(good) + "," +
                                 Quote(R"({"id":"1111111111111111","name":"x?"})") + ",\"oops\"]}");
  ASSERT_EQ(res.status, 200) << res.body;
  simdjson::dom::array unprocessed = Parse(res.body)["UnprocessedTraceSegments"].get_array();
  ASSERT_EQ(unprocessed.size(), 2u);
  EXPECT_EQ(std::string_view(unprocessed.at(0)["Id"]), "1111111111111111");
  EXPECT_EQ(std::string_view(unprocessed.at(1)["ErrorCode"]), "InvalidSegment");

  res = Post(
      "/Traces",
      R"({"TraceIds":["1-6b012c3b-ea32f0ae513b261c9810593f","1-00000000-000000000000000000000000"]})");
  ASSERT_EQ(res.status, 200) << res.body;
  auto body = Parse(res.body);
  simdjson::dom::array traces = body["Traces"].get_array();
  ASSERT_EQ(traces.size(), 1u);
  EXPECT_EQ(std::string_view(traces.at(0)["Segments"].at(0)["Document"]), good);
  EXPECT_DOUBLE_EQ(double(traces.at(0)["Duration"]), 0.5);
  simdjson::dom::array unknown = body["UnprocessedTraceIds"].get_array();
  EXPECT_EQ(unknown.size(), 1u);
}

TEST_F(XRayApiTest, MalformedRequestsGetAwsErrorShapes) {
  auto res = Post("/TraceSegments", "{\"TraceSegmentDocuments\": 3}");
  EXPECT_EQ(res.status, 400);
  EXPECT_EQ(std::string_view(Parse(res.body)["__type"]), "InvalidRequestException");
  res = Post("/TraceSegments", "not json");
  EXPECT_EQ(res.status, 400);
  res = Post("/Traces", R"({"TraceIds":["a","b","c","d","e","f"]})");
  EXPECT_EQ(res.status, 400);
  res = Post("/NoSuchThing", "{}");
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(std::string_view(Parse(res.body)["__type"]), "UnknownOperationException");
  res = Post("/TraceSummaries", R"({"StartTime":1,"EndTime":2,"NextToken":"bogus"})");
  EXPECT_EQ(res.status, 400);
}

TEST_F(XRayApiTest, GetTraceSummariesPagesThroughATimeRange) {
  std::string docs;
  const char* ids[] = {"1-6b012c3b-000000000000000000000001", "1-6b012c3c-000000000000000000000002",
                       "1-6b012c3d-000000000000000000000003", "1-6b012c3e-000000000000000000000004",
                       "1-6b012d00-000000000000000000000005"};
  for (int i = 0; i < 5; ++i) {
    if (i) docs += ",";
    char sid[17];
    std::snprintf(sid, sizeof(sid), "%016x", i + 1);
    docs += Quote(Doc(ids[i], sid, 1795238971.0 + i));
  }
  ASSERT_EQ(Post("/TraceSegments", "{\"TraceSegmentDocuments\":[" + docs + "]}").status, 200);
  // 0x6b012c3b = 1795238971: the first four traces fall in the range, the fifth does not.
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    std::string req = R"({"StartTime":1795238971,"EndTime":1795238975)";
    if (!token.empty()) req += R"(,"NextToken":")" + token + "\"";
    auto res = Post("/TraceSummaries", req + "}");
    ASSERT_EQ(res.status, 200) << res.body;
    auto body = Parse(res.body);
    simdjson::dom::array summaries = body["TraceSummaries"].get_array();
    for (auto s : summaries) {
      seen.emplace_back(std::string_view(s["Id"]));
      EXPECT_EQ(std::string_view(s["Http"]["HttpMethod"]), "GET");
      EXPECT_EQ(int64_t(s["Http"]["HttpStatus"]), 200);
      EXPECT_FALSE(bool(s["HasFault"]));
    }
    std::string_view next;
    token = body["NextToken"].get(next) == simdjson::SUCCESS ? std::string(next) : "";
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(pages, 2);
  EXPECT_EQ(seen, (std::vector<std::string>{ids[3], ids[2], ids[1], ids[0]}));
}

TEST_F(XRayApiTest, SamplingAnswersTheShapesSdksRequire) {
  auto res = Post("/GetSamplingRules", "");
  ASSERT_EQ(res.status, 200);
  auto rule = Parse(res.body)["SamplingRuleRecords"].at(0);
  EXPECT_EQ(std::string_view(rule["SamplingRule"]["RuleName"]), "Default");
  simdjson::dom::object attributes = rule["SamplingRule"]["Attributes"].get_object();
  EXPECT_EQ(attributes.size(), 0u);
  EXPECT_TRUE(rule["ModifiedAt"].is_number());
  EXPECT_GT(double(rule["ModifiedAt"]), 0);

  res = Post(
      "/SamplingTargets",
      R"({"SamplingStatisticsDocuments":[{"RuleName":"Default","ClientID":"53285d8bfc6e92781c2086f2","RequestCount":7,"BorrowCount":1,"SampledCount":0,"Timestamp":1795239001000}]})");
  ASSERT_EQ(res.status, 200) << res.body;
  auto body = Parse(res.body);
  EXPECT_DOUBLE_EQ(double(body["LastRuleModification"]), 1795235388);
  auto target = body["SamplingTargetDocuments"].at(0);
  EXPECT_EQ(int64_t(target["ReservoirQuota"]), 1);
  EXPECT_DOUBLE_EQ(double(target["FixedRate"]), 0.05);
  EXPECT_EQ(int64_t(target["Interval"]), 10);
}

TEST_F(XRayApiTest, WithCredentialsUnsignedCallsAreRefusedButSdkSamplingIsNot) {
  MakeApi({{"test", "test", "prod"}});
  auto res = Post("/TraceSummaries", R"({"StartTime":1,"EndTime":2})");
  EXPECT_EQ(res.status, 403);
  EXPECT_EQ(std::string_view(Parse(res.body)["__type"]), "MissingAuthenticationTokenException");
  net::HttpRequest bad;
  bad.method = "POST";
  bad.path = "/TraceSummaries";
  bad.body = "{}";
  bad.headers = {{"authorization",
                  "AWS4-HMAC-SHA256 Credential=test/20261121/us-east-1/xray/aws4_request, "
                  "SignedHeaders=host;x-amz-date, Signature=" +
                      std::string(64, '0')},
                 {"host", "127.0.0.1:2000"},
                 {"x-amz-date", "20261121T053045Z"}};
  res = api_->Handle(bad);
  EXPECT_EQ(res.status, 403);
  EXPECT_EQ(std::string_view(Parse(res.body)["__type"]), "InvalidSignatureException");
  EXPECT_EQ(Post("/GetSamplingRules", "{}").status, 200);
}

}  // namespace
}  // namespace waggle::server

namespace waggle::server {
namespace {

TEST_F(XRayApiTest, SummariesNameTheRootCauseOfAFault) {
  std::string doc =
      R"({"trace_id":"1-6b012c3b-91bf9ca93281f59ba0fc5f9c","id":"763fb4da696df4f5","name":"backend-flask",)"
      R"("start_time":1795238971.5,"end_time":1795238971.6,"fault":true,)"
      R"("http":{"request":{"method":"GET","url":"http://h/api/boom"},"response":{"status":500}},)"
      R"("subsegments":[{"id":"fd7e512a1c3eff94","name":"failing-fn","start_time":1795238971.51,)"
      R"("end_time":1795238971.52,"fault":true,"cause":{"exceptions":[{"id":"509aef871d9ec867",)"
      R"("message":"kaboom","type":"ValueError"}]}}]})";
  ASSERT_EQ(Post("/TraceSegments", "{\"TraceSegmentDocuments\":[" + Quote(doc) + "]}").status, 200);
  auto res = Post("/TraceSummaries", R"({"StartTime":1795238971,"EndTime":1795238972})");
  ASSERT_EQ(res.status, 200) << res.body;
  auto summary = Parse(res.body)["TraceSummaries"].at(0);
  EXPECT_TRUE(bool(summary["HasFault"]));
  auto cause = summary["FaultRootCauses"].at(0);
  EXPECT_TRUE(bool(cause["ClientImpacting"]));
  auto service = cause["Services"].at(0);
  EXPECT_EQ(std::string_view(service["Name"]), "backend-flask");
  auto entity = service["EntityPath"].at(1);
  EXPECT_EQ(std::string_view(entity["Name"]), "failing-fn");
  EXPECT_EQ(std::string_view(entity["Exceptions"].at(0)["Name"]), "ValueError");
  EXPECT_EQ(std::string_view(entity["Exceptions"].at(0)["Message"]), "kaboom");
  auto slow = summary["ResponseTimeRootCauses"].at(0)["Services"].at(0)["EntityPath"];
  EXPECT_NEAR(double(slow.at(1)["Coverage"]), 0.1, 1e-6);
  simdjson::dom::array errors = summary["ErrorRootCauses"].get_array();
  EXPECT_EQ(errors.size(), 0u);
}

}  // namespace
}  // namespace waggle::server

namespace waggle::server {
namespace {

TEST_F(XRayApiTest, RefusesTimesThatAreNotFiniteEpochSeconds) {
  for (const char* body :
       {R"({"StartTime":"0","EndTime":"inf"})", R"({"StartTime":"nan","EndTime":5})",
        R"({"StartTime":0,"EndTime":1.7e12})", R"({"StartTime":-5,"EndTime":5})"}) {
    auto res = Post("/TraceSummaries", body);
    EXPECT_EQ(res.status, 400) << body << " -> " << res.body;
    EXPECT_EQ(std::string_view(Parse(res.body)["__type"]), "InvalidRequestException");
  }
}

TEST_F(XRayApiTest, SamplingTargetsNeedA24CharacterClientId) {
  auto res = Post("/SamplingTargets",
                  R"({"SamplingStatisticsDocuments":[{"RuleName":"Default","ClientID":")" +
                      std::string(200, 'a') + R"(","RequestCount":1}]})");
  EXPECT_EQ(res.status, 400);
}

TEST(XRayApiErrors, TransportRefusalsUseAwsErrorShape) {
  net::HttpResponse r = XRayApi::TransportError(413, "request body larger than 16 bytes");
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(
      r.body,
      R"({"__type":"RequestEntityTooLargeException","message":"request body larger than 16 bytes"})");
  bool has_type = false;
  for (const auto& [k, v] : r.headers) has_type |= k == "x-amzn-ErrorType";
  EXPECT_TRUE(has_type);
}

}  // namespace
}  // namespace waggle::server
