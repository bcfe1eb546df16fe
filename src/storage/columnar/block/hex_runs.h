#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

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

// Builds a row group's table: Count() each text chunk, then Finish(). The chunks must outlive
// the builder's use, which keeps views of their runs. It also keeps where each counted chunk's
// runs are, so that PackHexRuns packs a counted chunk without looking for them again.
class HexTableBuilder {
 public:
  void Clear();
  void Count(std::string_view raw);
  // Appends the table chunk of the runs counted twice or more to `out`; numbers them for Find.
  void Finish(std::string* out);
  // The run's number in the table (after Finish), or -1 when it is not in it.
  int64_t Find(std::string_view run) const;
  size_t size() const { return size_; }

  // A run found by Count: where it is in its chunk, its length and mark, and its entry.
  struct Found {
    uint32_t at;
    uint32_t length;
    uint32_t entry;
    uint8_t mark;
  };
  // The runs Count found in `raw` (a counted chunk, known by the address of its bytes), in
  // order; null when `raw` was not counted.
  const Found* RunsOf(std::string_view raw, size_t* count) const;
  // The table number of a found run's entry (after Finish), or -1.
  int64_t NumberOf(const Found& run) const { return entries_[run.entry].number; }

 private:
  struct Entry {
    std::string_view run;
    uint64_t hash = 0;
    uint32_t seen = 0;    // times counted
    int64_t number = -1;  // in the table, once finished
    uint8_t mark = 0;     // as a chunk's text would mark it
  };
  struct Chunk {
    const char* data;
    size_t size, first, end;  // its runs: found_[first, end)
  };
  // The entry of `run` (hash `hash`): its slot in slots_, which holds its index + 1 (0 empty).
  size_t Slot(std::string_view run, uint64_t hash) const;
  void Grow();

  std::vector<Entry> entries_;   // in order of first sight
  std::vector<uint32_t> slots_;  // open addressing over entries_, at most half full
  std::vector<Found> found_;
  std::vector<Chunk> chunks_;
  size_t size_ = 0;
};

// With `table`, a run that the table holds is written as a reference to it.
size_t PackHexRuns(std::string_view raw, size_t min_packed, HexPacked* out,
                   const HexTableBuilder* table = nullptr);

// Puts `text` and `nibbles` back together into `out` (replaced), which must come to exactly
// `raw_length` bytes, all of `nibbles` used; Corruption otherwise, and for a reference to a
// run when there is no `table` or the table has no such run.
Status UnpackHexRuns(uint8_t escape, std::string_view text, std::string_view nibbles,
                     size_t raw_length, std::string* out, const HexTable* table = nullptr);

}  // namespace waggle::storage::columnar::block
