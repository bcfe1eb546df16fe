#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

// A string dictionary: each distinct string gets a dense code, in order of first appearance.
namespace waggle::column {

class Dictionary {
 public:
  Dictionary() = default;
  Dictionary(Dictionary&&) = default;
  Dictionary& operator=(Dictionary&&) = default;

  // The code of `s`, adding it when new.
  uint32_t Intern(std::string_view s);
  // The code of `s`, or -1 when absent.
  int64_t Find(std::string_view s) const;
  std::string_view at(uint32_t code) const { return *values_[code]; }
  size_t size() const { return values_.size(); }
  // Bytes of string data held (for budgets and statistics).
  size_t bytes() const { return bytes_; }
  void Clear();

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  // Node-based: the strings never move, so values_ may point at them.
  std::unordered_map<std::string, uint32_t, Hash, std::equal_to<>> index_;
  std::vector<const std::string*> values_;
  size_t bytes_ = 0;
};

// Strings as dictionary codes, one per row.
struct StringColumn {
  Dictionary dict;
  std::vector<uint32_t> codes;

  void Append(std::string_view s) { codes.push_back(dict.Intern(s)); }
  std::string_view operator[](size_t row) const { return dict.at(codes[row]); }
  size_t size() const { return codes.size(); }
};

}  // namespace waggle::column
