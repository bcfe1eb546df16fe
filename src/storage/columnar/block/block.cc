#include "storage/columnar/block/block.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <functional>
#include <numeric>

#include "base/coding.h"
#include "base/crc32c.h"
#include "base/mix.h"
#include "storage/columnar/block/hex_runs.h"
#include "storage/columnar/head_traces.h"
#include "storage/log_data.h"
#include "storage/record_coding.h"

namespace waggle::storage::columnar::block {
namespace {

using coding::GetVarint64;
using coding::GetVarsint64;
using coding::PutVarint64;
using coding::PutVarsint64;
using internal::GetTraceId;
using internal::PutTraceId;
using model::AttributeValue;
using model::TraceId;

Status Corrupt(const std::string& what) { return Status::Corruption("block: " + what); }

// Rows of an attribute column (or of the extras) that fall in one row group, by new position.
struct SparseSlice {
  std::vector<int64_t> rows;  // positions relative to the row group
  std::vector<uint32_t> idx;  // entry indexes in the source column
};

// The entries of every sparse column (each attribute, then the extras) by row group, and in a
// group by the new position of their row: what the group's chunk of each column holds.
// Built in passes that read each column's rows in order, and put in order a group at a time
// by a bit per position, which stays in cache. (Looking each row up in its new order, in an index
// of every row's entries, missed the cache twice a row: 27% of EncodeBlock's own time.)
// One at a time on a thread: its arrays are the thread's, kept from block to block (as large
// as the largest table's), as allocating them anew faulted their pages in for every block.
class SparseByGroup {
 public:
  // `order`: the table's rows (those kept) in their new order, in groups of `group_rows`.
  SparseByGroup(const SpanTable& t, const std::vector<uint32_t>& order, size_t group_rows)
      : t_(t),
        rows_(order.size()),
        group_rows_(group_rows),
        groups_((order.size() + group_rows - 1) / group_rows) {
    // The thread's arrays, named once: each use of a thread_local checks that it was made.
    std::vector<uint64_t>& pos = pos_;
    std::vector<uint64_t>& keys = keys_;
    pos.assign(t.size(), kDropped);
    for (size_t j = 0, g = 0, p = 0; j < order.size(); ++j) {
      pos[order[j]] = uint64_t{g} << 32 | p;
      if (++p == group_rows_) p = 0, ++g;
    }
    start_.assign(columns() * groups_ + 1, 0);
    for (size_t c = 0; c < columns(); ++c) {
      size_t* counts = start_.data() + c * groups_ + 1;
      for (uint32_t r : RowsOf(c)) {
        if (pos[r] != kDropped) ++counts[pos[r] >> 32];
      }
    }
    for (size_t k = 1; k < start_.size(); ++k) start_[k] += start_[k - 1];
    if (keys.size() < start_.back()) keys.resize(start_.back());
    std::vector<size_t> next(start_.begin(), start_.end() - 1);
    for (size_t c = 0; c < columns(); ++c) {
      const std::vector<uint32_t>& rows = RowsOf(c);
      size_t* at = next.data() + c * groups_;
      for (size_t i = 0; i < rows.size(); ++i) {
        const uint64_t p = pos[rows[i]];
        if (p == kDropped) continue;
        keys[at[p >> 32]++] = p << 32 | i;  // the position in the group, and the entry
      }
    }
  }

  ~SparseByGroup() {
    // What a large compaction grew is let go: the thread keeps what a head needs.
    if (keys_.capacity() > kKeptEntries) std::vector<uint64_t>().swap(keys_);
    if (pos_.capacity() > kKeptEntries) std::vector<uint64_t>().swap(pos_);
  }

  size_t columns() const { return t_.attributes.size() + 1; }

  // Sets (*slices)[c] to column c's entries in group g, by position (a span that repeats a key
  // keeps its entries' order).
  void Slice(size_t g, std::vector<SparseSlice>* slices) const {
    slices->resize(columns());
    const std::vector<uint64_t>& keys = keys_;
    std::vector<uint64_t>& sorted = sorted_;
    std::vector<uint64_t>& marks = marks_;
    std::vector<uint32_t>& entry_at = entry_at_;
    const size_t m = std::min(group_rows_, rows_ - g * group_rows_);
    marks.resize((m + 63) / 64);
    if (entry_at.size() < m) entry_at.resize(m);
    for (size_t c = 0; c < columns(); ++c) {
      SparseSlice& s = (*slices)[c];
      const uint64_t* begin = keys.data() + start_[c * groups_ + g];
      const uint64_t* end = keys.data() + start_[c * groups_ + g + 1];
      const auto n = static_cast<size_t>(end - begin);
      s.rows.resize(n);
      s.idx.resize(n);
      // Marked: a bit per position, and the entry at it; the set bits, in order, are the
      // entries by position. That reads m / 64 words a column, where counting the positions
      // read and summed m counts (1.4% of waggle serve's CPU under otlp_ingest_bench, as most
      // columns hold far fewer entries than the group has rows).
      std::fill(marks.begin(), marks.end(), 0);
      bool repeats = false;  // a row with two entries
      for (const uint64_t* k = begin; k != end; ++k) {
        const auto p = static_cast<uint32_t>(*k >> 32);
        uint64_t& word = marks[p >> 6];
        const uint64_t bit = uint64_t{1} << (p & 63);
        if ((word & bit) != 0) {
          repeats = true;
          break;
        }
        word |= bit;
        entry_at[p] = static_cast<uint32_t>(*k);
      }
      if (!repeats) {
        size_t out = 0;
        for (size_t w = 0; w < marks.size(); ++w) {
          for (uint64_t word = marks[w]; word != 0; word &= word - 1) {
            const size_t p = w * 64 + static_cast<size_t>(std::countr_zero(word));
            s.rows[out] = static_cast<int64_t>(p);
            s.idx[out++] = entry_at[p];
          }
        }
        continue;
      }
      // Sorted, where a span repeats a key (seldom): a key's entry index breaks ties, so its
      // entries keep their order.
      sorted.assign(begin, end);
      std::sort(sorted.begin(), sorted.end());
      for (size_t k = 0; k < n; ++k) {
        s.rows[k] = static_cast<int64_t>(sorted[k] >> 32);
        s.idx[k] = static_cast<uint32_t>(sorted[k]);
      }
    }
  }

 private:
  static constexpr uint64_t kDropped = UINT64_MAX;
  // 32 MiB of keys: a head of 64 MiB (the default) holds about 2.3 million entries.
  static constexpr size_t kKeptEntries = size_t{4} << 20;

  const std::vector<uint32_t>& RowsOf(size_t c) const {
    return c < t_.attributes.size() ? t_.attributes[c].rows : t_.extra_rows;
  }

  const SpanTable& t_;
  const size_t rows_, group_rows_, groups_;
  std::vector<size_t> start_;  // by column, then group: where its entries begin in keys_
  // By source row: its new group << 32 | its position in the group (no division per entry:
  // dividing the position by the group's rows was a fifth of the slicing's time).
  static thread_local std::vector<uint64_t> pos_;
  static thread_local std::vector<uint64_t> keys_;  // an entry: position in group << 32 | index
  static thread_local std::vector<uint64_t> sorted_;
  static thread_local std::vector<uint64_t> marks_;     // by position in the group: a bit
  static thread_local std::vector<uint32_t> entry_at_;  // by marked position: its entry
};

thread_local std::vector<uint64_t> SparseByGroup::pos_;
thread_local std::vector<uint64_t> SparseByGroup::keys_;
thread_local std::vector<uint64_t> SparseByGroup::sorted_;
thread_local std::vector<uint64_t> SparseByGroup::marks_;
thread_local std::vector<uint32_t> SparseByGroup::entry_at_;

// Sets *out to the values of `from` at the `n` indexes `at`, in a loop of loads alone that
// prefetches ahead: `at` jumps about the table (rows are in trace order), and without other
// work between them the loads overlap.
template <typename T>
void Gather(const std::vector<T>& from, const uint32_t* at, size_t n, std::vector<T>* out) {
  constexpr size_t kAhead = 32;
  out->resize(n);
  T* o = out->data();
  for (size_t i = 0; i < n; ++i) {
    if (i + kAhead < n) __builtin_prefetch(&from[at[i + kAhead]]);
    o[i] = from[at[i]];
  }
}

// The string field that most of a string attribute's entries in a row group repeat at their
// rows (judged on a sample), and in `same` which entries do; -1 when none does. Such an
// attribute is stored as references to the field (docs/block-format.md, "Attributes").
// `codes` are the entries' codes in `col`, and field_codes[f] field f's codes at the group's
// rows (both gathered once, for the chunks too).
int ReferencedField(const SpanTable& t, const std::vector<std::vector<uint32_t>>& field_codes,
                    const AttributeColumn& col, const SparseSlice& s, const uint32_t* codes,
                    std::vector<uint8_t>* same) {
  const size_t n = s.idx.size();
  same->assign(n, 0);
  if (n == 0) return -1;
  const column::Dictionary& dict = col.strings.dict;
  constexpr size_t kSample = 16;
  const size_t step = (n + kSample - 1) / kSample;  // at most kSample entries
  size_t sampled = 0, best_count = 0;
  int best = -1;
  std::array<size_t, kStringFieldCount> count{};
  for (size_t e = 0; e < n; e += step) {
    ++sampled;
    const std::string_view v = dict.at(codes[e]);
    for (size_t f = 0; f < kStringFieldCount; ++f) {
      count[f] += t.strings[f].dict.at(field_codes[f][static_cast<size_t>(s.rows[e])]) == v;
    }
  }
  for (size_t f = 0; f < kStringFieldCount; ++f) {
    if (count[f] > best_count) best_count = count[f], best = static_cast<int>(f);
  }
  if (best < 0 || best_count * 2 < sampled) return -1;
  // Every entry compares codes: each of the attribute's codes used here is looked up once in
  // the field's dictionary (-1: not there). Comparing the strings themselves, each through
  // both dictionaries, was a quarter of EncodeBlock's own time under otlp_ingest_bench.
  static thread_local std::vector<int64_t> field_code;  // by attribute code; kUnset when not
  static thread_local std::vector<uint32_t> looked_up;  // looked up yet (all again after)
  constexpr int64_t kUnset = -2;
  if (field_code.size() < dict.size()) field_code.resize(dict.size(), kUnset);
  const column::Dictionary& field = t.strings[static_cast<size_t>(best)].dict;
  const std::vector<uint32_t>& at_rows = field_codes[static_cast<size_t>(best)];
  looked_up.clear();
  for (size_t e = 0; e < n; ++e) {
    int64_t& f = field_code[codes[e]];
    if (f == kUnset) {
      f = field.Find(dict.at(codes[e]));
      looked_up.push_back(codes[e]);
    }
    (*same)[e] = f == at_rows[static_cast<size_t>(s.rows[e])];
  }
  for (uint32_t code : looked_up) field_code[code] = kUnset;
  return best;
}

// Records in pages (docs/block-format.md, "Pages"): put(i, page) appends record i, the records
// taken in order of id(i) (ties in index order); a page is closed once it reaches page_bytes.
template <typename IdFn, typename PutFn>
void PutPages(std::string* file, size_t n, const IdFn& id, const PutFn& put, size_t page_bytes,
              Compression compression, std::vector<PageMeta>* pages) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return id(a) < id(b); });
  std::string page;
  TraceId first;
  for (size_t i : order) {
    if (page.empty()) first = id(i);
    put(i, &page);
    if (page.size() >= page_bytes) {
      pages->push_back({first, AppendChunk(page, compression, file)});
      page.clear();
    }
  }
  if (!page.empty()) pages->push_back({first, AppendChunk(page, compression, file)});
}

// Document and log records: the trace id, then the payload.
void PutRecordPages(std::string* file, const std::vector<TraceRecord>& records, size_t page_bytes,
                    Compression compression, std::vector<PageMeta>* pages) {
  PutPages(
      file, records.size(), [&](size_t i) -> const TraceId& { return records[i].id; },
      [&](size_t i, std::string* page) {
        PutTraceId(page, records[i].id);
        coding::PutLengthPrefixed(page, records[i].payload);
      },
      page_bytes, compression, pages);
}

// How a trace table record gives its id (version 4) and its times (version 6).
constexpr char kTraceIdFromColumn = 0;  // since version 6, the times from the columns too
constexpr char kTraceIdFollows = 1;
constexpr char kTraceIdFromColumnTimesFollow = 2;  // version 6

// A trace's times over some of its rows: the earliest start, and the latest start or end.
struct RunTimes {
  int64_t min_start_ns = INT64_MAX;
  int64_t max_end_ns = INT64_MIN;

  // Adds a row, from its start_ns, duration_ns and end_is_zero columns, as the engine keeps a
  // trace's times: the end of a span in progress is 0.
  void Add(int64_t start, int64_t duration, int64_t end_is_zero) {
    const auto end =
        end_is_zero != 0
            ? 0
            : static_cast<int64_t>(static_cast<uint64_t>(start) + static_cast<uint64_t>(duration));
    min_start_ns = std::min(min_start_ns, start);
    max_end_ns = std::max({max_end_ns, start, end});
  }
};

// The trace table's records (docs/block-format.md, "Trace table"): an entry whose id is the
// first of the trace id column's `run_ids` above the entry before it leaves the id out, and
// its times too when they are that id's `run_times` (the times of its rows).
void PutTraceTable(std::string* file, const std::vector<TraceEntry>& traces,
                   const std::vector<TraceId>& run_ids, const std::vector<RunTimes>& run_times,
                   size_t page_bytes, Compression compression, std::vector<PageMeta>* pages) {
  size_t next = 0;  // the first of run_ids above the entry before
  std::string payload;
  PutPages(
      file, traces.size(), [&](size_t i) -> const TraceId& { return traces[i].id; },
      [&](size_t i, std::string* page) {
        const TraceEntry& e = traces[i];
        const bool implicit = next < run_ids.size() && run_ids[next] == e.id;
        const bool derived = implicit && run_times[next].min_start_ns == e.min_start_ns &&
                             run_times[next].max_end_ns == e.max_end_ns;
        page->push_back(derived    ? kTraceIdFromColumn
                        : implicit ? kTraceIdFromColumnTimesFollow
                                   : kTraceIdFollows);
        if (!implicit) PutTraceId(page, e.id);
        while (next < run_ids.size() && !(e.id < run_ids[next])) ++next;
        payload.clear();
        if (!derived) {
          PutVarsint64(&payload, e.min_start_ns);
          PutVarsint64(&payload, e.max_end_ns);
        }
        PutVarint64(&payload, e.seq);
        coding::PutLengthPrefixed(page, payload);
      },
      page_bytes, compression, pages);
}

void PutPageMetas(std::string* out, const std::vector<PageMeta>& pages) {
  PutVarint64(out, pages.size());
  for (const PageMeta& p : pages) {
    PutTraceId(out, p.first);
    PutChunkRef(out, p.chunk);
  }
}

bool GetPageMetas(std::string_view* in, std::vector<PageMeta>* pages) {
  uint64_t n;
  if (!internal::GetCount(in, 24, &n)) return false;
  pages->resize(n);
  for (PageMeta& p : *pages) {
    if (!GetTraceId(in, &p.first) || !GetChunkRef(in, &p.chunk)) return false;
  }
  return true;
}

// Drops the repeats from `hashes`, keeping the first of each in order, through an
// open-addressing table of the kept ones' positions: 0.9 ms for a head of 150k spans (156k
// hashes, 122k distinct), where a sort and std::unique took 10.3 (their compares
// mispredict). Slots start from the hash mixed with the process's seed, as clients choose
// the values.
void DropRepeats(std::vector<BloomFilter::Hash>* hashes) {
  std::vector<BloomFilter::Hash>& h = *hashes;
  if (h.size() < 2) return;
  const size_t slots = std::bit_ceil(h.size() * 2);  // at most half full
  const int shift = 64 - std::countr_zero(slots);
  std::vector<uint32_t> table(slots, 0);  // a kept hash's position + 1; 0: empty
  const SeededHash64 mix;
  size_t kept = 0;
  for (size_t i = 0; i < h.size(); ++i) {
    size_t at = mix(h[i].low) >> shift;
    while (table[at] != 0 && h[table[at] - 1] != h[i]) at = (at + 1) & (slots - 1);
    if (table[at] != 0) continue;  // a repeat
    h[kept] = h[i];
    table[at] = static_cast<uint32_t>(++kept);
  }
  h.resize(kept);
}

}  // namespace

std::string Block::ValueKey(std::string_view column, std::string_view value) {
  std::string key;
  key.reserve(column.size() + 1 + value.size());
  key.append(column);
  key.push_back('\0');
  key.append(value);
  return key;
}

std::string EncodeBlock(const BlockContents& contents, const WriteOptions& options) {
  std::string file;
  EncodeBlock(contents, options, &file);
  return file;
}

void EncodeBlock(const BlockContents& contents, const WriteOptions& options, std::string* out) {
  std::string& file = *out;
  const SpanTable& t = *contents.spans;
  std::vector<uint32_t> all_rows;
  if (contents.rows == nullptr) {
    HeadTraces traces;
    traces.AddRows(t.trace_ids);
    all_rows = traces.RowsByTraceAndStart(t.ints_of(IntField::kStartNs), nullptr);
  }
  const std::vector<uint32_t>& order = contents.rows != nullptr ? *contents.rows : all_rows;
  const size_t n = order.size();
  const size_t rg_rows = std::max<size_t>(1, options.row_group_rows);
  const size_t groups = (n + rg_rows - 1) / rg_rows;

  BlockMeta meta;
  meta.rows = n;
  meta.wal_end = contents.wal_end;
  meta.level = contents.level;
  meta.replaces = contents.replaces;
  meta.min_start_ns = INT64_MAX;
  meta.max_end_ns = INT64_MIN;
  for (const TraceEntry& e : contents.traces) {
    meta.min_start_ns = std::min(meta.min_start_ns, e.min_start_ns);
    meta.max_end_ns = std::max(meta.max_end_ns, e.max_end_ns);
  }
  if (!contents.logs.empty() && contents.logs_arrived_ns != 0) {
    meta.min_start_ns = std::min(meta.min_start_ns, contents.logs_arrived_ns);
    meta.max_end_ns = std::max(meta.max_end_ns, contents.logs_arrived_ns);
  }
  if (meta.min_start_ns > meta.max_end_ns) meta.min_start_ns = meta.max_end_ns = 0;
  meta.traces = contents.traces.size();

  file.assign(kMagic, 8);
  coding::PutFixed32(&file, kFormatVersion);
  coding::PutFixed32(&file, 0);

  auto add_column = [&](ColumnKind kind, std::string name, uint8_t field) -> ColumnMeta& {
    ColumnMeta& c = meta.columns.emplace_back();
    c.kind = kind;
    c.name = std::move(name);
    c.field = field;
    return c;
  };
  ColumnMeta* trace_col = &add_column(ColumnKind::kTraceId, "trace_id", 0);
  ColumnMeta* span_col = &add_column(ColumnKind::kSpanId, "span_id", 0);
  ColumnMeta* parent_col = &add_column(ColumnKind::kParentId, "parent_span_id", 0);
  for (size_t f = 0; f < kStringFieldCount; ++f) {
    meta.string_columns[f] = meta.columns.size();
    add_column(ColumnKind::kString, std::string(StringFieldName(static_cast<StringField>(f))),
               static_cast<uint8_t>(f));
  }
  for (size_t f = 0; f < kIntFieldCount; ++f) {
    meta.int_columns[f] = meta.columns.size();
    add_column(ColumnKind::kInt, std::string(IntFieldName(static_cast<IntField>(f))),
               static_cast<uint8_t>(f));
  }
  const size_t first_attribute = meta.columns.size();
  for (const AttributeColumn& a : t.attributes) {
    ColumnMeta& c = add_column(ColumnKind::kAttribute, a.key, 0);
    c.role = a.role;
    c.type = a.type;
  }
  const size_t extras_index = meta.columns.size();
  add_column(ColumnKind::kExtras, "events_links", 0);
  meta.hex_table_column = meta.columns.size();
  add_column(ColumnKind::kHexTable, "hex_runs", 0);
  // add_column may have moved the vector.
  trace_col = &meta.columns[0];
  span_col = &meta.columns[1];
  parent_col = &meta.columns[2];

  const SparseByGroup sparse(t, order, rg_rows);
  std::vector<SparseSlice> slices;  // this row group's, by sparse column
  std::vector<TraceId> run_ids;     // the trace id column's ids, each once, in order
  std::vector<RunTimes> run_times;  // the times of each one's rows

  // Strings, events and links, documents and logs: text, where hex runs are worth looking for.
  const Compression text =
      options.compression == Compression::kZstd ? Compression::kHexZstd : options.compression;
  std::string raw, alt;
  // The group's string field, attribute, and events and links chunks, encoded (and the other
  // form of each attribute chunk, if any).
  std::vector<std::string> encoded, alts;
  std::vector<std::pair<size_t, size_t>> runs;      // a group's trace runs: [start, end)
  std::vector<std::pair<uint64_t, size_t>> in_run;  // a run's span ids (below)
  HexTableBuilder hex_table;
  std::vector<size_t> counted;        // by encoded chunk: the number hex_table.Count gave it
  std::vector<size_t> explicit_rows;  // the group's attributes whose rows are written out
  std::vector<int64_t> ints;          // an int attribute's values, of the group's entries
  std::string plain;                  // an int attribute's plain form, when it was patched
  std::vector<uint8_t> same;
  std::vector<std::vector<uint32_t>> field_codes(kStringFieldCount);  // at the group's rows
  std::vector<std::vector<int64_t>> field_ints(kIntFieldCount);       // at the group's rows
  std::vector<TraceId> group_trace_ids;
  std::vector<model::SpanId> group_span_ids, group_parent_ids;
  std::vector<uint32_t> entry_codes;  // a string attribute's codes, of the group's entries
  // Fields that hold one value in every row of the table (a dictionary of one string; ints
  // seen in one sequential pass) are filled, not gathered row by row in trace order: many
  // hold one (the environment, the sample rate, the in-progress flag), and each gather is a
  // load from a random place in the table.
  std::array<bool, kStringFieldCount> one_string{};
  for (size_t f = 0; f < kStringFieldCount; ++f) one_string[f] = t.strings[f].dict.size() == 1;
  std::array<bool, kIntFieldCount> one_int{};
  for (size_t f = 0; f < kIntFieldCount; ++f) {
    const std::vector<int64_t>& v = t.ints[f];
    one_int[f] =
        !v.empty() && std::all_of(v.begin(), v.end(), [&](int64_t x) { return x == v[0]; });
  }
  for (size_t g = 0; g < groups; ++g) {
    const size_t lo = g * rg_rows, hi = std::min(n, lo + rg_rows);
    const uint32_t* rows = order.data() + lo;
    const size_t m = hi - lo;
    sparse.Slice(g, &slices);
    meta.row_groups.push_back(
        {static_cast<uint32_t>(m), t.trace_ids[rows[0]], t.trace_ids[rows[m - 1]]});

    // A field's values at the group's rows: filled when `one` (the table holds one value).
    auto field_at_rows = [&](const auto& from, bool one, auto* out) {
      if (one) {
        out->assign(m, from[0]);
      } else {
        Gather(from, rows, m, out);
      }
    };
    // Each int field's values at the group's rows, for its chunk and the trace runs' times.
    for (size_t f = 0; f < kIntFieldCount; ++f)
      field_at_rows(t.ints[f], one_int[f], &field_ints[f]);
    const int64_t* group_starts = field_ints[static_cast<size_t>(IntField::kStartNs)].data();
    const int64_t* group_durations = field_ints[static_cast<size_t>(IntField::kDurationNs)].data();
    const int64_t* group_end_is_zero = field_ints[static_cast<size_t>(IntField::kEndIsZero)].data();

    // The ids at the group's rows, gathered once (with prefetching) for the loops below.
    Gather(t.trace_ids, rows, m, &group_trace_ids);
    Gather(t.span_ids, rows, m, &group_span_ids);
    Gather(t.parent_ids, rows, m, &group_parent_ids);

    // Trace ids as runs.
    raw.clear();
    runs.clear();
    for (size_t i = 0; i < m;) {
      size_t j = i + 1;
      while (j < m && group_trace_ids[j] == group_trace_ids[i]) ++j;
      runs.emplace_back(i, j);
      i = j;
    }
    PutVarint64(&raw, runs.size());
    for (auto [a, b] : runs) {
      const TraceId& id = group_trace_ids[a];
      PutTraceId(&raw, id);
      PutVarint64(&raw, b - a);
      if (run_ids.empty() || run_ids.back() != id) {
        run_ids.push_back(id);
        run_times.emplace_back();
      }
      for (size_t i = a; i < b; ++i) {
        run_times.back().Add(group_starts[i], group_durations[i], group_end_is_zero[i]);
      }
    }
    trace_col->chunks.push_back(AppendChunk(raw, options.compression, &file));

    raw.clear();
    for (size_t i = 0; i < m; ++i) coding::PutFixed64(&raw, group_span_ids[i].value);
    span_col->chunks.push_back(AppendChunk(raw, options.compression, &file));

    // Parents, as a back reference into the same trace run where possible: the run's span ids
    // so far are kept in `in_run` (open addressing over its first `slots` slots, each holding an
    // id and its row + 1, 0 when empty), emptied again after each run.
    raw.clear();
    const SeededHash64 hash;  // clients choose span ids (hash flooding)
    for (auto [a, b] : runs) {
      const size_t slots = std::bit_ceil(2 * (b - a));
      if (in_run.size() < slots) in_run.resize(slots);
      auto slot_of = [&](uint64_t id) {
        size_t at = hash(id) & (slots - 1);
        while (in_run[at].second != 0 && in_run[at].first != id) at = (at + 1) & (slots - 1);
        return at;
      };
      for (size_t i = a; i < b; ++i) {
        const uint64_t parent = group_parent_ids[i].value;
        if (parent == 0) {
          PutVarint64(&raw, kParentNone);
        } else if (const size_t found = in_run[slot_of(parent)].second; found != 0) {
          PutVarint64(&raw,
                      i - (found - 1) + 1);  // rows back, + 1 (0, 1: kParentNone, kParentExplicit)
        } else {
          PutVarint64(&raw, kParentExplicit);
          coding::PutFixed64(&raw, parent);
        }
        const uint64_t id = group_span_ids[i].value;
        auto& entry = in_run[slot_of(id)];
        if (entry.second == 0) entry = {id, i + 1};  // the first row with the id stays
      }
      std::fill(in_run.begin(), in_run.begin() + static_cast<ptrdiff_t>(slots),
                std::pair<uint64_t, size_t>{});
    }
    parent_col->chunks.push_back(AppendChunk(raw, options.compression, &file));

    // The chunks of text (string fields, string attributes, events and links) are encoded
    // first: the hex runs they share go to the group's table, and they refer to them there.
    encoded.resize(kStringFieldCount + t.attributes.size() + 1);
    counted.assign(encoded.size(), HexTableBuilder::kNotCounted);
    alts.resize(t.attributes.size());
    hex_table.Clear();
    explicit_rows.clear();
    for (size_t f = 0; f < kStringFieldCount; ++f) {
      field_at_rows(t.strings[f].codes, one_string[f], &field_codes[f]);
      encoded[f].clear();
      EncodeStrings(t.strings[f].dict, field_codes[f].data(), m, &encoded[f]);
      if (text == Compression::kHexZstd) counted[f] = hex_table.Count(encoded[f]);
    }
    for (size_t a = 0; a < t.attributes.size(); ++a) {
      const AttributeColumn& col = t.attributes[a];
      const SparseSlice& s = slices[a];
      std::string& out = encoded[kStringFieldCount + a];
      std::string& other = alts[a];
      out.clear();
      other.clear();
      // Rows that an earlier attribute has too (the attributes one kind of span carries) are
      // referred to. Other row lists compress well as they are (zstd finds their repeating
      // gaps): never patched. (A bit per entry of an earlier attribute with more rows, for
      // rows that are some of its, came out larger once compressed: 32.9 B/span against 32.4.)
      const auto same_rows = std::find_if(explicit_rows.begin(), explicit_rows.end(),
                                          [&](size_t b) { return slices[b].rows == s.rows; });
      if (!s.rows.empty() && same_rows != explicit_rows.end()) {
        PutSameRows(s.rows.size(), first_attribute + *same_rows, &out);
      } else {
        PutSparseRows(s.rows.data(), s.rows.size(), &out);
        if (!s.rows.empty()) explicit_rows.push_back(a);  // none can refer to an empty one
      }
      if (col.is_string()) {
        Gather(col.strings.codes, s.idx.data(), s.idx.size(), &entry_codes);
        const int field = ReferencedField(t, field_codes, col, s, entry_codes.data(), &same);
        EncodeEntryStrings(col.strings.dict, entry_codes.data(), s.idx.size(), field, same, &out);
        if (text == Compression::kHexZstd) counted[kStringFieldCount + a] = hex_table.Count(out);
      } else if (col.type == AttributeValue::Type::kDouble) {
        for (uint32_t i : s.idx) {
          uint64_t bits;
          std::memcpy(&bits, &col.doubles[i], 8);
          coding::PutFixed64(&out, bits);
        }
      } else {
        Gather(col.ints, s.idx.data(), s.idx.size(), &ints);
        // Patched when that packs them smaller. The plain form may still compress smaller (a
        // status code that is mostly 200), so then both are compressed and the smaller kept:
        // `other` is the chunk with the plain form.
        plain.clear();
        const size_t prefix = out.size();
        if (EncodeIntsPatched(ints.data(), ints.size(), &out, &plain)) {
          other.assign(out, 0, prefix);
          other.append(plain);
        }
      }
    }
    {
      const SparseSlice& s = slices.back();
      std::string& out = encoded.back();
      out.clear();
      PutSparseRows(s.rows.data(), s.rows.size(), &out);
      for (uint32_t i : s.idx) coding::PutLengthPrefixed(&out, t.extras[i]);
      if (text == Compression::kHexZstd) counted.back() = hex_table.Count(out);
    }
    raw.clear();
    hex_table.Finish(&raw);
    meta.columns[meta.hex_table_column].chunks.push_back(
        AppendChunk(raw, options.compression, &file));

    for (size_t f = 0; f < kStringFieldCount; ++f) {
      meta.columns[meta.string_columns[f]].chunks.push_back(
          AppendChunk(encoded[f], text, &file, &hex_table, counted[f]));
    }
    for (size_t f = 0; f < kIntFieldCount; ++f) {
      ColumnMeta& c = meta.columns[meta.int_columns[f]];
      const std::vector<int64_t>& values = field_ints[f];
      // Patched or not, whichever stores smaller (see the attributes above).
      raw.clear();
      alt.clear();
      EncodeIntsPatched(values.data(), m, &raw, &alt);
      c.chunks.push_back(AppendSmallerChunk(raw, alt, options.compression, &file));
      const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
      c.min.push_back(*lo);
      c.max.push_back(*hi);
    }
    for (size_t a = 0; a < t.attributes.size(); ++a) {
      const size_t e = kStringFieldCount + a;
      meta.columns[first_attribute + a].chunks.push_back(
          t.attributes[a].is_string()
              ? AppendChunk(encoded[e], text, &file, &hex_table, counted[e])
              : AppendSmallerChunk(encoded[e], alts[a], options.compression, &file));
    }
    meta.columns[extras_index].chunks.push_back(
        AppendChunk(encoded.back(), text, &file, &hex_table, counted.back()));
  }

  // The trace table, documents and logs, in pages sorted by trace id.
  PutTraceTable(&file, contents.traces, run_ids, run_times, options.page_bytes, options.compression,
                &meta.trace_pages);
  PutRecordPages(&file, contents.documents, options.page_bytes, text, &meta.document_pages);
  PutRecordPages(&file, contents.logs, options.page_bytes, text, &meta.log_pages);

  // Bloom filters: trace ids; every distinct string value, whichever column holds it.
  BloomFilter traces = BloomFilter::ForKeys(contents.traces.size());
  for (const TraceEntry& e : contents.traces) {
    traces.Add(std::string_view(reinterpret_cast<const char*>(e.id.bytes.data()), 16));
  }
  // A value's key is the value alone (version 7): one that several columns hold (a URL in
  // http_url and url.full, an address in client_ip and client.address) takes one key.
  // Each value is hashed once and repeats are dropped (the filter's bits do not depend on the
  // order keys are added in), so the filter is sized for the distinct values.
  std::vector<BloomFilter::Hash> hashes;
  auto add_all = [&](const column::Dictionary& dict) {
    for (size_t i = 0; i < dict.size(); ++i) {
      hashes.push_back(BloomFilter::HashOf(dict.at(static_cast<uint32_t>(i))));
    }
  };
  for (const auto& s : t.strings) add_all(s.dict);
  for (const AttributeColumn& a : t.attributes) {
    if (a.is_string()) add_all(a.strings.dict);
  }
  DropRepeats(&hashes);
  BloomFilter values = BloomFilter::ForKeys(hashes.size());
  for (const BloomFilter::Hash& h : hashes) values.Add(h);
  meta.trace_bloom = AppendChunk(traces.bits(), Compression::kNone, &file);
  meta.value_bloom = AppendChunk(values.bits(), Compression::kNone, &file);

  // Footer and trailer.
  const std::string footer = EncodeFooter(meta);
  const uint64_t footer_offset = file.size();
  file.append(footer);
  coding::PutFixed64(&file, footer_offset);
  coding::PutFixed32(&file, static_cast<uint32_t>(footer.size()));
  coding::PutFixed32(&file, crc32c::Mask(crc32c::Value(footer)));
  file.append(kMagic, 8);
}

std::string EncodeFooter(const BlockMeta& meta) {
  std::string footer;
  PutVarint64(&footer, meta.rows);
  PutVarsint64(&footer, meta.min_start_ns);
  PutVarsint64(&footer, meta.max_end_ns);
  PutVarint64(&footer, meta.wal_end);
  PutVarint64(&footer, meta.level);
  PutVarint64(&footer, meta.traces);
  PutVarint64(&footer, meta.replaces.size());
  for (uint64_t r : meta.replaces) PutVarint64(&footer, r);
  PutVarint64(&footer, meta.row_groups.size());
  for (const RowGroupMeta& g : meta.row_groups) {
    PutVarint64(&footer, g.rows);
    PutTraceId(&footer, g.first);
    PutTraceId(&footer, g.last);
  }
  PutVarint64(&footer, meta.columns.size());
  for (const ColumnMeta& c : meta.columns) {
    footer.push_back(static_cast<char>(c.kind));
    coding::PutLengthPrefixed(&footer, c.name);
    footer.push_back(static_cast<char>(c.field));
    footer.push_back(static_cast<char>(c.role));
    footer.push_back(static_cast<char>(c.type));
    for (size_t g = 0; g < meta.row_groups.size(); ++g) {
      PutChunkRef(&footer, c.chunks[g]);
      if (c.kind == ColumnKind::kInt) {
        PutVarsint64(&footer, c.min[g]);
        PutVarsint64(&footer, c.max[g]);
      }
    }
  }
  PutPageMetas(&footer, meta.trace_pages);
  PutPageMetas(&footer, meta.document_pages);
  PutPageMetas(&footer, meta.log_pages);
  PutChunkRef(&footer, meta.trace_bloom);
  PutChunkRef(&footer, meta.value_bloom);

  return footer;
}

Status DecodeFooter(std::string_view in, BlockMeta* meta) {
  auto bad = [](const char* what) { return Corrupt(std::string("footer: ") + what); };
  uint64_t level, n;
  if (!GetVarint64(&in, &meta->rows) || !GetVarsint64(&in, &meta->min_start_ns) ||
      !GetVarsint64(&in, &meta->max_end_ns) || !GetVarint64(&in, &meta->wal_end) ||
      !GetVarint64(&in, &level) || !GetVarint64(&in, &meta->traces) ||
      !internal::GetCount(&in, 1, &n)) {
    return bad("truncated header");
  }
  meta->level = static_cast<uint32_t>(level);
  meta->replaces.resize(n);
  for (uint64_t& r : meta->replaces) {
    if (!GetVarint64(&in, &r)) return bad("truncated replaces");
  }
  if (!internal::GetCount(&in, 33, &n)) return bad("row group count");
  meta->row_groups.resize(n);
  uint64_t total = 0;
  for (RowGroupMeta& g : meta->row_groups) {
    uint64_t rows;
    if (!GetVarint64(&in, &rows) || rows == 0 || rows > UINT32_MAX || !GetTraceId(&in, &g.first) ||
        !GetTraceId(&in, &g.last)) {
      return bad("row group");
    }
    g.rows = static_cast<uint32_t>(rows);
    total += rows;
  }
  if (total != meta->rows) return bad("row groups do not add up to the rows");
  const size_t groups = meta->row_groups.size();
  if (!internal::GetCount(&in, 5 + groups * 8, &n)) return bad("column count");
  meta->columns.resize(n);
  for (ColumnMeta& c : meta->columns) {
    std::string_view name;
    if (in.empty()) return bad("column");
    const uint8_t kind = static_cast<uint8_t>(in[0]);
    in.remove_prefix(1);
    const auto last = meta->version >= 7 ? ColumnKind::kHexTable : ColumnKind::kExtras;
    if (kind > static_cast<uint8_t>(last)) return bad("column kind");
    c.kind = static_cast<ColumnKind>(kind);
    if (!coding::GetLengthPrefixed(&in, &name) || in.size() < 3) return bad("column name");
    c.name = std::string(name);
    c.field = static_cast<uint8_t>(in[0]);
    const uint8_t role = static_cast<uint8_t>(in[1]), type = static_cast<uint8_t>(in[2]);
    in.remove_prefix(3);
    if (role > 4 || type > 5) return bad("attribute role or type");
    if ((c.kind == ColumnKind::kString && c.field >= kStringFieldCount) ||
        (c.kind == ColumnKind::kInt && c.field >= kIntFieldCount)) {
      return bad("field number");
    }
    c.role = static_cast<model::AttributeRole>(role);
    c.type = static_cast<AttributeValue::Type>(type);
    c.chunks.resize(groups);
    if (c.kind == ColumnKind::kInt) {
      c.min.resize(groups);
      c.max.resize(groups);
    }
    for (size_t g = 0; g < groups; ++g) {
      if (!GetChunkRef(&in, &c.chunks[g])) return bad("chunk");
      if (c.kind == ColumnKind::kInt &&
          (!GetVarsint64(&in, &c.min[g]) || !GetVarsint64(&in, &c.max[g]))) {
        return bad("min/max");
      }
    }
  }
  // Each id column, the events column and each field's column exactly once, and the string
  // fields before any attribute (a reference chunk reads its field's values; docs "Columns").
  // Readers rely on this: a trace's rows are taken from the one trace id column.
  std::array<int, 4> ids{};  // kinds 0, 1, 2 and 6
  std::array<int, kStringFieldCount> strings{};
  std::array<int, kIntFieldCount> ints{};
  bool attributes_seen = false;
  meta->hex_table_column = SIZE_MAX;
  for (size_t i = 0; i < meta->columns.size(); ++i) {
    const ColumnMeta& c = meta->columns[i];
    switch (c.kind) {
      case ColumnKind::kTraceId:
      case ColumnKind::kSpanId:
      case ColumnKind::kParentId:
        ++ids[static_cast<size_t>(c.kind)];
        if (c.kind == ColumnKind::kTraceId) meta->trace_id_column = i;
        if (c.kind == ColumnKind::kSpanId) meta->span_id_column = i;
        break;
      case ColumnKind::kExtras:
        ++ids[3];
        break;
      case ColumnKind::kHexTable:
        if (meta->hex_table_column != SIZE_MAX) return bad("a second hex table column");
        meta->hex_table_column = i;
        break;
      case ColumnKind::kString:
        if (attributes_seen) return bad("string field column after an attribute column");
        ++strings[c.field];
        meta->string_columns[c.field] = i;
        break;
      case ColumnKind::kInt:
        ++ints[c.field];
        meta->int_columns[c.field] = i;
        break;
      case ColumnKind::kAttribute:
        attributes_seen = true;
        break;
    }
  }
  auto once = [](const auto& counts) {
    return std::all_of(counts.begin(), counts.end(), [](int k) { return k == 1; });
  };
  if (!once(ids) || !once(strings) || !once(ints)) return bad("a column missing or repeated");
  if (!GetPageMetas(&in, &meta->trace_pages) || !GetPageMetas(&in, &meta->document_pages) ||
      !GetPageMetas(&in, &meta->log_pages) || !GetChunkRef(&in, &meta->trace_bloom) ||
      !GetChunkRef(&in, &meta->value_bloom)) {
    return bad("pages or blooms");
  }
  if (!in.empty()) return bad("trailing bytes");
  return Status::Ok();
}

Result<std::unique_ptr<Block>> Block::Open(Env* env, const std::string& path, bool mapped) {
  std::unique_ptr<Block> b(new Block());
  b->path_ = path;
  WAGGLE_ASSIGN_OR_RETURN(uint64_t size, env->FileSize(path));
  WAGGLE_ASSIGN_OR_RETURN(b->file_,
                          mapped ? env->NewMappedFile(path) : env->NewRandomAccessFile(path));
  auto corrupt = [&](const std::string& what) {
    return Status::Corruption("block " + path + ": " + what);
  };
  if (size < kHeaderSize + kTrailerSize) return corrupt("too short to be a block");
  std::string header, trailer, footer;
  WAGGLE_RETURN_IF_ERROR(b->file_->Read(0, kHeaderSize, &header));
  WAGGLE_RETURN_IF_ERROR(b->file_->Read(size - kTrailerSize, kTrailerSize, &trailer));
  if (header.size() != kHeaderSize || std::memcmp(header.data(), kMagic, 8) != 0) {
    return corrupt("bad magic");
  }
  const uint32_t version = coding::DecodeFixed32(header.data() + 8);
  if (version > kFormatVersion) {
    return Status::Unimplemented("block " + path + " has format version " +
                                 std::to_string(version) + "; this build reads up to " +
                                 std::to_string(kFormatVersion));
  }
  if (version == 0 || coding::DecodeFixed32(header.data() + 12) != 0) return corrupt("bad header");
  if (trailer.size() != kTrailerSize || std::memcmp(trailer.data() + 16, kMagic, 8) != 0) {
    return corrupt("bad trailer (a torn or truncated write?)");
  }
  const uint64_t footer_offset = coding::DecodeFixed64(trailer.data());
  const uint32_t footer_length = coding::DecodeFixed32(trailer.data() + 8);
  const uint32_t footer_crc = coding::DecodeFixed32(trailer.data() + 12);
  if (footer_offset < kHeaderSize || footer_offset + footer_length != size - kTrailerSize) {
    return corrupt("footer out of range");
  }
  WAGGLE_RETURN_IF_ERROR(b->file_->Read(footer_offset, footer_length, &footer));
  if (footer.size() != footer_length || crc32c::Unmask(footer_crc) != crc32c::Value(footer)) {
    return corrupt("footer checksum mismatch");
  }
  b->meta_.version = version;  // what the footer may hold depends on it
  Status s = DecodeFooter(footer, &b->meta_);
  if (!s.ok()) return corrupt(s.message());
  b->meta_.file_bytes = size;
  if (b->file_->mapped()) {  // an Env without mappings, or a failed mmap, reads instead
    b->verified_ =
        std::make_unique<std::atomic<bool>[]>(b->meta_.columns.size() * b->meta_.row_groups.size());
  }
  for (const ColumnMeta& c : b->meta_.columns) {
    for (const ChunkRef& r : c.chunks) {
      if (r.offset + r.stored_length > footer_offset) return corrupt("chunk out of range");
    }
  }
  std::string bits;  // ReadChunkAt leaves the chunk's bytes in it
  std::string_view unused;
  WAGGLE_RETURN_IF_ERROR(b->ReadChunkAt(b->meta_.trace_bloom, &bits, &unused));
  if (!BloomFilter::FromBits(std::move(bits), &b->trace_bloom_)) return corrupt("trace bloom");
  bits = std::string();
  WAGGLE_RETURN_IF_ERROR(b->ReadChunkAt(b->meta_.value_bloom, &bits, &unused));
  if (!BloomFilter::FromBits(std::move(bits), &b->value_bloom_)) return corrupt("value bloom");
  return b;
}

Status Block::ReadChunkAt(const ChunkRef& ref, std::string* scratch, std::string_view* raw,
                          const HexTable* table) const {
  // Uncompressed, read into `scratch`; else through a buffer kept per thread.
  static thread_local std::string buffer;
  std::string* into = ref.compression == Compression::kNone ? scratch : &buffer;
  WAGGLE_RETURN_IF_ERROR(file_->Read(ref.offset, ref.stored_length, into));
  Status s = ReadChunk(ref, *into, /*verify=*/true, scratch, raw, table);
  if (!s.ok()) return Status::Corruption(path_ + ": " + s.message());
  return s;
}

Status Block::LoadHexTable(size_t group, GroupHexTable* runs) const {
  if (runs->group == group) return Status::Ok();
  runs->group = SIZE_MAX;
  runs->table = HexTable();
  const ColumnMeta& c = meta_.columns[meta_.hex_table_column];  // ReadGroupChunk checked it
  std::string_view raw;  // in runs->bytes, read or decompressed
  WAGGLE_RETURN_IF_ERROR(ReadChunkAt(c.chunks[group], &runs->bytes, &raw));
  Status s = DecodeHexTable(raw, &runs->table);
  if (!s.ok()) return Corrupt(path_ + " column " + c.name + ": " + s.message());
  runs->group = group;
  return Status::Ok();
}

Status Block::ReadGroupChunk(size_t c, size_t group, GroupHexTable* runs, std::string* scratch,
                             std::string_view* raw) const {
  const ChunkRef& ref = meta_.columns[c].chunks[group];
  if (ref.compression != Compression::kHexZstd || meta_.hex_table_column == SIZE_MAX) {
    return ReadChunkAt(ref, scratch, raw);
  }
  WAGGLE_RETURN_IF_ERROR(LoadHexTable(group, runs));
  return ReadChunkAt(ref, scratch, raw, &runs->table);
}

Status Block::ReadColumnChunk(size_t c, size_t group, GroupHexTable* runs, std::string* scratch,
                              std::string_view* raw) const {
  const ChunkRef& ref = meta_.columns[c].chunks[group];
  if (verified_ == nullptr || ref.compression != Compression::kNone) {
    return ReadGroupChunk(c, group, runs, scratch, raw);  // not mapped, or compressed
  }
  std::atomic<bool>& verified = verified_[c * meta_.row_groups.size() + group];
  const bool trusted = verified.load(std::memory_order_relaxed);
  std::string_view stored;
  WAGGLE_RETURN_IF_ERROR(file_->View(ref.offset, ref.stored_length, scratch, &stored));
  Status s = ReadChunk(ref, stored, /*verify=*/!trusted, scratch, raw);
  if (!s.ok()) return Status::Corruption(path_ + ": " + s.message());
  if (!trusted) verified.store(true, std::memory_order_relaxed);
  return s;
}

Status BlockMeta::CheckRowsSource(size_t c, const SparseRowsSource& source) const {
  if (source.column >= c || columns[source.column].kind != ColumnKind::kAttribute) {
    return Status::Corruption("rows of no earlier attribute column");
  }
  return Status::Ok();
}

Status BlockMeta::CheckRowsCount(const SparseRowsSource& source, const std::vector<int64_t>& rows) {
  if (rows.size() != source.count) {
    return Status::Corruption("rows reference to a column of another count");
  }
  return Status::Ok();
}

Block::GroupRows::GroupRows(const Block& block, size_t group, GroupHexTable* runs)
    : block_(block),
      group_(group),
      runs_(runs),
      rows_(block.meta_.columns.size()),
      source_(block.meta_.columns.size(), kNone) {}

Status Block::GroupRows::Decode(size_t c, std::string_view* in) {
  const size_t m = block_.meta_.row_groups[group_].rows;
  SparseRowsSource source;
  WAGGLE_RETURN_IF_ERROR(DecodeSparseRows(in, m, &rows_[c], &source));
  if (source.column == SparseRowsSource::kOwn) {
    source_[c] = c;
    return Status::Ok();
  }
  WAGGLE_RETURN_IF_ERROR(block_.meta_.CheckRowsSource(c, source));
  const auto k = static_cast<size_t>(source.column);
  if (source_[k] != k) {
    // A column the read skipped, or one that itself refers (so the reference is corrupt).
    std::string_view other;
    WAGGLE_RETURN_IF_ERROR(block_.ReadGroupChunk(k, group_, runs_, &scratch_, &other));
    WAGGLE_RETURN_IF_ERROR(DecodeSparseRows(&other, m, &rows_[k]));
    source_[k] = k;
  }
  WAGGLE_RETURN_IF_ERROR(BlockMeta::CheckRowsCount(source, rows_[k]));
  source_[c] = k;
  return Status::Ok();
}

bool Block::MayContainTrace(const TraceId& id) const {
  return trace_bloom_.MayContain(
      std::string_view(reinterpret_cast<const char*>(id.bytes.data()), 16));
}

bool Block::MayContainValue(std::string_view column, std::string_view value) const {
  if (meta_.version >= 7) return value_bloom_.MayContain(value);
  return value_bloom_.MayContain(ValueKey(column, value));
}

Status Block::ReadRowGroup(size_t rg, SpanTable* out) const {
  if (rg >= meta_.row_groups.size()) return Status::InvalidArgument("no such row group");
  const size_t m = meta_.row_groups[rg].rows;
  const size_t base = out->size();
  std::string scratch, parents;
  std::string_view raw;
  std::vector<uint64_t> span_ids;
  std::vector<TraceRun> runs;
  std::vector<int64_t> extras_rows;
  GroupHexTable hex_runs;
  GroupRows sparse(*this, rg, &hex_runs);
  for (size_t ci = 0; ci < meta_.columns.size(); ++ci) {
    const ColumnMeta& c = meta_.columns[ci];
    if (c.kind == ColumnKind::kHexTable) continue;  // read by the chunks that refer to it
    WAGGLE_RETURN_IF_ERROR(ReadGroupChunk(ci, rg, &hex_runs, &scratch, &raw));
    std::string_view in = raw;
    Status s;
    switch (c.kind) {
      case ColumnKind::kHexTable:
        break;  // skipped above
      case ColumnKind::kTraceId:
        s = DecodeTraceRuns(in, m, &runs);
        for (const TraceRun& r : runs) out->trace_ids.insert(out->trace_ids.end(), r.rows, r.id);
        break;
      case ColumnKind::kSpanId:
        s = DecodeSpanIds(in, m, &span_ids);
        for (uint64_t id : span_ids) out->span_ids.push_back({id});
        break;
      case ColumnKind::kParentId:
        parents = raw;  // resolved once the span ids are known
        break;
      case ColumnKind::kString:
        s = DecodeStrings(&in, m, &out->strings[c.field]);
        break;
      case ColumnKind::kInt:
        s = DecodeInts(&in, m, &out->ints[c.field]);
        break;
      case ColumnKind::kExtras:
        s = DecodeSparseRows(&in, m, &extras_rows);
        for (size_t i = 0; s.ok() && i < extras_rows.size(); ++i) {
          std::string_view blob;
          model::Span check;
          if (!coding::GetLengthPrefixed(&in, &blob)) {
            s = Status::Corruption("truncated extras");
          } else if (!SpanTable::DecodeExtras(blob, &check)) {
            s = Status::Corruption("undecodable events or links");
          } else {
            out->extra_rows.push_back(static_cast<uint32_t>(base + extras_rows[i]));
            out->extras.emplace_back(blob);
          }
        }
        break;
      case ColumnKind::kAttribute: {
        s = sparse.Decode(ci, &in);
        if (!s.ok()) break;
        const std::vector<int64_t>& entry_rows = sparse.rows(ci);
        AttributeColumn* a = out->Attribute(c.name, c.role, c.type);
        if (a->is_string()) {
          // Its field columns were read already (the footer lists them first).
          const FieldRows refs{out->strings.data(), base, entry_rows.data()};
          s = DecodeStrings(&in, entry_rows.size(), &a->strings, &refs);
        } else if (c.type == AttributeValue::Type::kDouble) {
          s = DecodeDoubles(&in, entry_rows.size(), &a->doubles);
        } else {
          s = DecodeInts(&in, entry_rows.size(), &a->ints);
        }
        for (int64_t r : entry_rows) a->rows.push_back(static_cast<uint32_t>(base + r));
        break;
      }
    }
    if (!s.ok()) return Corrupt(path_ + " column " + c.name + ": " + s.message());
  }
  std::vector<uint64_t> parent_ids(m);
  std::string_view in = parents;
  Status s = DecodeParents(&in, m, span_ids.data(), parent_ids.data());
  if (!s.ok()) return Corrupt(path_ + " column parent_span_id: " + s.message());
  for (uint64_t p : parent_ids) out->parent_ids.push_back({p});
  return Status::Ok();
}

Status Block::FetchTrace(const TraceId& id, TraceData* out) const {
  out->id = id;
  if (!MayContainTrace(id)) return Status::Ok();
  Status status;
  FetchTraces({{id, out, &status}}, FetchOptions{});
  return status;
}

namespace {

// A read that failed, for the wanted traces it held (the first failure of each is kept).
void Fail(const WantedTrace* wanted, size_t count, const Status& s) {
  for (size_t i = 0; i < count; ++i) {
    if (wanted[i].status != nullptr && wanted[i].status->ok()) *wanted[i].status = s;
  }
}

}  // namespace

void Block::FetchTraces(const std::vector<WantedTrace>& wanted, const FetchOptions& options) const {
  auto less = [](const WantedTrace& w, const TraceId& id) { return w.id < id; };
  for (size_t g = 0; g < meta_.row_groups.size(); ++g) {
    const RowGroupMeta& rg = meta_.row_groups[g];
    auto lo = std::lower_bound(wanted.begin(), wanted.end(), rg.first, less);
    auto hi = std::upper_bound(lo, wanted.end(), rg.last,
                               [](const TraceId& id, const WantedTrace& w) { return id < w.id; });
    if (lo == hi) continue;
    const size_t count = static_cast<size_t>(hi - lo);
    Status s = ReadTracesRows(g, &*lo, count, options);
    if (!s.ok()) Fail(&*lo, count, s);
  }
  ReadPagesFor(meta_.document_pages, wanted, [&](size_t i, std::string_view payload) {
    Status s = DecodeFragment(payload, nullptr, wanted[i].out);
    return s.ok() ? s : Corrupt(path_ + ": documents: " + s.message());
  });
}

Status Block::FetchLogs(const TraceId& id, std::vector<model::LogRecord>* out) const {
  if (meta_.log_pages.empty() || !MayContainTrace(id)) return Status::Ok();
  Status status;
  ReadPagesFor(meta_.log_pages, {{id, nullptr, &status}}, [&](size_t, std::string_view payload) {
    Status s = DecodeLogGroup(payload, out);
    return s.ok() ? s : Corrupt(path_ + ": logs: " + s.message());
  });
  return status;
}

void Block::ReadPagesFor(const std::vector<PageMeta>& pages, const std::vector<WantedTrace>& wanted,
                         const std::function<Status(size_t, std::string_view)>& add) const {
  // A trace's records may begin at the end of the page before the first page that starts
  // with it: for each id, from the last page that starts below it. (page, wanted index)
  // pairs, by page, so that a page that cannot be read fails only the traces it holds.
  std::vector<std::pair<size_t, size_t>> needed;
  for (size_t i = 0; i < wanted.size(); ++i) {
    auto it = std::lower_bound(pages.begin(), pages.end(), wanted[i].id,
                               [](const PageMeta& p, const TraceId& v) { return p.first < v; });
    if (it != pages.begin()) --it;
    for (; it != pages.end() && !(wanted[i].id < it->first); ++it) {
      needed.emplace_back(static_cast<size_t>(it - pages.begin()), i);
    }
  }
  std::sort(needed.begin(), needed.end());
  std::string scratch;
  for (size_t k = 0, next; k < needed.size(); k = next) {
    const size_t p = needed[k].first;
    for (next = k + 1; next < needed.size() && needed[next].first == p;) ++next;
    auto fail_page = [&](const Status& s) {
      for (size_t n = k; n < next; ++n) Fail(&wanted[needed[n].second], 1, s);
    };
    std::string_view in;
    if (Status s = ReadChunkAt(pages[p].chunk, &scratch, &in); !s.ok()) {
      fail_page(s);
      continue;
    }
    while (!in.empty()) {
      TraceId rid;
      std::string_view payload;
      if (!GetTraceId(&in, &rid) || !coding::GetLengthPrefixed(&in, &payload)) {
        fail_page(Corrupt(path_ + ": truncated page"));
        break;
      }
      auto w = std::lower_bound(wanted.begin(), wanted.end(), rid,
                                [](const WantedTrace& x, const TraceId& v) { return x.id < v; });
      if (w != wanted.end() && w->id == rid) {
        if (Status s = add(static_cast<size_t>(w - wanted.begin()), payload); !s.ok()) {
          Fail(&*w, 1, s);
        }
      }
    }
  }
}

Status Block::ReadAllPages(const std::vector<PageMeta>& pages,
                           std::vector<TraceRecord>* out) const {
  std::string scratch;
  for (const PageMeta& p : pages) {
    std::string_view in;
    WAGGLE_RETURN_IF_ERROR(ReadChunkAt(p.chunk, &scratch, &in));
    while (!in.empty()) {
      TraceRecord& r = out->emplace_back();
      std::string_view payload;
      if (!GetTraceId(&in, &r.id) || !coding::GetLengthPrefixed(&in, &payload)) {
        return Corrupt(path_ + ": truncated page");
      }
      r.payload = std::string(payload);
    }
  }
  return Status::Ok();
}

Status Block::ReadDocuments(std::vector<TraceRecord>* out) const {
  return ReadAllPages(meta_.document_pages, out);
}

Status Block::ReadLogs(std::vector<TraceRecord>* out) const {
  return ReadAllPages(meta_.log_pages, out);
}

Status Block::ReadTraces(std::vector<TraceEntry>* out) const {
  const size_t first = out->size();
  std::string scratch;
  // Since version 4 an entry can take its id from the trace id column: the first of the
  // column's ids (each once, in order) above the entry before it. Since version 6 it can take
  // its times from the rows of that id too.
  std::vector<TraceId> run_ids;
  std::vector<RunTimes> run_times;
  if (meta_.version >= 4) {
    const bool times = meta_.version >= 6;
    std::vector<TraceRun> runs;
    std::array<std::vector<int64_t>, 3> ints;  // start_ns, duration_ns, end_is_zero
    constexpr std::array<IntField, 3> kTimeFields = {IntField::kStartNs, IntField::kDurationNs,
                                                     IntField::kEndIsZero};
    const ColumnMeta& column = meta_.columns[meta_.trace_id_column];
    for (size_t g = 0; g < meta_.row_groups.size(); ++g) {
      const size_t rows = meta_.row_groups[g].rows;
      std::string_view in;
      WAGGLE_RETURN_IF_ERROR(ReadChunkAt(column.chunks[g], &scratch, &in));
      Status s = DecodeTraceRuns(in, rows, &runs);
      if (!s.ok()) return Corrupt(path_ + ": trace id column: " + s.message());
      for (size_t f = 0; times && f < kTimeFields.size(); ++f) {
        const ColumnMeta& c = meta_.columns[meta_.int_columns[static_cast<size_t>(kTimeFields[f])]];
        WAGGLE_RETURN_IF_ERROR(ReadChunkAt(c.chunks[g], &scratch, &in));
        ints[f].clear();
        s = DecodeInts(&in, rows, &ints[f]);
        if (!s.ok()) return Corrupt(path_ + " column " + c.name + ": " + s.message());
      }
      size_t row = 0;
      for (const TraceRun& r : runs) {
        if (run_ids.empty() || run_ids.back() < r.id) {
          run_ids.push_back(r.id);
          run_times.emplace_back();
        } else if (!(run_ids.back() == r.id)) {  // the same id again: a trace cut between groups
          return Corrupt(path_ + ": trace id column out of order across row groups");
        }
        for (size_t end = row + r.rows; times && row < end; ++row) {
          run_times.back().Add(ints[0][row], ints[1][row], ints[2][row]);
        }
      }
    }
  }
  size_t next = 0;
  for (const PageMeta& p : meta_.trace_pages) {
    std::string_view in;
    WAGGLE_RETURN_IF_ERROR(ReadChunkAt(p.chunk, &scratch, &in));
    while (!in.empty()) {
      TraceEntry e;
      bool have_id = false, have_times = false;
      if (meta_.version >= 4) {
        const char kind = in[0];
        in.remove_prefix(1);
        if (kind == kTraceIdFromColumn ||
            (kind == kTraceIdFromColumnTimesFollow && meta_.version >= 6)) {
          const TraceId* prev = out->size() > first ? &out->back().id : nullptr;
          while (next < run_ids.size() && prev != nullptr && !(*prev < run_ids[next])) ++next;
          if (next == run_ids.size()) {
            return Corrupt(path_ + ": trace table entry past the trace id column");
          }
          if (kind == kTraceIdFromColumn && meta_.version >= 6) {
            e.min_start_ns = run_times[next].min_start_ns;
            e.max_end_ns = run_times[next].max_end_ns;
            have_times = true;
          }
          e.id = run_ids[next++];
          have_id = true;
        } else if (kind != kTraceIdFollows) {
          return Corrupt(path_ + ": bad trace table entry");
        }
      }
      std::string_view payload;
      if ((!have_id && !GetTraceId(&in, &e.id)) || !coding::GetLengthPrefixed(&in, &payload) ||
          (!have_times &&
           (!GetVarsint64(&payload, &e.min_start_ns) || !GetVarsint64(&payload, &e.max_end_ns))) ||
          !GetVarint64(&payload, &e.seq)) {
        return Corrupt(path_ + ": truncated trace table");
      }
      // In id order, as written (FindTraces bisects it); an entry out of order is damage.
      if (out->size() > first && !(out->back().id < e.id)) {
        return Corrupt(path_ + ": trace table out of order");
      }
      out->push_back(e);
    }
  }
  return Status::Ok();
}

}  // namespace waggle::storage::columnar::block
