#include "storage/testing/conformance_suite.h"

namespace waggle::storage::testing {
namespace conformance_internal {

using test_util::TempDir;

model::TraceId MakeTrace(uint32_t epoch, uint8_t n) {
  model::TraceId id;
  id.bytes[0] = static_cast<uint8_t>(epoch >> 24);
  id.bytes[1] = static_cast<uint8_t>(epoch >> 16);
  id.bytes[2] = static_cast<uint8_t>(epoch >> 8);
  id.bytes[3] = static_cast<uint8_t>(epoch);
  id.bytes[15] = n;
  return id;
}

model::Span MakeSpan(const model::TraceId& trace, uint64_t id, int64_t start_s,
                     bool in_progress = false) {
  model::Span s;
  s.trace_id = trace;
  s.span_id.value = id;
  s.service = "svc";
  s.name = "op";
  s.start_ns = start_s * kNanosPerSecond;
  s.end_ns = in_progress ? 0 : s.start_ns + 1000;
  s.in_progress = in_progress;
  return s;
}

TEST_P(StoreConformance, AWrittenTraceIsReadableAtOnceAndAfterReopen) {
  TempDir dir;
  model::TraceId trace = MakeTrace(1795238971, 1);
  {
    auto store = Open(dir.path());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    model::SpanBatch batch;
    batch.spans.push_back(MakeSpan(trace, 1, 1795238971, /*in_progress=*/true));
    batch.documents.push_back({trace, model::SpanId{1}, {}, true, false, "default", "{\"v\":1}"});
    ASSERT_TRUE((*store)->Write(batch, Durability::kSync).ok());
    model::SpanBatch second;
    second.spans.push_back(MakeSpan(trace, 1, 1795238971));
    second.spans.push_back(MakeSpan(trace, 2, 1795238972));
    second.documents.push_back({trace, model::SpanId{1}, {}, false, false, "default", "{\"v\":2}"});
    ASSERT_TRUE((*store)->Write(second, Durability::kBuffered).ok());
    auto data = (*store)->FetchTrace(trace);
    ASSERT_TRUE(data.ok());
    EXPECT_EQ(data->spans.size(), 2u);
    ASSERT_EQ(data->documents.size(), 1u);
    EXPECT_EQ(data->documents[0].json, "{\"v\":2}");
  }
  auto store = Open(dir.path());
  ASSERT_TRUE(store.ok());
  auto data = (*store)->FetchTrace(trace);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(data->spans.size(), 2u);
  EXPECT_EQ(data->documents[0].json, "{\"v\":2}");
  EXPECT_EQ((*store)->FetchTrace(MakeTrace(1, 9)).status().code(), Status::Code::kNotFound);
}

TEST_P(StoreConformance, OnlyOneProcessMayOpenADataDir) {
  if (!GetParam().locks_data_dir) GTEST_SKIP() << "this backend keeps no data dir";
  TempDir dir;
  auto first = Open(dir.path());
  ASSERT_TRUE(first.ok());
  auto second = Open(dir.path());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Status::Code::kUnavailable);
}

TEST_P(StoreConformance, FindTracesPagesNewestFirstWithoutRepeats) {
  TempDir dir;
  auto store = Open(dir.path());
  ASSERT_TRUE(store.ok());
  model::SpanBatch batch;
  const uint32_t base = 1795238000;
  for (uint8_t i = 0; i < 25; ++i) {
    model::TraceId t = MakeTrace(base + i % 10, i);  // several traces share a second
    batch.spans.push_back(MakeSpan(t, 1, base + i % 10));
  }
  batch.spans.push_back(MakeSpan(MakeTrace(base + 100, 0), 1, base + 100));  // outside
  ASSERT_TRUE((*store)->Write(batch, Durability::kSync).ok());

  FindTracesRequest req;
  req.start_ns = int64_t{base} * kNanosPerSecond;
  req.end_ns = int64_t{base + 10} * kNanosPerSecond;
  req.limit = 7;
  std::set<model::TraceId> seen;
  int64_t last_time = INT64_MAX;
  int pages = 0;
  do {
    auto page = (*store)->FindTraces(req);
    ASSERT_TRUE(page.ok());
    EXPECT_EQ(page->traces_scanned, 25u);
    for (const TraceRef& r : page->traces) {
      EXPECT_TRUE(seen.insert(r.id).second);
      EXPECT_LE(r.time_ns, last_time);
      last_time = r.time_ns;
    }
    req.page_token = page->next_page_token;
    ++pages;
  } while (!req.page_token.empty());
  EXPECT_EQ(seen.size(), 25u);
  EXPECT_EQ(pages, 4);

  req.page_token = "garbage";
  EXPECT_EQ((*store)->FindTraces(req).status().code(), Status::Code::kInvalidArgument);
}

TEST_P(StoreConformance, EventTimeFindsTracesOverlappingTheRange) {
  TempDir dir;
  auto store = Open(dir.path());
  ASSERT_TRUE(store.ok());
  model::SpanBatch batch;
  model::TraceId t = MakeTrace(1000, 1);  // id time far from its span times
  batch.spans.push_back(MakeSpan(t, 1, 1795238000));
  ASSERT_TRUE((*store)->Write(batch, Durability::kSync).ok());
  FindTracesRequest req;
  req.key = TraceTimeKey::kEventTime;
  req.start_ns = int64_t{1795237999} * kNanosPerSecond;
  req.end_ns = int64_t{1795238001} * kNanosPerSecond;
  auto page = (*store)->FindTraces(req);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->traces.size(), 1u);
  req.key = TraceTimeKey::kTraceIdTime;
  EXPECT_TRUE((*store)->FindTraces(req)->traces.empty());
}

TEST_P(StoreConformance, CutsATraceLargerThanItReturnsAndSaysSo) {
  TempDir dir;
  auto store = Open(dir.path(), /*max_trace_bytes=*/4096);
  ASSERT_TRUE(store.ok());
  model::TraceId trace = MakeTrace(1795238971, 7);
  for (uint64_t i = 1; i <= 100; ++i) {
    model::SpanBatch batch;
    batch.spans.push_back(MakeSpan(trace, i, 1795238971));
    batch.documents.push_back(
        {trace, model::SpanId{i}, {}, false, false, "default", std::string(100, 'x')});
    ASSERT_TRUE((*store)->Write(batch, Durability::kBuffered).ok());
  }
  auto data = (*store)->FetchTrace(trace);
  ASSERT_TRUE(data.ok());
  EXPECT_TRUE(data->limit_exceeded);
  EXPECT_GT(data->documents.size(), 5u);
  EXPECT_LT(data->documents.size(), 100u);
  EXPECT_EQ(data->documents.front().id.value, 1u);  // the first arrivals are kept
}

TEST_P(StoreConformance, EventTimePagesSkipNothingWhenTracesGrowBetweenPages) {
  TempDir dir;
  auto store = Open(dir.path());
  ASSERT_TRUE(store.ok());
  for (uint8_t i = 0; i < 10; ++i) {
    model::SpanBatch batch;
    batch.spans.push_back(MakeSpan(MakeTrace(1000, i), 1, 1795238000 + i));
    ASSERT_TRUE((*store)->Write(batch, Durability::kSync).ok());
  }
  FindTracesRequest req;
  req.key = TraceTimeKey::kEventTime;
  req.start_ns = int64_t{1795237000} * kNanosPerSecond;
  req.end_ns = int64_t{1795239000} * kNanosPerSecond;
  req.limit = 4;
  auto first = (*store)->FindTraces(req);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->traces.size(), 4u);
  // Between pages, an older trace grows a late span that ends after everything returned.
  model::SpanBatch late;
  late.spans.push_back(MakeSpan(MakeTrace(1000, 0), 2, 1795238500));
  ASSERT_TRUE((*store)->Write(late, Durability::kSync).ok());
  std::set<model::TraceId> seen;
  for (const TraceRef& r : first->traces) seen.insert(r.id);
  req.page_token = first->next_page_token;
  while (!req.page_token.empty()) {
    auto page = (*store)->FindTraces(req);
    ASSERT_TRUE(page.ok());
    for (const TraceRef& r : page->traces) EXPECT_TRUE(seen.insert(r.id).second);
    req.page_token = page->next_page_token;
  }
  EXPECT_EQ(seen.size(), 10u);
  // A token from one kind of search is refused by the other.
  req.key = TraceTimeKey::kTraceIdTime;
  req.page_token = first->next_page_token;
  EXPECT_EQ((*store)->FindTraces(req).status().code(), Status::Code::kInvalidArgument);
}

model::LogRecord MakeLog(const model::TraceId& trace, uint64_t span, const std::string& body,
                         int64_t time_s) {
  model::LogRecord r;
  r.trace_id = trace;
  r.span_id.value = span;
  r.environment = "prod";
  r.service = "svc";
  r.time_ns = time_s * kNanosPerSecond + 123;
  r.observed_ns = r.time_ns + 5000;
  r.severity_number = 17;
  r.severity_text = "ERROR";
  r.body = body;
  r.event_name = "app.event";
  r.flags = 1;
  r.scope_name = "lib";
  r.attributes.push_back(
      {"service.name", model::AttributeValue::String("svc"), model::AttributeRole::kResource});
  r.attributes.push_back({"count", model::AttributeValue::Int(-7), {}});
  r.attributes.push_back({"ratio", model::AttributeValue::Double(0.5), {}});
  r.attributes.push_back({"ok", model::AttributeValue::Bool(true), {}});
  r.attributes.push_back({"list", model::AttributeValue::Json("[1,2]"), {}});
  return r;
}

TEST_P(StoreConformance, FetchLogsReturnsATracesRecordsInOrderWithEveryField) {
  TempDir dir;
  auto store = Open(dir.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  const model::TraceId a = MakeTrace(1795238971, 1), b = MakeTrace(1795238971, 2);
  model::LogBatch batch;
  batch.records.push_back(MakeLog(a, 1, "first", 1795238971));
  batch.records.push_back(MakeLog({}, 0, "orphan", 1795238972));
  batch.records.push_back(MakeLog(b, 3, "other trace", 1795238973));
  model::LogRecord json_body = MakeLog(a, 0, R"({"k":"v"})", 1795238970);  // earlier event time
  json_body.body_is_json = true;
  json_body.observed_ns = 0;  // before the event time: a negative delta
  json_body.severity_number = 0;
  json_body.severity_text.clear();
  json_body.event_name.clear();
  json_body.attributes.clear();
  batch.records.push_back(json_body);
  ASSERT_TRUE((*store)->WriteLogs(batch, Durability::kSync).ok());

  auto logs = (*store)->FetchLogs(a);
  ASSERT_TRUE(logs.ok()) << logs.status().ToString();
  ASSERT_EQ(logs->size(), 2u);
  EXPECT_EQ((*logs)[0], batch.records[0]);
  EXPECT_EQ((*logs)[1], batch.records[3]);  // arrival order, not time order

  auto other = (*store)->FetchLogs(b);
  ASSERT_TRUE(other.ok());
  ASSERT_EQ(other->size(), 1u);
  EXPECT_EQ((*other)[0], batch.records[2]);

  // A later write appends.
  model::LogBatch later;
  later.records.push_back(MakeLog(a, 9, "third", 1795238975));
  ASSERT_TRUE((*store)->WriteLogs(later, Durability::kBuffered).ok());
  logs = (*store)->FetchLogs(a);
  ASSERT_TRUE(logs.ok());
  ASSERT_EQ(logs->size(), 3u);
  EXPECT_EQ((*logs)[2], later.records[0]);
  // Logs are not spans: the trace has no spans.
  EXPECT_EQ((*store)->FetchTrace(a).status().code(), Status::Code::kNotFound);
}

TEST_P(StoreConformance, RecordsWithoutATraceAreNotReturnedByAnyFetch) {
  TempDir dir;
  auto store = Open(dir.path());
  ASSERT_TRUE(store.ok());
  const model::TraceId a = MakeTrace(1795238971, 1);
  model::LogBatch batch;
  batch.records.push_back(MakeLog({}, 0, "orphan 1", 1795238971));
  batch.records.push_back(MakeLog(a, 1, "named", 1795238971));
  batch.records.push_back(MakeLog({}, 7, "orphan 2", 1795238971));
  ASSERT_TRUE((*store)->WriteLogs(batch, Durability::kSync).ok());
  for (const model::TraceId& id : {model::TraceId{}, a, MakeTrace(1795238971, 2)}) {
    auto logs = (*store)->FetchLogs(id);
    ASSERT_TRUE(logs.ok());
    for (const model::LogRecord& r : *logs) {
      EXPECT_FALSE(r.trace_id.IsZero());
      EXPECT_EQ(r.body.find("orphan"), std::string::npos) << r.body;
    }
  }
  EXPECT_EQ((*store)->FetchLogs(a)->size(), 1u);
  EXPECT_TRUE((*store)->FetchLogs(model::TraceId{})->empty());
}

TEST_P(StoreConformance, FetchLogsOfAnUnknownTraceIsEmpty) {
  TempDir dir;
  auto store = Open(dir.path());
  ASSERT_TRUE(store.ok());
  auto logs = (*store)->FetchLogs(MakeTrace(1, 1));
  ASSERT_TRUE(logs.ok()) << logs.status().ToString();
  EXPECT_TRUE(logs->empty());
  // An empty batch writes nothing.
  ASSERT_TRUE((*store)->WriteLogs(model::LogBatch{}, Durability::kSync).ok());
}

TEST_P(StoreConformance, LogsSurviveReopeningTheStore) {
  TempDir dir;
  const model::TraceId a = MakeTrace(1795238971, 1), b = MakeTrace(1795238971, 2);
  model::LogBatch batch;
  batch.records.push_back(MakeLog(a, 1, "first", 1795238971));
  batch.records.push_back(MakeLog({}, 0, "orphan", 1795238972));
  batch.records.push_back(MakeLog(b, 2, "b", 1795238972));
  model::LogBatch second;
  second.records.push_back(MakeLog(a, 3, "second", 1795238973));
  {
    auto store = Open(dir.path());
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->WriteLogs(batch, Durability::kSync).ok());
    // Spans of the same trace live beside its logs.
    model::SpanBatch spans;
    spans.spans.push_back(MakeSpan(a, 1, 1795238971));
    ASSERT_TRUE((*store)->Write(spans, Durability::kSync).ok());
    ASSERT_TRUE((*store)->WriteLogs(second, Durability::kBuffered).ok());
  }
  auto store = Open(dir.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto logs = (*store)->FetchLogs(a);
  ASSERT_TRUE(logs.ok()) << logs.status().ToString();
  ASSERT_EQ(logs->size(), 2u);
  EXPECT_EQ((*logs)[0], batch.records[0]);
  EXPECT_EQ((*logs)[1], second.records[0]);
  auto other = (*store)->FetchLogs(b);
  ASSERT_TRUE(other.ok());
  ASSERT_EQ(other->size(), 1u);
  EXPECT_EQ((*other)[0], batch.records[2]);
  EXPECT_TRUE((*store)->FetchLogs(model::TraceId{})->empty());
  auto trace = (*store)->FetchTrace(a);
  ASSERT_TRUE(trace.ok());
  EXPECT_EQ(trace->spans.size(), 1u);
}

TEST_P(StoreConformance, EveryFieldOfRandomTracesComesBackAfterReopen) {
  TempDir dir;
  std::mt19937_64 rng(11);
  std::vector<std::vector<model::Span>> traces;
  {
    auto store = Open(dir.path());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    for (int w = 0; w < 20; ++w) {
      model::SpanBatch batch;
      for (int t = 0; t < 10; ++t) {
        traces.push_back(RandomTrace(rng, 1 + rng() % 15));
        // Unique span ids within the trace, so no span replaces another.
        for (size_t i = 0; i < traces.back().size(); ++i) traces.back()[i].span_id.value = i + 1;
        for (size_t i = 1; i < traces.back().size(); ++i) {
          traces.back()[i].parent_span_id.value = 1 + rng() % i;
        }
        for (const model::Span& s : traces.back()) batch.spans.push_back(s);
      }
      ASSERT_TRUE((*store)->Write(batch, Durability::kBuffered).ok());
    }
  }
  auto store = Open(dir.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto sorted = [](std::vector<model::Span> spans) {
    for (auto& s : spans) s = Canonical(std::move(s));
    std::sort(spans.begin(), spans.end(),
              [](const auto& a, const auto& b) { return a.span_id < b.span_id; });
    return spans;
  };
  for (const auto& want : traces) {
    auto got = (*store)->FetchTrace(want[0].trace_id);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(sorted(got->spans), sorted(want));
  }
}

TEST_P(StoreConformance, ConcurrentWritersAllLand) {
  TempDir dir;
  auto store = Open(dir.path());
  ASSERT_TRUE(store.ok());
  constexpr int kThreads = 4, kWrites = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int w = 0; w < kWrites; ++w) {
        model::SpanBatch batch;
        batch.spans.push_back(
            MakeSpan(MakeTrace(1795238000 + t, static_cast<uint8_t>(w)), 1 + t, 1795238000 + w));
        EXPECT_TRUE((*store)->Write(batch, Durability::kSync).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    for (int w = 0; w < kWrites; ++w) {
      auto got = (*store)->FetchTrace(MakeTrace(1795238000 + t, static_cast<uint8_t>(w)));
      ASSERT_TRUE(got.ok());
      ASSERT_EQ(got->spans.size(), 1u);
      EXPECT_EQ(got->spans[0].span_id.value, static_cast<uint64_t>(1 + t));
    }
  }
  FindTracesRequest req;
  req.start_ns = 0;
  req.end_ns = INT64_MAX;
  req.limit = 1000;
  auto found = (*store)->FindTraces(req);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->traces.size(), size_t{kThreads * kWrites});
}

}  // namespace conformance_internal
}  // namespace waggle::storage::testing
