#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "column/dictionary.h"
#include "model/ids.h"
#include "storage/columnar/block/hex_runs.h"

// Column chunk encodings and per-chunk compression (docs/block-format.md, "Chunks").
namespace waggle::storage::columnar::block {

// kHexZstd: zstd over the chunk with its hex runs packed (hex_runs.h; block format 3). Asked
// for as a preference, it means "text": zstd, or this when the chunk has enough hex runs.
enum class Compression : uint8_t { kNone = 0, kZstd = 1, kLz4 = 2, kHexZstd = 3 };
// The level the writer compresses zstd chunks at.
inline constexpr int kZstdLevel = 3;

// Where a chunk lives in a block file and how to read it back.
struct ChunkRef {
  uint64_t offset = 0;
  uint32_t stored_length = 0;  // bytes in the file
  uint32_t raw_length = 0;     // bytes after decompression
  Compression compression = Compression::kNone;
  uint32_t crc = 0;  // masked CRC-32C of the stored bytes
};

void PutChunkRef(std::string* out, const ChunkRef& ref);
bool GetChunkRef(std::string_view* in, ChunkRef* ref);

// Compresses `raw` with `preferred` when that saves at least an eighth, else stores it as is;
// appends the stored bytes to `file` and returns where they went. kHexZstd preferred is for
// text: zstd, or kHexZstd when enough of the chunk is hex runs (MinPackedChars). Binary chunks
// prefer kZstd, and no time goes into looking for runs there. A text chunk of a row group
// comes with the group's `table` and the number its Count returned (`counted`): its runs that
// the table holds are written as references (block format 7), and when it has enough runs it
// is stored packed; when packing does not save an eighth, it is compressed plain as well and
// the smaller kept. Any other text chunk is compressed both ways and the smaller kept.
ChunkRef AppendChunk(std::string_view raw, Compression preferred, std::string* file,
                     const HexTableBuilder* table = nullptr,
                     size_t counted = HexTableBuilder::kNotCounted);
// The same for two encodings of a binary chunk: appends whichever stores smaller (`raw` when
// `alt` is empty).
ChunkRef AppendSmallerChunk(std::string_view raw, std::string_view alt, Compression preferred,
                            std::string* file);
// Verifies the checksum of `stored` (unless `verify` is false: it was verified before) and sets
// `raw` to the chunk's bytes: `stored` itself when it is uncompressed, else decompressed into
// `scratch`, which must not hold `stored`. A kHexZstd chunk's references to runs are read from
// `table`, the row group's (Corruption when there is none).
Status ReadChunk(const ChunkRef& ref, std::string_view stored, bool verify, std::string* scratch,
                 std::string_view* raw, const HexTable* table = nullptr);

// Integers: frame of reference or delta, bit-packed, whichever is smaller.
void EncodeInts(const int64_t* values, size_t n, std::string* out);
// The same, either form patched when that is smaller still (a few large numbers listed
// apart). Returns whether it patched, and then also appends the plain form to *plain (when
// given): the plain form may compress better, so a writer that compresses can keep the smaller
// (AppendSmallerChunk).
bool EncodeIntsPatched(const int64_t* values, size_t n, std::string* out, std::string* plain);
// Appends exactly `n` values to `out`; Corruption when `in` is not such an encoding (for a
// patched chunk whose list is damaged, having appended nothing).
// With a `limit` below n, only the first `limit` values are appended (a fetch needs the rows up
// to its trace's); `in` still ends past the chunk.
Status DecodeInts(std::string_view* in, size_t n, std::vector<int64_t>* out,
                  size_t limit = SIZE_MAX);

// Narrows `rows` (row numbers below `n`, ascending) to those whose value in the int chunk `in`
// of `n` values lies in [lo, hi], without decoding the others. Sets *done to false (and leaves
// `rows` alone) for an encoding it cannot select on; the caller decodes then.
Status SelectIntRange(std::string_view in, size_t n, int64_t lo, int64_t hi,
                      std::vector<uint32_t>* rows, bool* done);

// Strings: the chunk's own dictionary (in order of first use) and bit-packed codes. The `n`
// values are those of `dict` whose codes are `codes`.
void EncodeStrings(const column::Dictionary& dict, const uint32_t* codes, size_t n,
                   std::string* out);
// What the entries of a reference chunk stand for: the string field columns (kStringFieldCount
// of them), where entry e's row is `base + rows[e]`.
struct FieldRows {
  const column::StringColumn* fields;
  size_t base;
  const int64_t* rows;
};
// Appends the `n` strings of a string chunk to `out` (whose dictionary grows as needed); with
// `refs`, also those of a reference chunk (see EncodeEntryStrings).
Status DecodeStrings(std::string_view* in, size_t n, column::StringColumn* out,
                     const FieldRows* refs = nullptr);
// Appends `n` codes to `codes` and sets `dict` to the chunk's dictionary, whose views point into
// `in`'s buffer (for scans: no copies, no hashing).
// With a `limit` below n, only the codes of the first `limit` rows are appended, and `in` is
// left anywhere in the chunk.
Status DecodeStringCodes(std::string_view* in, size_t n, std::vector<std::string_view>* dict,
                         std::vector<uint32_t>* codes, size_t limit = SIZE_MAX);
// Reads only the dictionary of a string chunk (for dictionary pushdown).
Status DecodeDictionary(std::string_view in, std::vector<std::string_view>* values);

// A sparse string column's values (docs/block-format.md, "Attributes"): a string chunk, or a
// reference chunk whose entries can each stand for the value of one string field at the
// entry's row (an OTLP attribute the span's well-known field was taken from, say).
inline constexpr uint32_t kSameAsField = UINT32_MAX;  // an entry's code: the field's value
// Writes the `n` entries (the values of `dict` whose codes are `codes`) as a reference chunk on
// string field `field` when some `same[e]` is set, else as a string chunk.
void EncodeEntryStrings(const column::Dictionary& dict, const uint32_t* codes, size_t n, int field,
                        const std::vector<uint8_t>& same, std::string* out);
// Appends `n` codes to `codes` (kSameAsField for an entry that stands for the field's value) and
// sets `dict` to the chunk's own dictionary and `*field` to the field referred to, or -1.
// With a `limit` below n, only the codes of the first `limit` entries, as DecodeStringCodes.
Status DecodeEntryStrings(std::string_view* in, size_t n, std::vector<std::string_view>* dict,
                          std::vector<uint32_t>* codes, int* field, size_t limit = SIZE_MAX);
// Only the own dictionary and the field referred to (-1 for none) of a chunk of `n` entries.
Status DecodeEntryDictionary(std::string_view in, size_t n, std::vector<std::string_view>* dict,
                             int* field);

// The id columns and sparse columns of a row group of `n` rows (docs/block-format.md). Each
// decoder checks what it reads and returns Corruption naming what was wrong.

// Trace ids: runs of (id, rows) that cover exactly the `n` rows.
struct TraceRun {
  model::TraceId id;
  uint64_t rows = 0;
};
Status DecodeTraceRuns(std::string_view in, size_t n, std::vector<TraceRun>* runs);

// Span ids: 8 bytes each. Replaces `out` with the `n` ids.
Status DecodeSpanIds(std::string_view in, size_t n, std::vector<uint64_t>* out);

// Parent span ids: a tag per row, kParentNone, or kParentExplicit followed by the id (8
// bytes), or k >= 2 for the span id of the row k - 1 before it (in the same trace). Decodes
// the first `n` rows, resolving back references through `span_ids` (at least `n` of them).
inline constexpr uint64_t kParentNone = 0;
inline constexpr uint64_t kParentExplicit = 1;
Status DecodeParents(std::string_view* in, size_t n, const uint64_t* span_ids, uint64_t* out);

// A sparse column's entries: their count, then their rows (ascending, each below `n`) as ints,
// or since block format 7 a reference to an earlier attribute column with the same rows in
// the row group (kSameRows, then its index). Explicit rows replace `rows`. A reference is the
// caller's to resolve: it is told in `source` (`rows` is then emptied), and is Corruption
// where there is no `source` (in a chunk that is itself referred to).
struct SparseRowsSource {
  static constexpr uint64_t kOwn = UINT64_MAX;
  uint64_t column = kOwn;  // the column whose explicit rows these are, or kOwn
  uint64_t count = 0;      // entries in the chunk
};
Status DecodeSparseRows(std::string_view* in, size_t n, std::vector<int64_t>* rows,
                        SparseRowsSource* source = nullptr);
// Writes a sparse column's `n` rows explicitly: the count, then the rows as ints.
void PutSparseRows(const int64_t* rows, size_t n, std::string* out);
// Writes the count and the reference of a sparse column whose rows are those of `column`.
void PutSameRows(size_t count, uint64_t column, std::string* out);

// Doubles: their IEEE bits, 8 bytes each. Appends `n` of them.
Status DecodeDoubles(std::string_view* in, size_t n, std::vector<double>* out);

}  // namespace waggle::storage::columnar::block
