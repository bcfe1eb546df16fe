#include "model/text.h"

#include <algorithm>
#include <cstring>
#include <ostream>
#include <stdexcept>

namespace waggle::model {
namespace {

uint32_t CheckedSize(size_t n) {
  if (n > UINT32_MAX) Text::TooLong();
  return static_cast<uint32_t>(n);
}

}  // namespace

void Text::TooLong() { throw std::length_error("model::Text is limited to 4 GiB"); }

template <typename F>
void Text::Fill(size_t size, const F& fill) {
  const uint32_t n = CheckedSize(size);
  if (n <= capacity_) {
    fill(buffer());
  } else {
    const uint32_t capacity = CheckedSize(std::max<size_t>(n, 2 * size_t{capacity_}));
    char* bigger = new char[capacity];
    fill(bigger);
    if (on_heap()) delete[] heap_;
    heap_ = bigger;
    capacity_ = capacity;
  }
  data_ = buffer();
  size_ = n;
}

void Text::assign(std::string_view s) {
  // memmove: s may lie in the buffer.
  Fill(s.size(), [&](char* to) {
    if (!s.empty()) std::memmove(to, s.data(), s.size());  // an empty one's data may be null
  });
}

void Text::append(std::string_view s) {
  if (s.empty()) return;
  const char* had = data_;
  const size_t had_size = size_;
  Fill(had_size + s.size(), [&](char* to) {
    if (to != had) std::memmove(to, had, had_size);  // borrowed, or a new buffer
    std::memmove(to + had_size, s.data(), s.size());
  });
}

void Text::Take(Text* other) noexcept {
  capacity_ = other->capacity_;
  size_ = other->size_;
  const bool borrowed = other->borrowed();
  if (other->on_heap()) {
    heap_ = other->heap_;
  } else if (!borrowed) {
    std::memcpy(local_, other->local_, size_);
  }
  data_ = borrowed ? other->data_ : buffer();
  other->capacity_ = kLocalBytes;
  other->clear();
}

Text& Text::operator=(Text&& other) noexcept {
  if (this == &other) return *this;
  if (other.on_heap()) {
    if (on_heap()) delete[] heap_;
    Take(&other);
    return *this;
  }
  if (other.borrowed()) {
    data_ = other.data_;
    size_ = other.size_;
  } else {
    std::memcpy(buffer(), other.data_, other.size_);  // at most kLocalBytes: it fits
    data_ = buffer();
    size_ = other.size_;
  }
  other.clear();
  return *this;
}

std::ostream& operator<<(std::ostream& os, const Text& t) { return os << t.view(); }

}  // namespace waggle::model
