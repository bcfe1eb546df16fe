#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/same_bytes.h"

// A string dictionary: each distinct string gets a dense code, in order of first appearance.
namespace waggle::column {

class Dictionary {
 public:
  Dictionary() = default;
  Dictionary(Dictionary&& other) noexcept;
  Dictionary& operator=(Dictionary&& other) noexcept;

  // The code of `s`, adding it when new.
  uint32_t Intern(std::string_view s);
  // The code of `s`, or -1 when absent.
  int64_t Find(std::string_view s) const;
  std::string_view at(uint32_t code) const { return values_[code]; }
  size_t size() const { return values_.size(); }
  // Bytes of string data held (for budgets and statistics).
  size_t bytes() const { return bytes_; }
  // Empties it for reuse: its hash table keeps its size, so refilling it to about the same
  // size (the hex runs of the next row group) does not grow and rehash it again.
  void Clear();

 private:
  // The slot that holds `s` (hash `h`), or the empty one where it would go.
  size_t Slot(std::string_view s, uint64_t h) const;
  void Grow();
  std::string_view Copy(std::string_view s);

  // Open addressing, linear probing: a slot holds the string's hash (keyed by the process's
  // seed, base/mix.h: clients choose the strings) in its high 32 bits and its code + 1 in its
  // low 32 (0: empty), so most probes compare no string. Probes start from those 32 bits, so
  // growing the table reads no string.
  std::vector<uint64_t> slots_;
  std::vector<std::string_view> values_;  // by code, into chunks_
  // The strings' bytes, in chunks that never move.
  std::vector<std::unique_ptr<char[]>> chunks_;
  size_t chunk_left_ = 0, chunk_size_ = 0;
  char* chunk_at_ = nullptr;
  size_t bytes_ = 0;
};

// Strings as dictionary codes, one per row.
struct StringColumn {
  Dictionary dict;
  std::vector<uint32_t> codes;

  void Append(std::string_view s) {
    // A value often repeats the one before it (a resource's attributes, a batch from one
    // service): one compare then spares the hash and the probe.
    if (!codes.empty() && SameBytes(dict.at(codes.back()), s)) {
      codes.push_back(codes.back());
    } else {
      codes.push_back(dict.Intern(s));
    }
  }
  std::string_view operator[](size_t row) const { return dict.at(codes[row]); }
  size_t size() const { return codes.size(); }
};

}  // namespace waggle::column
