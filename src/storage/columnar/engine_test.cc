#include "storage/columnar/engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "base/coding.h"
#include "base/testing/fault_env.h"
#include "base/testing/temp_dir.h"
#include "storage/columnar/wal/wal_format.h"
#include "storage/testing/conformance_suite.h"
#include "storage/testing/random_spans.h"

namespace waggle::storage::columnar {
namespace {

using storage::ColumnRef;
using storage::Condition;
using storage::ScanRequest;
using storage::ScanStats;
using storage::testing::ConformanceBackend;
using storage::testing::ForwardingStore;
using storage::testing::StoreConformance;
using storage::testing::TestStore;
using test_util::TempDir;

// Every span in the head (no block is ever written).
ConformanceBackend HeadOnly() {
  return {
      "EngineHead",
      [](const std::string& dir, uint64_t max_trace_bytes) -> Result<std::unique_ptr<TestStore>> {
        EngineOptions options;
        options.dir = dir;
        options.max_trace_bytes = max_trace_bytes;
        options.background = false;
        WAGGLE_ASSIGN_OR_RETURN(std::unique_ptr<Engine> e, Engine::Open(options));
        return std::unique_ptr<TestStore>(new ForwardingStore<Engine>(std::move(e)));
      }};
}

// Every write sealed into a block at once, blocks of under 32 rows compacted whenever two
// gather, row groups of a few rows: the same answers must come from blocks as from the head,
// whether the blocks are mapped (--block-reads mmap) or read with pread only.
ConformanceBackend EveryWriteABlock(bool mapped) {
  return {mapped ? "EngineBlocks" : "EngineBlocksPread",
          [mapped](const std::string& dir,
                   uint64_t max_trace_bytes) -> Result<std::unique_ptr<TestStore>> {
            EngineOptions options;
            options.dir = dir;
            options.map_blocks = mapped;
            options.max_trace_bytes = max_trace_bytes;
            options.background = false;
            options.compact_trigger = 2;
            options.compact_max_rows = 256;  // blocks under 32 rows are merged
            options.block_options.row_group_rows = 5;
            options.block_options.page_bytes = 256;
            WAGGLE_ASSIGN_OR_RETURN(std::unique_ptr<Engine> e, Engine::Open(options));
            return std::unique_ptr<TestStore>(
                new ForwardingStore<Engine>(std::move(e), [](Engine* engine) {
                  Status s = engine->SealHead();
                  return s.ok() ? engine->Maintain() : s;
                }));
          }};
}

INSTANTIATE_TEST_SUITE_P(Engine, StoreConformance,
                         ::testing::Values(HeadOnly(), EveryWriteABlock(true),
                                           EveryWriteABlock(false)),
                         storage::testing::BackendName);

EngineOptions Options(const std::string& dir, Env* env = Env::Default()) {
  EngineOptions o;
  o.dir = dir;
  o.env = env;
  o.background = false;
  return o;
}

model::SpanBatch Batch(std::mt19937_64& rng, int traces, std::vector<model::TraceId>* ids) {
  model::SpanBatch batch;
  for (int t = 0; t < traces; ++t) {
    auto spans = storage::testing::RandomTrace(rng, 1 + rng() % 8);
    for (size_t i = 0; i < spans.size(); ++i) spans[i].span_id.value = i + 1;
    ids->push_back(spans[0].trace_id);
    for (auto& s : spans) batch.spans.push_back(std::move(s));
  }
  return batch;
}

// The files in `dir` whose names end with `suffix`.
size_t FilesIn(const std::string& dir, std::string_view suffix = "") {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    n += e.is_regular_file() && e.path().filename().string().ends_with(suffix);
  }
  return n;
}

// Scans skip what cannot match: a block by its Bloom filter or its min/max, a row group by its
// min/max or its dictionary; and examine only the rest.
TEST(Engine, ScansSkipBlocksAndRowGroupsThatCannotMatch) {
  TempDir dir;
  EngineOptions o = Options(dir.path());
  o.block_options.row_group_rows = 64;
  o.compact_trigger = 100;
  auto e = Engine::Open(o);
  ASSERT_TRUE(e.ok());
  constexpr int64_t kEpoch = 1'800'000'000;
  // Block 1: ten seconds of 64 one-span traces each, service "s<second>". X-Ray trace ids
  // begin with their epoch second, so a row group (rows sorted by trace id) is one second.
  // Block 2: the same later, all of service "other".
  uint64_t next = 1;
  for (int b = 0; b < 2; ++b) {
    model::SpanBatch batch;
    for (int sec = 0; sec < 10; ++sec) {
      for (int i = 0; i < 64; ++i) {
        model::Span s;
        const int64_t epoch = kEpoch + b * 100 + sec;
        for (int k = 0; k < 4; ++k)
          s.trace_id.bytes[k] = static_cast<uint8_t>(epoch >> (24 - 8 * k));
        s.trace_id.bytes[8] = static_cast<uint8_t>(next >> 8);
        s.trace_id.bytes[15] = static_cast<uint8_t>(next);
        s.span_id.value = next++;
        s.service = b == 0 ? "s" + std::to_string(sec) : "other";
        s.start_ns = epoch * 1'000'000'000 + i * 1000;
        s.end_ns = s.start_ns + 5000 + i;
        batch.spans.push_back(std::move(s));
      }
    }
    ASSERT_TRUE((*e)->Write(batch, Durability::kBuffered).ok());
    ASSERT_TRUE((*e)->SealHead().ok());
    ASSERT_TRUE((*e)->Maintain().ok());
  }
  ASSERT_EQ((*e)->stats().blocks, 2u);
  auto run = [&](const ScanRequest& r, ScanStats* stats) {
    uint64_t rows = 0;
    auto result = (*e)->Scan(r, [&](const column::ColumnBatch& batch) {
      for (uint32_t row : batch.selection) {
        EXPECT_EQ(batch.columns[0].str(row), "s3");
        ++rows;
      }
      return true;
    });
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    if (result.ok()) *stats = *result;
    return rows;
  };
  ScanStats stats;
  ScanRequest by_service;
  by_service.columns = {ColumnRef::Of(StringField::kService)};
  by_service.where = {Condition::In(ColumnRef::Of(StringField::kService), {"s3"})};
  EXPECT_EQ(run(by_service, &stats), 64u);
  EXPECT_EQ(stats.parts_skipped, 1u);   // block 2, by its Bloom filter
  EXPECT_EQ(stats.groups_skipped, 9u);  // the other seconds of block 1, by their dictionaries
  EXPECT_EQ(stats.rows_examined, 0u);   // the group left has "s3" alone in its dictionary

  ScanRequest by_time;
  by_time.columns = {ColumnRef::Of(StringField::kService)};
  by_time.start_ns = (kEpoch + 3) * 1'000'000'000;
  by_time.end_ns = by_time.start_ns + 1'000'000'000;
  EXPECT_EQ(run(by_time, &stats), 64u);
  EXPECT_EQ(stats.parts_skipped, 1u);   // block 2, by min/max
  EXPECT_EQ(stats.groups_skipped, 9u);  // by min/max
  EXPECT_EQ(stats.rows_examined, 0u);   // the one group left lies wholly inside the range

  ScanRequest by_duration = by_service;
  by_duration.where.push_back(Condition::Range(ColumnRef::Of(IntField::kDurationNs), 5000, 5009));
  EXPECT_EQ(run(by_duration, &stats), 10u);
  EXPECT_EQ(stats.rows_examined, 64u);
}

TEST(Engine, SealedHeadsBecomeBlocksTheWalShrinksAndRestartReplaysNothing) {
  TempDir dir;
  std::mt19937_64 rng(1);
  std::vector<model::TraceId> ids;
  {
    auto e = Engine::Open(Options(dir.path()));
    ASSERT_TRUE(e.ok());
    for (int w = 0; w < 3; ++w) {
      ASSERT_TRUE((*e)->Write(Batch(rng, 50, &ids), Durability::kSync).ok());
      ASSERT_TRUE((*e)->SealHead().ok());
    }
    ASSERT_TRUE((*e)->Maintain().ok());
    const auto stats = (*e)->stats();
    EXPECT_EQ(stats.blocks, 3u);
    EXPECT_EQ(stats.head_rows, 0u);
    EXPECT_EQ(stats.flushes, 3u);
    // Only the open segment is left, and two of the others are kept for reuse.
    EXPECT_EQ(FilesIn(dir.path() + "/wal", ".wal"), 1u);
    EXPECT_EQ(FilesIn(dir.path() + "/wal", ".free"), 2u);
  }
  auto e = Engine::Open(Options(dir.path()));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)->stats().recovery.records, 0u);
  EXPECT_EQ((*e)->stats().blocks, 3u);
  for (const auto& id : ids) EXPECT_TRUE((*e)->FetchTrace(id).ok());
}

// Writers that find the head due at once seal it once: the head after it is not sealed too,
// a few rows into its filling (it was, and its block was tiny, and the head after that one
// was reserved like it).
TEST(Engine, ConcurrentWritersSealAFullHeadOnce) {
  TempDir dir;
  EngineOptions options = Options(dir.path());
  options.head_max_rows = 1000;
  auto e = Engine::Open(options);
  ASSERT_TRUE(e.ok());
  constexpr int kThreads = 4, kWrites = 100, kSpans = 20;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(100 + t);
      for (int w = 0; w < kWrites; ++w) {
        model::SpanBatch batch;
        for (int i = 0; i < kSpans / 4; ++i) {
          for (model::Span& s : storage::testing::RandomTrace(rng, 4)) {
            batch.spans.push_back(std::move(s));
          }
        }
        ASSERT_TRUE((*e)->Write(batch, Durability::kBuffered).ok());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_TRUE((*e)->Maintain().ok());
  // Each sealed head holds at least head_max_rows rows.
  EXPECT_LE((*e)->stats().flushes, size_t{kThreads * kWrites * kSpans / 1000});
  EXPECT_GE((*e)->stats().flushes, 7u);
}

TEST(Engine, ABlockWriteCutShortIsRemovedAtStart) {
  TempDir dir;
  std::mt19937_64 rng(4);
  std::vector<model::TraceId> ids;
  {
    auto e = Engine::Open(Options(dir.path()));
    ASSERT_TRUE(e.ok());
    ASSERT_TRUE((*e)->Write(Batch(rng, 10, &ids), Durability::kSync).ok());
  }
  // As if a crash had come while a later head was being written as block 5.
  const std::string tmp = dir.path() + "/blocks/0000000000000005.blk.tmp";
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(tmp + "x", "half a block").ok());
  std::filesystem::rename(tmp + "x", tmp);
  auto e = Engine::Open(Options(dir.path()));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(tmp));
  EXPECT_EQ((*e)->stats().corrupt_blocks, 0u);
  for (const auto& id : ids) EXPECT_TRUE((*e)->FetchTrace(id).ok());
}

TEST(Engine, ACrashBetweenBlockAndWalCleanupDoesNotDuplicateSpans) {
  TempDir dir;
  std::mt19937_64 rng(2);
  std::vector<model::TraceId> ids;
  const std::string wal = dir.path() + "/wal/00000001.wal";
  const std::string saved = dir.path() + "/saved.wal";
  {
    auto e = Engine::Open(Options(dir.path()));
    ASSERT_TRUE(e.ok());
    ASSERT_TRUE((*e)->Write(Batch(rng, 20, &ids), Durability::kSync).ok());
    std::filesystem::copy_file(wal, saved);
    ASSERT_TRUE((*e)->SealHead().ok());
    ASSERT_TRUE((*e)->Maintain().ok());
  }
  std::filesystem::copy_file(saved, wal);  // as if the crash came before the cleanup
  auto e = Engine::Open(Options(dir.path()));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)->stats().head_rows, 0u);
  EXPECT_FALSE(std::filesystem::exists(wal));
  auto t = (*e)->FetchTrace(ids[0]);
  ASSERT_TRUE(t.ok());
  std::set<uint64_t> span_ids;
  for (const auto& s : t->spans) EXPECT_TRUE(span_ids.insert(s.span_id.value).second);
}

TEST(Engine, ABlockNameIsSixteenLowercaseHexDigitsAndBlk) {
  uint64_t id = 0;
  EXPECT_TRUE(ParseBlockName("00000000000000af.blk", &id));
  EXPECT_EQ(id, 0xafu);
  EXPECT_TRUE(ParseBlockName("ffffffffffffffff.blk", &id));
  EXPECT_EQ(id, UINT64_MAX);
  for (const char* other :
       {"00000000000000AF.blk", "0000000000000af.blk", "00000000000000af.blk.tmp",
        "00000000000000ag.blk", "00000000000000af.blq", ""}) {
    EXPECT_FALSE(ParseBlockName(other, &id)) << other;
  }
}

TEST(Engine, CompactionMergesSmallBlocksAndDropsReplacedVersions) {
  TempDir dir;
  auto options = Options(dir.path());
  options.compact_trigger = 3;
  auto e = Engine::Open(options);
  ASSERT_TRUE(e.ok());
  model::TraceId trace;
  trace.bytes[0] = 7;
  for (int version = 0; version < 3; ++version) {
    model::SpanBatch b;
    model::Span& s = b.spans.emplace_back();
    s.trace_id = trace;
    s.span_id.value = 1;
    s.start_ns = 1000;
    s.in_progress = version < 2;
    s.end_ns = s.in_progress ? 0 : 2000;
    s.name = "v" + std::to_string(version);
    ASSERT_TRUE((*e)->Write(b, Durability::kSync).ok());
    ASSERT_TRUE((*e)->SealHead().ok());
    ASSERT_TRUE((*e)->Maintain().ok());
  }
  const auto stats = (*e)->stats();
  EXPECT_EQ(stats.compactions, 1u);
  EXPECT_EQ(stats.blocks, 1u);
  EXPECT_EQ(stats.block_rows, 1u);  // the two in-progress versions are gone
  EXPECT_EQ(FilesIn(dir.path() + "/blocks"), 1u);
  auto t = (*e)->FetchTrace(trace);
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->spans.size(), 1u);
  EXPECT_EQ(t->spans[0].name, "v2");
}

TEST(Engine, OnlyBlocksUnderAnEighthOfTheMergeSizeAreMerged) {
  // Blocks of heads sealed by size are big enough; merging them would only cost CPU.
  for (const size_t rows : {size_t{7}, size_t{8}}) {
    TempDir dir;
    auto options = Options(dir.path());
    options.compact_trigger = 4;
    options.compact_max_rows = 64;  // blocks under 8 rows are small
    auto e = Engine::Open(options);
    ASSERT_TRUE(e.ok());
    for (int block = 0; block < 4; ++block) {
      model::SpanBatch b;
      for (size_t i = 0; i < rows; ++i) {
        model::Span& s = b.spans.emplace_back();
        s.trace_id.bytes[0] = static_cast<uint8_t>(block + 1);
        s.span_id.value = i + 1;
        s.start_ns = 1000;
        s.end_ns = 2000;
      }
      ASSERT_TRUE((*e)->Write(b, Durability::kSync).ok());
      ASSERT_TRUE((*e)->SealHead().ok());
      ASSERT_TRUE((*e)->Maintain().ok());
    }
    const auto stats = (*e)->stats();
    EXPECT_EQ(stats.compactions, rows < 8 ? 1u : 0u) << rows << " rows a block";
    EXPECT_EQ(stats.blocks, rows < 8 ? 1u : 4u) << rows << " rows a block";
    EXPECT_EQ(stats.block_rows, 4 * rows);
  }
}

TEST(Engine, RetentionRemovesOldBlocksAndTheSizeCapRemovesTheOldestFirst) {
  TempDir dir;
  FakeClock clock(int64_t{1'800'000'000} * kNanosPerSecond);
  auto options = Options(dir.path());
  options.clock = &clock;
  options.compact_trigger = 1000;  // keep blocks apart
  options.retention_ns = int64_t{3600} * kNanosPerSecond;
  auto e = Engine::Open(options);
  ASSERT_TRUE(e.ok());
  std::vector<model::TraceId> traces;
  for (int i = 0; i < 5; ++i) {
    model::SpanBatch b;
    model::Span& s = b.spans.emplace_back();
    s.trace_id.bytes[0] = static_cast<uint8_t>(i + 1);
    s.span_id.value = 1;
    // Traces 0 and 1 are two hours old; the rest are recent.
    s.start_ns = clock.NowNanos() - (i < 2 ? 7200 : 60 - i) * kNanosPerSecond;
    s.end_ns = s.start_ns + 1000;
    s.attributes.push_back({"payload", model::AttributeValue::String(std::string(2000, 'a' + i))});
    traces.push_back(s.trace_id);
    ASSERT_TRUE((*e)->Write(b, Durability::kSync).ok());
    ASSERT_TRUE((*e)->SealHead().ok());
  }
  ASSERT_TRUE((*e)->Maintain().ok());
  EXPECT_EQ((*e)->stats().blocks, 3u);
  EXPECT_EQ((*e)->FetchTrace(traces[0]).status().code(), Status::Code::kNotFound);
  EXPECT_EQ((*e)->FetchTrace(traces[1]).status().code(), Status::Code::kNotFound);
  EXPECT_TRUE((*e)->FetchTrace(traces[2]).ok());
  EXPECT_EQ((*e)->stats().blocks_retired, 2u);
}

// Logs carry no span times: a block of logs alone counts its age from when they came.
TEST(Engine, ABlockOfLogsAloneAgesFromWhenTheLogsCame) {
  TempDir dir;
  FakeClock clock(int64_t{1'800'000'000} * kNanosPerSecond);
  auto options = Options(dir.path());
  options.clock = &clock;
  options.compact_trigger = 2;
  options.retention_ns = int64_t{3600} * kNanosPerSecond;
  auto e = Engine::Open(options);
  ASSERT_TRUE(e.ok());
  model::TraceId trace;
  trace.bytes[0] = 7;
  for (int i = 0; i < 2; ++i) {  // two blocks, then compacted into one
    model::LogBatch logs;
    model::LogRecord& r = logs.records.emplace_back();
    r.trace_id = trace;
    r.body = "line " + std::to_string(i);
    r.time_ns = clock.NowNanos();
    ASSERT_TRUE((*e)->WriteLogs(logs, Durability::kSync).ok());
    ASSERT_TRUE((*e)->SealHead().ok());
    ASSERT_TRUE((*e)->Maintain().ok());
  }
  EXPECT_EQ((*e)->stats().compactions, 1u);
  EXPECT_EQ((*e)->stats().blocks_retired, 0u);
  auto got = (*e)->FetchLogs(trace);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->size(), 2u);
  clock.Advance(int64_t{7200} * kNanosPerSecond);
  ASSERT_TRUE((*e)->Maintain().ok());
  EXPECT_EQ((*e)->stats().blocks_retired, 1u);
  got = (*e)->FetchLogs(trace);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->empty());
}

TEST(Engine, TheDiskCapRemovesTheOldestBlocksAndIngestGoesOn) {
  TempDir dir;
  auto options = Options(dir.path());
  options.compact_trigger = 1000;
  std::vector<model::TraceId> traces;
  uint64_t one_block = 0;
  {
    auto e = Engine::Open(options);
    model::SpanBatch b;
    model::Span& s = b.spans.emplace_back();
    s.trace_id.bytes[0] = 99;
    s.attributes.push_back({"payload", model::AttributeValue::String(std::string(3000, 'z'))});
    ASSERT_TRUE((*e)->Write(b, Durability::kSync).ok());
    ASSERT_TRUE((*e)->SealHead().ok());
    ASSERT_TRUE((*e)->Maintain().ok());
    one_block = (*e)->stats().block_bytes;
  }
  std::filesystem::remove_all(dir.path() + "/blocks");
  std::filesystem::remove_all(dir.path() + "/wal");
  options.max_disk_bytes = one_block * 3 + one_block / 2;
  auto e = Engine::Open(options);
  ASSERT_TRUE(e.ok());
  for (int i = 0; i < 10; ++i) {
    model::SpanBatch b;
    model::Span& s = b.spans.emplace_back();
    s.trace_id.bytes[0] = static_cast<uint8_t>(i + 1);
    s.start_ns = (i + 1) * kNanosPerSecond;
    s.end_ns = s.start_ns + 1;
    s.attributes.push_back({"payload", model::AttributeValue::String(std::string(3000, 'z'))});
    traces.push_back(s.trace_id);
    ASSERT_TRUE((*e)->Write(b, Durability::kSync).ok());
    ASSERT_TRUE((*e)->SealHead().ok());
    ASSERT_TRUE((*e)->Maintain().ok());
    EXPECT_LE((*e)->stats().block_bytes, options.max_disk_bytes);
  }
  EXPECT_EQ((*e)->stats().blocks, 3u);
  for (int i = 0; i < 7; ++i) EXPECT_FALSE((*e)->FetchTrace(traces[i]).ok()) << i;
  for (int i = 7; i < 10; ++i) EXPECT_TRUE((*e)->FetchTrace(traces[i]).ok()) << i;
}

// Writes two blocks, of `first_traces` traces and of 10, and closes the store.
void WriteTwoBlocks(const EngineOptions& options, std::mt19937_64& rng, int first_traces,
                    std::vector<model::TraceId>* first, std::vector<model::TraceId>* second) {
  auto e = Engine::Open(options);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  ASSERT_TRUE((*e)->Write(Batch(rng, first_traces, first), Durability::kSync).ok());
  ASSERT_TRUE((*e)->SealHead().ok());
  ASSERT_TRUE((*e)->Write(Batch(rng, 10, second), Durability::kSync).ok());
  ASSERT_TRUE((*e)->SealHead().ok());
  ASSERT_TRUE((*e)->Maintain().ok());
}

TEST(Engine, ABlockWithADamagedFooterIsSkippedAndTheRestOpens) {
  TempDir dir;
  std::mt19937_64 rng(3);
  std::vector<model::TraceId> first, second;
  ASSERT_NO_FATAL_FAILURE(WriteTwoBlocks(Options(dir.path()), rng, 10, &first, &second));
  const std::string path = dir.path() + "/blocks/0000000000000001.blk";
  std::string bytes;
  ASSERT_TRUE(Env::Default()->ReadFile(path, &bytes).ok());
  bytes[bytes.size() - block::kTrailerSize - 2] ^= 0x10;
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(path, bytes).ok());
  auto e = Engine::Open(Options(dir.path()));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ((*e)->stats().corrupt_blocks, 1u);
  // Set aside, kept for a person to look at, and not read again at the next start.
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_TRUE(std::filesystem::exists(path + ".damaged"));
  for (const auto& id : second) EXPECT_TRUE((*e)->FetchTrace(id).ok());
  e->reset();
  e = Engine::Open(Options(dir.path()));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ((*e)->stats().corrupt_blocks, 0u);
  for (const auto& id : second) EXPECT_TRUE((*e)->FetchTrace(id).ok());
  // Its id stays taken: a block written now is not given it, so a block damaged later
  // cannot be set aside over the first.
  std::vector<model::TraceId> third;
  ASSERT_TRUE((*e)->Write(Batch(rng, 10, &third), Durability::kSync).ok());
  ASSERT_TRUE((*e)->SealHead().ok());
  ASSERT_TRUE((*e)->Maintain().ok());
  EXPECT_FALSE(std::filesystem::exists(path));
  std::string kept;
  ASSERT_TRUE(Env::Default()->ReadFile(path + ".damaged", &kept).ok());
  EXPECT_EQ(kept, bytes);
  for (const auto& id : third) EXPECT_TRUE((*e)->FetchTrace(id).ok());
}

// A trace table damaged past its first page: searches by time skip all of that block's traces,
// not only the damaged page's (a search cannot tell which part it is missing), and the other
// blocks' traces are still found. Fetches by id do not read the table.
TEST(Engine, ADamagedTraceTableHidesAllTheBlocksTracesFromSearches) {
  TempDir dir;
  std::mt19937_64 rng(8);
  std::vector<model::TraceId> first, second;
  EngineOptions options = Options(dir.path());
  options.block_options.page_bytes = 512;  // a trace table of several pages
  ASSERT_NO_FATAL_FAILURE(WriteTwoBlocks(options, rng, 500, &first, &second));
  const std::string path = dir.path() + "/blocks/0000000000000001.blk";
  std::string bytes;
  ASSERT_TRUE(Env::Default()->ReadFile(path, &bytes).ok());
  {
    auto b = block::Block::Open(Env::Default(), path);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    const auto& pages = (*b)->meta().trace_pages;
    ASSERT_GE(pages.size(), 2u);
    bytes[pages.back().chunk.offset + pages.back().chunk.stored_length / 2] ^= 0x10;
  }
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(path, bytes).ok());
  auto e = Engine::Open(options);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  FindTracesRequest request;
  request.start_ns = 0;
  request.end_ns = INT64_MAX;
  request.limit = 100000;
  auto found = (*e)->FindTraces(request);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  std::set<model::TraceId> ids;
  for (const TraceRef& t : found->traces) ids.insert(t.id);
  EXPECT_EQ(ids, std::set<model::TraceId>(second.begin(), second.end()));
  EXPECT_TRUE((*e)->FetchTrace(first[0]).ok());
  EXPECT_TRUE((*e)->FetchTrace(first.back()).ok());
}

TEST(Engine, ABlockFromANewerFormatStopsTheOpenWithAClearError) {
  TempDir dir;
  std::mt19937_64 rng(4);
  std::vector<model::TraceId> ids;
  {
    auto e = Engine::Open(Options(dir.path()));
    ASSERT_TRUE((*e)->Write(Batch(rng, 3, &ids), Durability::kSync).ok());
    ASSERT_TRUE((*e)->SealHead().ok());
    ASSERT_TRUE((*e)->Maintain().ok());
  }
  const std::string path = dir.path() + "/blocks/0000000000000001.blk";
  std::string bytes;
  ASSERT_TRUE(Env::Default()->ReadFile(path, &bytes).ok());
  bytes[8] = 9;
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(path, bytes).ok());
  auto e = Engine::Open(Options(dir.path()));
  EXPECT_EQ(e.status().code(), Status::Code::kUnimplemented);
  EXPECT_NE(e.status().message().find("version 9"), std::string::npos);
}

TEST(Engine, APowerCutKeepsEverySyncedWrite) {
  TempDir dir;
  test_util::FaultEnv env;
  std::mt19937_64 rng(5);
  std::vector<model::TraceId> synced, buffered;
  {
    auto e = Engine::Open(Options(dir.path(), &env));
    ASSERT_TRUE(e.ok());
    for (int w = 0; w < 5; ++w) {
      ASSERT_TRUE((*e)->Write(Batch(rng, 10, &synced), Durability::kSync).ok());
      if (w == 2) {
        ASSERT_TRUE((*e)->SealHead().ok());
        ASSERT_TRUE((*e)->Maintain().ok());
      }
    }
    ASSERT_TRUE((*e)->Write(Batch(rng, 10, &buffered), Durability::kBuffered).ok());
    ASSERT_TRUE(env.DropUnsyncedData().ok());
  }
  auto e = Engine::Open(Options(dir.path(), &env));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  for (const auto& id : synced) EXPECT_TRUE((*e)->FetchTrace(id).ok());
  for (const auto& id : buffered) EXPECT_FALSE((*e)->FetchTrace(id).ok());
}

// A large batch goes to the log in slices, only the last one synced, and the log rotates
// segments between slices: a power cut after the write returns keeps all of it.
TEST(Engine, APowerCutKeepsEveryTraceOfALargeSyncedBatch) {
  TempDir dir;
  test_util::FaultEnv env;
  std::mt19937_64 rng(6);
  std::vector<model::TraceId> synced;
  model::SpanBatch batch = Batch(rng, 300, &synced);  // over a thousand spans
  ASSERT_GT(batch.spans.size(), 1000u);
  {
    EngineOptions options = Options(dir.path(), &env);
    options.wal_segment_bytes = 16 << 10;
    auto e = Engine::Open(options);
    ASSERT_TRUE(e.ok());
    ASSERT_TRUE((*e)->Write(batch, Durability::kSync).ok());
    ASSERT_TRUE(env.DropUnsyncedData().ok());
  }
  auto e = Engine::Open(Options(dir.path(), &env));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  size_t spans = 0;
  for (const auto& id : synced) {
    auto t = (*e)->FetchTrace(id);
    ASSERT_TRUE(t.ok());
    spans += t->spans.size();
  }
  EXPECT_EQ(spans, batch.spans.size());
  EXPECT_GT(FilesIn(dir.path() + "/wal"), 3u);
}

TEST(Engine, AFullDiskFailsWritesAndFlushesWithoutLosingWhatWasAcknowledged) {
  TempDir dir;
  test_util::FaultEnv env;
  std::mt19937_64 rng(6);
  std::vector<model::TraceId> kept, refused;
  auto e = Engine::Open(Options(dir.path(), &env));
  ASSERT_TRUE(e.ok());
  ASSERT_TRUE((*e)->Write(Batch(rng, 10, &kept), Durability::kSync).ok());
  ASSERT_TRUE((*e)->SealHead().ok());
  env.FailWrites(Status::IOError("write: No space left on device"));
  EXPECT_EQ((*e)->Write(Batch(rng, 10, &refused), Durability::kSync).code(),
            Status::Code::kIOError);
  EXPECT_EQ((*e)->SealHead().code(), Status::Code::kOk);  // nothing new to seal
  EXPECT_FALSE((*e)->Maintain().ok());                    // the block cannot be written
  for (const auto& id : kept) EXPECT_TRUE((*e)->FetchTrace(id).ok());  // still in the head
  for (const auto& id : refused) EXPECT_FALSE((*e)->FetchTrace(id).ok());
  env.FailWrites(Status::Ok());
  ASSERT_TRUE((*e)->Maintain().ok());
  EXPECT_EQ((*e)->stats().blocks, 1u);
  ASSERT_TRUE((*e)->Write(Batch(rng, 10, &kept), Durability::kSync).ok());
  for (const auto& id : kept) EXPECT_TRUE((*e)->FetchTrace(id).ok());
}

TEST(Engine, ATornWalWriteLosesOnlyThatWrite) {
  TempDir dir;
  test_util::FaultEnv env;
  std::mt19937_64 rng(7);
  std::vector<model::TraceId> kept, torn;
  {
    auto e = Engine::Open(Options(dir.path(), &env));
    ASSERT_TRUE((*e)->Write(Batch(rng, 10, &kept), Durability::kSync).ok());
    env.TearNextAppend(100);
    EXPECT_FALSE((*e)->Write(Batch(rng, 10, &torn), Durability::kSync).ok());
    ASSERT_TRUE((*e)->Write(Batch(rng, 10, &kept), Durability::kSync).ok());
  }
  auto e = Engine::Open(Options(dir.path(), &env));
  ASSERT_TRUE(e.ok());
  for (const auto& id : kept) EXPECT_TRUE((*e)->FetchTrace(id).ok());
  for (const auto& id : torn) EXPECT_FALSE((*e)->FetchTrace(id).ok());
  EXPECT_EQ((*e)->stats().recovery.corrupt_regions, 0u);
}

// A batch's source as the tests make it: its trace fragments, each length-prefixed.
std::string SourceOf(const model::SpanBatch& batch) {
  std::string source, fragment;
  for (const BatchFragment& f : SplitByTrace(batch)) {
    fragment.clear();
    EncodeFragment(f.header, f.spans, f.documents, false, &fragment, f.contexts);
    coding::PutLengthPrefixed(&source, fragment);
  }
  return source;
}

// Decodes SourceOf's sources; a source that starts with "bad" does not decode.
class FragmentSourceDecoder : public SourceDecoder {
 public:
  Status DecodeSource(std::string_view source, model::SpanBatch* out) const override {
    ++calls;
    if (source.starts_with("bad")) return Status::Corruption("bad source");
    std::string_view fragment;
    while (coding::GetLengthPrefixed(&source, &fragment)) {
      FragmentHeader header;
      WAGGLE_RETURN_IF_ERROR(DecodeFragmentHeader(fragment, &header));
      TraceData data;
      data.id = header.trace_id;
      WAGGLE_RETURN_IF_ERROR(DecodeFragment(fragment, nullptr, &data));
      for (model::Span& s : data.spans) out->spans.push_back(std::move(s));
    }
    return source.empty() ? Status::Ok() : Status::Corruption("trailing bytes");
  }
  mutable std::atomic<int> calls{0};
};

// Spans in canonical form, by span id: what a trace's spans are, whatever their order.
std::vector<model::Span> CanonicalById(std::vector<model::Span> spans) {
  for (model::Span& s : spans) s = storage::testing::Canonical(std::move(s));
  std::sort(spans.begin(), spans.end(), [](const model::Span& a, const model::Span& b) {
    return a.span_id.value < b.span_id.value;
  });
  return spans;
}

// A batch with a source (in one part or two) is logged as that source, one record, and a power cut
// after the write returns keeps all of it: replay gets the spans from the decoder, the same as the
// head had them. A batch without one is logged as fragments in the same log. The spans share
// contexts (an OTLP request's resource and scope attributes, kept once): each comes back with its
// context's attributes, from the head, after the replay and from a block.
TEST(Engine, ABatchWithASourceIsLoggedAsItAndReplayedThroughItsDecoder) {
  TempDir dir;
  test_util::FaultEnv env;
  FragmentSourceDecoder decoder;
  EngineOptions options = Options(dir.path(), &env);
  options.source_decoder = &decoder;
  std::mt19937_64 rng(8);
  std::vector<model::TraceId> ids;
  std::vector<std::string> sources;
  std::vector<TraceData> before;
  std::map<model::TraceId, std::vector<model::Span>> whole;  // the spans with every attribute
  {
    auto e = Engine::Open(options);
    ASSERT_TRUE(e.ok());
    for (int w = 0; w < 4; ++w) {
      model::SpanBatch batch = Batch(rng, 20, &ids);
      storage::testing::ShareRandomContexts(rng, &batch);
      model::SpanBatch materialized = batch;
      materialized.Materialize();
      for (model::Span& s : materialized.spans) whole[s.trace_id].push_back(std::move(s));
      sources.push_back(SourceOf(batch));
      if (w != 3) batch.source = sources.back();
      if (w == 1) {  // a source in two parts is logged as the one record they make
        batch.source_header = batch.source.substr(0, 5);
        batch.source.remove_prefix(5);
      }
      ASSERT_TRUE((*e)->Write(batch, Durability::kSync).ok());
    }
    for (const auto& id : ids) {
      auto t = (*e)->FetchTrace(id);
      ASSERT_TRUE(t.ok());
      ASSERT_EQ(CanonicalById(t->spans), CanonicalById(whole[id]));
      before.push_back(std::move(*t));
    }
    ASSERT_TRUE(env.DropUnsyncedData().ok());
  }
  EXPECT_EQ(decoder.calls, 0);  // writing never decodes
  auto e = Engine::Open(options);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(decoder.calls, 3);
  EXPECT_EQ((*e)->stats().recovery.records, 3u + 20u);  // three sources, 20 fragments
  for (size_t i = 0; i < ids.size(); ++i) {
    auto t = (*e)->FetchTrace(ids[i]);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->spans, before[i].spans);
  }
  ASSERT_TRUE((*e)->SealHead().ok());
  ASSERT_TRUE((*e)->Maintain().ok());
  for (size_t i = 0; i < ids.size(); ++i) {
    auto t = (*e)->FetchTrace(ids[i]);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(CanonicalById(t->spans), CanonicalById(before[i].spans)) << "from a block";
  }
}

// Opening a log that holds sources without a decoder would drop them from the head, and from
// the log at the next seal: the open fails and says why, and a later open with the decoder
// finds everything. A source the decoder refuses loses only its own spans, counted.
TEST(Engine, ALogOfSourcesOpensOnlyWithADecoderAndABadSourceLosesOnlyItself) {
  TempDir dir;
  FragmentSourceDecoder decoder;
  EngineOptions options = Options(dir.path());
  options.source_decoder = &decoder;
  std::mt19937_64 rng(9);
  std::vector<model::TraceId> kept, lost;
  {
    auto e = Engine::Open(options);
    ASSERT_TRUE(e.ok());
    model::SpanBatch batch = Batch(rng, 10, &kept);
    const std::string source = SourceOf(batch);
    batch.source = source;
    ASSERT_TRUE((*e)->Write(batch, Durability::kSync).ok());
    model::SpanBatch bad = Batch(rng, 10, &lost);
    bad.source = "bad";
    ASSERT_TRUE((*e)->Write(bad, Durability::kSync).ok());
    for (const auto& id : lost) EXPECT_TRUE((*e)->FetchTrace(id).ok());  // the head has them
  }
  auto without = Engine::Open(Options(dir.path()));
  ASSERT_FALSE(without.ok());
  EXPECT_EQ(without.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(without.status().message().find("without one"), std::string::npos)
      << without.status().ToString();
  auto e = Engine::Open(options);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  for (const auto& id : kept) EXPECT_TRUE((*e)->FetchTrace(id).ok());
  for (const auto& id : lost) EXPECT_FALSE((*e)->FetchTrace(id).ok());
  EXPECT_EQ((*e)->stats().recovery.corrupt_regions, 1u);
}

// A source is only a way of logging a batch: a store with no decoder, a batch that also
// carries X-Ray documents, and a source larger than a record each log the batch as trace
// fragments instead, and replay needs no decoder.
TEST(Engine, ABatchWhoseSourceCannotBeLoggedIsLoggedAsFragments) {
  for (const char* why : {"no decoder", "documents", "too large"}) {
    TempDir dir;
    FragmentSourceDecoder decoder;
    EngineOptions options = Options(dir.path());
    if (why != std::string_view("no decoder")) options.source_decoder = &decoder;
    std::mt19937_64 rng(10);
    std::vector<model::TraceId> ids;
    {
      auto e = Engine::Open(options);
      ASSERT_TRUE(e.ok());
      model::SpanBatch batch = Batch(rng, 10, &ids);
      std::string source = SourceOf(batch);
      if (why == std::string_view("documents")) {
        model::Document& d = batch.documents.emplace_back();
        d.trace_id = ids[0];
        d.id = batch.spans[0].span_id;
        d.json = R"({"name":"front"})";
      } else if (why == std::string_view("too large")) {
        source.resize(wal_format::kMaxRecordSize + 1, ' ');
      }
      batch.source = source;
      ASSERT_TRUE((*e)->Write(batch, Durability::kSync).ok()) << why;
    }
    auto e = Engine::Open(Options(dir.path()));  // no decoder: none is needed
    ASSERT_TRUE(e.ok()) << why << ": " << e.status().ToString();
    EXPECT_EQ(decoder.calls, 0) << why;
    EXPECT_EQ((*e)->stats().recovery.records, 10u) << why;  // a fragment a trace
    for (const auto& id : ids) EXPECT_TRUE((*e)->FetchTrace(id).ok()) << why;
  }
}

}  // namespace
}  // namespace waggle::storage::columnar
