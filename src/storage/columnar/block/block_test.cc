#include "storage/columnar/block/block.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include "base/coding.h"
#include "base/crc32c.h"
#include "base/testing/temp_dir.h"
#include "column/bitpack.h"
#include "storage/columnar/head_traces.h"
#include "storage/log_data.h"
#include "storage/record_coding.h"
#include "storage/testing/random_spans.h"

namespace waggle::storage::columnar::block {
namespace {

using storage::testing::Canonical;
using storage::testing::RandomTrace;
using storage::testing::RandomUuid;
using test_util::TempDir;

// A block of random traces, with documents for some and logs for others.
struct Fixture {
  SpanTable table;
  std::map<model::TraceId, std::vector<model::Span>> traces;
  std::map<model::TraceId, std::vector<model::Document>> documents;
  std::map<model::TraceId, std::vector<model::LogRecord>> logs;
  BlockContents contents;

  // `adjust`, when given, changes each span before it goes in.
  explicit Fixture(int n_traces, uint64_t seed = 1,
                   const std::function<void(model::Span*)>& adjust = nullptr) {
    std::mt19937_64 rng(seed);
    uint64_t seq = 0;
    for (int t = 0; t < n_traces; ++t) {
      std::vector<model::Span> spans = RandomTrace(rng, 1 + rng() % 30);
      if (adjust) {
        for (model::Span& s : spans) adjust(&s);
      }
      const model::TraceId id = spans[0].trace_id;
      TraceEntry e{id, INT64_MAX, INT64_MIN, seq++};
      for (const model::Span& s : spans) {
        table.Append(s);
        e.min_start_ns = std::min(e.min_start_ns, s.start_ns);
        e.max_end_ns = std::max({e.max_end_ns, s.start_ns, s.end_ns});
      }
      contents.traces.push_back(e);
      traces[id] = std::move(spans);
      if (t % 3 == 0) {
        model::Document d;
        d.trace_id = id;
        d.id.value = 77;
        d.environment = "default";
        d.json = R"({"name":"svc","id":"000000000000004d"})";
        documents[id].push_back(d);
        std::string payload;
        EncodeFragment({id, 0, 0}, {}, {&documents[id].back()}, false, &payload);
        contents.documents.push_back({id, payload});
      }
      if (t % 4 == 0) {
        for (int g = 0; g < 2; ++g) {
          model::LogRecord r;
          r.trace_id = id;
          r.body = "log " + std::to_string(g);
          logs[id].push_back(r);
          std::string payload;
          EncodeLogGroup(id, {&logs[id].back()}, &payload);
          contents.logs.push_back({id, payload});
        }
      }
    }
    contents.spans = &table;
    contents.wal_end = 42;
    contents.replaces = {3, 4};
  }
};

std::string WriteBlock(const TempDir& dir, const BlockContents& contents,
                       const WriteOptions& options = {}) {
  const std::string path = dir.path() + "/1.blk";
  EXPECT_TRUE(Env::Default()->WriteFileAtomic(path, EncodeBlock(contents, options)).ok());
  return path;
}

// The rows `dropped` does not mark, in block order, as the engine gives them
// (BlockContents::rows).
std::vector<uint32_t> KeptRows(const SpanTable& t, const std::vector<bool>& dropped) {
  HeadTraces traces;
  traces.AddRows(t.trace_ids);
  return traces.RowsByTraceAndStart(t.ints_of(IntField::kStartNs), &dropped);
}

std::vector<model::Span> Sorted(std::vector<model::Span> spans) {
  for (auto& s : spans) s = Canonical(std::move(s));
  std::sort(spans.begin(), spans.end(), [](const auto& a, const auto& b) {
    return std::tie(a.start_ns, a.span_id) < std::tie(b.start_ns, b.span_id);
  });
  return spans;
}

TEST(Block, EveryTraceComesBackWholeWithItsDocumentsAndLogs) {
  TempDir dir;
  Fixture f(500);
  WriteOptions options;
  options.row_group_rows = 512;  // many row groups, traces cut across them
  options.page_bytes = 1024;
  auto block = Block::Open(Env::Default(), WriteBlock(dir, f.contents, options));
  ASSERT_TRUE(block.ok()) << block.status().ToString();
  const BlockMeta& meta = (*block)->meta();
  EXPECT_EQ(meta.rows, f.table.size());
  EXPECT_EQ(meta.traces, 500u);
  EXPECT_EQ(meta.wal_end, 42u);
  EXPECT_EQ(meta.replaces, (std::vector<uint64_t>{3, 4}));
  EXPECT_GT(meta.row_groups.size(), 5u);
  for (const auto& [id, spans] : f.traces) {
    TraceData data;
    Status fs = (*block)->FetchTrace(id, &data);
    ASSERT_TRUE(fs.ok()) << fs.ToString();
    EXPECT_EQ(Sorted(data.spans), Sorted(spans));
    auto docs = f.documents.find(id);
    EXPECT_EQ(data.documents,
              docs == f.documents.end() ? std::vector<model::Document>{} : docs->second);
    std::vector<model::LogRecord> logs;
    ASSERT_TRUE((*block)->FetchLogs(id, &logs).ok());
    auto want = f.logs.find(id);
    EXPECT_EQ(logs, want == f.logs.end() ? std::vector<model::LogRecord>{} : want->second);
  }
  TraceData none;
  model::TraceId unknown;
  unknown.bytes[0] = 9;
  ASSERT_TRUE((*block)->FetchTrace(unknown, &none).ok());
  EXPECT_TRUE(none.spans.empty());

  std::vector<TraceEntry> entries;
  ASSERT_TRUE((*block)->ReadTraces(&entries).ok());
  ASSERT_EQ(entries.size(), 500u);
  for (const TraceEntry& e : entries) {
    const TraceEntry& want = f.contents.traces[e.seq];
    EXPECT_EQ(e.id, want.id);
    EXPECT_EQ(e.min_start_ns, want.min_start_ns);
    EXPECT_EQ(e.max_end_ns, want.max_end_ns);
  }
}

// Where a block file's footer begins (its chunks end there).
size_t FooterOffset(const std::string& file) {
  return coding::DecodeFixed64(file.data() + file.size() - kTrailerSize);
}

// Appends `meta` as the footer of `file` (cut at its chunks' end), and the trailer.
void AppendFooter(const BlockMeta& meta, std::string* file) {
  const std::string footer = EncodeFooter(meta);
  const uint64_t footer_offset = file->size();
  file->append(footer);
  coding::PutFixed64(file, footer_offset);
  coding::PutFixed32(file, static_cast<uint32_t>(footer.size()));
  coding::PutFixed32(file, crc32c::Mask(crc32c::Value(footer)));
  file->append(kMagic, 8);
}

// Drops the hex table column (version 7) from `meta`, as a block before version 7 had none.
void DropHexTable(BlockMeta* meta) {
  std::erase_if(meta->columns, [](const ColumnMeta& c) { return c.kind == ColumnKind::kHexTable; });
}

// `file` (a whole block) with footer `meta` in a block of format `version` (before 7 without
// the hex table column); `add` may first append chunks to the file and name them in the meta.
std::string AsVersion(std::string file, BlockMeta meta, uint32_t version,
                      const std::function<void(std::string*, BlockMeta*)>& add = {}) {
  if (version < 7) DropHexTable(&meta);
  file.resize(FooterOffset(file));
  if (add) add(&file, &meta);
  AppendFooter(meta, &file);
  file[8] = static_cast<char>(version);
  return file;
}

// The block at `from` with a bit flipped in the middle of chunk `ref`, written to `to`: its
// bytes.
std::string DamageChunk(const std::string& from, const ChunkRef& ref, const std::string& to) {
  std::string bytes;
  EXPECT_TRUE(Env::Default()->ReadFile(from, &bytes).ok());
  bytes[ref.offset + ref.stored_length / 2] ^= 0x40;
  EXPECT_TRUE(Env::Default()->WriteFileAtomic(to, bytes).ok());
  return bytes;
}

// The trace table takes the ids of traces with rows from the trace id column (version 4), and
// their times from their rows (version 6). It keeps its own ids for the others: traces with
// only documents or logs here, and, should the writer be given rows of a trace it has no entry
// for, the entries after it still get theirs. It keeps its own times where its rows would give
// others (rows left out, say).
TEST(Block, TheTraceTableTakesIdsFromTheTraceIdColumnAndKeepsTheOthers) {
  TempDir dir;
  Fixture f(400, 9);
  std::mt19937_64 rng(4);
  // Entries without spans: ids between and around the others.
  for (int i = 0; i < 60; ++i) {
    model::TraceId id = RandomTrace(rng, 1)[0].trace_id;
    f.contents.traces.push_back({id, INT64_MAX, INT64_MIN, 1000u + i});
    model::LogRecord r;
    r.trace_id = id;
    std::string payload;
    EncodeLogGroup(id, {&r}, &payload);
    f.contents.logs.push_back({id, payload});
  }
  // Rows of one trace (not the first or last) without an entry.
  std::vector<TraceEntry> all = f.contents.traces;
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  auto missing = std::find_if(all.begin() + 100, all.end(),
                              [](const TraceEntry& e) { return e.min_start_ns != INT64_MAX; });
  ASSERT_NE(missing, all.end());
  const model::TraceId missing_id = missing->id;
  std::erase_if(f.contents.traces, [&](const TraceEntry& e) { return e.id == missing_id; });
  all.erase(missing);
  // Times other than its rows give, on every seventh entry with rows: they are kept.
  std::set<model::TraceId> own_times;
  for (size_t i = 0; i < f.contents.traces.size(); i += 7) {
    TraceEntry& e = f.contents.traces[i];
    if (e.min_start_ns == INT64_MAX) continue;
    e.max_end_ns += 1000;
    own_times.insert(e.id);
    for (TraceEntry& a : all) {
      if (a.id == e.id) a.max_end_ns = e.max_end_ns;
    }
  }
  ASSERT_FALSE(own_times.empty());
  // Spans in progress (an end of 0) count with their start, as the engine counts them.
  ASSERT_TRUE(std::any_of(f.traces.begin(), f.traces.end(), [](const auto& t) {
    return std::any_of(t.second.begin(), t.second.end(),
                       [](const model::Span& s) { return s.end_ns == 0; });
  }));

  WriteOptions options;
  options.row_group_rows = 300;
  options.page_bytes = 512;
  auto block = Block::Open(Env::Default(), WriteBlock(dir, f.contents, options));
  ASSERT_TRUE(block.ok()) << block.status().ToString();
  EXPECT_EQ((*block)->meta().version, kFormatVersion);
  std::vector<TraceEntry> entries;
  ASSERT_TRUE((*block)->ReadTraces(&entries).ok());
  // Every entry read back as written.
  const auto expect_all = [&](const std::vector<TraceEntry>& read) {
    ASSERT_EQ(read.size(), all.size());
    for (size_t i = 0; i < all.size(); ++i) {
      EXPECT_EQ(read[i].id, all[i].id);
      EXPECT_EQ(read[i].min_start_ns, all[i].min_start_ns);
      EXPECT_EQ(read[i].max_end_ns, all[i].max_end_ns);
      EXPECT_EQ(read[i].seq, all[i].seq);
    }
  };
  ASSERT_NO_FATAL_FAILURE(expect_all(entries));
  // Whether entry i of `all` carries its id: the 60 traces without spans, and the entry right
  // after where the missing one would be (the column's next id is the missing trace's).
  const auto id_follows = [&](size_t i) {
    const bool after_missing = i > 0 && all[i - 1].id < missing_id && missing_id < all[i].id;
    return all[i].min_start_ns == INT64_MAX || after_missing;
  };
  // A record's payload with its times, length-prefixed.
  const auto put_payload = [](const TraceEntry& e, std::string* page) {
    std::string payload;
    coding::PutVarsint64(&payload, e.min_start_ns);
    coding::PutVarsint64(&payload, e.max_end_ns);
    coding::PutVarint64(&payload, e.seq);
    coding::PutLengthPrefixed(page, payload);
  };
  // Ids only where the column has none; times only for those, and where they are not their
  // rows' times.
  uint64_t raw = 0, want = 0;
  for (const PageMeta& p : (*block)->meta().trace_pages) raw += p.chunk.raw_length;
  for (size_t i = 0; i < all.size(); ++i) {
    const TraceEntry& e = all[i];
    std::string payload;
    if (id_follows(i)) want += 16;
    if (id_follows(i) || own_times.count(e.id) > 0) {
      coding::PutVarsint64(&payload, e.min_start_ns);
      coding::PutVarsint64(&payload, e.max_end_ns);
    }
    coding::PutVarint64(&payload, e.seq);
    want += 2 + payload.size();  // kind, length, payload
  }
  EXPECT_EQ(raw, want);
  // Reading the trace table of a copy of the block with chunk `c` damaged.
  const auto read_with_damaged = [&](const ChunkRef& c) {
    const std::string damaged_path = dir.path() + "/damaged.blk";
    DamageChunk(dir.path() + "/1.blk", c, damaged_path);
    auto damaged = Block::Open(Env::Default(), damaged_path);
    EXPECT_TRUE(damaged.ok());  // the footer is intact: only reading the table fails
    std::vector<TraceEntry> read;
    return damaged.ok() ? (*damaged)->ReadTraces(&read) : damaged.status();
  };
  // The start_ns column damaged: the times of the trace table cannot be read either.
  const BlockMeta& meta = (*block)->meta();
  EXPECT_EQ(read_with_damaged(
                meta.columns[meta.int_columns[static_cast<size_t>(IntField::kStartNs)]].chunks[0])
                .code(),
            Status::Code::kCorruption);
  // The same block with the trace table as an older version held it, each record as `put`
  // writes it; opened, and its entries read into *read.
  const auto read_as = [&](uint32_t version, const std::function<void(size_t, std::string*)>& put,
                           std::vector<TraceEntry>* read) {
    std::string legacy;
    EXPECT_TRUE(Env::Default()->ReadFile(dir.path() + "/1.blk", &legacy).ok());
    std::string page;
    for (size_t i = 0; i < all.size(); ++i) put(i, &page);
    legacy = AsVersion(
        std::move(legacy), (*block)->meta(), version, [&](std::string* file, BlockMeta* meta) {
          meta->trace_pages = {{all[0].id, AppendChunk(page, Compression::kZstd, file)}};
        });
    const std::string legacy_path = dir.path() + "/old" + std::to_string(version) + ".blk";
    EXPECT_TRUE(Env::Default()->WriteFileAtomic(legacy_path, legacy).ok());
    auto old = Block::Open(Env::Default(), legacy_path);
    EXPECT_TRUE(old.ok()) << old.status().ToString();
    read->clear();
    return old.ok() ? (*old)->ReadTraces(read) : old.status();
  };
  // Version 3: every record with its id, no kind byte.
  const auto version3 = [&](size_t i, std::string* page) {
    internal::PutTraceId(page, all[i].id);
    put_payload(all[i], page);
  };
  std::vector<TraceEntry> read;
  ASSERT_TRUE(read_as(3, version3, &read).ok());
  ASSERT_NO_FATAL_FAILURE(expect_all(read));
  // Read as version 4, the same bytes are refused: a version-3 record has no kind byte.
  EXPECT_EQ(read_as(4, version3, &read).code(), Status::Code::kCorruption);
  // Versions 4 and 5: ids from the column, times in every record; `kind` for a record whose id
  // the column holds.
  const auto version5 = [&](char kind) {
    return [&, kind](size_t i, std::string* page) {
      page->push_back(id_follows(i) ? 1 : kind);
      if (id_follows(i)) internal::PutTraceId(page, all[i].id);
      put_payload(all[i], page);
    };
  };
  ASSERT_TRUE(read_as(5, version5(0), &read).ok());
  ASSERT_NO_FATAL_FAILURE(expect_all(read));
  // Kind 2 came with version 6: before, it is damage.
  EXPECT_EQ(read_as(5, version5(2), &read).code(), Status::Code::kCorruption);
  // A damaged trace id column shows in the trace table too.
  EXPECT_EQ(read_with_damaged(meta.columns[meta.trace_id_column].chunks[1]).code(),
            Status::Code::kCorruption);
}

TEST(Block, RowGroupsHoldEveryRowSortedByTrace) {
  TempDir dir;
  Fixture f(300, 5);
  WriteOptions options;
  options.row_group_rows = 1000;
  auto block = Block::Open(Env::Default(), WriteBlock(dir, f.contents, options));
  ASSERT_TRUE(block.ok());
  SpanTable all;
  for (size_t g = 0; g < (*block)->meta().row_groups.size(); ++g) {
    ASSERT_TRUE((*block)->ReadRowGroup(g, &all).ok());
  }
  ASSERT_EQ(all.size(), f.table.size());
  EXPECT_TRUE(std::is_sorted(all.trace_ids.begin(), all.trace_ids.end()));
  std::vector<model::Span> got, want;
  for (uint32_t i = 0; i < all.size(); ++i) got.push_back(all.Row(i));
  for (uint32_t i = 0; i < f.table.size(); ++i) want.push_back(f.table.Row(i));
  EXPECT_EQ(Sorted(got), Sorted(want));
}

// A span may repeat an attribute key: its entries keep their order, in a column that most
// rows have as in one that few have (a row group's entries are then sorted rather than put in
// place by position).
TEST(Block, AttributeKeysRepeatedInASpanKeepTheirOrder) {
  TempDir dir;
  uint64_t n = 0;
  Fixture f(200, 9, [&](model::Span* s) {
    const std::string tag = std::to_string(n++);
    s->attributes.push_back({"dense", model::AttributeValue::String("first " + tag)});
    if (n % 5 == 0) {
      s->attributes.push_back({"dense", model::AttributeValue::String("second " + tag)});
    }
    if (n % 40 == 0) {
      s->attributes.push_back({"rare", model::AttributeValue::Int(static_cast<int64_t>(n))});
      s->attributes.push_back({"rare", model::AttributeValue::Int(-static_cast<int64_t>(n))});
    }
  });
  WriteOptions options;
  options.row_group_rows = 256;
  auto block = Block::Open(Env::Default(), WriteBlock(dir, f.contents, options));
  ASSERT_TRUE(block.ok()) << block.status().ToString();
  ASSERT_GT((*block)->meta().row_groups.size(), 3u);
  SpanTable all;
  for (size_t g = 0; g < (*block)->meta().row_groups.size(); ++g) {
    ASSERT_TRUE((*block)->ReadRowGroup(g, &all).ok());
  }
  std::vector<model::Span> got, want;
  size_t repeated = 0;
  for (uint32_t i = 0; i < all.size(); ++i) {
    got.push_back(all.Row(i));
    const model::Attributes& a = got.back().attributes;
    for (size_t k = 1; k < a.size(); ++k) {
      if (a[k].key == "dense" && a[k - 1].key == "dense") {
        ++repeated;
        EXPECT_EQ(a[k - 1].value.string_value.substr(0, 6), "first ");
        EXPECT_EQ(a[k].value.string_value.substr(0, 7), "second ");
      }
    }
  }
  EXPECT_EQ(repeated, n / 5);
  for (uint32_t i = 0; i < f.table.size(); ++i) want.push_back(f.table.Row(i));
  EXPECT_EQ(Sorted(got), Sorted(want));
}

// A field with one value in every row of the table is written without reading it row by row;
// it must still read back in every row group, and so must the fields beside it that vary.
TEST(Block, FieldsWithOneValueInEveryRowReadBackInEveryRowGroup) {
  TempDir dir;
  Fixture f(200, 6, [](model::Span* s) {
    s->environment = "prod";
    s->sample_rate = 7;
    s->in_progress = false;
    s->end_ns = s->start_ns + 5;
  });
  WriteOptions options;
  options.row_group_rows = 256;
  auto block = Block::Open(Env::Default(), WriteBlock(dir, f.contents, options));
  ASSERT_TRUE(block.ok()) << block.status().ToString();
  const BlockMeta& meta = (*block)->meta();
  ASSERT_GT(meta.row_groups.size(), 3u);
  const ColumnMeta& rate =
      meta.columns[meta.int_columns[static_cast<size_t>(IntField::kSampleRate)]];
  EXPECT_EQ(rate.min, std::vector<int64_t>(meta.row_groups.size(), 7));
  EXPECT_EQ(rate.max, std::vector<int64_t>(meta.row_groups.size(), 7));
  SpanTable all;
  for (size_t g = 0; g < meta.row_groups.size(); ++g) {
    ASSERT_TRUE((*block)->ReadRowGroup(g, &all).ok());
  }
  ASSERT_EQ(all.size(), f.table.size());
  std::vector<model::Span> got, want;
  for (uint32_t i = 0; i < all.size(); ++i) got.push_back(all.Row(i));
  for (uint32_t i = 0; i < f.table.size(); ++i) want.push_back(f.table.Row(i));
  for (const model::Span& s : got) {
    EXPECT_EQ(s.environment, "prod");
    EXPECT_EQ(s.sample_rate, 7u);
    EXPECT_EQ(s.duration_ns(), 5);
  }
  EXPECT_EQ(Sorted(got), Sorted(want));
  // The trace table's times, which it takes from the start and duration columns' values.
  std::vector<TraceEntry> entries;
  ASSERT_TRUE((*block)->ReadTraces(&entries).ok());
  ASSERT_EQ(entries.size(), f.contents.traces.size());
  std::map<model::TraceId, std::pair<int64_t, int64_t>> times;
  for (const TraceEntry& e : f.contents.traces) times[e.id] = {e.min_start_ns, e.max_end_ns};
  for (const TraceEntry& e : entries) {
    EXPECT_EQ(std::make_pair(e.min_start_ns, e.max_end_ns), times[e.id]);
  }
}

// docs/block-format.md's worked examples of the Bloom filters: each key's two hashes and the
// bits it sets in a 512-bit filter, whether the key or its hash (as the writer does) is added.
TEST(Block, BloomFiltersSetTheDocumentedBits) {
  model::TraceId trace;
  ASSERT_TRUE(model::TraceId::Parse("1-5759e988-bd862e3fe1be46a994272793", &trace));
  const std::string id(reinterpret_cast<const char*>(trace.bytes.data()), 16);
  const std::string value("service\0checkout", 16);
  struct Example {
    std::string key;
    uint64_t h1, h2;
    std::vector<size_t> bits;
  };
  for (const Example& e :
       {Example{id, 0x14cdbfb199d345f3, 0x2554ab297e4f5227, {499, 26, 65, 104, 143, 182, 221}},
        Example{
            value, 0x8d5f41bb434d206b, 0x5785b12b4588ee11, {107, 124, 141, 158, 175, 192, 209}}}) {
    const BloomFilter::Hash h = BloomFilter::HashOf(e.key);
    EXPECT_EQ(h.low, e.h1);
    EXPECT_EQ(h.high | 1, e.h2);
    BloomFilter by_key = BloomFilter::ForKeys(1), by_hash = BloomFilter::ForKeys(1);
    ASSERT_EQ(by_key.bits().size(), 64u);
    by_key.Add(e.key);
    by_hash.Add(h);
    EXPECT_EQ(by_key.bits(), by_hash.bits());
    std::vector<size_t> set;
    for (size_t b = 0; b < 512; ++b) {
      if ((by_hash.bits()[b / 8] >> (b % 8)) & 1) set.push_back(b);
    }
    std::vector<size_t> want = e.bits;
    std::sort(want.begin(), want.end());
    EXPECT_EQ(set, want);
    EXPECT_TRUE(by_hash.MayContain(e.key));
  }
}

TEST(Block, BloomFiltersHaveNoFalseNegatives) {
  TempDir dir;
  Fixture f(200);
  auto block = Block::Open(Env::Default(), WriteBlock(dir, f.contents));
  ASSERT_TRUE(block.ok());
  for (const auto& [id, spans] : f.traces) {
    EXPECT_TRUE((*block)->MayContainTrace(id));
    for (const model::Span& s : spans) {
      EXPECT_TRUE((*block)->MayContainValue("service", s.service));
      for (const model::Attribute& a : s.attributes) {
        if (a.value.type == model::AttributeValue::Type::kString) {
          EXPECT_TRUE((*block)->MayContainValue(a.key, a.value.string_value));
        }
      }
    }
  }
  int false_positives = 0;
  for (int i = 0; i < 1000; ++i) {
    false_positives += (*block)->MayContainValue("service", "absent-" + std::to_string(i));
  }
  EXPECT_LT(false_positives, 50);
  // Since version 7 a value has one key whatever its column: the filter's size is the count
  // of distinct values, which the service names, also held by service.name, do not add to.
  std::set<std::string> values;
  for (const auto& [id, spans] : f.traces) {
    for (model::Span s : spans) {
      for (size_t k = 0; k < kStringFieldCount; ++k) {
        values.insert(StringFieldOf(s, static_cast<StringField>(k)));
      }
      for (const model::Attribute& a : s.attributes) {
        if (model::AttributeValue::IsStringType(a.value.type))
          values.insert(a.value.string_value.str());
      }
    }
  }
  const BlockMeta& meta = (*block)->meta();
  EXPECT_EQ(meta.value_bloom.raw_length, BloomFilter::ForKeys(values.size()).bits().size());
  EXPECT_TRUE((*block)->MayContainValue("service.name", f.traces.begin()->second[0].service));

  // A version-6 block's filter keys a value by its column: the same value asked of another
  // column is (but for a false positive) absent.
  std::string file;
  ASSERT_TRUE(Env::Default()->ReadFile((*block)->path(), &file).ok());
  BloomFilter keyed = BloomFilter::ForKeys(values.size() * 2);
  const std::string service = f.traces.begin()->second[0].service;
  keyed.Add(Block::ValueKey("service", service));
  file = AsVersion(std::move(file), meta, 6, [&](std::string* file, BlockMeta* old) {
    old->value_bloom = AppendChunk(keyed.bits(), Compression::kNone, file);
  });
  const std::string old_path = dir.path() + "/old6.blk";
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(old_path, file).ok());
  auto v6 = Block::Open(Env::Default(), old_path);
  ASSERT_TRUE(v6.ok()) << v6.status().ToString();
  EXPECT_TRUE((*v6)->MayContainValue("service", service));
  EXPECT_FALSE((*v6)->MayContainValue("name", service));
}

// Each compression, each chunk read twice. (Lookups read with pread, mapped or not; scans of
// the mapping: MappedScansReadUncompressedChunksInPlace.)
TEST(Block, Lz4ZstdAndUncompressedChunksReadBack) {
  for (Compression c : {Compression::kLz4, Compression::kZstd, Compression::kNone}) {
    TempDir dir;
    Fixture f(100);
    WriteOptions options;
    options.compression = c;
    auto block = Block::Open(Env::Default(), WriteBlock(dir, f.contents, options));
    ASSERT_TRUE(block.ok());
    for (int pass = 0; pass < 2; ++pass) {
      for (const auto& [id, spans] : f.traces) {
        TraceData data;
        Status fs = (*block)->FetchTrace(id, &data);
        ASSERT_TRUE(fs.ok()) << fs.ToString();
        EXPECT_EQ(Sorted(data.spans), Sorted(spans)) << static_cast<int>(c);
      }
    }
  }
}

// The span ids of the spans whose duration is at least `min_ns`, by a scan that compares the
// packed durations (the column is not in the batch).
Result<std::vector<uint64_t>> SlowSpans(const Block& block, int64_t min_ns) {
  ScanRequest request;
  request.columns = {ColumnRef::SpanId()};
  request.where = {Condition::Range(ColumnRef::Of(IntField::kDurationNs), min_ns, INT64_MAX)};
  const ScanPlan plan(request);
  std::vector<uint64_t> ids;
  ScanStats stats;
  bool stopped = false;
  Status s = block.Scan(
      plan,
      [&](const column::ColumnBatch& batch) {
        for (uint32_t row : batch.selection) {
          ids.push_back(static_cast<uint64_t>(batch.columns[0].ints[row]));
        }
        return true;
      },
      &stats, &stopped);
  if (!s.ok()) return s;
  std::sort(ids.begin(), ids.end());
  return ids;
}

// Scans of a mapped block compare uncompressed chunks where they lie: the same rows as read
// with pread, on the first read (checked) and the next (trusted); a damaged chunk fails both.
TEST(Block, MappedScansReadUncompressedChunksInPlace) {
  TempDir dir;
  Fixture f(400);
  WriteOptions options;
  options.compression = Compression::kNone;
  options.row_group_rows = 256;
  const std::string path = WriteBlock(dir, f.contents, options);
  const int64_t min_ns = 1'000'000;
  auto read = Block::Open(Env::Default(), path, /*mapped=*/false);
  ASSERT_TRUE(read.ok());
  auto want = SlowSpans(**read, min_ns);
  ASSERT_TRUE(want.ok());
  EXPECT_GT(want->size(), 0u);
  EXPECT_LT(want->size(), f.table.size());
  auto mapped = Block::Open(Env::Default(), path, /*mapped=*/true);
  ASSERT_TRUE(mapped.ok());
  for (int pass = 0; pass < 2; ++pass) {
    auto got = SlowSpans(**mapped, min_ns);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, *want) << pass;
  }

  // Damage the duration chunk of row group 0.
  size_t duration = 0;
  for (size_t c = 0; c < (*read)->meta().columns.size(); ++c) {
    const ColumnMeta& col = (*read)->meta().columns[c];
    if (col.kind == ColumnKind::kInt && col.field == static_cast<uint8_t>(IntField::kDurationNs))
      duration = c;
  }
  const ChunkRef ref = (*read)->meta().columns[duration].chunks[0];
  ASSERT_EQ(ref.compression, Compression::kNone);
  DamageChunk(path, ref, path);
  auto damaged = Block::Open(Env::Default(), path, /*mapped=*/true);
  ASSERT_TRUE(damaged.ok());
  for (int pass = 0; pass < 2; ++pass) {
    auto got = SlowSpans(**damaged, min_ns);
    EXPECT_EQ(got.status().code(), Status::Code::kCorruption) << pass;
  }
}

TEST(Block, AFlippedByteInAChunkIsCaughtAndOtherRowGroupsStillRead) {
  TempDir dir;
  Fixture f(400);
  WriteOptions options;
  options.row_group_rows = 256;
  const std::string path = WriteBlock(dir, f.contents, options);
  auto block = Block::Open(Env::Default(), path);
  ASSERT_TRUE(block.ok());
  // Damage the service column's chunk of row group 0.
  const ChunkRef ref = (*block)->meta().columns[3 + 1].chunks[0];
  DamageChunk(path, ref, path);
  auto damaged = Block::Open(Env::Default(), path);
  ASSERT_TRUE(damaged.ok());
  // One trace at a time, twice: a chunk that failed its check is checked again on every read.
  int corrupt[2] = {0, 0}, intact = 0;
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& [id, spans] : f.traces) {
      TraceData data;
      Status s = (*damaged)->FetchTrace(id, &data);
      if (s.ok()) {
        EXPECT_EQ(Sorted(data.spans), Sorted(spans));
        intact += pass == 0;
      } else {
        EXPECT_EQ(s.code(), Status::Code::kCorruption);
        EXPECT_NE(s.message().find("checksum"), std::string::npos) << s.ToString();
        ++corrupt[pass];
      }
    }
  }
  EXPECT_GT(corrupt[0], 0);
  EXPECT_EQ(corrupt[1], corrupt[0]);
  EXPECT_GT(intact, 300);
  // All at once: the damaged row group fails its own traces, and only those.
  std::vector<TraceData> data(f.traces.size());
  std::vector<Status> status(f.traces.size());
  std::vector<WantedTrace> wanted;
  for (const auto& [id, spans] : f.traces) {
    const size_t k = wanted.size();
    data[k].id = id;  // as Engine::FetchTraces sets it: documents are checked against it
    wanted.push_back({id, &data[k], &status[k]});
  }
  (*damaged)->FetchTraces(wanted, FetchOptions{});
  int failed = 0;
  size_t k = 0;
  for (const auto& [id, spans] : f.traces) {
    if (status[k].ok()) {
      EXPECT_EQ(Sorted(data[k].spans), Sorted(spans));
    } else {
      EXPECT_EQ(status[k].code(), Status::Code::kCorruption) << status[k].ToString();
      ++failed;
    }
    ++k;
  }
  EXPECT_EQ(failed, corrupt[0]);
}

TEST(Block, TruncatedDamagedOrNewerFilesAreRefusedClearly) {
  TempDir dir;
  Fixture f(50);
  const std::string path = WriteBlock(dir, f.contents);
  std::string bytes;
  ASSERT_TRUE(Env::Default()->ReadFile(path, &bytes).ok());
  BlockMeta meta;
  {
    auto intact = Block::Open(Env::Default(), path);
    ASSERT_TRUE(intact.ok());
    meta = (*intact)->meta();
  }
  // Every truncation is refused, never a crash.
  for (size_t cut : {size_t{0}, size_t{10}, bytes.size() / 2, bytes.size() - 1}) {
    ASSERT_TRUE(Env::Default()->WriteFileAtomic(path, bytes.substr(0, cut)).ok());
    auto b = Block::Open(Env::Default(), path);
    EXPECT_EQ(b.status().code(), Status::Code::kCorruption) << cut;
  }
  std::string footer_damage = bytes;
  footer_damage[footer_damage.size() - kTrailerSize - 3] ^= 1;
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(path, footer_damage).ok());
  EXPECT_EQ(Block::Open(Env::Default(), path).status().code(), Status::Code::kCorruption);
  std::string newer = bytes;
  newer[8] = static_cast<char>(kFormatVersion + 1);
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(path, newer).ok());
  auto b = Block::Open(Env::Default(), path);
  EXPECT_EQ(b.status().code(), Status::Code::kUnimplemented);
  EXPECT_NE(b.status().message().find("version " + std::to_string(kFormatVersion + 1)),
            std::string::npos);
  // Version 2 only added encodings: a version 1 header still opens, once the footer lists no
  // hex table column (version 7). With one, the footer is corrupt for version 1.
  std::string older = bytes;
  older[8] = 1;
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(path, older).ok());
  EXPECT_EQ(Block::Open(Env::Default(), path).status().code(), Status::Code::kCorruption);
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(path, AsVersion(bytes, meta, 1)).ok());
  EXPECT_TRUE(Block::Open(Env::Default(), path).ok());
}

// Readers take a trace's rows from the one trace id column, and a reference chunk's field values
// from a string field column read before it: a footer that breaks either is refused whole.
TEST(Block, FootersWithAColumnMissingRepeatedOrOutOfOrderAreCorrupt) {
  TempDir dir;
  Fixture f(20, 3);
  auto block = Block::Open(Env::Default(), WriteBlock(dir, f.contents));
  ASSERT_TRUE(block.ok());
  const BlockMeta& meta = (*block)->meta();
  BlockMeta back;
  ASSERT_TRUE(DecodeFooter(EncodeFooter(meta), &back).ok());
  EXPECT_EQ(back.columns.size(), meta.columns.size());
  EXPECT_EQ(back.columns[back.trace_id_column].kind, ColumnKind::kTraceId);
  EXPECT_EQ(back.columns[back.span_id_column].kind, ColumnKind::kSpanId);
  for (size_t i = 0; i < kStringFieldCount; ++i) {
    EXPECT_EQ(back.columns[back.string_columns[i]].kind, ColumnKind::kString);
    EXPECT_EQ(back.columns[back.string_columns[i]].field, i);
  }
  auto first_of = [&](ColumnKind kind) {
    for (size_t i = 0; i < meta.columns.size(); ++i) {
      if (meta.columns[i].kind == kind) return i;
    }
    ADD_FAILURE() << "no such column";
    return size_t{0};
  };
  const size_t trace = first_of(ColumnKind::kTraceId), str = first_of(ColumnKind::kString),
               num = first_of(ColumnKind::kInt), attr = first_of(ColumnKind::kAttribute);
  BlockMeta twice = meta;  // the trace id column listed again
  twice.columns.push_back(meta.columns[trace]);
  BlockMeta missing = meta;  // an integer field left out
  missing.columns.erase(missing.columns.begin() + static_cast<ptrdiff_t>(num));
  BlockMeta late = meta;  // a string field after an attribute
  std::swap(late.columns[str], late.columns[attr]);
  for (const BlockMeta* bad : {&twice, &missing, &late}) {
    Status s = DecodeFooter(EncodeFooter(*bad), &back);
    EXPECT_EQ(s.code(), Status::Code::kCorruption);
    EXPECT_NE(s.message().find("column"), std::string::npos) << s.ToString();
  }
}

// The footer may list the parent column before the span ids: fetches read the span ids first,
// wherever they are listed.
TEST(Block, FetchesDoNotDependOnWhereTheFooterListsTheSpanIds) {
  TempDir dir;
  Fixture f(40, 8);
  WriteOptions options;
  options.row_group_rows = 64;
  const std::string path = WriteBlock(dir, f.contents, options);
  auto block = Block::Open(Env::Default(), path);
  ASSERT_TRUE(block.ok());
  BlockMeta meta = (*block)->meta();
  ASSERT_EQ(meta.columns[1].kind, ColumnKind::kSpanId);
  ASSERT_EQ(meta.columns[2].kind, ColumnKind::kParentId);
  std::swap(meta.columns[1], meta.columns[2]);
  std::string file;
  ASSERT_TRUE(Env::Default()->ReadFile(path, &file).ok());
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(path, AsVersion(file, meta, kFormatVersion)).ok());
  auto swapped = Block::Open(Env::Default(), path);
  ASSERT_TRUE(swapped.ok()) << swapped.status().ToString();
  EXPECT_EQ((*swapped)->meta().span_id_column, 2u);
  for (const auto& [id, spans] : f.traces) {
    TraceData data;
    Status s = (*swapped)->FetchTrace(id, &data);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(Sorted(data.spans), Sorted(spans));
  }
}

TEST(Chunk, TraceIdRunsMustGoUp) {
  model::TraceId a, b;
  a.bytes[15] = 1;
  b.bytes[15] = 2;
  auto runs = [](std::initializer_list<model::TraceId> ids) {
    std::string raw;
    coding::PutVarint64(&raw, ids.size());
    for (const model::TraceId& id : ids) {
      storage::internal::PutTraceId(&raw, id);
      coding::PutVarint64(&raw, 1);
    }
    return raw;
  };
  std::vector<TraceRun> out;
  EXPECT_TRUE(DecodeTraceRuns(runs({a, b}), 2, &out).ok());
  EXPECT_EQ(DecodeTraceRuns(runs({b, a}), 2, &out).code(), Status::Code::kCorruption);
  EXPECT_EQ(DecodeTraceRuns(runs({a, a}), 2, &out).code(), Status::Code::kCorruption);
}

TEST(Chunk, IntsRoundTripAtTheExtremes) {
  std::vector<std::vector<int64_t>> cases = {{},
                                             {0},
                                             {INT64_MIN, INT64_MAX},
                                             {5, 5, 5, 5},
                                             {1, 2, 3, 4, 1000},
                                             {INT64_MAX, INT64_MIN, 0, -1, 1}};
  for (int i = 0; i < 1000; ++i) cases.back().push_back(i * 1'000'003);
  for (const auto& v : cases) {
    std::string enc = "x";
    EncodeIntsPatched(v.data(), v.size(), &enc, nullptr);
    std::string_view in = std::string_view(enc).substr(1);
    std::vector<int64_t> out = {99};
    ASSERT_TRUE(DecodeInts(&in, v.size(), &out).ok());
    EXPECT_TRUE(in.empty());
    out.erase(out.begin());
    EXPECT_EQ(out, v);
  }
}

TEST(Chunk, SelectIntRangeAgreesWithDecodingAtTheExtremes) {
  std::mt19937_64 rng(5);
  std::vector<std::vector<int64_t>> cases = {{5, 5, 5}, {-3, 7, INT64_MIN, INT64_MAX, 0}, {}};
  for (int i = 0; i < 3000; ++i) cases.back().push_back(static_cast<int64_t>(rng() % 100000) - 500);
  const std::vector<std::pair<int64_t, int64_t>> ranges = {
      {INT64_MIN, INT64_MAX}, {5, 5}, {6, INT64_MAX}, {INT64_MIN, -1}, {-100, 40000}, {9, 3}};
  for (const auto& v : cases) {
    std::string enc;
    EncodeIntsPatched(v.data(), v.size(), &enc, nullptr);
    for (auto [lo, hi] : ranges) {
      std::vector<uint32_t> rows, want;
      for (uint32_t r = 0; r < v.size(); r += 1 + r % 3) {
        rows.push_back(r);
        if (v[r] >= lo && v[r] <= hi) want.push_back(r);
      }
      bool done;
      ASSERT_TRUE(SelectIntRange(enc, v.size(), lo, hi, &rows, &done).ok());
      if (!done) continue;  // a delta encoding: the caller decodes
      EXPECT_EQ(rows, want) << lo << ".." << hi;
    }
  }
  // Rows past the chunk are refused, not read.
  std::vector<int64_t> v = {1, 2, 3};
  std::string enc;
  EncodeInts(v.data(), v.size(), &enc);
  std::vector<uint32_t> rows = {0, 7};
  bool done;
  EXPECT_FALSE(SelectIntRange(enc, v.size(), 0, 10, &rows, &done).ok());
}

TEST(Chunk, SortedTimesTakeFewBits) {
  std::vector<int64_t> times;
  for (int i = 0; i < 8192; ++i) times.push_back(1'700'000'000'000'000'000 + i * 1000 + i % 7);
  std::string enc;
  EncodeInts(times.data(), times.size(), &enc);
  EXPECT_LT(enc.size(), 8192u * 2);  // about 10 bits a value, not 64
}

TEST(Chunk, IntsWithACommonFactorRoundTripScaled) {
  std::mt19937_64 rng(3);
  std::vector<std::vector<int64_t>> cases = {
      {1000, 3000, 2000},
      {INT64_MIN, 0},                                 // factor 2^63
      {-6000, 6000, INT64_MAX / 1000 * 1000},         // delta: two wide deltas
      {7'000'000, 7'001'000, 7'002'000, 7'003'000}};  // too few for delta
  std::vector<int64_t> times, durations;
  int64_t t = 1'700'000'000'000'000'000;
  for (int i = 0; i < 8192; ++i) {
    t += static_cast<int64_t>(rng() % 5000) * 1000;  // microseconds, as X-Ray's
    times.push_back(t);
    durations.push_back(static_cast<int64_t>(rng() % 4'000'000) * 1000);
  }
  cases.push_back(times);
  cases.push_back(durations);
  const std::string encodings = "MMEMEM";  // what the writer picks for each case
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::vector<int64_t>& v = cases[i];
    std::string enc;
    EncodeInts(v.data(), v.size(), &enc);
    EXPECT_EQ(enc[0], encodings[i]) << i;
    std::string_view in = enc;
    std::vector<int64_t> out;
    ASSERT_TRUE(DecodeInts(&in, v.size(), &out).ok());
    EXPECT_TRUE(in.empty());
    EXPECT_EQ(out, v);
    for (auto [lo, hi] : std::vector<std::pair<int64_t, int64_t>>{
             {INT64_MIN, INT64_MAX}, {1001, 2999}, {1000, 1000}, {2'000'000'000, INT64_MAX}}) {
      std::vector<uint32_t> rows(v.size()), want;
      std::iota(rows.begin(), rows.end(), 0u);
      for (uint32_t r = 0; r < v.size(); ++r) {
        if (v[r] >= lo && v[r] <= hi) want.push_back(r);
      }
      bool done;
      ASSERT_TRUE(SelectIntRange(enc, v.size(), lo, hi, &rows, &done).ok());
      // Frame of reference is selected on in place; delta is left to the caller to decode.
      ASSERT_EQ(done, enc[0] == 'M' || enc[0] == 'F');
      if (done) EXPECT_EQ(rows, want) << lo << ".." << hi;
    }
  }
  // Microsecond durations take the bits of microseconds: 22 a value, not 32.
  std::string enc;
  EncodeInts(durations.data(), durations.size(), &enc);
  EXPECT_EQ(enc[0], 'M');
  EXPECT_LT(enc.size(), 8192u * 23 / 8);
  // A factor below 2 is corrupt: 'M', base 0, factor 1, width 0.
  const std::string bad("M\x00\x01\x00", 4);
  std::string_view in = bad;
  std::vector<int64_t> out;
  EXPECT_EQ(DecodeInts(&in, 1, &out).code(), Status::Code::kCorruption);
  in = std::string_view(bad).substr(0, 2);  // cut before the factor
  EXPECT_EQ(DecodeInts(&in, 1, &out).code(), Status::Code::kCorruption);
}

// The factor is the greatest common divisor of the distances from the minimum, however it
// shrinks along the way: the writer tests each distance against the factor so far by a
// multiply, and only takes a new gcd when that fails.
TEST(Chunk, IntFactorIsTheGreatestCommonDivisor) {
  std::mt19937_64 rng(11);
  int scaled = 0;
  for (int c = 0; c < 2000; ++c) {
    // An odd part and a power of two, each sometimes 1.
    const uint64_t odd = (rng() % 4 == 0) ? 1 : ((rng() % (c % 3 == 0 ? 1'000'000'007 : 999)) | 1);
    const uint64_t factor = odd << (rng() % 12);
    const int64_t lo = static_cast<int64_t>(rng() % 1'000'000) - 500'000;
    std::vector<int64_t> v = {lo};
    const size_t n = 2 + rng() % 64;
    for (size_t i = 1; i < n; ++i) {
      uint64_t multiple = 1 + rng() % 1000;
      // Now and then a value off the factor's grid, to shrink the divisor midway.
      if (rng() % 16 == 0)
        multiple = multiple * factor + 1 + rng() % factor;
      else
        multiple *= factor;
      v.push_back(lo + static_cast<int64_t>(multiple));
    }
    std::shuffle(v.begin() + 1, v.end(), rng);
    uint64_t want = 0;
    for (int64_t x : v) want = std::gcd(want, static_cast<uint64_t>(x - lo));
    std::string enc;
    EncodeInts(v.data(), v.size(), &enc);
    std::string_view in = enc;
    std::vector<int64_t> out;
    ASSERT_TRUE(DecodeInts(&in, v.size(), &out).ok());
    ASSERT_EQ(out, v) << c;
    if (enc[0] != 'M') continue;  // frame of reference, scaled: its factor follows the base
    in = std::string_view(enc).substr(1);
    int64_t base;
    uint64_t scale;
    ASSERT_TRUE(coding::GetVarsint64(&in, &base));
    ASSERT_TRUE(coding::GetVarint64(&in, &scale));
    EXPECT_EQ(base, lo);
    EXPECT_EQ(scale, want) << c;
    ++scaled;
  }
  EXPECT_GT(scaled, 600);  // 856 of them keep a factor of 2 or more
}

// Durations as spans have them: most short, a few seconds long. Packing all in the width of
// the longest wastes the bits that the short ones leave empty; patched, the long ones are
// listed after the bits.
TEST(Chunk, IntsWithAFewLargeOnesArePatched) {
  std::mt19937_64 rng(11);
  std::vector<int64_t> durations, times, mixed;
  int64_t t = 1'700'000'000'000'000'000;
  for (int i = 0; i < 8192; ++i) {
    const bool slow = rng() % 50 == 0;
    durations.push_back(static_cast<int64_t>(slow ? rng() % 3'000'000'000 : rng() % 4'000) * 1000);
    t += static_cast<int64_t>(rng() % 64 == 0 ? rng() % 10'000'000 : rng() % 200) * 1000;
    times.push_back(t);  // the deltas have the outliers
  }
  // Exceptions at the first and the last position, one of them the largest value, and a
  // number that is all ones itself (3 in a width of 2: packed as it is, not listed).
  mixed = {INT64_MAX, 1000, 3};
  for (int i = 0; i < 300; ++i) mixed.push_back(i % 3);
  mixed.push_back(INT64_MAX);
  struct Case {
    const std::vector<int64_t>* v;
    char inner;  // the encoding after 'P'
  };
  for (const Case& c : {Case{&durations, 'M'}, Case{&times, 'E'}, Case{&mixed, 'F'}}) {
    const std::vector<int64_t>& v = *c.v;
    std::string enc;
    EncodeIntsPatched(v.data(), v.size(), &enc, nullptr);
    ASSERT_EQ(enc[0], 'P');
    EXPECT_EQ(enc[1], c.inner);
    std::string_view in = enc;
    std::vector<int64_t> out;
    ASSERT_TRUE(DecodeInts(&in, v.size(), &out).ok());
    EXPECT_TRUE(in.empty());
    EXPECT_EQ(out, v);
    // Selecting on the packed numbers agrees with the decoded values for ranges below, at
    // and above the exceptions, on every row and on every third.
    std::vector<int64_t> sorted = v;
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::pair<int64_t, int64_t>> ranges = {{INT64_MIN, INT64_MAX}, {0, 0}};
    for (double q : {0.5, 0.97, 0.99, 0.999}) {
      const int64_t at = sorted[static_cast<size_t>(q * static_cast<double>(sorted.size() - 1))];
      ranges.push_back({at, INT64_MAX});
      ranges.push_back({INT64_MIN, at});
      ranges.push_back({at, at > INT64_MAX - 1'000'000 ? INT64_MAX : at + 1'000'000});
    }
    for (auto [lo, hi] : ranges) {
      for (uint32_t step : {1u, 3u}) {
        std::vector<uint32_t> rows, want;
        for (uint32_t r = 0; r < v.size(); r += step) {
          rows.push_back(r);
          if (v[r] >= lo && v[r] <= hi) want.push_back(r);
        }
        bool done;
        ASSERT_TRUE(SelectIntRange(enc, v.size(), lo, hi, &rows, &done).ok());
        ASSERT_EQ(done, c.inner != 'E');
        if (done) EXPECT_EQ(rows, want) << lo << ".." << hi << " every " << step;
      }
    }
  }
  // The saving: 1 in 50 durations long takes the short ones' width plus a list of the long.
  std::string patched, plain;
  ASSERT_TRUE(EncodeIntsPatched(durations.data(), durations.size(), &patched, &plain));
  EXPECT_LT(patched.size(), plain.size() * 2 / 3);
}

// Patching never makes a chunk larger than plain packing would: not when many numbers are
// all ones of a narrow width, nor when exceptions lie far apart (their gaps take 2 bytes).
TEST(Chunk, PatchedIntsAreNeverLargerThanPlain) {
  std::mt19937_64 rng(12);
  std::vector<std::vector<int64_t>> cases;
  cases.emplace_back(900, 0);
  cases.back().insert(cases.back().end(), 60, 1);
  cases.back().insert(cases.back().end(), 40, 3);
  for (int i = 0; i < 300; ++i) {
    std::vector<int64_t> v(1 + rng() % 3000);
    const int narrow = static_cast<int>(rng() % 20), wide = narrow + static_cast<int>(rng() % 40);
    const uint64_t rare = 1 + rng() % 200;  // 1 in `rare` wide
    for (int64_t& x : v) {
      const int w = rng() % rare == 0 ? wide : narrow;
      x = static_cast<int64_t>(w == 0 ? 0 : rng() >> (64 - w));
    }
    cases.push_back(v);
  }
  size_t patched_cases = 0;
  for (const auto& v : cases) {
    std::string patched, plain, plain_too = "x";
    const bool was_patched = EncodeIntsPatched(v.data(), v.size(), &patched, &plain_too);
    EncodeInts(v.data(), v.size(), &plain);
    EXPECT_EQ(was_patched, patched[0] == 'P');
    if (was_patched) {
      ++patched_cases;
      EXPECT_LT(patched.size(), plain.size()) << v.size();
      EXPECT_EQ(plain_too, "x" + plain);  // the plain form, appended
    } else {
      EXPECT_EQ(patched, plain);
      EXPECT_EQ(plain_too, "x");
    }
    std::string_view in = patched;
    std::vector<int64_t> out;
    ASSERT_TRUE(DecodeInts(&in, v.size(), &out).ok());
    EXPECT_EQ(out, v);
  }
  EXPECT_GT(patched_cases, 50u);
}

TEST(Chunk, TheSmallerOfTwoEncodingsIsStored) {
  std::mt19937_64 rng(13);
  std::string noise(4000, '\0'), zeros(4000, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  for (const bool second_smaller : {true, false}) {
    std::string file = "header";
    const std::string& first = second_smaller ? noise : zeros;
    const std::string& second = second_smaller ? zeros : noise;
    const ChunkRef ref = AppendSmallerChunk(first, second, Compression::kZstd, &file);
    EXPECT_EQ(ref.offset, 6u);
    EXPECT_EQ(file.size(), ref.offset + ref.stored_length);
    EXPECT_LT(ref.stored_length, 1000u);  // the zeros, compressed
    std::string scratch;
    std::string_view raw;
    ASSERT_TRUE(
        ReadChunk(ref, std::string_view(file).substr(ref.offset), true, &scratch, &raw).ok());
    EXPECT_EQ(raw, zeros);
  }
  // With no second encoding, the first.
  std::string file;
  const ChunkRef ref = AppendSmallerChunk(noise, "", Compression::kZstd, &file);
  EXPECT_EQ(file.size(), ref.stored_length);
  EXPECT_EQ(file, noise);
}

TEST(Chunk, DamagedPatchedIntsAreRefused) {
  // 'P', 'F', base 0, width 2: the numbers 3 (all ones, an exception), 1, 0, 2; one exception,
  // the largest excess 5; at position 0 with excess 5. So the values are 8, 1, 0, 2.
  const std::string good("PF\x00\x02\x87\x01\x05\x00\x05", 9);
  std::string_view in = good;
  std::vector<int64_t> out;
  ASSERT_TRUE(DecodeInts(&in, 4, &out).ok());
  EXPECT_EQ(out, (std::vector<int64_t>{8, 1, 0, 2}));
  EXPECT_TRUE(in.empty());
  struct Bad {
    std::string bytes;
    bool list_damaged;  // so a selection that reads the list refuses it too
  };
  const std::string head("PF\x00\x02\x87", 5);
  const std::vector<Bad> bad = {
      {head, true},                                               // no count
      {head + std::string("\x00\x05", 2), true},                  // a count of 0
      {head + std::string("\x05\x05\x00\x05", 4), true},          // more than the numbers
      {head + std::string("\x01", 1), true},                      // no largest excess
      {head + std::string("\x01\x05\x00", 3), true},              // no excess
      {head + std::string("\x01\x05\x04\x05", 4), true},          // beyond the chunk
      {head + std::string("\x02\x05\x00\x05\x03\x01", 6), true},  // the second beyond it
      {head + std::string("\x01\x04\x00\x05", 4), true},          // above the largest
      {head + std::string("\x01\x05\x01\x05", 4), false},         // at a number not all ones
      {std::string("PF\x00\x00\x01\x05\x00\x05", 8), true},       // width 0
      {head + std::string("\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\x00\x05", 13),
       true},  // a largest excess past 64 bits
      {std::string("P", 1), true},
      {std::string("PP", 2), true},
  };
  for (const Bad& b : bad) {
    in = b.bytes;
    out.clear();
    EXPECT_EQ(DecodeInts(&in, 4, &out).code(), Status::Code::kCorruption) << b.bytes.size();
    // Values above all ones are found in the list alone.
    std::vector<uint32_t> rows = {0, 1, 2, 3};
    bool done;
    EXPECT_EQ(SelectIntRange(b.bytes, 4, 4, 100, &rows, &done).ok(), !b.list_damaged)
        << b.bytes.size();
  }
  // Width 64 leaves no number to list.
  std::string wide("PF\x00\x40", 4);
  wide.append(8, '\xff');
  wide.append("\x01\x00\x00", 3);
  in = wide;
  out.clear();
  EXPECT_EQ(DecodeInts(&in, 1, &out).code(), Status::Code::kCorruption);
  EXPECT_TRUE(out.empty());
  std::vector<uint32_t> rows = {0, 1, 2, 3};
  bool done;
  ASSERT_TRUE(SelectIntRange(good, 4, 4, 100, &rows, &done).ok());
  EXPECT_TRUE(done);
  EXPECT_EQ(rows, std::vector<uint32_t>{0});
}

// The scaled delta example of docs/block-format.md, byte for byte.
TEST(Chunk, ScaledDeltaExampleOfTheFormatDoc) {
  std::vector<int64_t> times;
  for (int64_t i = 0; i < 10; ++i) times.push_back(1'700'000'000'000'000'000 + i * 1000 + i % 3);
  std::string enc;
  EncodeInts(times.data(), times.size(), &enc);
  const unsigned char want[] = {0x45, 0x80, 0x80, 0xd0, 0xe2, 0xc6, 0xbf, 0xce,
                                0x97, 0x2f, 0xcc, 0x0f, 0x03, 0x01, 0xdb, 0x00};
  EXPECT_EQ(enc, std::string(reinterpret_cast<const char*>(want), sizeof want));
}

TEST(Chunk, EntryStringsStandForTheFieldWhereTheyRepeatIt) {
  column::StringColumn values;
  for (const char* v : {"a", "b", "a", "c"}) values.codes.push_back(values.dict.Intern(v));
  std::string enc;
  EncodeEntryStrings(values.dict, values.codes.data(), 4, 7, {1, 0, 1, 0}, &enc);
  EXPECT_EQ(enc[0], 'R');
  std::string_view in = enc;
  std::vector<std::string_view> dict;
  std::vector<uint32_t> codes;
  int field;
  ASSERT_TRUE(DecodeEntryStrings(&in, 4, &dict, &codes, &field).ok());
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(field, 7);
  EXPECT_EQ(dict, (std::vector<std::string_view>{"b", "c"}));
  EXPECT_EQ(codes, (std::vector<uint32_t>{kSameAsField, 0, kSameAsField, 1}));
  ASSERT_TRUE(DecodeEntryDictionary(enc, 4, &dict, &field).ok());
  EXPECT_EQ(dict, (std::vector<std::string_view>{"b", "c"}));
  // No entry repeats the field: a plain string chunk.
  enc.clear();
  EncodeEntryStrings(values.dict, values.codes.data(), 4, 7, {0, 0, 0, 0}, &enc);
  EXPECT_EQ(enc[0], 'S');
  in = enc;
  codes.clear();
  ASSERT_TRUE(DecodeEntryStrings(&in, 4, &dict, &codes, &field).ok());
  EXPECT_EQ(field, -1);
  EXPECT_EQ(codes, (std::vector<uint32_t>{0, 1, 0, 2}));
  // A field number past the string fields, and a header cut short, are corrupt.
  for (std::string bad : {std::string("R\x0f"), std::string("R\x03")}) {
    in = bad;
    EXPECT_EQ(DecodeEntryStrings(&in, 4, &dict, &codes, &field).code(), Status::Code::kCorruption);
  }
}

TEST(Chunk, StringsThatAreAllDistinctLeaveTheirCodesOut) {
  column::StringColumn ids;
  for (int i = 0; i < 300; ++i) ids.codes.push_back(ids.dict.Intern("req-" + std::to_string(i)));
  std::string enc;
  EncodeStrings(ids.dict, ids.codes.data(), 300, &enc);
  EXPECT_EQ(enc[0], 'T');
  std::string_view in = enc;
  std::vector<std::string_view> dict;
  std::vector<uint32_t> codes = {7};
  ASSERT_TRUE(DecodeStringCodes(&in, 300, &dict, &codes).ok());
  EXPECT_TRUE(in.empty());
  ASSERT_EQ(codes.size(), 301u);
  for (uint32_t i = 0; i < 300; ++i) EXPECT_EQ(dict[codes[i + 1]], "req-" + std::to_string(i));
  // The count must be the chunk's entry count.
  in = enc;
  EXPECT_EQ(DecodeStringCodes(&in, 299, &dict, &codes).code(), Status::Code::kCorruption);
  // One repeat, and the codes are written.
  ids.codes.resize(100);
  ids.codes.push_back(ids.codes[5]);
  enc.clear();
  EncodeStrings(ids.dict, ids.codes.data(), 101, &enc);
  EXPECT_EQ(enc[0], 'S');
}

// Codes of 8 bits or more are written by recency: 0 for a value new in the chunk, r for the
// value used r-th most recently. Rows come by trace, so a trace's user id repeats within a
// few rows and most numbers are small.
TEST(Chunk, WideStringCodesAreWrittenByRecency) {
  column::StringColumn users;
  std::mt19937_64 rng(11);
  std::vector<std::string> want;
  for (int trace = 0; trace < 400; ++trace) {
    // A user per trace, now and then one seen before; 1 to 9 rows each.
    const std::string user = "user-" + std::to_string(rng() % 4 == 0 ? rng() % 50 : 1000 + trace);
    for (uint64_t r = 0, n = 1 + rng() % 9; r < n; ++r) {
      want.push_back(rng() % 3 == 0 ? "" : user);
      users.codes.push_back(users.dict.Intern(want.back()));
    }
  }
  std::string enc;
  EncodeStrings(users.dict, users.codes.data(), want.size(), &enc);
  ASSERT_EQ(enc[0], 'U');
  std::string_view in = enc;
  std::vector<std::string_view> dict;
  std::vector<uint32_t> codes = {7};  // appended to
  ASSERT_TRUE(DecodeStringCodes(&in, want.size(), &dict, &codes).ok());
  EXPECT_TRUE(in.empty());
  ASSERT_EQ(codes.size(), want.size() + 1);
  for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(dict[codes[i + 1]], want[i]) << i;
  // The numbers: a byte a row, but for the few users seen again 128 or more values later.
  in = enc;
  in.remove_prefix(1);
  uint64_t d;
  ASSERT_TRUE(coding::GetVarint64(&in, &d));
  for (uint64_t i = 0; i < d; ++i) {
    std::string_view v;
    ASSERT_TRUE(coding::GetLengthPrefixed(&in, &v));
  }
  EXPECT_GE(in.size(), want.size());
  EXPECT_LT(in.size(), want.size() + want.size() / 100);
  EXPECT_EQ(in[0], 0);  // the first row's value is new
  // A number past the values used so far, or a new value past the dictionary, is corrupt.
  const auto decode = [&](std::string_view numbers, size_t rows = 4) {
    std::string chunk = "U";
    coding::PutVarint64(&chunk, 2);
    coding::PutLengthPrefixed(&chunk, "a");
    coding::PutLengthPrefixed(&chunk, "b");
    chunk.append(numbers);
    std::string_view c = chunk;
    codes.clear();
    Status s = DecodeStringCodes(&c, rows, &dict, &codes);
    if (!s.ok()) return s.ToString();
    std::string values;
    for (uint32_t c : codes) values.append(dict[c]);
    return values;
  };
  EXPECT_EQ(decode(std::string("\0\0\2\2", 4)), "abab");
  EXPECT_EQ(decode(std::string("\0\1\0\1", 4)), "aabb");
  EXPECT_NE(decode(std::string("\0\2\0\1", 4)).find("Corruption"), std::string::npos);
  EXPECT_NE(decode(std::string("\0\0\0\1", 4)).find("Corruption"), std::string::npos);
  EXPECT_NE(decode(std::string("\0\0\1", 3)).find("Corruption"), std::string::npos);  // short
}

// 300 random traces of 1 to 8 spans, each span first given to `decorate` (with the trace's
// number), written as a mapped block of row groups of 256 rows.
struct DecoratedBlock {
  SpanTable table;
  BlockContents contents;
  std::map<model::TraceId, std::vector<model::Span>> traces;
  std::vector<model::Span> all;  // as written
  std::unique_ptr<Block> block;
};
void WriteDecoratedBlock(const TempDir& dir, std::mt19937_64& rng,
                         const std::function<void(model::Span&, int)>& decorate,
                         DecoratedBlock* out) {
  for (int t = 0; t < 300; ++t) {
    std::vector<model::Span> spans = RandomTrace(rng, 1 + rng() % 8);
    TraceEntry e{spans[0].trace_id, INT64_MAX, INT64_MIN, static_cast<uint64_t>(t)};
    for (model::Span& s : spans) {
      decorate(s, t);
      out->table.Append(s);
      e.min_start_ns = std::min(e.min_start_ns, s.start_ns);
      e.max_end_ns = std::max({e.max_end_ns, s.start_ns, s.end_ns});
      out->all.push_back(s);
    }
    out->contents.traces.push_back(e);
    out->traces[e.id] = std::move(spans);
  }
  out->contents.spans = &out->table;
  WriteOptions options;
  options.row_group_rows = 256;
  auto block = Block::Open(Env::Default(), WriteBlock(dir, out->contents, options), true);
  ASSERT_TRUE(block.ok()) << block.status().ToString();
  out->block = std::move(*block);
}

// The raw bytes of the chunks of the columns named `name`.
uint64_t RawBytes(const Block& block, std::string_view name) {
  uint64_t bytes = 0;
  for (const ColumnMeta& c : block.meta().columns) {
    if (c.name != name) continue;
    for (const ChunkRef& r : c.chunks) bytes += r.raw_length;
  }
  return bytes;
}

// Scans `block` whole, handing each batch to `each`.
Status ScanEach(const Block& block, const ScanRequest& request,
                const std::function<void(const column::ColumnBatch&)>& each,
                ScanStats* stats = nullptr) {
  ScanStats unused;
  bool stopped = false;
  return block.Scan(
      ScanPlan(request),
      [&](const column::ColumnBatch& b) {
        each(b);
        return true;
      },
      stats != nullptr ? stats : &unused, &stopped);
}

// Every trace fetched by id, and every row of every row group, are what was written.
void ExpectEveryTraceReadsBack(const DecoratedBlock& b) {
  for (const auto& [id, spans] : b.traces) {
    TraceData data;
    ASSERT_TRUE(b.block->FetchTrace(id, &data).ok());
    ASSERT_EQ(Sorted(data.spans), Sorted(spans));
  }
  SpanTable read;
  for (size_t g = 0; g < b.block->meta().row_groups.size(); ++g) {
    ASSERT_TRUE(b.block->ReadRowGroup(g, &read).ok());
  }
  std::vector<model::Span> got;
  for (uint32_t r = 0; r < read.size(); ++r) got.push_back(read.Row(r));
  EXPECT_EQ(Sorted(got), Sorted(b.all));
}

// OTLP spans carry the attribute a well-known field was taken from (url.full for http_url, the
// resource's service.name for service): the block stores such values once, and every read
// gives them back, as values, in fetches, in scans and to dictionary pushdown.
TEST(Block, AttributesThatRepeatAFieldReadBackEveryWay) {
  TempDir dir;
  std::mt19937_64 rng(11);
  DecoratedBlock written;
  ASSERT_NO_FATAL_FAILURE(WriteDecoratedBlock(
      dir, rng,
      [&](model::Span& s, int) {
        s.http_url = "https://shop.example/item/" + std::to_string(rng() % 500);
        // Every tenth differs from its own field, mostly repeating another span's (so a
        // scanned vector's dictionary holds it twice); the copy never equals any field.
        const std::string url = rng() % 10 == 0
                                    ? "https://shop.example/item/" + std::to_string(rng() % 500)
                                    : s.http_url;
        s.attributes.push_back({"url.full", model::AttributeValue::String(url)});
        s.attributes.push_back({"copy.url", model::AttributeValue::String("x" + s.http_url)});
        s.attributes.push_back({"service.name", model::AttributeValue::String(s.service),
                                model::AttributeRole::kResource});
        s.attributes.push_back({"copy.service", model::AttributeValue::String("x" + s.service)});
      },
      &written));
  ASSERT_NE(written.block, nullptr);
  const std::unique_ptr<Block>& block = written.block;

  // Stored as references: far fewer bytes than the same strings that repeat no field.
  EXPECT_LT(RawBytes(*block, "url.full") * 2, RawBytes(*block, "copy.url"));
  EXPECT_LT(RawBytes(*block, "service.name"), RawBytes(*block, "copy.service"));

  ASSERT_NO_FATAL_FAILURE(ExpectEveryTraceReadsBack(written));
  const std::vector<model::Span>& all = written.all;

  // A scan of the attribute, and a condition on it that only referenced values meet.
  const ColumnRef url = ColumnRef::Attribute("url.full", model::AttributeRole::kPlain,
                                             model::AttributeValue::Type::kString);
  const std::string wanted = all[0].http_url;
  std::multiset<std::pair<uint64_t, std::string>> want_rows, got_rows;
  size_t want_matches = 0;
  for (const model::Span& s : all) {
    const std::string v = model::FindAttribute(s.attributes, "url.full")->value.string_value.str();
    want_rows.emplace(s.span_id.value, v);
    want_matches += v == wanted;
  }
  ScanRequest request;
  request.columns = {ColumnRef::SpanId(), url};
  ScanStats stats;
  ASSERT_TRUE(ScanEach(*block, request, [&](const column::ColumnBatch& b) {
                for (uint32_t r : b.selection) {
                  got_rows.emplace(static_cast<uint64_t>(b.columns[0].ints[r]),
                                   std::string(b.columns[1].str(r)));
                }
              }).ok());
  EXPECT_EQ(got_rows, want_rows);
  request.where = {Condition::In(url, {wanted})};
  size_t matches = 0;
  stats = {};
  ASSERT_TRUE(ScanEach(
                  *block, request,
                  [&](const column::ColumnBatch& b) {
                    for (uint32_t r : b.selection) matches += b.columns[1].str(r) == wanted;
                    EXPECT_EQ(b.selection.size(),
                              static_cast<size_t>(std::count_if(
                                  b.selection.begin(), b.selection.end(),
                                  [&](uint32_t r) { return b.columns[1].str(r) == wanted; })));
                  },
                  &stats)
                  .ok());
  EXPECT_EQ(matches, want_matches);
  EXPECT_GT(matches, 0u);
  EXPECT_GT(stats.groups_skipped, 0u);  // the dictionaries ruled groups out
}

// Request ids, user ids and URLs that hold UUIDs: their chunks are stored with the hex runs
// packed (compression code 3), a user id that several chunks of a row group hold once in the
// group's hex table, and every read (fetch, row group, scan, dictionary pushdown) gives the
// strings back. The peer addresses, 200 of them in groups of 256 rows, are enough for the
// writer to code them by recency (the rule Chunk.WideStringCodesAreWrittenByRecency checks).
TEST(Block, ChunksOfHexIdsAreStoredPackedAndReadBackEveryWay) {
  TempDir dir;
  std::mt19937_64 rng(21);
  std::vector<std::string> users;
  for (int u = 0; u < 40; ++u) users.push_back(RandomUuid(rng, u % 4 == 0));
  DecoratedBlock written;
  ASSERT_NO_FATAL_FAILURE(WriteDecoratedBlock(
      dir, rng,
      [&](model::Span& s, int t) {
        const std::string& user = users[rng() % 40];
        s.http_url = "https://api.example/users/" + user + "/messages/" + RandomUuid(rng) +
                     "?page=" + std::to_string(t);
        s.attributes.push_back({"aws.request_id", model::AttributeValue::String(RandomUuid(rng))});
        s.attributes.push_back({"enduser.id", model::AttributeValue::String(user)});
        s.attributes.push_back({"net.peer.name", model::AttributeValue::String(
                                                     "peer-" + std::to_string(rng() % 200))});
      },
      &written));
  ASSERT_NE(written.block, nullptr);
  const std::unique_ptr<Block>& block = written.block;
  const std::vector<model::Span>& all = written.all;
  const BlockMeta& meta = block->meta();
  uint64_t request_id_bytes = 0, user_bytes = 0;
  for (const ColumnMeta& c : meta.columns) {
    if (c.name != "aws.request_id" && c.name != "http_url" && c.name != "enduser.id") continue;
    for (const ChunkRef& r : c.chunks) {
      EXPECT_EQ(r.compression, Compression::kHexZstd) << c.name;
      if (c.name == "aws.request_id") request_id_bytes += r.stored_length;
      if (c.name == "enduser.id") user_bytes += r.stored_length;
    }
  }
  // 16 bytes of digits a request id, and a little for the rest.
  EXPECT_LT(request_id_bytes, all.size() * 18);
  // Each group's table holds its users, which the user ids and URLs refer to: the user id
  // column takes well under their 16 bytes of digits for each (and its codes).
  ASSERT_NE(meta.hex_table_column, SIZE_MAX);
  for (const ChunkRef& r : meta.columns[meta.hex_table_column].chunks) {
    EXPECT_GT(r.raw_length, 16u * 30);  // most of the 40 users in each group of 256 rows
  }
  EXPECT_LT(user_bytes, meta.row_groups.size() * 40 * 12);

  ASSERT_NO_FATAL_FAILURE(ExpectEveryTraceReadsBack(written));

  // A damaged table fails the row group's reads of the chunks that refer to it, and only
  // that group's.
  {
    const ChunkRef table = meta.columns[meta.hex_table_column].chunks[1];
    const std::string damaged_path = dir.path() + "/damaged.blk";
    DamageChunk(block->path(), table, damaged_path);
    auto damaged = Block::Open(Env::Default(), damaged_path);
    ASSERT_TRUE(damaged.ok());
    SpanTable read;
    EXPECT_TRUE((*damaged)->ReadRowGroup(0, &read).ok());
    EXPECT_EQ((*damaged)->ReadRowGroup(1, &read).code(), Status::Code::kCorruption);
    EXPECT_TRUE((*damaged)->ReadRowGroup(2, &read).ok());
    // A text chunk that is not hex-packed (so cannot refer to the table) reads in that group
    // too, and so does an int chunk.
    const ColumnMeta* unpacked = nullptr;
    for (const ColumnMeta& c : meta.columns) {
      if (c.kind == ColumnKind::kString && c.chunks[1].compression != Compression::kHexZstd) {
        unpacked = &c;
        break;
      }
    }
    ASSERT_NE(unpacked, nullptr);
    for (const ColumnRef& ref : {ColumnRef::Of(static_cast<StringField>(unpacked->field)),
                                 ColumnRef::Of(IntField::kDurationNs)}) {
      ScanRequest request;
      request.columns = {ref};
      size_t scanned = 0;
      EXPECT_TRUE(ScanEach(**damaged, request,
                           [&](const column::ColumnBatch& b) { scanned += b.selection.size(); })
                      .ok())
          << unpacked->name;
      EXPECT_EQ(scanned, all.size());
    }
  }

  // Dictionary pushdown on a packed column (one request id: the groups without it are
  // skipped by their dictionaries), and on user ids (one uppercase).
  const auto count = [&](const char* key, std::string_view value, ScanStats* stats) {
    const ColumnRef ref = ColumnRef::Attribute(key, model::AttributeRole::kPlain,
                                               model::AttributeValue::Type::kString);
    ScanRequest request;
    request.columns = {ref};
    request.where = {Condition::In(ref, {std::string(value)})};
    size_t matches = 0;
    EXPECT_TRUE(ScanEach(
                    *block, request,
                    [&](const column::ColumnBatch& b) {
                      for (uint32_t r : b.selection) matches += b.columns[0].str(r) == value;
                    },
                    stats)
                    .ok());
    return matches;
  };
  const model::Span& probe = all[all.size() / 2];
  ScanStats stats;
  EXPECT_EQ(
      count("aws.request_id",
            model::FindAttribute(probe.attributes, "aws.request_id")->value.string_value, &stats),
      1u);
  EXPECT_EQ(stats.groups_skipped + 1, block->meta().row_groups.size());
  stats = {};
  const size_t user_rows = count("enduser.id", users[0], &stats);
  EXPECT_EQ(
      user_rows, static_cast<size_t>(std::count_if(all.begin(), all.end(), [&](const auto& s) {
        return model::FindAttribute(s.attributes, "enduser.id")->value.string_value == users[0];
      })));
  EXPECT_GT(user_rows, 0u);
  // And on the peers.
  stats = {};
  const size_t peer_rows = count("net.peer.name", "peer-7", &stats);
  EXPECT_EQ(
      peer_rows, static_cast<size_t>(std::count_if(all.begin(), all.end(), [&](const auto& s) {
        return model::FindAttribute(s.attributes, "net.peer.name")->value.string_value == "peer-7";
      })));
  EXPECT_GT(peer_rows, 0u);
}

// Attributes that one kind of span carries have the same rows: the chunks of the later ones
// refer to the first one's rows instead of repeating them, and every read (fetch, row group,
// scan of the later column alone, dictionary pushdown) finds their rows there. The table
// names, on some of those rows, are read back among them too.
TEST(Block, AttributesOnTheSameRowsShareTheFirstOnesRowList) {
  TempDir dir;
  std::mt19937_64 rng(31);
  static const char* const kServices[] = {"DynamoDB", "Cognito", "S3"};
  DecoratedBlock written;
  ASSERT_NO_FATAL_FAILURE(WriteDecoratedBlock(
      dir, rng,
      [&](model::Span& s, int) {
        const std::string service = kServices[rng() % 3];
        if (rng() % 5 < 2) {  // a call: the same rows for all three
          s.attributes.push_back({"rpc.system", model::AttributeValue::String("aws-api")});
          s.attributes.push_back({"rpc.service", model::AttributeValue::String(service)});
          s.attributes.push_back({"server.port", model::AttributeValue::Int(443)});
          if (service == "DynamoDB") {  // some of those rows
            s.attributes.push_back(
                {"aws.table_name", model::AttributeValue::String("t" + std::to_string(rng() % 3))});
          }
        }
        if (rng() % 5 < 2) {  // as many rows, other ones
          s.attributes.push_back({"other.service", model::AttributeValue::String(service)});
        }
      },
      &written));
  ASSERT_NE(written.block, nullptr);
  const std::unique_ptr<Block>& block = written.block;
  const std::vector<model::Span>& all = written.all;
  // The referring chunk holds its count, the reference and its values: its rows take about
  // half of a chunk like it.
  EXPECT_LT(RawBytes(*block, "rpc.service") * 3, RawBytes(*block, "other.service") * 2);
  size_t tables = 0;
  for (const model::Span& s : all) {
    tables += model::FindAttribute(s.attributes, "aws.table_name") != nullptr;
  }

  ASSERT_NO_FATAL_FAILURE(ExpectEveryTraceReadsBack(written));

  // A fetch that wants the referring columns and not the one they refer to reads its rows.
  FetchOptions some;
  some.all_attributes = false;
  some.keys = {"rpc.service", "server.port"};
  std::vector<TraceData> data(written.traces.size());
  std::vector<Status> status(written.traces.size());
  std::vector<WantedTrace> wanted;
  for (const auto& [id, spans] : written.traces) {
    const size_t k = wanted.size();
    data[k].id = id;
    wanted.push_back({id, &data[k], &status[k]});
  }
  block->FetchTraces(wanted, some);
  size_t k = 0;
  for (const auto& [id, spans] : written.traces) {
    ASSERT_TRUE(status[k].ok()) << status[k].ToString();
    std::vector<model::Span> want = spans;
    for (model::Span& sp : want) some.Apply(&sp);
    EXPECT_EQ(Sorted(data[k++].spans), Sorted(want));
  }

  // Scans of the referring columns alone, with and without a condition on them.
  const ColumnRef service = ColumnRef::Attribute("rpc.service", model::AttributeRole::kPlain,
                                                 model::AttributeValue::Type::kString);
  const ColumnRef port = ColumnRef::Attribute("server.port", model::AttributeRole::kPlain,
                                              model::AttributeValue::Type::kInt);
  size_t want = 0, want_calls = 0;
  for (const model::Span& s : all) {
    const model::Attribute* a = model::FindAttribute(s.attributes, "rpc.service");
    want_calls += a != nullptr;
    want += a != nullptr && a->value.string_value == "Cognito";
  }
  const ColumnRef table = ColumnRef::Attribute("aws.table_name", model::AttributeRole::kPlain,
                                               model::AttributeValue::Type::kString);
  size_t want_tables = 0;
  for (const model::Span& s : all) {
    const model::Attribute* a = model::FindAttribute(s.attributes, "aws.table_name");
    want_tables += a != nullptr && a->value.string_value == "t1";
  }
  for (const bool condition : {false, true}) {
    ScanRequest request;
    request.columns = {table};
    if (condition) request.where = {Condition::In(table, {"t1"})};
    size_t rows = 0;
    ASSERT_TRUE(ScanEach(*block, request, [&](const column::ColumnBatch& b) {
                  for (uint32_t r : b.selection) {
                    rows += !b.columns[0].IsNull(r) && (!condition || b.columns[0].str(r) == "t1");
                  }
                }).ok());
    EXPECT_EQ(rows, condition ? want_tables : tables);
  }
  EXPECT_GT(want_tables, 0u);
  for (const bool condition : {false, true}) {
    ScanRequest request;
    request.columns = {service, port};
    if (condition) request.where = {Condition::In(service, {"Cognito"})};
    size_t rows = 0, ports = 0;
    ASSERT_TRUE(ScanEach(*block, request, [&](const column::ColumnBatch& b) {
                  for (uint32_t r : b.selection) {
                    if (b.columns[0].IsNull(r)) continue;
                    ++rows;
                    ports += b.columns[1].ints[r] == 443;
                  }
                }).ok());
    EXPECT_EQ(rows, condition ? want : want_calls);
    EXPECT_EQ(ports, rows);
  }
  EXPECT_GT(want, 0u);
}

// A fetch decodes a chunk only up to its trace's last row: every prefix is what the whole
// chunk decodes to, whatever the encoding.
TEST(Chunk, APrefixDecodesAsTheWholeChunkDoes) {
  std::mt19937_64 rng(41);
  std::vector<std::vector<int64_t>> ints(3);
  int64_t t = 1'700'000'000'000'000'000;
  for (int i = 0; i < 300; ++i) {
    ints[0].push_back(static_cast<int64_t>(rng() % 1000));                               // FOR
    ints[1].push_back(t += static_cast<int64_t>(rng() % 5000) * 1000);                   // delta
    ints[2].push_back(static_cast<int64_t>(rng() % 50 == 0 ? rng() >> 8 : rng() % 64));  // patched
  }
  const char kIntEncodings[] = {'F', 'E', 'P'};  // E: deltas with a common factor (1000)
  for (size_t k = 0; k < ints.size(); ++k) {
    const std::vector<int64_t>& values = ints[k];
    std::string enc;
    EncodeIntsPatched(values.data(), values.size(), &enc, nullptr);
    ASSERT_EQ(enc[0], kIntEncodings[k]);
    for (size_t limit : {size_t{0}, size_t{1}, size_t{2}, size_t{150}, size_t{299}, size_t{300}}) {
      std::string_view in = enc;
      std::vector<int64_t> got;
      ASSERT_TRUE(DecodeInts(&in, values.size(), &got, limit).ok());
      EXPECT_TRUE(in.empty());  // past the chunk all the same
      EXPECT_EQ(got, std::vector<int64_t>(values.begin(), values.begin() + limit)) << limit;
    }
  }
  // Strings: a few values (S), all different (T), many with repeats (U), and as entries
  // that stand for a field (R).
  for (const int distinct : {5, 300, 200}) {
    column::StringColumn col;
    std::vector<std::string> want;
    for (int i = 0; i < 300; ++i) {
      want.push_back("v" +
                     std::to_string(distinct == 300 ? i : static_cast<int>(rng() % distinct)));
      col.codes.push_back(col.dict.Intern(want.back()));
    }
    std::vector<uint8_t> same(300);
    for (auto& b : same) b = rng() % 3 == 0;
    for (const bool entries : {false, true}) {
      std::string enc;
      if (entries) {
        EncodeEntryStrings(col.dict, col.codes.data(), 300, 3, same, &enc);
        ASSERT_EQ(enc[0], 'R');
      } else {
        EncodeStrings(col.dict, col.codes.data(), 300, &enc);
        ASSERT_EQ(enc[0], distinct == 5 ? 'S' : distinct == 300 ? 'T' : 'U');
      }
      for (size_t limit : {size_t{0}, size_t{1}, size_t{150}, size_t{300}}) {
        std::string_view in = enc;
        std::vector<std::string_view> dict;
        std::vector<uint32_t> codes;
        int field = -1;
        ASSERT_TRUE((entries ? DecodeEntryStrings(&in, 300, &dict, &codes, &field, limit)
                             : DecodeStringCodes(&in, 300, &dict, &codes, limit))
                        .ok());
        ASSERT_EQ(codes.size(), limit);
        for (size_t i = 0; i < limit; ++i) {
          if (entries && same[i]) {
            EXPECT_EQ(codes[i], kSameAsField);
          } else {
            EXPECT_EQ(dict[codes[i]], want[i]) << distinct << " " << i;
          }
        }
      }
    }
  }
}

// A reference to another column's rows needs a reader that can resolve it, an earlier
// attribute column, and a column of the same count.
TEST(Chunk, ARowsReferenceIsResolvedOrRefused) {
  std::string chunk;
  PutSameRows(3, 40, &chunk);
  std::vector<int64_t> rows = {7};
  std::string_view in = chunk;
  EXPECT_EQ(DecodeSparseRows(&in, 10, &rows).code(), Status::Code::kCorruption);
  SparseRowsSource source;
  in = chunk;
  ASSERT_TRUE(DecodeSparseRows(&in, 10, &rows, &source).ok());
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(source.column, 40u);
  EXPECT_EQ(source.count, 3u);
  EXPECT_TRUE(rows.empty());
  EXPECT_TRUE(BlockMeta::CheckRowsCount(source, {1, 4, 9}).ok());
  EXPECT_EQ(BlockMeta::CheckRowsCount(source, {1, 4}).code(), Status::Code::kCorruption);
  in = std::string_view(chunk).substr(0, 2);  // the column cut off
  EXPECT_EQ(DecodeSparseRows(&in, 10, &rows, &source).code(), Status::Code::kCorruption);

  // Explicit rows name no other column.
  chunk.clear();
  coding::PutVarint64(&chunk, 2);
  const int64_t two_rows[] = {2, 5};
  EncodeInts(two_rows, 2, &chunk);
  in = chunk;
  ASSERT_TRUE(DecodeSparseRows(&in, 10, &rows, &source).ok());
  EXPECT_EQ(source.column, SparseRowsSource::kOwn);
  EXPECT_EQ(rows, (std::vector<int64_t>{2, 5}));

  BlockMeta meta;
  meta.columns.resize(3);
  meta.columns[0].kind = ColumnKind::kAttribute;
  meta.columns[1].kind = ColumnKind::kInt;
  meta.columns[2].kind = ColumnKind::kAttribute;
  EXPECT_TRUE(meta.CheckRowsSource(2, {0, 3}).ok());
  EXPECT_EQ(meta.CheckRowsSource(2, {1, 3}).code(), Status::Code::kCorruption);  // not sparse
  EXPECT_EQ(meta.CheckRowsSource(2, {2, 3}).code(), Status::Code::kCorruption);  // itself
  EXPECT_EQ(meta.CheckRowsSource(0, {2, 3}).code(), Status::Code::kCorruption);  // later
}

TEST(Block, DroppedRowsAndTheirAttributesAndEventsAreLeftOut) {
  TempDir dir;
  Fixture f(60, 9);
  std::vector<bool> dropped(f.table.size(), false);
  for (size_t r = 0; r < dropped.size(); r += 3) dropped[r] = true;
  const std::vector<uint32_t> rows = KeptRows(f.table, dropped);
  f.contents.rows = &rows;
  auto block = Block::Open(Env::Default(), WriteBlock(dir, f.contents));
  ASSERT_TRUE(block.ok()) << block.status().ToString();
  std::vector<model::Span> want;
  for (uint32_t r = 0; r < f.table.size(); ++r) {
    if (!dropped[r]) want.push_back(f.table.Row(r));
  }
  SpanTable all;
  for (size_t g = 0; g < (*block)->meta().row_groups.size(); ++g) {
    ASSERT_TRUE((*block)->ReadRowGroup(g, &all).ok());
  }
  std::vector<model::Span> got;
  for (uint32_t r = 0; r < all.size(); ++r) got.push_back(all.Row(r));
  EXPECT_EQ(Sorted(got), Sorted(want));
}

TEST(Block, ARepeatedKeyKeepsItsValuesInOrderAcrossRowGroupsAndDroppedRows) {
  // The writer slices each attribute column into row groups by the rows' new order (by trace,
  // then start): the values of a key a span repeats must stay in the span's order. 6 traces in
  // groups of 4, then 1000 (5000 rows) in groups of 64: past the writer's tiles of 2048 rows
  // that place each row's entries.
  using model::AttributeValue;
  for (const auto& [traces, group_rows] : {std::pair{6, 4}, std::pair{1000, 64}}) {
    TempDir dir;
    SpanTable table;
    BlockContents contents;
    std::vector<bool> dropped;
    std::map<std::pair<model::TraceId, uint64_t>, model::Attributes> want;
    for (int t = 0; t < traces; ++t) {
      model::TraceId id;
      id.bytes[0] = static_cast<uint8_t>((traces - t) >> 8);  // written in the reverse of the
      id.bytes[1] = static_cast<uint8_t>(traces - t);         // block's order
      TraceEntry e{id, 1000, 5000, static_cast<uint64_t>(t)};
      for (int i = 0; i < 5; ++i) {
        model::Span s;
        s.trace_id = id;
        s.span_id.value = static_cast<uint64_t>(i + 1);
        s.start_ns = 1000 + (4 - i);  // later spans start first
        s.end_ns = 5000;
        const std::string tag = std::to_string(t) + "." + std::to_string(i);
        s.attributes = {{"k", AttributeValue::String("first " + tag)},
                        {"other", AttributeValue::Int(i)},
                        {"k", AttributeValue::String("second " + tag)},
                        {"k", AttributeValue::String("third " + tag)}};
        table.Append(s);
        dropped.push_back((t + i) % 4 == 0);
        if (!dropped.back()) {
          // As SpanTable::Row gives them: by column, each column's values in order.
          want[{id, s.span_id.value}] = {s.attributes[0], s.attributes[2], s.attributes[3],
                                         s.attributes[1]};
        }
      }
      contents.traces.push_back(e);
    }
    contents.spans = &table;
    const std::vector<uint32_t> rows = KeptRows(table, dropped);
    contents.rows = &rows;
    WriteOptions options;
    options.row_group_rows = static_cast<size_t>(group_rows);
    auto block = Block::Open(Env::Default(), WriteBlock(dir, contents, options));
    ASSERT_TRUE(block.ok()) << block.status().ToString();
    ASSERT_GT((*block)->meta().row_groups.size(), 4u);
    SpanTable all;
    for (size_t g = 0; g < (*block)->meta().row_groups.size(); ++g) {
      ASSERT_TRUE((*block)->ReadRowGroup(g, &all).ok());
    }
    ASSERT_EQ(all.size(), want.size());
    for (uint32_t r = 0; r < all.size(); ++r) {
      const model::Span s = all.Row(r);
      auto it = want.find({s.trace_id, s.span_id.value});
      ASSERT_NE(it, want.end()) << "row " << r << " of " << traces << " traces";
      EXPECT_EQ(s.attributes, it->second) << "row " << r << " of " << traces << " traces";
    }
  }
}

TEST(Block, EventsThatDoNotDecodeFailTheRowGroupRead) {
  TempDir dir;
  Fixture f(30, 4);
  ASSERT_FALSE(f.table.extras.empty());
  f.table.extras[0] = "\x05garbage";  // checksummed fine, but not an events/links encoding
  auto block = Block::Open(Env::Default(), WriteBlock(dir, f.contents));
  ASSERT_TRUE(block.ok());
  SpanTable all;
  Status s = (*block)->ReadRowGroup(0, &all);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("undecodable events or links"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace waggle::storage::columnar::block
