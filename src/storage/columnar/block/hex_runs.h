#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "column/dictionary.h"

// Hex runs packed as nibbles (docs/block-format.md, "Hex runs"): request ids, user ids, session
// ids and the UUIDs inside URLs are hexadecimal text, whose characters carry 4 bits each but
// take 8, and which zstd's entropy coder brings to about 4.5. A chunk with enough of them is
// stored as zstd over this packed form (compression code 3).
namespace waggle::storage::columnar::block {

// Runs of hex digits shorter than this stay as they are.
inline constexpr size_t kMinHexRun = 8;

// The packed form of `raw`: text with each run of kMinHexRun or more hex digits replaced by a
// mark (`escape` followed by the run's case and length; `escape` itself followed by 0), and
// the runs' digits, two to a byte. Returns how many characters are in runs; fills `out` only
// when that is at least `min_packed`, since packing only pays with enough runs.
struct HexPacked {
  uint8_t escape = 0;
  std::string text;
  std::string nibbles;
};

// A row group's hex table (block format 7): the runs that come more than once in the group's
// text chunks, each stored once. A text chunk refers to a run of the table by its number.
struct HexTable {
  std::vector<uint8_t> marks;     // entry i's run mark, as it would follow the escape
  std::vector<uint32_t> offsets;  // where entry i's digits begin in `nibbles`
  std::string_view nibbles;       // (the table chunk's bytes, kept by the owner)
  size_t size() const { return marks.size(); }
};
// Reads a table chunk: Corruption when it is not one.
Status DecodeHexTable(std::string_view in, HexTable* table);

// A reader's copy of one row group's table, read when a chunk of the group first needs it
// (Block::ReadGroupChunk).
struct GroupHexTable {
  size_t group = SIZE_MAX;  // whose table `table` is; SIZE_MAX: none read
  std::string bytes;        // the table chunk's bytes, which `table` points into
  HexTable table;
};

// The fewest characters in runs for which the writer stores a chunk of `raw_size` bytes
// packed: a sixteenth of it (below that, the escapes and the header can cost more than the
// nibbles save); never for chunks under 64 bytes, which are not compressed at all. The writer
// and the table builder decide by this one rule.
size_t MinPackedChars(size_t raw_size);

// Builds a row group's table: Count() each text chunk, then Finish(). It keeps where it found
// each chunk's runs, so that PackHexRuns packs a counted chunk without looking again.
class HexTableBuilder {
 public:
  static constexpr size_t kNotCounted = SIZE_MAX;

  void Clear();
  // Finds the runs of a text chunk and returns the chunk's number, for PackHexRuns. Only the
  // runs of a chunk that will be stored packed (MinPackedChars) count towards the table.
  size_t Count(std::string_view raw);
  // Appends the table chunk of the runs counted twice or more to `out`; numbers them for Find.
  void Finish(std::string* out);
  // The run's number in the table (after Finish), or -1 when it is not in it.
  int64_t Find(std::string_view run) const;
  size_t size() const { return size_; }

  // A run of a chunk: where it is, its length and mark, and its entry (kNoEntry: none).
  struct Found {
    static constexpr uint32_t kNoEntry = UINT32_MAX;
    uint32_t at;
    uint32_t length;
    uint32_t entry;
    uint8_t mark;
  };
  // The runs Count found in chunk `chunk` (which had `raw_size` bytes), in order.
  const Found* RunsOf(size_t chunk, size_t raw_size, size_t* count) const;
  // The entry of `run`, or Found::kNoEntry.
  uint32_t EntryOf(std::string_view run) const;
  // The table number of a run's entry (after Finish), or -1.
  int64_t NumberOf(const Found& run) const {
    return run.entry == Found::kNoEntry ? -1 : entries_[run.entry].number;
  }

 private:
  struct Entry {
    uint32_t seen = 0;    // times counted
    int64_t number = -1;  // in the table, once finished
    uint8_t mark = 0;     // as a chunk's text would mark it
  };
  struct Chunk {
    size_t raw_size, first, end;  // its runs: found_[first, end)
  };

  column::Dictionary runs_;     // each counted run once: its code is its entry
  std::vector<Entry> entries_;  // by entry
  std::vector<Found> found_;
  std::vector<Chunk> chunks_;
  size_t size_ = 0;
};

// With `table`, a run that the table holds is written as a reference to it; `chunk` is what
// the table's Count returned for `raw`, if it was counted.
size_t PackHexRuns(std::string_view raw, size_t min_packed, HexPacked* out,
                   const HexTableBuilder* table = nullptr,
                   size_t chunk = HexTableBuilder::kNotCounted);

// Puts `text` and `nibbles` back together into `out` (replaced), which must come to exactly
// `raw_length` bytes, all of `nibbles` used; Corruption otherwise, and for a reference to a
// run when there is no `table` or the table has no such run.
Status UnpackHexRuns(uint8_t escape, std::string_view text, std::string_view nibbles,
                     size_t raw_length, std::string* out, const HexTable* table = nullptr);

}  // namespace waggle::storage::columnar::block
