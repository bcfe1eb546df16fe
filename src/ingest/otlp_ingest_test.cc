#include "ingest/otlp_ingest.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/testing/testdata.h"

namespace waggle::ingest {
namespace {

using codec::otlp::Encoding;
using codec::otlp::Signal;

// Records what it is asked to write; fails with `fail` when set. Single-threaded tests only.
class RecordingWriter : public storage::Writer {
 public:
  Status Write(const model::SpanBatch& batch, storage::Durability d) override {
    ++span_writes;
    if (!fail.ok()) return fail;
    model::SpanBatch whole = batch;  // the spans with every attribute, as a store keeps them
    whole.Materialize();
    spans.insert(spans.end(), whole.spans.begin(), whole.spans.end());
    sources.push_back(std::string(batch.source_header) + std::string(batch.source));
    source_bodies.push_back(batch.source.data());
    durabilities.push_back(d);
    return Status::Ok();
  }
  Status WriteLogs(const model::LogBatch& batch, storage::Durability d) override {
    ++log_writes;
    if (!fail.ok()) return fail;
    logs.insert(logs.end(), batch.records.begin(), batch.records.end());
    durabilities.push_back(d);
    return Status::Ok();
  }

  Status fail;
  int span_writes = 0;
  int log_writes = 0;
  std::vector<model::Span> spans;
  std::vector<std::string> sources;        // by span write: source_header then source
  std::vector<const char*> source_bodies;  // by span write: where `source` pointed
  std::vector<model::LogRecord> logs;
  std::vector<storage::Durability> durabilities;
};

constexpr const char* kTrace = "5b8efff798038103d269b633813fc60c";

std::string JsonSpan(const std::string& trace_id, const std::string& span_id,
                     const std::string& name) {
  return R"({"traceId":")" + trace_id + R"(","spanId":")" + span_id + R"(","name":")" + name +
         R"(","kind":2,"startTimeUnixNano":"1795248000000000000",)"
         R"("endTimeUnixNano":"1795248000250000000"})";
}

std::string JsonTraces(const std::string& service, const std::vector<std::string>& spans) {
  std::string joined;
  for (const std::string& s : spans) {
    if (!joined.empty()) joined += ",";
    joined += s;
  }
  return R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":)"
         R"({"stringValue":")" +
         service + R"("}}]},"scopeSpans":[{"scope":{"name":"lib"},"spans":[)" + joined + "]}]}]}";
}

std::string JsonLogs(const std::string& service) {
  return R"({"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":)"
         R"({"stringValue":")" +
         service +
         R"("}}]},"scopeLogs":[{"scope":{"name":"lib"},"logRecords":[)"
         R"({"timeUnixNano":"1795248000000000000","severityNumber":9,"severityText":"INFO",)"
         R"("body":{"stringValue":"hello"},"traceId":"5b8efff798038103d269b633813fc60c",)"
         R"("spanId":"eee19b7ec3c1b174"},)"
         R"({"observedTimeUnixNano":"1795248001000000000","body":{"stringValue":"no trace"}})"
         R"(]}]}]})";
}

class OtlpIngestTest : public testing::Test {
 protected:
  OtlpIngester& Make(OtlpIngestOptions options = {}) {
    ingester_ = std::make_unique<OtlpIngester>(options, &writer_, &counters_);
    return *ingester_;
  }

  ExportOutcome ExportJson(Signal signal, const std::string& body, std::string_view api_key = "",
                           std::string_view dataset = "", std::string environment = "default") {
    body_ = body;
    OtlpIngester::Request r;
    r.signal = signal;
    r.encoding = Encoding::kJson;
    r.body = body_;
    r.environment = std::move(environment);
    r.api_key = api_key;
    r.dataset_header = dataset;
    return ingester_->Export(r);
  }

  RecordingWriter writer_;
  OtlpCounters counters_;
  std::unique_ptr<OtlpIngester> ingester_;
  std::string body_;
};

TEST_F(OtlpIngestTest, WithoutKeysEveryoneIsInTheDefaultEnvironment) {
  OtlpIngester& ingester = Make();
  for (std::string_view key : {"", "anything", "0123456789abcdef0123456789abcdef"}) {
    auto env = ingester.Authenticate(key);
    ASSERT_TRUE(env.ok()) << key;
    EXPECT_EQ(*env, "default");
  }
  EXPECT_EQ(counters_.requests_unauthenticated.load(), 0u);
}

TEST_F(OtlpIngestTest, KeysMapToTheirEnvironments) {
  OtlpIngestOptions options;
  options.api_keys = {{"key-prod", "prod"}, {"key-staging", "staging"}};
  OtlpIngester& ingester = Make(options);
  auto prod = ingester.Authenticate("key-prod");
  ASSERT_TRUE(prod.ok());
  EXPECT_EQ(*prod, "prod");
  auto staging = ingester.Authenticate("key-staging");
  ASSERT_TRUE(staging.ok());
  EXPECT_EQ(*staging, "staging");
  auto missing = ingester.Authenticate("");
  EXPECT_EQ(missing.status().code(), Status::Code::kUnauthenticated);
  EXPECT_FALSE(missing.status().message().empty());
  auto unknown = ingester.Authenticate("key-nope");
  EXPECT_EQ(unknown.status().code(), Status::Code::kUnauthenticated);
  EXPECT_EQ(ingester.Authenticate("KEY-PROD").status().code(), Status::Code::kUnauthenticated);
  EXPECT_EQ(counters_.requests_unauthenticated.load(), 3u);
}

TEST_F(OtlpIngestTest, OptionsValidate) {
  OtlpIngestOptions options;
  EXPECT_TRUE(options.Validate().ok());
  options.memory_budget_bytes = (1 << 20) - 1;
  EXPECT_EQ(options.Validate().code(), Status::Code::kInvalidArgument);
  options.memory_budget_bytes = 1 << 20;
  options.api_keys = {{"", "prod"}};
  EXPECT_EQ(options.Validate().code(), Status::Code::kInvalidArgument);
  options.api_keys = {{"key", ""}};
  EXPECT_EQ(options.Validate().code(), Status::Code::kInvalidArgument);
}

TEST_F(OtlpIngestTest, LeasesShareTheMemoryBudget) {
  OtlpIngestOptions options;
  options.memory_budget_bytes = 1 << 20;
  OtlpIngester& ingester = Make(options);
  {
    auto first = ingester.Reserve(600 << 10);
    ASSERT_TRUE(first.ok());
    auto second = ingester.Reserve(600 << 10);
    EXPECT_EQ(second.status().code(), Status::Code::kUnavailable);
    EXPECT_EQ(counters_.requests_shed.load(), 1u);
    auto rest = ingester.Reserve((1 << 20) - (600 << 10));  // exactly fills the budget
    EXPECT_TRUE(rest.ok());
    EXPECT_EQ(ingester.Reserve(1).status().code(), Status::Code::kUnavailable);
  }
  // Both leases returned their share.
  auto again = ingester.Reserve(600 << 10);
  ASSERT_TRUE(again.ok());
  auto again_rest = ingester.Reserve((1 << 20) - (600 << 10));
  EXPECT_TRUE(again_rest.ok());
}

TEST_F(OtlpIngestTest, AMovedLeaseReleasesOnce) {
  OtlpIngestOptions options;
  options.memory_budget_bytes = 1 << 20;
  OtlpIngester& ingester = Make(options);
  {
    auto r = ingester.Reserve(1 << 20);
    ASSERT_TRUE(r.ok());
    OtlpIngester::Lease moved(std::move(*r));
    EXPECT_FALSE(ingester.Reserve(1).ok());
  }
  // Released exactly once: the whole budget is free again, and not more than it.
  auto all = ingester.Reserve(1 << 20);
  ASSERT_TRUE(all.ok());
  EXPECT_FALSE(ingester.Reserve(1).ok());
}

TEST_F(OtlpIngestTest, ARequestLargerThanTheBudgetPassesWhenNothingElseIsInFlight) {
  OtlpIngestOptions options;
  options.memory_budget_bytes = 1 << 20;
  OtlpIngester& ingester = Make(options);
  {
    auto huge = ingester.Reserve(3 << 20);
    ASSERT_TRUE(huge.ok());
    EXPECT_EQ(ingester.Reserve(1).status().code(), Status::Code::kUnavailable);
  }
  {
    auto small = ingester.Reserve(1);
    ASSERT_TRUE(small.ok());
    EXPECT_EQ(ingester.Reserve(3 << 20).status().code(), Status::Code::kUnavailable);
  }
}

TEST_F(OtlpIngestTest, ALeaseGrowsWithinTheBudget) {
  OtlpIngestOptions options;
  options.memory_budget_bytes = 1 << 20;
  OtlpIngester& ingester = Make(options);
  auto lease = ingester.Reserve(100 << 10);
  ASSERT_TRUE(lease.ok());
  EXPECT_TRUE(lease->Grow(900 << 10));
  EXPECT_FALSE(lease->Grow((24 << 10) + 1));
  EXPECT_EQ(counters_.requests_shed.load(), 1u);
  EXPECT_TRUE(lease->Grow(24 << 10));
  EXPECT_FALSE(ingester.Reserve(1).ok());
}

TEST_F(OtlpIngestTest, ExportStoresTheGoodSpansAndCountsTheBadOne) {
  Make();
  ExportOutcome out =
      ExportJson(Signal::kTraces,
                 JsonTraces("checkout", {JsonSpan(kTrace, "eee19b7ec3c1b174", "a"),
                                         JsonSpan("abc", "eee19b7ec3c1b175", "bad"),
                                         JsonSpan(kTrace, "eee19b7ec3c1b176", "b")}),
                 "", "", "prod");
  ASSERT_TRUE(out.status.ok()) << out.status.ToString();
  EXPECT_EQ(out.rejected, 1u);
  EXPECT_FALSE(out.message.empty());
  ASSERT_EQ(writer_.spans.size(), 2u);
  EXPECT_EQ(writer_.span_writes, 1);
  EXPECT_EQ(writer_.spans[0].name, "a");
  EXPECT_EQ(writer_.spans[1].name, "b");
  for (const model::Span& s : writer_.spans) {
    EXPECT_EQ(s.trace_id.ToHex(), kTrace);
    EXPECT_EQ(s.service, "checkout");
    EXPECT_EQ(s.environment, "prod");
    EXPECT_TRUE(s.dataset.empty());
  }
  ASSERT_EQ(writer_.durabilities.size(), 1u);
  EXPECT_EQ(writer_.durabilities[0], storage::Durability::kSync);
  EXPECT_EQ(counters_.spans_accepted.load(), 2u);
  EXPECT_EQ(counters_.spans_rejected.load(), 1u);
}

// Text that is not UTF-8 is stored repaired, counted, and named in a warning: partial_success
// with nothing rejected (spec/otlp.md §2.2 allows a message alone).
TEST_F(OtlpIngestTest, RepairedTextIsCountedAndWarnedOfWithNothingRejected) {
  Make();
  ExportOutcome out =
      ExportJson(Signal::kTraces,
                 JsonTraces("checkout", {JsonSpan(kTrace, "eee19b7ec3c1b174", "cut \\ud83d"),
                                         JsonSpan(kTrace, "eee19b7ec3c1b175", "b\\udc4d\\ud83d")}));
  ASSERT_TRUE(out.status.ok()) << out.status.ToString();
  EXPECT_EQ(out.rejected, 0u);
  EXPECT_NE(out.message.find("not valid UTF-8"), std::string::npos) << out.message;
  EXPECT_NE(out.message.find("(replacements: 3)"), std::string::npos) << out.message;
  ASSERT_EQ(writer_.spans.size(), 2u);
  EXPECT_EQ(writer_.spans[0].name, "cut \xef\xbf\xbd");
  EXPECT_EQ(counters_.text_repairs.load(), 3u);
  EXPECT_EQ(counters_.spans_accepted.load(), 2u);

  // With a span refused as well, the message names both.
  out = ExportJson(Signal::kTraces,
                   JsonTraces("checkout", {JsonSpan("abc", "eee19b7ec3c1b176", "bad"),
                                           JsonSpan(kTrace, "eee19b7ec3c1b177", "\\ud83d")}));
  ASSERT_TRUE(out.status.ok()) << out.status.ToString();
  EXPECT_EQ(out.rejected, 1u);
  EXPECT_TRUE(out.message.starts_with("1 rejected: ")) << out.message;
  EXPECT_NE(out.message.find("; strings that were not valid UTF-8"), std::string::npos)
      << out.message;
  EXPECT_TRUE(out.message.ends_with("(replacements: 1)")) << out.message;
  EXPECT_EQ(counters_.text_repairs.load(), 4u);

  // The Events API counts its repairs in the same counter.
  OtlpIngester::EventsRequest r;
  r.body = R"([{"data":{"name":"\ud83d"}}])";
  r.dataset = "ds";
  std::vector<codec::honeycomb::EventStatus> statuses;
  ASSERT_TRUE(ingester_->IngestEvents(r, &statuses).status.ok());
  ASSERT_EQ(statuses.size(), 1u);
  EXPECT_EQ(statuses[0].status, 202);
  EXPECT_EQ(counters_.text_repairs.load(), 5u);
}

TEST_F(OtlpIngestTest, AnEmptyExportSucceedsWithoutAWrite) {
  Make();
  ExportOutcome out = ExportJson(Signal::kTraces, "{}");
  ASSERT_TRUE(out.status.ok());
  EXPECT_EQ(out.rejected, 0u);
  EXPECT_TRUE(out.message.empty());
  EXPECT_EQ(writer_.span_writes, 0);
  out = ExportJson(Signal::kLogs, R"({"resourceLogs":[]})");
  ASSERT_TRUE(out.status.ok());
  EXPECT_EQ(writer_.log_writes, 0);
}

TEST_F(OtlpIngestTest, AClassicKeyNeedsTheDatasetHeaderForTraces) {
  Make();
  const std::string classic = "0123456789abcdef0123456789abcdef";
  const std::string body = JsonTraces("checkout", {JsonSpan(kTrace, "eee19b7ec3c1b174", "a")});
  ExportOutcome out = ExportJson(Signal::kTraces, body, classic);
  EXPECT_EQ(out.status.code(), Status::Code::kUnauthenticated);
  EXPECT_NE(out.status.message().find("x-honeycomb-dataset"), std::string::npos);
  EXPECT_EQ(writer_.span_writes, 0);
  EXPECT_EQ(counters_.requests_unauthenticated.load(), 1u);

  out = ExportJson(Signal::kTraces, body, classic, "my-dataset");
  ASSERT_TRUE(out.status.ok()) << out.status.ToString();
  ASSERT_EQ(writer_.spans.size(), 1u);
  EXPECT_EQ(writer_.spans[0].dataset, "my-dataset");
  EXPECT_EQ(writer_.spans[0].service, "checkout");

  // An environment key (not classic) needs no dataset and sets none.
  writer_.spans.clear();
  out = ExportJson(Signal::kTraces, body, "hcaik_01abcdefghijklmnopqrstuvwx");
  ASSERT_TRUE(out.status.ok());
  ASSERT_EQ(writer_.spans.size(), 1u);
  EXPECT_TRUE(writer_.spans[0].dataset.empty());

  // Logs need no dataset header even with a classic key (spec/otlp.md §4.1).
  out = ExportJson(Signal::kLogs, JsonLogs("checkout"), classic);
  EXPECT_TRUE(out.status.ok()) << out.status.ToString();
}

TEST_F(OtlpIngestTest, LogsGoToWriteLogs) {
  Make();
  ExportOutcome out = ExportJson(Signal::kLogs, JsonLogs("checkout"), "", "", "prod");
  ASSERT_TRUE(out.status.ok()) << out.status.ToString();
  EXPECT_EQ(out.rejected, 0u);
  EXPECT_EQ(writer_.span_writes, 0);
  EXPECT_EQ(writer_.log_writes, 1);
  ASSERT_EQ(writer_.logs.size(), 2u);
  const model::LogRecord& a = writer_.logs[0];
  EXPECT_EQ(a.trace_id.ToHex(), kTrace);
  EXPECT_EQ(a.span_id.ToHex(), "eee19b7ec3c1b174");
  EXPECT_EQ(a.body, "hello");
  EXPECT_EQ(a.severity_number, 9);
  EXPECT_EQ(a.severity_text, "INFO");
  EXPECT_EQ(a.service, "checkout");
  EXPECT_EQ(a.environment, "prod");
  EXPECT_EQ(a.time_ns, 1795248000000000000);
  const model::LogRecord& b = writer_.logs[1];
  EXPECT_TRUE(b.trace_id.IsZero());
  EXPECT_EQ(b.time_ns, 1795248001000000000);  // no time: the observed time
  ASSERT_EQ(writer_.durabilities.size(), 1u);
  EXPECT_EQ(writer_.durabilities[0], storage::Durability::kSync);
  EXPECT_EQ(counters_.log_records_accepted.load(), 2u);
  EXPECT_EQ(counters_.spans_accepted.load(), 0u);
}

TEST_F(OtlpIngestTest, AnUndecodableBodyStoresNothing) {
  Make();
  for (const std::string& body :
       {std::string("{not json"),
        std::string(R"({"resourceSpans":[{"resource":{},"scopeSpans":7}]})"),
        std::string("[1,2,3]")}) {
    SCOPED_TRACE(body);
    ExportOutcome out = ExportJson(Signal::kTraces, body);
    EXPECT_EQ(out.status.code(), Status::Code::kInvalidArgument);
  }
  OtlpIngester::Request r;
  r.signal = Signal::kTraces;
  r.encoding = Encoding::kProtobuf;
  r.body = "\x0a\x64garbage";  // field 1, 100 bytes long, 7 present
  EXPECT_EQ(ingester_->Export(r).status.code(), Status::Code::kInvalidArgument);
  r.signal = Signal::kLogs;
  EXPECT_EQ(ingester_->Export(r).status.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(writer_.span_writes, 0);
  EXPECT_EQ(writer_.log_writes, 0);
  EXPECT_EQ(counters_.requests_malformed.load(), 5u);
}

TEST_F(OtlpIngestTest, AStoreOverItsBudgetMakesTheRequestRetryable) {
  Make();
  writer_.fail = Status::ResourceExhausted("store over budget");
  ExportOutcome out = ExportJson(
      Signal::kTraces, JsonTraces("checkout", {JsonSpan(kTrace, "eee19b7ec3c1b174", "a")}));
  EXPECT_EQ(out.status.code(), Status::Code::kUnavailable);
  EXPECT_EQ(counters_.store_errors.load(), 1u);
  EXPECT_EQ(counters_.spans_accepted.load(), 0u);

  writer_.fail = Status::IOError("disk on fire");
  out = ExportJson(Signal::kTraces,
                   JsonTraces("checkout", {JsonSpan(kTrace, "eee19b7ec3c1b174", "a")}));
  EXPECT_EQ(out.status.code(), Status::Code::kInternal);
  EXPECT_EQ(counters_.store_errors.load(), 2u);
}

// The same rule for logs: a store shedding load is a retryable outcome (Unavailable → 503),
// never ResourceExhausted, which the HTTP edge answers with a non-retryable 413.
TEST_F(OtlpIngestTest, ALogStoreOverItsBudgetMakesTheRequestRetryable) {
  Make();
  writer_.fail = Status::ResourceExhausted("store over budget");
  ExportOutcome out = ExportJson(Signal::kLogs, JsonLogs("checkout"));
  EXPECT_EQ(out.status.code(), Status::Code::kUnavailable);
  EXPECT_EQ(counters_.store_errors.load(), 1u);
  EXPECT_EQ(counters_.log_records_accepted.load(), 0u);
}

TEST_F(OtlpIngestTest, MetricsAreNotStored) {
  Make();
  ExportOutcome out = ExportJson(Signal::kMetrics, R"({"resourceMetrics":[]})");
  EXPECT_EQ(out.status.code(), Status::Code::kUnimplemented);
  EXPECT_EQ(writer_.span_writes + writer_.log_writes, 0);
}

TEST_F(OtlpIngestTest, EventsBatchesAreStoredWithAStatusEach) {
  Make();
  OtlpIngester::EventsRequest r;
  r.body = R"([{"data":{"name":"a"}},{"nodata":1},{"data":{"name":"b"}}])";
  r.dataset = "ds";
  r.environment = "prod";
  std::vector<codec::honeycomb::EventStatus> statuses;
  ExportOutcome out = ingester_->IngestEvents(r, &statuses);
  ASSERT_TRUE(out.status.ok()) << out.status.ToString();
  ASSERT_EQ(statuses.size(), 3u);
  EXPECT_EQ(statuses[0].status, 202);
  EXPECT_EQ(statuses[1].status, 400);
  EXPECT_EQ(statuses[2].status, 202);
  EXPECT_EQ(out.rejected, 1u);
  ASSERT_EQ(writer_.spans.size(), 2u);
  EXPECT_EQ(writer_.spans[0].service, "ds");
  EXPECT_EQ(writer_.spans[0].environment, "prod");
  EXPECT_EQ(writer_.durabilities.at(0), storage::Durability::kSync);
  EXPECT_EQ(counters_.events_accepted.load(), 2u);
  EXPECT_EQ(counters_.events_rejected.load(), 1u);

  // Two requests get different ids for events that carry none.
  std::vector<codec::honeycomb::EventStatus> more;
  r.body = R"([{"data":{"name":"c"}}])";
  ASSERT_TRUE(ingester_->IngestEvents(r, &more).status.ok());
  ASSERT_EQ(writer_.spans.size(), 3u);
  EXPECT_NE(writer_.spans[2].trace_id, writer_.spans[0].trace_id);
  EXPECT_NE(writer_.spans[2].trace_id, writer_.spans[1].trace_id);
}

TEST_F(OtlpIngestTest, EventsRequestsThatCannotBeReadAreInvalidArgument) {
  Make();
  OtlpIngester::EventsRequest r;
  r.dataset = "ds";
  std::vector<codec::honeycomb::EventStatus> statuses;
  r.body = "";
  EXPECT_EQ(ingester_->IngestEvents(r, &statuses).status.code(), Status::Code::kInvalidArgument);
  r.body = R"({"data":{}})";
  EXPECT_EQ(ingester_->IngestEvents(r, &statuses).status.code(), Status::Code::kInvalidArgument);
  r.batch = false;
  r.body = R"({"name":"single"})";
  r.samplerate = "nope";
  EXPECT_EQ(ingester_->IngestEvents(r, &statuses).status.code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(writer_.spans.empty());
  EXPECT_EQ(counters_.requests_malformed.load(), 3u);

  r.samplerate = "4";
  ExportOutcome out = ingester_->IngestEvents(r, &statuses);
  ASSERT_TRUE(out.status.ok()) << out.status.ToString();
  ASSERT_EQ(writer_.spans.size(), 1u);
  EXPECT_EQ(writer_.spans[0].sample_rate, 4u);
  EXPECT_TRUE(statuses.empty());
}

// Every message field is optional (spec/otlp.md §5: "Missing message = default value"):
// a resource without attributes, a ResourceSpans without a resource, ScopeSpans without a
// scope, a ResourceSpans without scopeSpans.
TEST_F(OtlpIngestTest, MissingOptionalMessagesAreDefaults) {
  Make();
  const std::string span = JsonSpan(kTrace, "eee19b7ec3c1b174", "a");
  ExportOutcome out = ExportJson(
      Signal::kTraces, R"({"resourceSpans":[{"scopeSpans":[{"spans":[)" + span + "]}]}]}");
  ASSERT_TRUE(out.status.ok()) << out.status.ToString();
  ASSERT_EQ(writer_.spans.size(), 1u);
  EXPECT_EQ(writer_.spans[0].service, "unknown_service");
  EXPECT_EQ(writer_.spans[0].name, "a");
  out = ExportJson(Signal::kTraces, R"({"resourceSpans":[{"resource":{}}]})");
  EXPECT_TRUE(out.status.ok()) << out.status.ToString();
  out = ExportJson(Signal::kTraces, R"({"resourceSpans":[{}]})");
  EXPECT_TRUE(out.status.ok()) << out.status.ToString();
  out = ExportJson(
      Signal::kLogs,
      R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"x"}}]}]}]})");
  ASSERT_TRUE(out.status.ok()) << out.status.ToString();
  ASSERT_EQ(writer_.logs.size(), 1u);
  EXPECT_EQ(writer_.logs[0].service, "unknown_log_source");
}

// A protobuf export hands the store its request as the batch's source (the store may log it
// in place of the spans), and the source decodes into the very spans written, with the
// environment and classic-key dataset they were decoded with. JSON hands none.
TEST_F(OtlpIngestTest, AProtobufExportIsItsBatchsSourceAndDecodesToTheSameSpans) {
  Make();
  const std::string body = test_util::ReadTestdata("otlp-node-body.pb");
  ASSERT_FALSE(body.empty());
  OtlpIngester::Request r;
  r.encoding = Encoding::kProtobuf;
  r.body = body;
  r.environment = "prod";
  r.api_key = "0123456789abcdef0123456789abcdef";  // a classic key: the dataset names the dataset
  r.dataset_header = "legacy";
  ExportOutcome out = ingester_->Export(r);
  ASSERT_TRUE(out.status.ok()) << out.status.ToString();
  ASSERT_EQ(writer_.sources.size(), 1u);
  ASSERT_FALSE(writer_.spans.empty());
  EXPECT_EQ(writer_.spans[0].environment, "prod");
  EXPECT_EQ(writer_.spans[0].dataset, "legacy");
  model::SpanBatch again;
  ASSERT_TRUE(OtlpSourceDecoder().DecodeSource(writer_.sources[0], &again).ok());
  EXPECT_FALSE(again.contexts.empty());  // shared as Export's decode shared them
  again.Materialize();
  EXPECT_EQ(again.spans, writer_.spans);
  codec::otlp::DecodeOptions options;
  std::string_view logged_body;
  ASSERT_TRUE(ParseOtlpSource(writer_.sources[0], &options, &logged_body).ok());
  EXPECT_EQ(options.environment, "prod");
  EXPECT_EQ(options.dataset_header, "legacy");
  EXPECT_TRUE(options.classic_key);
  EXPECT_EQ(logged_body, body);

  ExportOutcome json = ExportJson(
      Signal::kTraces, JsonTraces("checkout", {JsonSpan(kTrace, "eee19b7ec3c1b174", "a")}));
  ASSERT_TRUE(json.status.ok());
  ASSERT_EQ(writer_.sources.size(), 2u);
  EXPECT_TRUE(writer_.sources[1].empty());
}

// A protobuf body with strings that are not UTF-8 is logged as it came, and its replay repairs
// it as Export did: the head and a restart agree.
TEST_F(OtlpIngestTest, ALoggedSourceWithBadBytesReplaysToTheSameRepairedSpans) {
  Make();
  std::string body = test_util::ReadTestdata("otlp-node-body.pb");
  for (std::string_view text : {"backend-node", "TypeError"}) {  // same length: still protobuf
    const size_t at = body.find(text);
    ASSERT_NE(at, std::string::npos) << text;
    body[at + 1] = '\xff';
  }
  OtlpIngester::Request r;
  r.encoding = Encoding::kProtobuf;
  r.body = body;
  ExportOutcome out = ingester_->Export(r);
  ASSERT_TRUE(out.status.ok()) << out.status.ToString();
  EXPECT_EQ(out.rejected, 0u);
  EXPECT_EQ(counters_.text_repairs.load(), 2u);
  ASSERT_FALSE(writer_.spans.empty());
  EXPECT_EQ(writer_.spans[0].service,
            "b\xef\xbf\xbd"
            "ckend-node");
  ASSERT_EQ(writer_.sources.size(), 1u);
  std::string_view logged_body;
  codec::otlp::DecodeOptions options;
  ASSERT_TRUE(ParseOtlpSource(writer_.sources[0], &options, &logged_body).ok());
  EXPECT_EQ(logged_body, body);  // as it came
  model::SpanBatch again;
  ASSERT_TRUE(OtlpSourceDecoder().DecodeSource(writer_.sources[0], &again).ok());
  again.Materialize();
  EXPECT_EQ(again.spans, writer_.spans);
}

// A request whose spans would carry more copied resource attributes than max_context_bytes is
// refused whole as too large (413, RESOURCE_EXHAUSTED), counted, and nothing is written.
TEST_F(OtlpIngestTest, ARequestCopyingTooMuchOfItsResourceIsTooLarge) {
  OtlpIngestOptions options;
  options.max_context_bytes = 1000;
  Make(options);
  std::vector<std::string> spans;
  for (int i = 0; i < 20; ++i) {
    spans.push_back(JsonSpan(kTrace, "eee19b7ec3c1b1" + std::to_string(10 + i), "s"));
  }
  ExportOutcome out = ExportJson(Signal::kTraces, JsonTraces("checkout", spans));
  EXPECT_EQ(out.status.code(), Status::Code::kResourceExhausted) << out.status.ToString();
  EXPECT_EQ(counters_.requests_too_large.load(), 1u);
  EXPECT_EQ(counters_.requests_malformed.load(), 0u);
  EXPECT_EQ(writer_.span_writes, 0);

  spans.resize(2);  // two copies of the resource fit
  out = ExportJson(Signal::kTraces, JsonTraces("checkout", spans));
  ASSERT_TRUE(out.status.ok()) << out.status.ToString();
  EXPECT_EQ(writer_.spans.size(), 2u);
}

// Export decodes each request into a batch an earlier request used (SpanBatch::Recycle): what
// each stores is what decoding it into a new batch gives, whatever came before.
TEST_F(OtlpIngestTest, EachExportStoresItsOwnSpansThoughBatchesAreReused) {
  Make();
  const std::string pb = test_util::ReadTestdata("otlp-node-body.pb");
  const std::string json = JsonTraces("checkout", {JsonSpan(kTrace, "eee19b7ec3c1b174", "a")});
  auto fresh = [](Encoding encoding, std::string_view body) {
    model::SpanBatch batch;
    codec::otlp::Rejections rejected;
    EXPECT_TRUE(codec::otlp::DecodeTraces(encoding, body, {}, &batch, &rejected).ok());
    return batch.spans;
  };
  for (int round = 0; round < 3; ++round) {
    for (const Encoding encoding : {Encoding::kProtobuf, Encoding::kJson}) {
      const std::string& body = encoding == Encoding::kProtobuf ? pb : json;
      OtlpIngester::Request r;
      r.encoding = encoding;
      r.body = body;
      writer_.spans.clear();
      ASSERT_TRUE(ingester_->Export(r).status.ok());
      EXPECT_EQ(writer_.spans, fresh(encoding, body)) << "round " << round;
    }
  }
}

// The source is the request's body as it is, after a header of the decode options: nothing
// copies it, so it takes nothing from the memory budget, and a request admitted with the
// budget all but full is still logged as its source.
TEST_F(OtlpIngestTest, TheSourceIsTheBodyUncopiedAndTakesNothingFromTheBudget) {
  OtlpIngestOptions options;
  options.memory_budget_bytes = 1 << 20;
  Make(options);
  const std::string body = test_util::ReadTestdata("otlp-node-body.pb");
  ASSERT_FALSE(body.empty());
  OtlpIngester::Request r;
  r.encoding = Encoding::kProtobuf;
  r.body = body;
  // Another request holds all but a byte of the budget.
  auto held = ingester_->Reserve((1 << 20) - 1);
  ASSERT_TRUE(held.ok());
  ExportOutcome out = ingester_->Export(r);
  ASSERT_TRUE(out.status.ok()) << out.status.ToString();
  ASSERT_EQ(writer_.sources.size(), 1u);
  EXPECT_EQ(writer_.sources[0], EncodeOtlpSource(codec::otlp::DecodeOptions{}, body));
  EXPECT_EQ(writer_.source_bodies[0], body.data());
  EXPECT_FALSE(writer_.spans.empty());
  EXPECT_EQ(counters_.requests_shed.load(), 0u);
  EXPECT_TRUE(ingester_->Reserve(1).ok());  // the export took nothing it kept
}

// Sources stay in the WAL across upgrades, and SourceDecoder's contract (storage/trace_data.h)
// is that a build decodes a stored source into the spans the build that stored it did. This
// pins the spans a captured exporter request's source decodes to, as the WAL encodes them
// (test/testdata/otlp-node-source.spans). When it fails: a change to how OTLP maps to spans
// must give new sources a new kind and keep decoding this one as before; a change to the
// fragment encoding alone may rewrite the file (WAGGLE_REWRITE_GOLDEN=1).
TEST(OtlpSourceDecoder, ACapturedSourceDecodesToThePinnedSpans) {
  codec::otlp::DecodeOptions options;
  options.environment = "prod";
  options.dataset_header = "legacy";
  options.classic_key = true;
  const std::string source =
      EncodeOtlpSource(options, test_util::ReadTestdata("otlp-node-body.pb"));
  model::SpanBatch batch;
  ASSERT_TRUE(OtlpSourceDecoder().DecodeSource(source, &batch).ok());
  ASSERT_FALSE(batch.spans.empty());
  ASSERT_FALSE(batch.contexts.empty());  // encoded with each span's attributes
  std::string encoded;
  std::vector<std::string_view> views;
  storage::EncodeFragments(storage::SplitByTrace(batch), false, &encoded, &views);
  const std::string name = "otlp-node-source.spans";
  if (std::getenv("WAGGLE_REWRITE_GOLDEN") != nullptr) {
    ASSERT_TRUE(Env::Default()
                    ->WriteFileAtomic(std::string(WAGGLE_TESTDATA_DIR) + "/" + name, encoded)
                    .ok());
  }
  EXPECT_TRUE(encoded == test_util::ReadTestdata(name))
      << "the spans a stored OTLP source decodes to changed: see this test's comment";
}

TEST_F(OtlpIngestTest, ADamagedSourceIsCorruption) {
  codec::otlp::DecodeOptions options;
  options.environment = "prod";
  const std::string good = EncodeOtlpSource(options, test_util::ReadTestdata("otlp-node-body.pb"));
  model::SpanBatch batch;
  ASSERT_TRUE(OtlpSourceDecoder().DecodeSource(good, &batch).ok());
  EXPECT_FALSE(batch.spans.empty());
  for (size_t cut : {size_t{0}, size_t{1}, size_t{3}, size_t{7}}) {
    model::SpanBatch none;
    EXPECT_EQ(OtlpSourceDecoder().DecodeSource(std::string_view(good).substr(0, cut), &none).code(),
              Status::Code::kCorruption)
        << cut;
    EXPECT_TRUE(none.spans.empty());
  }
  std::string other_kind = good;
  other_kind[0] = 2;
  EXPECT_EQ(OtlpSourceDecoder().DecodeSource(other_kind, &batch).code(), Status::Code::kCorruption);
  std::string bad_flag = good;
  bad_flag[1 + 1 + 4 + 1] = 7;  // kind, "prod" with its length, the empty dataset: the flag
  EXPECT_EQ(OtlpSourceDecoder().DecodeSource(bad_flag, &batch).code(), Status::Code::kCorruption);
}

}  // namespace
}  // namespace waggle::ingest
