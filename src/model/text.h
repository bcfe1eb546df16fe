#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>

namespace waggle::model {

// The text of an attribute's key or value: bytes it holds, or bytes it borrows from whoever
// keeps them. A decoder borrows from the request it reads (Borrow), so the text of the
// attributes it decodes is not copied out of the request, and then again into the store's
// dictionaries: copying each into the memory of its own string made decoding an OTLP request
// take a quarter longer (otlp_decode_bench: 682-693 ns a span, against 536-554 borrowed).
//
// A borrowed text stays valid as long as the bytes it borrows: the spans of a request are
// written before the request's body goes. A copy of a Text holds its bytes (a copy may
// outlive the request); a move passes on what it has, borrowed or held. Thread-compatible.
class Text {
 public:
  Text() = default;
  Text(std::string_view s) { assign(s); }  // NOLINT(google-explicit-constructor)
  Text(const char* s) : Text(std::string_view(s)) {}
  Text(const std::string& s) : Text(std::string_view(s)) {}
  Text(const Text& other) { assign(other.view()); }
  Text(Text&& other) noexcept { Take(&other); }
  ~Text() {
    if (on_heap()) delete[] heap_;
  }
  Text& operator=(const Text& other) {
    if (this != &other) assign(other.view());
    return *this;
  }
  // Keeps its buffer on the heap unless `other` brings one (as std::string does).
  Text& operator=(Text&& other) noexcept;
  Text& operator=(std::string_view s) {
    assign(s);
    return *this;
  }
  Text& operator=(const char* s) { return *this = std::string_view(s); }
  Text& operator=(const std::string& s) { return *this = std::string_view(s); }

  // Holds a copy of `s` (which may lie in the bytes this one borrows, or holds). Up to
  // kLocalBytes are held in the Text itself, as std::string holds short strings.
  void assign(std::string_view s);
  void assign(const char* p, size_t n) { assign(std::string_view(p, n)); }
  // Holds its text followed by `s`.
  void append(std::string_view s);
  // Refers to `s`, which its owner keeps for as long as this text is read.
  void Borrow(std::string_view s) {
    if (s.size() > UINT32_MAX) TooLong();
    size_ = static_cast<uint32_t>(s.size());
    data_ = size_ != 0 ? s.data() : buffer();
  }
  bool borrowed() const { return data_ != buffer(); }
  // Empty, keeping the memory it holds for the next assign.
  void clear() {
    data_ = buffer();
    size_ = 0;
  }
  // Empty, letting memory on the heap go.
  void Release() {
    if (on_heap()) delete[] heap_;
    capacity_ = kLocalBytes;
    clear();
  }

  const char* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // The bytes it has room for without allocating (borrowed ones not counted).
  size_t capacity() const { return capacity_; }
  char front() const { return data_[0]; }
  char back() const { return data_[size_ - 1]; }
  char operator[](size_t i) const { return data_[i]; }
  const char* begin() const { return data_; }
  const char* end() const { return data_ + size_; }
  std::string_view view() const { return std::string_view(data_, size_); }
  operator std::string_view() const { return view(); }  // NOLINT(google-explicit-constructor)
  std::string_view substr(size_t pos, size_t n = std::string_view::npos) const {
    return view().substr(pos, n);
  }
  bool starts_with(std::string_view prefix) const { return view().starts_with(prefix); }
  std::string str() const { return std::string(data_, size_); }

  friend bool operator==(const Text& a, const Text& b) { return a.view() == b.view(); }
  friend bool operator==(const Text& a, std::string_view b) { return a.view() == b; }
  friend bool operator==(const Text& a, const char* b) { return a.view() == b; }
  friend bool operator==(const Text& a, const std::string& b) { return a.view() == b; }
  friend std::string operator+(std::string_view a, const Text& b) {
    std::string s;
    s.reserve(a.size() + b.size());
    return s.append(a).append(b.view());
  }
  friend std::strong_ordering operator<=>(const Text& a, const Text& b) {
    return a.view() <=> b.view();
  }
  friend std::strong_ordering operator<=>(const Text& a, std::string_view b) {
    return a.view() <=> b;
  }

  static constexpr uint32_t kLocalBytes = 16;
  // Throws std::length_error: a Text holds less than 4 GiB.
  [[noreturn]] static void TooLong();

 private:
  bool on_heap() const { return capacity_ > kLocalBytes; }
  const char* buffer() const { return on_heap() ? heap_ : local_; }
  char* buffer() { return on_heap() ? heap_ : local_; }
  // Holds `size` bytes that fill(to) writes to `to`: its buffer when they fit in it (which
  // `fill` may read), else a new one (the old one going after `fill`).
  template <typename F>
  void Fill(size_t size, const F& fill);
  // Takes what `other` has, leaving it empty.
  void Take(Text* other) noexcept;

  const char* data_ = local_;  // buffer(), or the bytes borrowed
  uint32_t size_ = 0;
  uint32_t capacity_ = kLocalBytes;  // of local_, or (when more) of heap_
  union {
    char* heap_;
    char local_[kLocalBytes];
  };
};

std::ostream& operator<<(std::ostream& os, const Text& t);

}  // namespace waggle::model
