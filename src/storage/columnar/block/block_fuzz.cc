// Fuzzes the block reader: whatever a bad disk or a bug leaves in a block file, opening it,
// scanning it and fetching from it returns a status and never crashes. Blocks are checksummed,
// so random files stop at the first check; the input here damages a valid block instead, and
// also reaches the footer parser and the chunk decoders behind their checksums.
//
// Input: a mode byte, then edits of (2-byte offset, xor byte).
// Mode 2 then makes the footer checksum right again (3 inputs in 4), so a damaged footer is
// parsed and believed: what the reader does with footers that lie.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <string_view>

#include "base/coding.h"
#include "base/crc32c.h"
#include "base/env.h"
#include "storage/columnar/block/block.h"
#include "storage/columnar/block/hex_runs.h"
#include "storage/testing/random_spans.h"

namespace {

using namespace waggle;
using namespace waggle::storage;
using namespace waggle::storage::columnar;

const std::string& ValidBlock() {
  static const std::string* file = [] {
    std::mt19937_64 rng(1);
    static SpanTable table;
    block::BlockContents contents;
    for (int t = 0; t < 12; ++t) {
      auto spans = testing::RandomTrace(rng, 1 + rng() % 6);
      block::TraceEntry e;
      e.id = spans[0].trace_id;
      for (model::Span& s : spans) {
        // Mostly the span's name: stored as references to the name field.
        s.attributes.push_back(
            {"k1", model::AttributeValue::String(rng() % 4 == 0 ? "other" : s.name)});
        // Hex ids: their chunk is stored with its hex runs packed, and the one that two
        // attributes hold is in the row group's hex table.
        const std::string id = storage::testing::RandomUuid(rng);
        s.attributes.push_back({"request.id", model::AttributeValue::String(id)});
        s.attributes.push_back({"request.path", model::AttributeValue::String("/r/" + id)});
        // Twelve tags a span, of 400 values: over 128 distinct in a row group even of a few
        // spans, so their codes are written by recency.
        for (int k = 0; k < 12; ++k) {
          s.attributes.push_back(
              {"tag", model::AttributeValue::String("t" + std::to_string(rng() % 400))});
        }
        table.Append(s);
        e.min_start_ns = std::min(e.min_start_ns, s.start_ns);
        e.max_end_ns = std::max(e.max_end_ns, s.end_ns);
      }
      contents.traces.push_back(e);
      contents.logs.push_back({e.id, "not a log group"});
    }
    contents.spans = &table;
    block::WriteOptions options;
    options.row_group_rows = 16;
    return new std::string(block::EncodeBlock(contents, options));
  }();
  return *file;
}

void ApplyEdits(std::string_view edits, size_t lo, std::string* bytes) {
  const size_t n = bytes->size() - lo;
  for (size_t i = 0; i + 3 <= edits.size() && n > 0; i += 3) {
    const size_t at =
        (static_cast<uint8_t>(edits[i]) | static_cast<uint8_t>(edits[i + 1]) << 8) % n;
    (*bytes)[lo + at] = static_cast<char>((*bytes)[lo + at] ^ (edits[i + 2] | 1));
  }
}

// Mode 0: the footer, damaged behind its checksum.
void FuzzFooter(std::string_view edits) {
  const std::string& file = ValidBlock();
  const char* trailer = file.data() + file.size() - block::kTrailerSize;
  const uint64_t offset = coding::DecodeFixed64(trailer);
  const uint32_t length = coding::DecodeFixed32(trailer + 8);
  std::string footer = file.substr(offset, length);
  ApplyEdits(edits, 0, &footer);
  block::BlockMeta meta;
  (void)block::DecodeFooter(footer, &meta);
}

// Mode 1: the chunk decoders on raw bytes (what a chunk holds after its checksum passed), and
// the hex-run packing both ways.
void FuzzChunk(std::string_view in) {
  if (in.empty()) return;
  const size_t n = static_cast<uint8_t>(in[0]) % 200;
  in.remove_prefix(1);
  std::vector<int64_t> ints;
  std::string_view a = in;
  (void)block::DecodeInts(&a, n, &ints);
  std::vector<std::string_view> dict;
  std::vector<uint32_t> codes;
  std::string_view b = in;
  (void)block::DecodeStringCodes(&b, n, &dict, &codes);
  (void)block::DecodeDictionary(in, &dict);
  int field;
  std::string_view c = in;
  codes.clear();
  (void)block::DecodeEntryStrings(&c, n, &dict, &codes, &field);
  (void)block::DecodeEntryDictionary(in, n, &dict, &field);
  std::vector<uint32_t> rows;
  for (uint32_t r = 0; r < n; r += 3) rows.push_back(r);
  bool done;
  (void)block::SelectIntRange(in, n, -5, 1000, &rows, &done);
  // Ints made of the input, two bytes each, a few of them far up (so the writer may
  // patch them): they must round-trip, and selecting in place must agree with their values,
  // on every row and on every third, for ranges below, across and above the small ones (a
  // patched chunk's exceptions take each of its three ways).
  std::vector<int64_t> values;
  for (size_t i = 0; i + 1 < in.size(); i += 2) {
    const auto hi = static_cast<uint8_t>(in[i]), lo = static_cast<uint8_t>(in[i + 1]);
    const int64_t v = (hi & 0x3f) << 8 | lo;
    values.push_back(hi >= 0xf8 ? v << 40 : hi & 0x40 ? -v : v);  // 1 in 32 far up
  }
  std::string encoded;
  block::EncodeIntsPatched(values.data(), values.size(), &encoded, nullptr);
  a = encoded;
  ints.clear();
  if (!block::DecodeInts(&a, values.size(), &ints).ok() || !a.empty() || ints != values) {
    std::abort();
  }
  for (const auto& [lo, hi] : {std::pair<int64_t, int64_t>{-5, 1000},
                               {INT64_MIN, INT64_MAX},
                               {1000, INT64_MAX},
                               {50, 60},
                               {INT64_MIN, 3}}) {
    for (const uint32_t step : {1u, 3u}) {
      std::vector<uint32_t> selected, want;
      for (uint32_t r = 0; r < values.size(); r += step) {
        selected.push_back(r);
        if (values[r] >= lo && values[r] <= hi) want.push_back(r);
      }
      if (!block::SelectIntRange(encoded, values.size(), lo, hi, &selected, &done).ok() ||
          (done && selected != want)) {
        std::abort();
      }
    }
  }
  // Hex runs: the input as a packed chunk (behind a checksum that passed), and packing the
  // input must give it back.
  block::ChunkRef ref;
  ref.compression = block::Compression::kHexZstd;
  ref.stored_length = static_cast<uint32_t>(in.size());
  ref.raw_length = static_cast<uint32_t>(n * 4);
  std::string scratch;
  std::string_view raw;
  if (block::ReadChunk(ref, in, /*verify=*/false, &scratch, &raw).ok() && raw.size() != n * 4) {
    std::abort();
  }
  std::string out;
  (void)block::UnpackHexRuns(static_cast<uint8_t>(n), in.substr(0, in.size() / 2),
                             in.substr(in.size() / 2), n * 4, &out);
  block::HexPacked packed;
  block::PackHexRuns(in, 0, &packed);
  if (!block::UnpackHexRuns(packed.escape, packed.text, packed.nibbles, in.size(), &out).ok() ||
      out != in) {
    std::abort();
  }
  // The input as a hex table, and the runs the input's halves share put in one.
  block::HexTable table;
  if (block::DecodeHexTable(in, &table).ok()) {
    (void)block::UnpackHexRuns(static_cast<uint8_t>(n), in.substr(0, in.size() / 2),
                               in.substr(in.size() / 2), n * 4, &out, &table);
  }
  block::HexTableBuilder builder;
  builder.Count(in.substr(0, in.size() / 2));
  builder.Count(in.substr(in.size() / 2));
  const size_t whole = builder.Count(in);
  std::string table_chunk;
  builder.Finish(&table_chunk);
  if (!block::DecodeHexTable(table_chunk, &table).ok()) std::abort();
  block::PackHexRuns(in, 0, &packed, &builder, whole);
  if (!block::UnpackHexRuns(packed.escape, packed.text, packed.nibbles, in.size(), &out, &table)
           .ok() ||
      out != in) {
    std::abort();
  }
  // A counted chunk is packed from the runs the builder found; not named as counted, it is
  // looked through again: the same either way, for a chunk the writer would pack. (Runs of
  // one it would not pack are not counted, so packed anyway they stay inline, where a look-up
  // may find them in the table through the halves: both forms are valid.)
  block::HexPacked again;
  const size_t run_chars = block::PackHexRuns(in, 0, &again, &builder);
  if (run_chars >= block::MinPackedChars(in.size()) &&
      (again.escape != packed.escape || again.text != packed.text ||
       again.nibbles != packed.nibbles)) {
    std::abort();
  }
  if (!block::UnpackHexRuns(again.escape, again.text, again.nibbles, in.size(), &out, &table)
           .ok() ||
      out != in) {
    std::abort();
  }
}

// Mode 2: the whole file, damaged, opened and read every way.
void FuzzFile(std::string_view edits) {
  static const std::string path = [] {
    char name[] = "/tmp/waggle_block_fuzz_XXXXXX";
    const int fd = mkstemp(name);
    if (fd >= 0) close(fd);
    return std::string(name);
  }();
  std::string file = ValidBlock();
  ApplyEdits(edits, 0, &file);
  // Mostly with the footer's checksum made right again, so damage gets past it.
  char* trailer = file.data() + file.size() - block::kTrailerSize;
  const uint64_t offset = coding::DecodeFixed64(trailer);
  const uint32_t length = coding::DecodeFixed32(trailer + 8);
  if (!edits.empty() && edits[0] % 4 != 0 && offset <= file.size() &&
      length <= file.size() - offset) {
    const uint32_t crc = crc32c::Mask(crc32c::Value(std::string_view(file).substr(offset, length)));
    std::memcpy(trailer + 12, &crc, 4);  // little-endian, as PutFixed32 writes it
  }
  if (!Env::Default()->WriteFileAtomic(path, file).ok()) std::abort();
  // Mapped or read with pread, by a bit of the input: a mapped block checks a chunk on its
  // first read only, and both paths must refuse damage.
  const bool mapped = !edits.empty() && (edits[0] & 8) != 0;
  auto b = block::Block::Open(Env::Default(), path, mapped);
  if (!b.ok()) return;
  const block::Block& block = **b;
  ScanRequest request;
  request.columns = {ColumnRef::TraceId(), ColumnRef::ParentId(),
                     ColumnRef::Of(StringField::kService), ColumnRef::Of(IntField::kDurationNs),
                     ColumnRef::Attribute("k1", model::AttributeRole::kPlain,
                                          model::AttributeValue::Type::kString)};
  request.where = {Condition::Range(ColumnRef::Of(IntField::kDurationNs), 0, INT64_MAX)};
  ScanStats stats;
  bool stopped = false;
  (void)block.Scan(
      ScanPlan(request), [](const column::ColumnBatch&) { return true; }, &stats, &stopped);
  // Dictionary pushdown on the attribute that refers to the name field, on one whose codes
  // go by recency, and on one that refers to the hex table.
  for (const auto& [key, value] : {std::pair<const char*, const char*>{"k1", "other"},
                                   {"tag", "t7"},
                                   {"request.path", "/r/00000000-0000-0000-0000-000000000000"}}) {
    const ColumnRef ref = ColumnRef::Attribute(key, model::AttributeRole::kPlain,
                                               model::AttributeValue::Type::kString);
    request.columns.back() = ref;
    request.where = {Condition::In(ref, {value})};
    (void)block.Scan(
        ScanPlan(request), [](const column::ColumnBatch&) { return true; }, &stats, &stopped);
  }
  for (const block::RowGroupMeta& g : block.meta().row_groups) {
    TraceData trace;
    (void)block.FetchTrace(g.first, &trace);
    std::vector<model::LogRecord> logs;
    (void)block.FetchLogs(g.first, &logs);
  }
  for (size_t g = 0; g < block.meta().row_groups.size(); ++g) {
    SpanTable table;
    (void)block.ReadRowGroup(g, &table);
  }
  std::vector<block::TraceEntry> traces;
  (void)block.ReadTraces(&traces);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      FuzzFooter(rest);
      break;
    case 1:
      FuzzChunk(rest);
      break;
    default:
      FuzzFile(rest);
      break;
  }
  return 0;
}
