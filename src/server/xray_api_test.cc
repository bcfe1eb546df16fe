#include "server/xray_api.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <mutex>
#include <regex>
#include <set>
#include <tuple>

#include "base/mutex.h"
#include "base/testing/temp_dir.h"

#include "query/expr/filter_eval.h"
#include "query/expr/filter_expression.h"
#include "query/service_graph.h"
#include "query/testing/spans.h"
#include "query/trace_search.h"
#include "storage/columnar/engine.h"
#include "workload/generator.h"

namespace waggle::server {
namespace {

std::string Doc(const std::string& trace, const std::string& id, double start) {
  return R"({"trace_id":")" + trace + R"(","id":")" + id + R"(","name":"svc","start_time":)" +
         std::to_string(start) + R"(,"end_time":)" + std::to_string(start + 0.5) +
         R"(,"http":{"request":{"method":"GET","url":"http://svc/x"},"response":{"status":200}}})";
}

std::string_view ErrorType(const net::HttpResponse& r) {
  for (const auto& [name, value] : r.headers) {
    if (name == "x-amzn-ErrorType") return value;
  }
  return "";
}

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// The engine behind the Reader interface, for tests to override a call of.
class ForwardingReader : public storage::Reader {
 public:
  explicit ForwardingReader(storage::columnar::Engine* store) : store_(store) {}
  Result<storage::TraceData> FetchTrace(const model::TraceId& id) override {
    return store_->FetchTrace(id);
  }
  std::vector<Result<storage::TraceData>> FetchTraces(
      const std::vector<model::TraceId>& ids, const storage::FetchOptions& options) override {
    return store_->FetchTraces(ids, options);
  }
  Result<storage::FindTracesResult> FindTraces(const storage::FindTracesRequest& r) override {
    return store_->FindTraces(r);
  }
  Result<std::vector<storage::ColumnRef>> ListColumns(int64_t start, int64_t end) override {
    return store_->ListColumns(start, end);
  }
  Result<storage::ScanStats> Scan(const storage::ScanRequest& r,
                                  const storage::BatchFn& consume) override {
    return store_->Scan(r, consume);
  }

 protected:
  storage::columnar::Engine* store_;
};

// The store, counting the traces fetched from it (searches fetch on two threads).
struct CountsFetches : ForwardingReader {
  using ForwardingReader::ForwardingReader;
  std::vector<Result<storage::TraceData>> FetchTraces(
      const std::vector<model::TraceId>& ids, const storage::FetchOptions& options) override {
    {
      MutexLock lock(&mu);
      fetched += ids.size();
      for (const model::TraceId& id : ids) distinct.insert(id.ToXRay());
    }
    return store_->FetchTraces(ids, options);
  }
  size_t Fetched() {
    MutexLock lock(&mu);
    return fetched;
  }
  std::set<std::string> Distinct() {
    MutexLock lock(&mu);
    return distinct;
  }
  void Reset() {
    MutexLock lock(&mu);
    fetched = 0;
    distinct.clear();
  }

 private:
  Mutex mu;
  size_t fetched GUARDED_BY(mu) = 0;
  std::set<std::string> distinct GUARDED_BY(mu);
};

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
    groups_ =
        std::move(*XRayGroups::Open(Env::Default(), dir_.path(), "us-east-1", "000000000000"));
    MakeApi(Options());
  }

  static XRayApi::Options Options(std::vector<AwsCredential> creds = {}) {
    return {"us-east-1", "000000000000", std::move(creds), 3};
  }
  // The API over `reader`, or the store itself.
  void MakeApi(XRayApi::Options options, storage::Reader* reader = nullptr) {
    api_ = std::make_unique<XRayApi>(std::move(options), reader ? reader : store_.get(),
                                     ingester_.get(), sampling_.get(), groups_.get(), &clock_);
  }

  net::HttpResponse Post(const std::string& path, const std::string& body) {
    net::HttpRequest r;
    r.method = "POST";
    r.path = r.target = path;
    r.body = body;
    return api_->Handle(r);
  }

  simdjson::dom::element Parse(const std::string& body) { return parser_.parse(body).value(); }

  // The ids GetTraceSummaries lists for `filter` over the range of FilterTraces(), newest first,
  // every page followed (at most 20).
  std::vector<std::string> FilteredIds(const std::string& filter) {
    return ListedIds(R"("FilterExpression":)" + Quote(filter));
  }

  // The ids GetTraceSummaries lists over [1795238971, 1795238990) with the request's other
  // members `more`, newest first, every page followed (at most 20).
  std::vector<std::string> ListedIds(const std::string& more) {
    std::vector<std::string> ids;
    std::string token;
    for (int pages = 0; pages < 20; ++pages) {
      std::string req = R"({"StartTime":1795238971,"EndTime":1795238990,)" + more;
      if (!token.empty()) req += R"(,"NextToken":")" + token + "\"";
      auto res = Post("/TraceSummaries", req + "}");
      EXPECT_EQ(res.status, 200) << res.body;
      if (res.status != 200) break;
      auto body = Parse(res.body);
      for (auto summary : body["TraceSummaries"].get_array()) {
        ids.emplace_back(std::string_view(summary["Id"]));
      }
      std::string_view next;
      if (body["NextToken"].get(next) != simdjson::SUCCESS) return ids;
      token = std::string(next);
    }
    ADD_FAILURE() << "more than 20 pages for " << more;
    return ids;
  }

  test_util::TempDir dir_;  // declared first: removed after the store has closed
  FakeClock clock_{1795239045LL * kNanosPerSecond};
  ingest::XRayDocumentDecoder decoder_;
  std::unique_ptr<storage::columnar::Engine> store_;
  ingest::IngestCounters counters_;
  std::unique_ptr<ingest::XRayDocumentIngester> ingester_;
  std::unique_ptr<sampling::SamplingService> sampling_;
  std::unique_ptr<XRayGroups> groups_;
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

// Ten traces, one a second; every third is slow (3 s), traces 4 and 8 fault, and each names
// user "u<i mod 2>" in an annotation.
std::string FilterTraces() {
  std::string docs;
  for (int i = 0; i < 10; ++i) {
    char trace[40], sid[17];
    std::snprintf(trace, sizeof(trace), "1-6b012c%02x-0000000000000000000000%02x", 0x3b + i, i + 1);
    std::snprintf(sid, sizeof(sid), "%016x", i + 1);
    const double start = 1795238971.0 + i;
    const double length = i % 3 == 0 ? 3.0 : 0.1;
    const int status = i == 4 || i == 8 ? 502 : 200;
    if (i) docs += ",";
    docs +=
        Quote(R"({"trace_id":")" + std::string(trace) + R"(","id":")" + sid +
              R"(","name":"svc","start_time":)" + std::to_string(start) + R"(,"end_time":)" +
              std::to_string(start + length) +
              R"(,"http":{"request":{"method":"GET","url":"http://svc/x"},"response":{"status":)" +
              std::to_string(status) + R"(}},"annotations":{"user":"u)" + std::to_string(i % 2) +
              R"("}})");
  }
  return "{\"TraceSegmentDocuments\":[" + docs + "]}";
}

TEST_F(XRayApiTest, GetTraceSummariesAppliesTheFilterOnEveryPage) {
  ASSERT_EQ(Post("/TraceSegments", FilterTraces()).status, 200);
  // Trace i's id ends in i + 1.
  auto search = [&](const std::string& filter) {
    std::vector<int> found;
    for (std::string_view id : FilteredIds(filter)) {
      found.push_back(std::stoi(std::string(id.substr(id.size() - 2)), nullptr, 16) - 1);
    }
    return found;
  };
  EXPECT_EQ(search("responsetime > 2"), (std::vector<int>{9, 6, 3, 0}));
  EXPECT_EQ(search("fault"), (std::vector<int>{8, 4}));
  EXPECT_EQ(search(R"(annotation.user = "u1" AND responsetime > 2)"), (std::vector<int>{9, 3}));
  EXPECT_EQ(search("http.status = 502 OR responsetime >= 3"), (std::vector<int>{9, 8, 6, 4, 3, 0}));
  EXPECT_EQ(search(R"(http.url CONTAINS "svc" AND !fault AND !(responsetime > 2))"),
            (std::vector<int>{7, 5, 2, 1}));
  EXPECT_EQ(search(R"(service("svc") { fault })"), (std::vector<int>{8, 4}));
  // Duration bounds are checked on the trace table before any trace is fetched: only the
  // four long traces are.
  CountsFetches counting(store_.get());
  MakeApi(Options(), &counting);
  EXPECT_EQ(search("duration > 2"), (std::vector<int>{9, 6, 3, 0}));
  EXPECT_EQ(counting.Distinct(),
            (std::set<std::string>{
                "1-6b012c3b-000000000000000000000001", "1-6b012c3e-000000000000000000000004",
                "1-6b012c41-000000000000000000000007", "1-6b012c44-00000000000000000000000a"}));
  MakeApi(Options());
  EXPECT_EQ(search("duration >= 0.1 AND duration < 1"), (std::vector<int>{8, 7, 5, 4, 2, 1}));
  EXPECT_EQ(search(R"(service("svc") { responsetime > 2 AND !fault })"),
            (std::vector<int>{9, 6, 3, 0}));
  EXPECT_TRUE(search(R"(service("svc") { fault AND responsetime > 2 })").empty());
  EXPECT_TRUE(search(R"(service("other"))").empty());

  auto bad =
      Post("/TraceSummaries",
           R"({"StartTime":1795238971,"EndTime":1795238990,"FilterExpression":"duration >"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(ErrorType(bad), "InvalidRequestException");
  EXPECT_NE(std::string(std::string_view(Parse(bad.body)["message"])).find("position 11"),
            std::string::npos)
      << bad.body;

  // A character the filter cannot take, of two bytes (U+07E3): the message names it whole,
  // and the answer is UTF-8 JSON a client can read.
  auto foreign = Post("/TraceSummaries",
                      "{\"StartTime\":1795238971,\"EndTime\":1795238990,"
                      "\"FilterExpression\":\"service\xdf\xa3\"}");
  EXPECT_EQ(foreign.status, 400);
  simdjson::dom::element answer;
  ASSERT_EQ(parser_.parse(foreign.body).get(answer), simdjson::SUCCESS) << foreign.body;
  EXPECT_NE(std::string(std::string_view(answer["message"])).find("character '\xdf\xa3'"),
            std::string::npos)
      << foreign.body;
}

// An edge's braces read the caller's calls, also when a call came as a subsegment of its own,
// which is stored without the caller's service until its trace is assembled.
TEST_F(XRayApiTest, EdgeFiltersFindCallsSentAsSubsegmentsOfTheirOwn) {
  const std::string t = "1-6b012c40-000000000000000000000001";
  const std::string front = R"({"trace_id":")" + t +
                            R"(","id":"a000000000000001","name":"front","start_time":1795238976.0,)"
                            R"("end_time":1795238977.0})";
  const std::string call =
      R"({"trace_id":")" + t +
      R"(","id":"a000000000000002","parent_id":"a000000000000001","type":"subsegment",)"
      R"("name":"back","namespace":"remote","start_time":1795238976.1,)"
      R"("end_time":1795238976.5,"fault":true})";
  ASSERT_EQ(Post("/TraceSegments",
                 "{\"TraceSegmentDocuments\":[" + Quote(front) + "," + Quote(call) + "]}")
                .status,
            200);
  EXPECT_EQ(FilteredIds(R"(edge("front", "back") { fault })"), std::vector<std::string>{t});
  EXPECT_TRUE(FilteredIds(R"(edge("front", "back") { error })").empty());
}

// Answers that add traces up (a group's service graph, the time series) refuse a range holding
// more traces than they add up, rather than answer from part of them.
TEST_F(XRayApiTest, GraphsOverMoreTracesThanTheyAddUpAreRefusedNotCut) {
  ASSERT_EQ(Post("/TraceSegments", FilterTraces()).status, 200);
  ASSERT_EQ(Post("/CreateGroup", R"j({"GroupName":"all","FilterExpression":"!service(\"none\")"})j")
                .status,
            200);
  const std::string range = R"({"StartTime":1795238971,"EndTime":1795238990)";
  CountsFetches counting(store_.get());
  for (size_t max_traces : {size_t{9}, size_t{10}}) {
    XRayApi::Options options = Options();
    options.service_graph_max_traces = max_traces;
    MakeApi(std::move(options), &counting);
    counting.Reset();
    const int want = max_traces < 10 ? 400 : 200;
    auto graph = Post("/ServiceGraph", range + R"(,"GroupName":"all"})");
    EXPECT_EQ(graph.status, want) << graph.body;
    auto series = Post("/TimeSeriesServiceStatistics", range + "}");
    EXPECT_EQ(series.status, want) << series.body;
    if (want == 400) {
      EXPECT_EQ(ErrorType(graph), "InvalidRequestException");
      EXPECT_NE(graph.body.find("more than 9 traces"), std::string::npos) << graph.body;
      EXPECT_EQ(counting.Fetched(), 0u);  // refused before any trace was fetched
    } else {
      EXPECT_EQ(counting.Fetched(), 20u);  // each call fetched the 10 traces once
    }
  }
}

// Sampling: FixedRate keeps the share of traces a hash of their ids picks (the same on every
// call), PartialScan looks at the newest share of the range; without Sampling, every trace.
TEST_F(XRayApiTest, GetTraceSummariesSamplesWhenAskedTo) {
  // 40 traces, four a second from 1795238971 (0x6b012c3b) on.
  std::string docs;
  std::vector<std::string> all;
  for (int i = 0; i < 40; ++i) {
    char trace[40], sid[17];
    std::snprintf(trace, sizeof(trace), "1-%08x-0000000000000000000000%02x", 0x6b012c3b + i / 4,
                  i + 1);
    std::snprintf(sid, sizeof(sid), "%016x", i + 1);
    if (i) docs += ",";
    docs += Quote(Doc(trace, sid, 1795238971.0 + i / 4));
    all.emplace_back(trace);
  }
  ASSERT_EQ(Post("/TraceSegments", "{\"TraceSegmentDocuments\":[" + docs + "]}").status, 200);
  auto sorted = [](std::vector<std::string> ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  auto in_sample = [&](double rate) {
    std::vector<std::string> kept;
    for (const std::string& id : all) {
      model::TraceId t;
      EXPECT_TRUE(model::TraceId::ParseXRay(id, &t));
      if (storage::InSample(t, rate)) kept.push_back(id);
    }
    return sorted(kept);
  };
  EXPECT_EQ(sorted(ListedIds(R"("Sampling":false)")), sorted(all));
  EXPECT_EQ(sorted(ListedIds(R"("SamplingStrategy":{"Name":"FixedRate","Value":0.5})")),
            sorted(all));  // a strategy without Sampling samples nothing
  const auto half =
      sorted(ListedIds(R"("Sampling":true,"SamplingStrategy":{"Name":"FixedRate","Value":0.5})"));
  EXPECT_EQ(half, in_sample(0.5));
  EXPECT_GT(half.size(), 8u);
  EXPECT_LT(half.size(), 32u);
  EXPECT_EQ(sorted(ListedIds(R"("Sampling":true)")), in_sample(0.1));
  EXPECT_TRUE(
      ListedIds(R"("Sampling":true,"SamplingStrategy":{"Name":"FixedRate","Value":0})").empty());
  // PartialScan: the range [1795238971, 1795238990) is 19 s long; its newest 0.79 (15.01 s)
  // begins at 1795238974.99, so the traces of second 1795238975 on: 16 and later.
  EXPECT_EQ(
      sorted(ListedIds(R"("Sampling":true,"SamplingStrategy":{"Name":"PartialScan","Value":1})")),
      sorted(all));
  const std::vector<std::string> newest(all.begin() + 16, all.end());
  EXPECT_EQ(sorted(ListedIds(
                R"("Sampling":true,"SamplingStrategy":{"Name":"PartialScan","Value":0.79})")),
            sorted(newest));
  for (const char* bad :
       {R"({"Name":"FixedRate","Value":2})", R"({"Name":"FixedRate","Value":"x"})",
        R"({"Name":"Random","Value":0.5})"}) {
    auto res = Post("/TraceSummaries",
                    std::string(R"({"StartTime":1795238971,"EndTime":1795238990,"Sampling":true,)"
                                R"("SamplingStrategy":)") +
                        bad + "}");
    EXPECT_EQ(res.status, 400) << bad;
    EXPECT_EQ(ErrorType(res), "InvalidRequestException") << bad;
  }
}

TEST_F(XRayApiTest, GroupsAreKeptAndUsableInFilters) {
  auto res = Post("/CreateGroup", R"({"GroupName":"slow","FilterExpression":"responsetime > 2"})");
  ASSERT_EQ(res.status, 200) << res.body;
  auto group = Parse(res.body)["Group"];
  EXPECT_EQ(std::string_view(group["GroupName"]), "slow");
  std::string arn = std::string(std::string_view(group["GroupARN"]));
  EXPECT_TRUE(arn.starts_with("arn:aws:xray:us-east-1:000000000000:group/slow/")) << arn;
  EXPECT_EQ(arn.size(), std::string("arn:aws:xray:us-east-1:000000000000:group/slow/").size() + 52);
  EXPECT_FALSE(bool(group["InsightsConfiguration"]["InsightsEnabled"]));

  // Duplicate names, bad names and bad filters are refused in AWS's form.
  for (const char* body :
       {R"({"GroupName":"slow"})", R"({"GroupName":"Default"})", R"({"GroupName":"has space"})",
        R"({"GroupName":"x","FilterExpression":"service(\"a\""})",
        R"({"GroupName":"y","FilterExpression":"group.name = \"nope\""})",
        R"({"GroupName":"abcdefghijklmnopqrstuvwxyz1234567"})", R"({})"}) {
    auto r = Post("/CreateGroup", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(ErrorType(r), "InvalidRequestException") << body;
  }

  ASSERT_EQ(
      Post(
          "/CreateGroup",
          R"({"GroupName":"slow-u1","FilterExpression":"group.name = \"slow\" AND annotation.user = \"u1\"","InsightsConfiguration":{"InsightsEnabled":true}})")
          .status,
      200);
  auto list = Parse(Post("/Groups", "{}").body)["Groups"].get_array();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(std::string_view(list.at(0)["GroupName"]), "Default");
  EXPECT_EQ(std::string_view(list.at(0)["GroupARN"]),
            "arn:aws:xray:us-east-1:000000000000:group/Default");
  EXPECT_EQ(list.at(0)["FilterExpression"].error(), simdjson::NO_SUCH_FIELD);
  EXPECT_EQ(std::string_view(list.at(1)["GroupName"]), "slow");
  EXPECT_TRUE(bool(list.at(2)["InsightsConfiguration"]["InsightsEnabled"]));

  ASSERT_EQ(Post("/TraceSegments", FilterTraces()).status, 200);
  auto count = [&](const std::string& filter) { return FilteredIds(filter).size(); };
  EXPECT_EQ(count(R"(group.name = "slow")"), 4u);
  EXPECT_EQ(count(R"(group.name = "slow-u1")"), 2u);
  EXPECT_EQ(count("group.arn = " + Quote(arn)), 4u);
  EXPECT_EQ(count(R"(group.name = "Default")"), 10u);

  // Update by ARN; a group cannot come to name itself; the Default group stays as it is.
  res = Post("/UpdateGroup", R"({"GroupARN":")" + arn + R"(","FilterExpression":"fault"})");
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(std::string_view(Parse(res.body)["Group"]["FilterExpression"]), "fault");
  EXPECT_EQ(count(R"(group.name = "slow")"), 2u);
  EXPECT_EQ(
      Post("/UpdateGroup", R"({"GroupName":"slow","FilterExpression":"group.name = \"slow-u1\""})")
          .status,
      400);
  EXPECT_EQ(Post("/UpdateGroup", R"({"GroupName":"Default","FilterExpression":"fault"})").status,
            400);
  EXPECT_EQ(std::string_view(Parse(
                Post("/GetGroup", R"({"GroupName":"slow"})").body)["Group"]["FilterExpression"]),
            "fault");

  // Kept across a restart.
  groups_ = std::move(*XRayGroups::Open(Env::Default(), dir_.path(), "us-east-1", "000000000000"));
  MakeApi(Options());
  EXPECT_EQ(std::string_view(Parse(
                Post("/GetGroup", R"({"GroupARN":")" + arn + "\"}").body)["Group"]["GroupName"]),
            "slow");
  EXPECT_EQ(count(R"(group.name = "slow-u1")"), 0u);  // faults are traces 4 and 8: user u0

  ASSERT_EQ(Post("/DeleteGroup", R"({"GroupName":"slow-u1"})").status, 200);
  EXPECT_EQ(Post("/DeleteGroup", R"({"GroupName":"slow-u1"})").status, 400);
  EXPECT_EQ(Post("/DeleteGroup", R"({"GroupName":"Default"})").status, 400);
  EXPECT_EQ(Post("/GetGroup", R"({"GroupName":"slow-u1"})").status, 400);
  EXPECT_EQ(Parse(Post("/Groups", "{}").body)["Groups"].get_array().size(), 2u);
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
  MakeApi(Options({{"test", "test", "prod"}}));
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

// A graph written out in an order that does not depend on the order nodes were met in.
std::string Canonical(const std::vector<query::ServiceGraphNode>& nodes) {
  auto key = [](const query::ServiceGraphNode& n) {
    return n.id.name + "|" + n.id.type + "|" + n.id.account_id + (n.client ? "|client" : "") +
           (n.inferred ? "|inferred" : "");
  };
  auto stats = [](const query::RequestStats& s) {
    return std::to_string(s.ok) + "/" + std::to_string(s.error_throttle) + "/" +
           std::to_string(s.error_other) + "/" + std::to_string(s.fault) + "/" +
           std::to_string(s.total_response_ns);
  };
  auto histogram = [](const query::Histogram& h) {
    std::string out;
    for (const auto& [v, c] : h) out += std::to_string(v) + "x" + std::to_string(c) + ",";
    return out;
  };
  std::map<std::string, std::string> out;
  for (const query::ServiceGraphNode& n : nodes) {
    std::string& text = out[key(n)];
    text = (n.root ? "root " : "") + std::to_string(n.start_ns) + ".." + std::to_string(n.end_ns) +
           " " + stats(n.stats) + " d" + histogram(n.durations) + " r" +
           histogram(n.response_times);
    std::map<std::string, std::string> edges;
    for (const query::ServiceGraphEdge& e : n.edges) {
      std::vector<std::string> aliases = e.aliases;
      std::sort(aliases.begin(), aliases.end());
      std::string& edge = edges[key(nodes[e.to])];
      edge = std::to_string(e.start_ns) + ".." + std::to_string(e.end_ns) + " " + stats(e.stats) +
             " r" + histogram(e.response_times) + " aka";
      for (const std::string& a : aliases) edge += " " + a;
    }
    for (const auto& [to, edge] : edges) text += "\n  -> " + to + ": " + edge;
  }
  std::string text;
  for (const auto& [k, v] : out) text += k + ": " + v + "\n";
  return text;
}

// A whole-range search hands over every trace of its range in one page, whatever page_size
// says, and refuses a range that holds more than max_examined.
TEST_F(XRayApiTest, AWholeRangeSearchIsOnePageOrARefusal) {
  workload::WorkloadOptions w;
  w.start_ns = 1795238960LL * kNanosPerSecond;
  w.traces_per_second = 50;
  model::SpanBatch batch;
  batch.spans = workload::GenerateSpans(w, 1500);
  std::set<std::string> all;
  for (const model::Span& s : batch.spans) all.insert(s.trace_id.ToXRay());
  ASSERT_TRUE(store_->Write(batch, storage::Durability::kSync).ok());
  query::TraceSearchRequest r;
  r.find.key = storage::TraceTimeKey::kEventTime;
  r.find.start_ns = w.start_ns - 10 * kNanosPerSecond;
  r.find.end_ns = w.start_ns + 300 * kNanosPerSecond;
  r.whole_range = true;
  r.page_size = 1;
  r.max_examined = all.size();
  std::set<std::string> handed;
  auto result = query::SearchTraces(store_.get(), r, [&](query::TraceFacts&& t, int64_t) {
    handed.insert(t.trace().id.ToXRay());
  });
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_TRUE(result->next_page_token.empty());
  EXPECT_EQ(handed, all);
  r.max_examined = all.size() - 1;
  handed.clear();
  result = query::SearchTraces(store_.get(), r, [&](query::TraceFacts&& t, int64_t) {
    handed.insert(t.trace().id.ToXRay());
  });
  EXPECT_EQ(result.status().code(), Status::Code::kResourceExhausted);
  EXPECT_TRUE(handed.empty());  // refused before any trace was handed over
}

// What a filter requires of single spans is pushed into scans, to fetch fewer traces; that may
// never change the answer. Over the generated workload (half in blocks, half in the head),
// each expression selects the same traces as fetching every trace and evaluating it.
TEST_F(XRayApiTest, APushedDownSearchSelectsWhatEvaluatingEveryTraceSelects) {
  workload::WorkloadOptions w;
  w.start_ns = 1795238960LL * kNanosPerSecond;
  w.traces_per_second = 50;
  std::vector<model::Span> spans = workload::GenerateSpans(w, 4000);
  model::SpanBatch first, second;
  first.spans.assign(spans.begin(), spans.begin() + 2000);
  second.spans.assign(spans.begin() + 2000, spans.end());
  ASSERT_TRUE(store_->Write(first, storage::Durability::kSync).ok());
  ASSERT_TRUE(store_->SealHead().ok());
  ASSERT_TRUE(store_->Maintain().ok());
  ASSERT_TRUE(store_->Write(second, storage::Durability::kSync).ok());

  auto search = [&](const query::filter::Expr* filter, const query::filter::Expr* evaluate) {
    query::TraceSearchRequest r;
    r.find.key = storage::TraceTimeKey::kEventTime;
    r.find.start_ns = w.start_ns - 10 * kNanosPerSecond;
    r.find.end_ns = w.start_ns + 300 * kNanosPerSecond;
    r.filter = filter;
    r.page_size = r.max_examined = 100000;
    std::set<std::string> ids;
    auto result = query::SearchTraces(store_.get(), r, [&](query::TraceFacts&& t, int64_t) {
      if (evaluate == nullptr || query::filter::Matches(*evaluate, t)) {
        ids.insert(t.trace().id.ToXRay());
      }
    });
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_TRUE(result.ok() && result->next_page_token.empty());
    return ids;
  };
  const size_t all = search(nullptr, nullptr).size();
  ASSERT_GT(all, 300u);
  size_t selective = 0, expressions = 0;
  for (const char* text : {
           "fault",
           "error OR throttle",
           "responsetime > 0.5",
           "duration >= 1 AND duration < 5",
           "!ok",
           "service(\"backend-flask\") { responsetime > 0.2 OR error }",
           "annotation.customer_segment = \"enterprise\"",
           "annotation.customer_segment = \"wholesale\" OR http.status = 429",
           "service(\"backend-flask\") { fault }",
           "service(\"user-service\") { responsetime > 0.01 } AND !throttle",
           "edge(\"backend-flask\", \"user-service\") { fault OR responsetime > 0.1 }",
           "rootcause.fault.service { name = \"user-service\" }",
           "!service(\"user-service\")",
       }) {
    SCOPED_TRACE(text);
    auto expr = query::filter::Parse(text);
    ASSERT_TRUE(expr.ok()) << expr.status().ToString();
    const std::set<std::string> pushed = search(&*expr, nullptr);
    EXPECT_EQ(pushed, search(nullptr, &*expr));
    selective += !pushed.empty() && pushed.size() < all;
    ++expressions;
  }
  EXPECT_EQ(selective, expressions);  // each selects some traces, and not all
}

TEST_F(XRayApiTest, TheServiceGraphOfAScanIsTheGraphOfTheFetchedTraces) {
  // X-Ray documents: calls to an instrumented service, DynamoDB, a remote host and SQL; a
  // segment sent in progress and then complete; an independent subsegment calling SQS.
  const std::string t1 = "1-6b012c3b-000000000000000000000001";
  const std::string t2 = "1-6b012c3b-000000000000000000000002";
  const std::string front =
      R"({"trace_id":")" + t1 +
      R"(","id":"a000000000000001","name":"front","origin":"AWS::EC2::Instance",)"
      R"("start_time":1795238971.0,"end_time":1795238972.0,"fault":true,"subsegments":[)"
      R"({"id":"a000000000000002","name":"back","namespace":"remote","start_time":1795238971.1,"end_time":1795238971.6,"fault":true,)"
      R"("http":{"request":{"method":"GET","url":"http://back/x"},"response":{"status":503}}},)"
      R"({"id":"a000000000000003","name":"DynamoDB","namespace":"aws","start_time":1795238971.2,"end_time":1795238971.25,)"
      R"("aws":{"operation":"Query","table_name":"orders"}},)"
      R"({"id":"a000000000000004","name":"api.example.com","namespace":"remote","start_time":1795238971.3,"end_time":1795238971.4,)"
      R"("http":{"request":{"method":"POST","url":"https://api.example.com/pay"},"response":{"status":429}}},)"
      R"({"id":"a000000000000005","name":"db@host","namespace":"remote","start_time":1795238971.4,"end_time":1795238971.45,)"
      R"("sql":{"database_type":"PostgreSQL","url":"db@host"}}]})";
  const std::string back =
      R"({"trace_id":")" + t1 +
      R"(","id":"b000000000000001","parent_id":"a000000000000002","name":"back",)"
      R"("start_time":1795238971.15,"end_time":1795238971.55,"fault":true,)"
      R"("http":{"request":{"method":"GET","url":"http://back/x"},"response":{"status":503}}})";
  const std::string open = R"({"trace_id":")" + t2 +
                           R"(","id":"c000000000000001","name":"front","start_time":1795238980.0,)"
                           R"("in_progress":true})";
  const std::string closed =
      R"({"trace_id":")" + t2 +
      R"(","id":"c000000000000001","name":"front","start_time":1795238980.0,)"
      R"("end_time":1795238980.5})";
  const std::string alone =
      R"({"trace_id":")" + t2 +
      R"(","id":"c000000000000002","parent_id":"c000000000000001","type":"subsegment",)"
      R"("name":"SQS","namespace":"aws","start_time":1795238980.1,"end_time":1795238980.2,)"
      R"("aws":{"operation":"SendMessage","queue_url":"https://sqs.us-east-1.amazonaws.com/1/jobs"}})";
  // A call answered by two segments of one node, around an answer to another call (counted
  // once, whichever order the scan meets them in).
  const std::string t3 = "1-6b012c3b-000000000000000000000003";
  std::string twice = Quote(
      R"({"trace_id":")" + t3 +
      R"(","id":"d000000000000001","name":"front","start_time":1795238990.0,"end_time":1795238991.0,)"
      R"("subsegments":[)"
      R"({"id":"d000000000000002","name":"back","namespace":"remote","start_time":1795238990.1,"end_time":1795238990.2},)"
      R"({"id":"d000000000000003","name":"back","namespace":"remote","start_time":1795238990.3,"end_time":1795238990.4}]})");
  for (const auto& [id, parent, start, end] :
       {std::tuple("d000000000000004", "d000000000000002", "1795238990.15", "1795238990.19"),
        std::tuple("d000000000000005", "d000000000000003", "1795238990.31", "1795238990.39"),
        std::tuple("d000000000000006", "d000000000000002", "1795238990.11", "1795238990.19")}) {
    twice +=
        "," + Quote(R"({"trace_id":")" + t3 + R"(","id":")" + id + R"(","parent_id":")" + parent +
                    R"(","name":"back","start_time":)" + start + R"(,"end_time":)" + end + "}");
  }
  for (const std::string& docs : {Quote(front) + "," + Quote(back) + "," + Quote(open),
                                  Quote(closed) + "," + Quote(alone), twice}) {
    auto res = Post("/TraceSegments", "{\"TraceSegmentDocuments\":[" + docs + "]}");
    ASSERT_EQ(res.status, 200) << res.body;
  }
  // And the generated workload (OTel and X-Ray-shaped spans, 5 services, errors) around them.
  workload::WorkloadOptions w;
  w.start_ns = 1795238960LL * kNanosPerSecond;
  w.traces_per_second = 50;
  std::vector<model::Span> spans = workload::GenerateSpans(w, 5000);

  auto expect_same = [&] {
    for (auto [from, to] :
         {std::pair<int64_t, int64_t>{1795238960, 1795239100}, {1795238962, 1795238972}}) {
      SCOPED_TRACE(from);
      const int64_t start_ns = from * kNanosPerSecond, end_ns = to * kNanosPerSecond;
      query::ServiceGraphBuilder fetched;
      storage::FindTracesRequest find;
      find.key = storage::TraceTimeKey::kEventTime;
      find.start_ns = start_ns;
      find.end_ns = end_ns;
      find.limit = 100000;
      auto found = store_->FindTraces(find);
      ASSERT_TRUE(found.ok());
      ASSERT_GT(found->traces.size(), 100u);
      for (const storage::TraceRef& ref : found->traces) {
        auto trace = store_->FetchTrace(ref.id);
        ASSERT_TRUE(trace.ok());
        fetched.Add(query::TraceFacts(std::move(*trace)));
      }
      auto scanned = query::ScanServiceGraph(store_.get(), start_ns, end_ns, 1'000'000);
      ASSERT_TRUE(scanned.ok()) << scanned.status().ToString();
      const std::string want = Canonical(std::move(fetched).Finish());
      EXPECT_NE(want.find("orders|AWS::DynamoDB::Table||inferred"), std::string::npos) << want;
      if (to > 1795238990) {  // t3's two calls to back, each counted once
        // (front|| also holds t2, and t1's call from its subsegment, a fault.)
        EXPECT_TRUE(std::regex_search(want, std::regex(R"(\n  -> back\|\|: \S+ 2/0/0/1/)")))
            << want;
      }
      EXPECT_EQ(Canonical(*scanned), want);
    }
  };
  // The scan works out a trace whose rows come as one run of a block at once, and sets the
  // others aside: so the spans are stored every way a trace can lie. First, in the head only
  // (not sorted by trace): 3000 spans, the last 2000 of them every other one.
  model::SpanBatch batch;
  for (size_t i = 0; i < spans.size(); ++i) {
    if (i < 1000 || i % 2 == 0) batch.spans.push_back(spans[i]);
  }
  ASSERT_TRUE(store_->Write(batch, storage::Durability::kSync).ok());
  expect_same();
  // Then in a block: whole traces, and traces whose other spans are still to come.
  ASSERT_TRUE(store_->SealHead().ok());
  ASSERT_TRUE(store_->Maintain().ok());
  ASSERT_GT(store_->stats().blocks, 0u);
  expect_same();
  // Then the rest in the head: traces in a block and in the head.
  batch.spans.clear();
  for (size_t i = 1001; i < spans.size(); i += 2) batch.spans.push_back(spans[i]);
  ASSERT_TRUE(store_->Write(batch, storage::Durability::kSync).ok());
  expect_same();
  // And then in two blocks.
  ASSERT_TRUE(store_->SealHead().ok());
  ASSERT_TRUE(store_->Maintain().ok());
  expect_same();
  auto tight = query::ScanServiceGraph(store_.get(), 1795238960LL * kNanosPerSecond,
                                       1795239100LL * kNanosPerSecond, 100);
  EXPECT_EQ(tight.status().code(), Status::Code::kResourceExhausted);
}

// A store that takes `late` in when the service graph's second pass starts (the census scans
// read the trace id column alone): a write landing between the two passes.
class WritesBetweenPasses : public ForwardingReader {
 public:
  WritesBetweenPasses(storage::columnar::Engine* store, model::SpanBatch late)
      : ForwardingReader(store), late_(std::move(late)) {}
  Result<storage::ScanStats> Scan(const storage::ScanRequest& r,
                                  const storage::BatchFn& consume) override {
    if (r.columns.size() > 1) {
      std::call_once(once_,
                     [&] { EXPECT_TRUE(store_->Write(late_, storage::Durability::kSync).ok()); });
    }
    return store_->Scan(r, consume);
  }

 private:
  model::SpanBatch late_;
  std::once_flag once_;
};

// A trace one half of the range took whole at the census, and a span of it written in the
// other half after the census: the graph shows the trace as the census saw it, and does not
// count the late span as a trace of its own (a root, a client edge).
TEST_F(XRayApiTest, TheServiceGraphCountsATraceOnceWhenASpanOfItArrivesBetweenPasses) {
  workload::WorkloadOptions w;
  const int64_t start = 1795238960LL * kNanosPerSecond, end = start + 100 * kNanosPerSecond;
  w.start_ns = start;
  w.traces_per_second = 50;
  model::SpanBatch batch;
  batch.spans = workload::GenerateSpans(w, 5000);  // all in the first 15 s: the first half
  ASSERT_TRUE(store_->Write(batch, storage::Durability::kSync).ok());
  ASSERT_TRUE(store_->SealHead().ok());
  ASSERT_TRUE(store_->Maintain().ok());
  // A trace inside the block's one row group (neither the first nor the last id), and its root.
  const model::Span* root = nullptr;
  model::TraceId lo = batch.spans[0].trace_id, hi = lo;
  for (const model::Span& sp : batch.spans) {
    lo = std::min(lo, sp.trace_id);
    hi = std::max(hi, sp.trace_id);
  }
  for (const model::Span& sp : batch.spans) {
    if (sp.parent_span_id.value == 0 && sp.trace_id != lo && sp.trace_id != hi) root = &sp;
  }
  ASSERT_NE(root, nullptr);
  auto before = query::ScanServiceGraph(store_.get(), start, end, 1'000'000);
  ASSERT_TRUE(before.ok()) << before.status().ToString();

  model::SpanBatch late;
  model::Span& sp = late.spans.emplace_back(query::testing::MakeSpan(
      0xfeedface, root->span_id.value, "late", "late", 1795239050.0, 1795239051.0));
  sp.trace_id = root->trace_id;
  sp.kind = model::SpanKind::kServer;
  WritesBetweenPasses racing(store_.get(), std::move(late));
  auto during = query::ScanServiceGraph(&racing, start, end, 1'000'000);
  ASSERT_TRUE(during.ok()) << during.status().ToString();
  EXPECT_EQ(Canonical(*during), Canonical(*before));
  // The next graph sees the whole trace, the late span as a call from its root's service.
  auto after = query::ScanServiceGraph(store_.get(), start, end, 1'000'000);
  ASSERT_TRUE(after.ok());
  EXPECT_NE(Canonical(*after), Canonical(*before));
  EXPECT_NE(Canonical(*after).find("late"), std::string::npos);
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
