#include "storage/testing/conformance_suite.h"

#include <algorithm>
#include <random>
#include <set>

#include "storage/testing/random_spans.h"

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

// A batch's shared contexts (Span::context) are part of its spans: each comes back with its
// context's attributes, at once and after a reopen.
TEST_P(StoreConformance, SpansComeBackWithTheirSharedContextsAttributes) {
  TempDir dir;
  std::mt19937_64 rng(11);
  model::SpanBatch batch;
  for (int t = 0; t < 5; ++t) {
    for (model::Span& s : RandomTrace(rng, 1 + rng() % 6)) batch.spans.push_back(std::move(s));
  }
  ShareRandomContexts(rng, &batch);
  model::SpanBatch whole = batch;
  whole.Materialize();
  auto check = [&](Reader* store) {
    for (const model::Span& want : whole.spans) {
      auto data = store->FetchTrace(want.trace_id);
      ASSERT_TRUE(data.ok()) << data.status().ToString();
      const auto got =
          std::find_if(data->spans.begin(), data->spans.end(),
                       [&](const model::Span& s) { return s.span_id == want.span_id; });
      ASSERT_NE(got, data->spans.end());
      EXPECT_EQ(Canonical(*got), Canonical(want));
    }
  };
  {
    auto store = Open(dir.path());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE((*store)->Write(batch, Durability::kSync).ok());
    check(store->get());
  }
  auto store = Open(dir.path());
  ASSERT_TRUE(store.ok());
  check(store->get());
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

  // Each trace's resume token goes on right after it: resuming after the 3rd of a page of 7
  // gives the 4th next.
  req.page_token.clear();
  auto first = (*store)->FindTraces(req);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->traces.size(), 7u);
  req.page_token = first->traces[2].resume_token;
  auto resumed = (*store)->FindTraces(req);
  ASSERT_TRUE(resumed.ok());
  ASSERT_FALSE(resumed->traces.empty());
  EXPECT_EQ(resumed->traces[0].id, first->traces[3].id);

  req.page_token = "garbage";
  EXPECT_EQ((*store)->FindTraces(req).status().code(), Status::Code::kInvalidArgument);
}

TEST_P(StoreConformance, FindTracesKeepsToTheCandidatesGiven) {
  TempDir dir;
  auto store = Open(dir.path());
  ASSERT_TRUE(store.ok());
  const uint32_t base = 1795238000;
  model::SpanBatch batch;
  std::unordered_set<model::TraceId, model::TraceIdHash> only;
  for (uint32_t i = 0; i < 20; ++i) {
    model::TraceId t = MakeTrace(base + i % 5, static_cast<uint8_t>(i));
    batch.spans.push_back(MakeSpan(t, 1, base + i % 5));
    if (i % 3 == 0) only.insert(t);
  }
  only.insert(MakeTrace(base, 99));  // a candidate that is not stored
  ASSERT_TRUE((*store)->Write(batch, Durability::kSync).ok());
  FindTracesRequest req;
  req.start_ns = int64_t{base} * kNanosPerSecond;
  req.end_ns = int64_t{base + 10} * kNanosPerSecond;
  req.limit = 3;
  req.only = &only;
  std::set<model::TraceId> seen;
  do {
    auto page = (*store)->FindTraces(req);
    ASSERT_TRUE(page.ok());
    EXPECT_EQ(page->traces_scanned, 7u);
    for (const TraceRef& r : page->traces) {
      EXPECT_TRUE(only.count(r.id));
      EXPECT_TRUE(seen.insert(r.id).second);
    }
    req.page_token = page->next_page_token;
  } while (!req.page_token.empty());
  EXPECT_EQ(seen.size(), 7u);
}

TEST_P(StoreConformance, FindTracesKeepsToTracesThatStretchLongEnough) {
  TempDir dir;
  auto store = Open(dir.path());
  ASSERT_TRUE(store.ok());
  const uint32_t base = 1795238000;
  // Trace i: a span at second base and one starting i seconds later, written apart (so a
  // store may keep the two in separate parts); trace 9's second span is still in progress
  // (it reaches its start). 1000 ns more for a complete span's end.
  for (int part = 0; part < 2; ++part) {
    model::SpanBatch batch;
    for (uint8_t i = 0; i < 10; ++i) {
      const model::TraceId t = MakeTrace(base, i);
      batch.spans.push_back(part == 0 ? MakeSpan(t, 1, base)
                                      : MakeSpan(t, 2, base + i, /*in_progress=*/i == 9));
    }
    ASSERT_TRUE((*store)->Write(batch, Durability::kSync).ok());
  }
  FindTracesRequest req;
  req.start_ns = int64_t{base} * kNanosPerSecond;
  req.end_ns = int64_t{base + 1} * kNanosPerSecond;
  req.limit = 100;
  auto stretch = [&](int64_t min_extent_ns) {
    req.min_extent_ns = min_extent_ns;
    std::set<int> found;
    auto page = (*store)->FindTraces(req);
    EXPECT_TRUE(page.ok());
    if (!page.ok()) return found;
    EXPECT_EQ(page->traces_scanned, page->traces.size());
    for (const TraceRef& r : page->traces) found.insert(r.id.bytes[15]);
    return found;
  };
  EXPECT_EQ(stretch(0).size(), 10u);
  EXPECT_EQ(stretch(7 * kNanosPerSecond), (std::set<int>{7, 8, 9}));
  EXPECT_EQ(stretch(7 * kNanosPerSecond + 1000), (std::set<int>{7, 8, 9}));
  EXPECT_EQ(stretch(7 * kNanosPerSecond + 1001), (std::set<int>{8, 9}));
  EXPECT_EQ(stretch(9 * kNanosPerSecond + 1), (std::set<int>{}));
  // By event time, only the parts in the range are seen (trace i's second span lies past it
  // for i >= 1): a stretch is not known, so none is left out for it.
  req.key = TraceTimeKey::kEventTime;
  EXPECT_EQ(stretch(7 * kNanosPerSecond).size(), 10u);
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

// FetchTraces returns what FetchTrace does for each id, in the order asked (an id asked twice,
// twice; one not stored, NotFound), less the attributes a projection leaves out. Traces are
// written in two halves, so a store may hold each in two parts.
TEST_P(StoreConformance, FetchTracesReturnsEachTraceAsFetchTraceDoes) {
  TempDir dir;
  std::mt19937_64 rng(12);
  std::vector<model::TraceId> ids;
  std::vector<std::vector<model::Span>> traces;
  {
    auto store = Open(dir.path());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    for (int t = 0; t < 120; ++t) {
      traces.push_back(RandomTrace(rng, 1 + rng() % 15));
      for (size_t i = 0; i < traces.back().size(); ++i) traces.back()[i].span_id.value = i + 1;
      ids.push_back(traces.back()[0].trace_id);
    }
    for (int half = 0; half < 2; ++half) {
      for (int w = 0; w < 4; ++w) {
        model::SpanBatch batch;
        for (size_t t = static_cast<size_t>(w); t < traces.size(); t += 4) {
          const size_t n = traces[t].size(), mid = n / 2;
          for (size_t i = half == 0 ? 0 : mid; i < (half == 0 ? mid : n); ++i) {
            batch.spans.push_back(traces[t][i]);
          }
          if (t % 3 == 0) {  // and a document, in each half
            const std::string json = "{\"t\":" + std::to_string(t) + "}";
            batch.documents.push_back({ids[t],
                                       model::SpanId{100 + static_cast<uint64_t>(half)},
                                       {},
                                       false,
                                       false,
                                       "default",
                                       json});
          }
        }
        ASSERT_TRUE((*store)->Write(batch, Durability::kBuffered).ok());
      }
    }
  }
  auto store = Open(dir.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::vector<model::TraceId> asked = {ids[7], ids[3], ids[7], RandomTraceId(rng)};
  for (size_t i = 0; i < ids.size(); i += 5) asked.push_back(ids[i]);
  FetchOptions projected;
  projected.all_attributes = false;
  projected.keys = {"k1", "k4"};
  for (const FetchOptions& options : {FetchOptions{}, projected}) {
    SCOPED_TRACE(options.all_attributes ? "all attributes" : "projected");
    auto got = (*store)->FetchTraces(asked, options);
    ASSERT_EQ(got.size(), asked.size());
    size_t attributes = 0, documents = 0;
    for (size_t i = 0; i < asked.size(); ++i) {
      auto want = (*store)->FetchTrace(asked[i]);
      if (!want.ok()) {
        EXPECT_EQ(got[i].status().code(), want.status().code()) << i;
        continue;
      }
      ASSERT_TRUE(got[i].ok()) << i << ": " << got[i].status().ToString();
      options.Apply(&*want);
      ASSERT_EQ(got[i]->spans.size(), want->spans.size()) << i;
      ASSERT_EQ(got[i]->documents.size(), want->documents.size()) << i;
      for (size_t d = 0; d < want->documents.size(); ++d) {
        EXPECT_EQ(got[i]->documents[d].json, want->documents[d].json) << i << "/" << d;
      }
      documents += want->documents.size();
      for (size_t s = 0; s < want->spans.size(); ++s) {
        EXPECT_EQ(Canonical(got[i]->spans[s]), Canonical(want->spans[s])) << i << "/" << s;
        attributes += want->spans[s].attributes.size();
      }
      // And what was written, projected: not only what FetchTrace says.
      const size_t t =
          static_cast<size_t>(std::find(ids.begin(), ids.end(), asked[i]) - ids.begin());
      ASSERT_LT(t, traces.size());
      std::vector<model::Span> written = traces[t], fetched = got[i]->spans;
      for (model::Span& w : written) options.Apply(&w);
      for (auto* v : {&written, &fetched}) {
        for (auto& sp : *v) sp = Canonical(std::move(sp));
        std::sort(v->begin(), v->end(),
                  [](const auto& a, const auto& b) { return a.span_id < b.span_id; });
      }
      EXPECT_EQ(fetched, written) << i;
    }
    EXPECT_EQ(got[3].status().code(), Status::Code::kNotFound);
    EXPECT_GT(attributes, 0u);
    EXPECT_GT(documents, 0u);
    if (!options.all_attributes) {
      for (const auto& t : got) {
        if (!t.ok()) continue;
        for (const model::Span& s : t->spans) {
          for (const model::Attribute& a : s.attributes) {
            EXPECT_TRUE(a.role == model::AttributeRole::kAnnotation || a.key == "k1" ||
                        a.key == "k4")
                << a.key;
          }
        }
      }
    }
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

// --- Scans ---

using model::AttributeRole;
using model::AttributeValue;

// The value a scan should give `span` in `column`, as text ("-" for none). A span with the
// same key twice shows the last value.
std::string Expected(const model::Span& span, const ColumnRef& column) {
  switch (column.kind) {
    case ColumnRef::Kind::kTraceId:
      return span.trace_id.ToHex();
    case ColumnRef::Kind::kSpanId:
      return std::to_string(span.span_id.value);
    case ColumnRef::Kind::kParentId:
      return std::to_string(span.parent_span_id.value);
    case ColumnRef::Kind::kString:
      switch (static_cast<StringField>(column.field)) {
        case StringField::kService:
          return span.service;
        case StringField::kName:
          return span.name;
        case StringField::kHttpRoute:
          return span.http_route;
        default:
          ADD_FAILURE() << "the test does not know field " << column.name();
          return "";
      }
    case ColumnRef::Kind::kInt:
      switch (static_cast<IntField>(column.field)) {
        case IntField::kStartNs:
          return std::to_string(span.start_ns);
        case IntField::kDurationNs:
          return std::to_string(static_cast<int64_t>(static_cast<uint64_t>(span.end_ns) -
                                                     static_cast<uint64_t>(span.start_ns)));
        case IntField::kHttpStatus:
          return std::to_string(span.http_status);
        case IntField::kInProgress:
          return std::to_string(span.in_progress ? 1 : 0);
        default:
          ADD_FAILURE() << "the test does not know field " << column.name();
          return "";
      }
    case ColumnRef::Kind::kAttribute:
      break;
  }
  std::string value = "-";
  for (const model::Attribute& a : span.attributes) {
    if (a.key != column.key || a.role != column.role || a.value.type != column.type) continue;
    if (column.is_string()) {
      value = a.value.string_value;
    } else if (a.value.type == AttributeValue::Type::kDouble) {
      value = std::to_string(a.value.double_value);
    } else {
      value = std::to_string(a.value.int_value);
    }
  }
  return value;
}

// The same, read from row `row` of a batch's vector.
std::string Got(const column::Vector& v, size_t row) {
  if (v.IsNull(row)) return "-";
  switch (v.type) {
    case column::VectorType::kTraceId:
      return v.trace_ids[row].ToHex();
    case column::VectorType::kSpanId:
      return std::to_string(static_cast<uint64_t>(v.ints[row]));
    case column::VectorType::kString:
      return std::string(v.str(row));
    case column::VectorType::kDouble:
      return std::to_string(v.doubles[row]);
    case column::VectorType::kInt:
    case column::VectorType::kBool:
      return std::to_string(v.ints[row]);
  }
  return "?";
}

bool Meets(const model::Span& span, const ScanRequest& request) {
  if (span.start_ns < request.start_ns || span.start_ns >= request.end_ns) return false;
  if (span.trace_id < request.first_trace_id || request.last_trace_id < span.trace_id) {
    return false;
  }
  for (const Condition& c : request.where) {
    const std::string v = Expected(span, c.column);
    const bool missing = c.column.kind == ColumnRef::Kind::kAttribute && v == "-";
    switch (c.op) {
      case Condition::Op::kIn:
        if (missing || std::find(c.values.begin(), c.values.end(), v) == c.values.end()) {
          return false;
        }
        break;
      case Condition::Op::kRange:
        if (missing || std::stoll(v) < c.lo || std::stoll(v) > c.hi) return false;
        break;
      case Condition::Op::kExists:
        if (missing) return false;
        break;
    }
  }
  return true;
}

// Every selected row of a scan, keyed by (trace id, span id), with the request's columns as
// text; fails the test when a row comes twice.
using Rows = std::map<std::pair<std::string, uint64_t>, std::vector<std::string>>;

Result<Rows> ScanAll(Reader* reader, ScanRequest request, ScanStats* stats = nullptr) {
  const size_t asked = request.columns.size();
  request.columns.push_back(ColumnRef::TraceId());
  request.columns.push_back(ColumnRef::SpanId());
  Rows rows;
  auto result = reader->Scan(request, [&](const column::ColumnBatch& batch) {
    EXPECT_EQ(batch.columns.size(), asked + 2);
    EXPECT_FALSE(batch.selection.empty()) << "a batch with no row selected";
    for (uint32_t r : batch.selection) {
      EXPECT_LT(r, batch.rows);
      std::vector<std::string> values;
      for (size_t c = 0; c < asked; ++c) values.push_back(Got(batch.columns[c], r));
      auto key = std::pair(batch.columns[asked].trace_ids[r].ToHex(),
                           static_cast<uint64_t>(batch.columns[asked + 1].ints[r]));
      EXPECT_TRUE(rows.emplace(key, std::move(values)).second) << "a span came twice";
    }
    return true;
  });
  if (!result.ok()) return result.status();
  if (stats != nullptr) *stats = *result;
  return rows;
}

Rows ExpectedRows(const std::vector<model::Span>& spans, const ScanRequest& request) {
  Rows rows;
  for (const model::Span& s : spans) {
    if (!Meets(s, request)) continue;
    std::vector<std::string> values;
    for (const ColumnRef& c : request.columns) values.push_back(Expected(s, c));
    rows[{s.trace_id.ToHex(), s.span_id.value}] = std::move(values);
  }
  return rows;
}

// 300 random traces with unique span ids, written in several batches; the store reopened.
class ScanFixture {
 public:
  explicit ScanFixture(StoreConformance* test) {
    std::mt19937_64 rng(21);
    {
      auto store = test->OpenStore(dir_.path());
      EXPECT_TRUE(store.ok()) << store.status().ToString();
      if (!store.ok()) return;
      for (int w = 0; w < 30; ++w) {
        model::SpanBatch batch;
        for (int t = 0; t < 10; ++t) {
          std::vector<model::Span> trace = RandomTrace(rng, 1 + rng() % 12);
          for (size_t i = 0; i < trace.size(); ++i) trace[i].span_id.value = i + 1;
          for (model::Span& s : trace) {
            batch.spans.push_back(s);
            spans_.push_back(std::move(s));
          }
        }
        EXPECT_TRUE((*store)->Write(batch, Durability::kBuffered).ok());
      }
    }
    auto store = test->OpenStore(dir_.path());
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (store.ok()) store_ = std::move(*store);
  }

  TestStore* store() { return store_.get(); }
  const std::vector<model::Span>& spans() const { return spans_; }

 private:
  TempDir dir_;
  std::vector<model::Span> spans_;
  std::unique_ptr<TestStore> store_;
};

constexpr int64_t kBase = 1'700'000'000'000'000'000;  // RandomTrace's default base time

// Scans and compares with the spans written; `matches` says whether the request should select
// some rows but not all, or none.
enum class Matches { kSome, kNone };
void ExpectScan(ScanFixture& f, const ScanRequest& request, const char* what,
                Matches matches = Matches::kSome) {
  SCOPED_TRACE(what);
  auto got = ScanAll(f.store(), request);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  const Rows want = ExpectedRows(f.spans(), request);
  if (matches == Matches::kNone) {
    EXPECT_TRUE(want.empty());
  } else {
    EXPECT_GE(want.size(), 3u) << "the request should select a few spans";
    EXPECT_LT(want.size(), f.spans().size()) << "the request should leave some out";
  }
  EXPECT_EQ(got->size(), want.size());
  EXPECT_TRUE(*got == want);
  for (const auto& [key, values] : want) {
    auto it = got->find(key);
    if (it == got->end()) {
      ADD_FAILURE() << "missing span " << key.first << "/" << key.second;
      break;
    }
    if (it->second != values) {
      ADD_FAILURE() << "span " << key.first << "/" << key.second << " differs";
      break;
    }
  }
}

TEST_P(StoreConformance, ScanReturnsEverySpanOnceWithItsValues) {
  ScanFixture f(this);
  ASSERT_NE(f.store(), nullptr);
  ScanRequest r;
  r.columns = {ColumnRef::ParentId(),
               ColumnRef::Of(StringField::kService),
               ColumnRef::Of(StringField::kName),
               ColumnRef::Of(IntField::kStartNs),
               ColumnRef::Of(IntField::kDurationNs),
               ColumnRef::Of(IntField::kHttpStatus),
               ColumnRef::Attribute("k3", AttributeRole::kPlain, AttributeValue::Type::kString),
               ColumnRef::Attribute("k5", AttributeRole::kAnnotation, AttributeValue::Type::kInt),
               ColumnRef::Attribute("k1", AttributeRole::kPlain, AttributeValue::Type::kDouble),
               ColumnRef::Attribute("k2", AttributeRole::kPlain, AttributeValue::Type::kBool),
               ColumnRef::Attribute("never", AttributeRole::kPlain, AttributeValue::Type::kInt)};
  EXPECT_FALSE(ExpectedRows(f.spans(), r).empty());
  auto got = ScanAll(f.store(), r);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(*got == ExpectedRows(f.spans(), r));
  EXPECT_EQ(got->size(), f.spans().size());
}

TEST_P(StoreConformance, ScanAppliesTimeRangeAndConditions) {
  ScanFixture f(this);
  ASSERT_NE(f.store(), nullptr);
  const ColumnRef service = ColumnRef::Of(StringField::kService);
  const ColumnRef status = ColumnRef::Of(IntField::kHttpStatus);
  const ColumnRef k4 =
      ColumnRef::Attribute("k4", AttributeRole::kPlain, AttributeValue::Type::kString);
  const ColumnRef k6 =
      ColumnRef::Attribute("k6", AttributeRole::kAnnotation, AttributeValue::Type::kInt);
  {
    ScanRequest r;
    r.start_ns = kBase + 200'000'000;
    r.end_ns = kBase + 600'000'000;
    r.columns = {service, ColumnRef::Of(IntField::kStartNs)};
    ExpectScan(f, r, "time range");
  }
  {
    ScanRequest r;
    r.start_ns = kBase + 100'000'000;
    r.end_ns = kBase + 900'000'000;
    r.columns = {service, status, ColumnRef::Of(StringField::kName)};
    r.where = {Condition::In(service, {"backend-flask", "frontend"}),
               Condition::Range(status, 200, 399)};
    ExpectScan(f, r, "service and status, both returned");
  }
  {
    ScanRequest r;
    r.columns = {ColumnRef::Of(IntField::kDurationNs)};  // the conditions' columns not asked for
    r.where = {Condition::In(service, {""})};
    ExpectScan(f, r, "the empty string");
    std::vector<std::string> values;
    for (int i = 0; i < 40; ++i) values.push_back("v" + std::to_string(i));
    r.where = {Condition::In(k4, values)};
    ExpectScan(f, r, "a string attribute");
  }
  {
    ScanRequest r;
    r.columns = {k6};
    r.where = {Condition::Exists(k6)};
    ExpectScan(f, r, "an attribute exists");
    r.where = {Condition::Range(k6, 0, INT64_MAX)};
    ExpectScan(f, r, "an int attribute in a range");
  }
  {
    // Trace id bounds: the traces ranked 100th to 200th, with and without a condition (the
    // trace id is among the columns, as ScanAll asks for it).
    std::vector<model::TraceId> ids;
    for (const model::Span& s : f.spans()) ids.push_back(s.trace_id);
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    ASSERT_GE(ids.size(), 250u);
    ScanRequest r;
    r.first_trace_id = ids[100];
    r.last_trace_id = ids[200];
    r.columns = {service};
    ExpectScan(f, r, "trace id bounds");
    r.where = {Condition::Range(status, 200, 499)};
    ExpectScan(f, r, "trace id bounds and a condition");
    r.first_trace_id = ids[150];
    r.last_trace_id = ids[152];
    r.where.clear();
    ExpectScan(f, r, "three traces");
    r.first_trace_id = model::TraceId{};
    r.last_trace_id = ids[2];
    ExpectScan(f, r, "from the smallest id");
    r.first_trace_id = ids[ids.size() - 3];
    r.last_trace_id = ids.back();
    ExpectScan(f, r, "to the largest id");
    // Bounds when the batch does not carry the trace id: the scanners compare it aside.
    for (auto [lo, hi] : {std::pair(ids[100], ids[200]), std::pair(ids[3], ids[3])}) {
      ScanRequest only = r;
      only.first_trace_id = lo;
      only.last_trace_id = hi;
      only.columns = {ColumnRef::SpanId()};
      std::multiset<uint64_t> got, want;
      ASSERT_TRUE(f.store()
                      ->Scan(only,
                             [&](const column::ColumnBatch& b) {
                               for (uint32_t row : b.selection) {
                                 got.insert(static_cast<uint64_t>(b.columns[0].ints[row]));
                               }
                               return true;
                             })
                      .ok());
      for (const model::Span& sp : f.spans()) {
        if (Meets(sp, only)) want.insert(sp.span_id.value);
      }
      EXPECT_FALSE(want.empty());
      EXPECT_EQ(got, want) << "bounds without the trace id column";
    }
    r.first_trace_id = model::TraceId{};
    r.last_trace_id = ids[2];
    std::swap(r.first_trace_id, r.last_trace_id);
    EXPECT_EQ(f.store()->Scan(r, [](const column::ColumnBatch&) { return true; }).status().code(),
              Status::Code::kInvalidArgument);
  }
  {
    ScanRequest r;
    r.columns = {service};
    r.where = {Condition::In(service, {"no-such-service"})};
    ExpectScan(f, r, "no match", Matches::kNone);
    r.where = {Condition::Exists(
        ColumnRef::Attribute("never", AttributeRole::kPlain, AttributeValue::Type::kInt))};
    ExpectScan(f, r, "an attribute no span has", Matches::kNone);
  }
}

TEST_P(StoreConformance, ScanStopsWhenTheConsumerSaysSo) {
  ScanFixture f(this);
  ASSERT_NE(f.store(), nullptr);
  int calls = 0;
  auto stats = f.store()->Scan({}, [&](const column::ColumnBatch&) {
    ++calls;
    return false;
  });
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(stats->batches, 1u);
}

TEST_P(StoreConformance, ScanRejectsConditionsThatDoNotFitTheirColumn) {
  ScanFixture f(this);
  ASSERT_NE(f.store(), nullptr);
  auto never = [](const column::ColumnBatch&) {
    ADD_FAILURE() << "no batch expected";
    return true;
  };
  ScanRequest r;
  r.where = {Condition::In(ColumnRef::Of(IntField::kDurationNs), {"1"})};
  EXPECT_EQ(f.store()->Scan(r, never).status().code(), Status::Code::kInvalidArgument);
  r.where = {Condition::Range(ColumnRef::Of(StringField::kService), 0, 1)};
  EXPECT_EQ(f.store()->Scan(r, never).status().code(), Status::Code::kInvalidArgument);
  r.where.clear();
  r.start_ns = r.end_ns = 5;
  EXPECT_EQ(f.store()->Scan(r, never).status().code(), Status::Code::kInvalidArgument);
}

TEST_P(StoreConformance, ListColumnsNamesEveryAttributeColumn) {
  ScanFixture f(this);
  ASSERT_NE(f.store(), nullptr);
  auto columns = f.store()->ListColumns(INT64_MIN, INT64_MAX);
  ASSERT_TRUE(columns.ok()) << columns.status().ToString();
  std::set<std::tuple<std::string, int, int>> got, want;
  for (const ColumnRef& c : *columns) {
    EXPECT_EQ(c.kind, ColumnRef::Kind::kAttribute);
    got.emplace(c.key, static_cast<int>(c.role), static_cast<int>(c.type));
  }
  for (const model::Span& s : f.spans()) {
    for (const model::Attribute& a : s.attributes) {
      want.emplace(a.key, static_cast<int>(a.role), static_cast<int>(a.value.type));
    }
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(got.size(), columns->size()) << "a column listed twice";
}

}  // namespace conformance_internal
}  // namespace waggle::storage::testing
