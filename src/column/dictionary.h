#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

// A string dictionary: each distinct string gets a dense code, in order of first appearance.
namespace waggle::column {

class Dictionary {
 public:
  Dictionary() = default;
  Dictionary(Dictionary&& other) noexcept;
  Dictionary& operator=(Dictionary&& other) noexcept;

  // The code of `s`, adding it when new.
  uint32_t Intern(std::string_view s) { return Intern(s, Hash(s)); }
  // The same, given Hash(s): a caller interning many strings into large dictionaries can
  // hash them and Prefetch their slots first, so that the cache misses overlap.
  uint32_t Intern(std::string_view s, uint64_t hash);
  static uint64_t Hash(std::string_view s);
  void Prefetch(uint64_t hash) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[(hash >> 32) & (slots_.size() - 1)]);
  }
  // The code of `s`, or -1 when absent.
  int64_t Find(std::string_view s) const;
  std::string_view at(uint32_t code) const { return values_[code]; }
  size_t size() const { return values_.size(); }
  // Bytes of string data held (for budgets and statistics).
  size_t bytes() const { return bytes_; }
  void Clear();

 private:
  // The slot that holds `s` (hash `h`), or the empty one where it would go.
  size_t Slot(std::string_view s, uint64_t h) const;
  void Grow();
  std::string_view Copy(std::string_view s);

  // Open addressing, linear probing: a slot holds the string's hash in its high 32 bits and
  // its code + 1 in its low 32 (0: empty), so most probes compare no string. Probes start
  // from those 32 bits, so growing the table reads no string.
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

  // The code `s` has without a dictionary lookup, or UINT32_MAX: a value often repeats the
  // one before it (a resource's attributes, a batch from one service) or `hint` (a caller's
  // guess; any number will do), and one compare then spares the hash and the probe.
  uint32_t Repeated(std::string_view s, uint32_t hint) const {
    if (!codes.empty() && dict.at(codes.back()) == s) return codes.back();
    if (hint < dict.size() && dict.at(hint) == s) return hint;
    return UINT32_MAX;
  }
  // Appends `s` and returns its code.
  uint32_t Append(std::string_view s, uint32_t hint = UINT32_MAX) {
    uint32_t code = Repeated(s, hint);
    if (code == UINT32_MAX) code = dict.Intern(s);
    codes.push_back(code);
    return code;
  }
  std::string_view operator[](size_t row) const { return dict.at(codes[row]); }
  size_t size() const { return codes.size(); }
};

}  // namespace waggle::column
