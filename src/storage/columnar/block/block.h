#pragma once

#include <array>
#include <atomic>
#include <cassert>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/result.h"
#include "model/log_record.h"
#include "storage/columnar/block/bloom.h"
#include "storage/columnar/block/chunk.h"
#include "storage/columnar/span_table.h"
#include "storage/reader.h"
#include "storage/scan.h"
#include "storage/trace_data.h"

// Blocks: immutable files of column chunks with a footer (docs/block-format.md).
namespace waggle::storage::columnar::block {

struct GroupHexTable;  // hex_runs.h

inline constexpr char kMagic[] = "WAGGLBLK";
inline constexpr uint32_t kFormatVersion = 7;
inline constexpr size_t kHeaderSize = 16;
inline constexpr size_t kTrailerSize = 24;

// One trace's entry in a block's trace table.
struct TraceEntry {
  model::TraceId id;
  int64_t min_start_ns = INT64_MAX;  // INT64_MAX / INT64_MIN when the trace has no spans here
  int64_t max_end_ns = INT64_MIN;
  uint64_t seq = 0;  // the store's order of first arrival (smaller arrived first)
};

// A record kept per trace outside the span columns: the trace's X-Ray documents (a trace
// fragment holding documents only) or one of its log groups.
struct TraceRecord {
  model::TraceId id;
  std::string payload;
};

struct BlockContents {
  const SpanTable* spans = nullptr;
  // The rows of `spans` to store, each once, in block order (by trace id, then start, then
  // row: HeadTraces::RowsByTraceAndStart, which the engine has the traces for). Null: every
  // row, which EncodeBlock puts in that order itself.
  const std::vector<uint32_t>* rows = nullptr;
  std::vector<TraceEntry> traces;      // one per trace id
  std::vector<TraceRecord> documents;  // at most one per trace
  std::vector<TraceRecord> logs;       // any number per trace, in arrival order
  uint64_t wal_end = 0;                // WAL segments below this number are in blocks
  // When the newest of `logs` arrived (0: no logs). Log records do not enter the span time
  // range otherwise; a block of logs alone takes this as its time range, so retention by age
  // counts from when the logs came, not from time zero.
  int64_t logs_arrived_ns = 0;
  uint32_t level = 0;              // 0 for a flushed head, +1 per compaction
  std::vector<uint64_t> replaces;  // blocks this one was compacted from
};

struct WriteOptions {
  size_t row_group_rows = 8192;
  Compression compression = Compression::kZstd;
  size_t page_bytes = 64 << 10;  // raw bytes per page of documents, logs, trace table
};

// Encodes a whole block file: rows sorted by (trace id, start), in row groups.
std::string EncodeBlock(const BlockContents& contents, const WriteOptions& options);
// The same into *file, which it replaces: a writer of block after block keeps one buffer's room.
void EncodeBlock(const BlockContents& contents, const WriteOptions& options, std::string* file);

enum class ColumnKind : uint8_t {
  kTraceId = 0,
  kSpanId = 1,
  kParentId = 2,
  kString = 3,
  kInt = 4,
  kAttribute = 5,
  kExtras = 6,
  kHexTable = 7,  // since version 7: the hex runs a row group's text chunks share
};

struct ColumnMeta {
  ColumnKind kind;
  std::string name;   // field name, or the attribute key
  uint8_t field = 0;  // StringField / IntField for those kinds
  model::AttributeRole role = model::AttributeRole::kPlain;
  model::AttributeValue::Type type = model::AttributeValue::Type::kString;
  std::vector<ChunkRef> chunks;   // one per row group
  std::vector<int64_t> min, max;  // kInt: per row group
};

struct RowGroupMeta {
  uint32_t rows = 0;
  model::TraceId first, last;
};

struct PageMeta {
  model::TraceId first;
  ChunkRef chunk;
};

struct BlockMeta {
  uint32_t version = kFormatVersion;  // the file's, from its header
  uint64_t rows = 0;
  int64_t min_start_ns = 0, max_end_ns = 0;
  uint64_t wal_end = 0;
  uint32_t level = 0;
  std::vector<uint64_t> replaces;
  uint64_t traces = 0;
  std::vector<RowGroupMeta> row_groups;
  std::vector<ColumnMeta> columns;
  // Where in `columns` the trace and span id columns and each string and int field's column
  // are (DecodeFooter checks that each is there once).
  size_t trace_id_column = 0, span_id_column = 0;
  std::array<size_t, kStringFieldCount> string_columns{};
  std::array<size_t, kIntFieldCount> int_columns{};
  size_t hex_table_column = SIZE_MAX;  // none (before version 7)
  std::vector<PageMeta> trace_pages, document_pages, log_pages;
  ChunkRef trace_bloom, value_bloom;
  uint64_t file_bytes = 0;

  // Checks a rows reference of attribute column `c` (DecodeSparseRows): it must name an
  // earlier attribute column, and, once that column's rows are known, have their count.
  Status CheckRowsSource(size_t c, const SparseRowsSource& source) const;
  static Status CheckRowsCount(const SparseRowsSource& source, const std::vector<int64_t>& rows);
};

// A trace a batched fetch asks a block for, and where its spans and documents go.
struct WantedTrace {
  model::TraceId id;
  TraceData* out = nullptr;
  Status* status = nullptr;  // where a read of it that failed is told (null: nowhere)
};

// An open block. Thread-safe.
class Block {
 public:
  // Reads and checks the header, trailer, footer and the Bloom filters; not the columns.
  // With `mapped`, the file is also mapped into memory (Env::NewMappedFile): scans then use
  // chunks stored uncompressed where they lie, with no copy.
  static Result<std::unique_ptr<Block>> Open(Env* env, const std::string& path,
                                             bool mapped = false);

  const BlockMeta& meta() const { return meta_; }
  const std::string& path() const { return path_; }

  bool MayContainTrace(const model::TraceId& id) const;
  // False when no string column (well-known or attribute, named by `column`) has `value`.
  // Since version 7 the filter does not tell columns apart: true for a value that another
  // column holds.
  bool MayContainValue(std::string_view column, std::string_view value) const;

  // Appends the trace's spans and documents to `out`.
  Status FetchTrace(const model::TraceId& id, TraceData* out) const;
  // Appends each wanted trace's spans (with the attributes `options` asks for) and documents
  // to its `out`, reading each row group and page at most once. `wanted` is sorted by id,
  // each id once. A row group or page that cannot be read sets the status of the traces in
  // it (their `out` is then not to be used); the others are still read.
  void FetchTraces(const std::vector<WantedTrace>& wanted, const FetchOptions& options) const;
  Status FetchLogs(const model::TraceId& id, std::vector<model::LogRecord>* out) const;
  // Every row of row group `rg`, appended to `out`.
  Status ReadRowGroup(size_t rg, SpanTable* out) const;
  // The trace table, in strictly increasing id order (Corruption otherwise).
  Status ReadTraces(std::vector<TraceEntry>* out) const;
  // Every document record or log record of the block (for compaction).
  Status ReadDocuments(std::vector<TraceRecord>* out) const;
  Status ReadLogs(std::vector<TraceRecord>* out) const;

  // Scans the block (Reader::Scan): skips it whole by its Bloom filters, and row groups by
  // min/max and by the chunks' dictionaries; evaluates the rest. Sets *stopped when `consume`
  // asked to stop.
  Status Scan(const ScanPlan& plan, const BatchFn& consume, ScanStats* stats, bool* stopped) const;
  // Appends the block's attribute columns to `out`.
  void ListColumns(std::vector<ColumnRef>* out) const;

  // The key of a value in the Bloom filter over values before version 7 (since then, the
  // value alone).
  static std::string ValueKey(std::string_view column, std::string_view value);

 private:
  Block() = default;
  // Reads the chunk with pread, checks it, and sets `raw` to its bytes in `scratch` (as read
  // or decompressed). A chunk of text that refers to its row group's hex table needs `table`.
  Status ReadChunkAt(const ChunkRef& ref, std::string* scratch, std::string_view* raw,
                     const HexTable* table = nullptr) const;
  // ReadChunkAt of column c's chunk in row group `group`, with the group's hex table when the
  // chunk may refer to it: read into `runs` unless it holds that group's already.
  Status ReadGroupChunk(size_t c, size_t group, GroupHexTable* runs, std::string* scratch,
                        std::string_view* raw) const;
  // Reads and decodes group `group`'s hex table into `runs` (the block must have them).
  Status LoadHexTable(size_t group, GroupHexTable* runs) const;
  // A scan's read of column `c` in row group `group`: where it lies in the mapping when the
  // block is mapped and the chunk stored uncompressed (checked on its first read only, since
  // the file is never written again), else as ReadGroupChunk. Lookups and compaction use
  // ReadGroupChunk, so that the pages mapped in are those scans compare in place.
  Status ReadColumnChunk(size_t c, size_t group, GroupHexTable* runs, std::string* scratch,
                         std::string_view* raw) const;
  // The rows of one row group's attribute columns, kept as a read decodes them in footer order,
  // so that a later column with the same rows (kSameRows) takes them from there instead of
  // reading that chunk again; a column the read skipped is read (once) when referred to.
  class GroupRows {
   public:
    GroupRows(const Block& block, size_t group, GroupHexTable* runs);
    // Decodes the rows of attribute column c's chunk `in` (advancing past them): rows(c).
    Status Decode(size_t c, std::string_view* in);
    // Column c must have been decoded.
    const std::vector<int64_t>& rows(size_t c) const {
      assert(source_[c] != kNone && "GroupRows::rows of a column not decoded");
      return rows_[source_[c]];
    }

   private:
    const Block& block_;
    const size_t group_;
    GroupHexTable* runs_;
    std::vector<std::vector<int64_t>> rows_;  // by column: the rows its own chunk gives
    // By column: whose rows_ are its rows; itself once its own chunk is decoded, kNone before
    // its chunk is read.
    std::vector<size_t> source_;
    static constexpr size_t kNone = SIZE_MAX;
    std::string scratch_;
  };
  // Appends to each of wanted[0, count) (sorted by id) its spans in row group `group`, each
  // column read once for all of them.
  Status ReadTracesRows(size_t group, const WantedTrace* wanted, size_t count,
                        const FetchOptions& options) const;
  Status ReadAllPages(const std::vector<PageMeta>& pages, std::vector<TraceRecord>* out) const;
  // The records of wanted[i] in `pages`, handed to add(i, payload); each page read once. A
  // page that cannot be read, or a failed add, sets the status of the traces concerned.
  void ReadPagesFor(const std::vector<PageMeta>& pages, const std::vector<WantedTrace>& wanted,
                    const std::function<Status(size_t, std::string_view)>& add) const;

  std::string path_;
  std::unique_ptr<RandomAccessFile> file_;
  // Mapped (else null): whether column c's chunk in group g (at c * groups + g) passed its
  // check.
  std::unique_ptr<std::atomic<bool>[]> verified_;
  // Scans running now: the last to end takes the mapped pages out of the resident set.
  mutable std::atomic<int> scans_{0};
  BlockMeta meta_;
  BloomFilter trace_bloom_, value_bloom_;
};

// A block's footer (docs/block-format.md, "Footer"), and its parser (exposed for tests and the
// fuzz target).
std::string EncodeFooter(const BlockMeta& meta);
Status DecodeFooter(std::string_view in, BlockMeta* meta);

}  // namespace waggle::storage::columnar::block
