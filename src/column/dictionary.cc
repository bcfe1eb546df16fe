#include "column/dictionary.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "base/mix.h"
#include "base/same_bytes.h"

namespace waggle::column {
namespace {

// Keyed by the process's seed: clients choose the strings (hash flooding).
uint64_t HashOf(std::string_view s) { return SeededStringHash{}(s); }

constexpr size_t kChunkBytes = 64 << 10;

}  // namespace

Dictionary::Dictionary(Dictionary&& other) noexcept { *this = std::move(other); }

Dictionary& Dictionary::operator=(Dictionary&& other) noexcept {
  // The chunk cursor goes with the chunks: a moved-from dictionary starts empty.
  slots_ = std::exchange(other.slots_, {});
  values_ = std::exchange(other.values_, {});
  chunks_ = std::exchange(other.chunks_, {});
  chunk_left_ = std::exchange(other.chunk_left_, 0);
  chunk_size_ = std::exchange(other.chunk_size_, 0);
  chunk_at_ = std::exchange(other.chunk_at_, nullptr);
  bytes_ = std::exchange(other.bytes_, 0);
  return *this;
}

size_t Dictionary::Slot(std::string_view s, uint64_t h) const {
  const size_t mask = slots_.size() - 1;
  const uint64_t tag = h >> 32 << 32;
  for (size_t at = (h >> 32) & mask;; at = (at + 1) & mask) {
    const uint64_t slot = slots_[at];
    if (slot == 0) return at;
    if ((slot & ~uint64_t{0xffffffff}) == tag && SameBytes(values_[(slot & 0xffffffff) - 1], s)) {
      return at;
    }
  }
}

void Dictionary::Grow() {
  std::vector<uint64_t> old = std::move(slots_);
  slots_.assign(old.empty() ? 64 : old.size() * 2, 0);
  const size_t mask = slots_.size() - 1;
  for (uint64_t slot : old) {
    if (slot == 0) continue;
    size_t at = (slot >> 32) & mask;  // a probe starts from the hash bits the slot keeps
    while (slots_[at] != 0) at = (at + 1) & mask;
    slots_[at] = slot;
  }
}

std::string_view Dictionary::Copy(std::string_view s) {
  if (s.empty()) return {};
  if (s.size() > chunk_left_) {
    // A long string gets a chunk of its own, and the current chunk stays in use for short
    // ones. Chunks double from 256 bytes, so that a dictionary of a few values stays small.
    if (s.size() > kChunkBytes / 4) {
      chunks_.push_back(std::make_unique_for_overwrite<char[]>(s.size()));
      std::memcpy(chunks_.back().get(), s.data(), s.size());
      return {chunks_.back().get(), s.size()};
    }
    chunk_size_ = std::min(kChunkBytes, std::max(chunk_size_ * 2, std::max<size_t>(256, s.size())));
    chunks_.push_back(std::make_unique_for_overwrite<char[]>(chunk_size_));
    chunk_at_ = chunks_.back().get();
    chunk_left_ = chunk_size_;
  }
  char* at = chunk_at_;
  std::memcpy(at, s.data(), s.size());
  chunk_at_ += s.size();
  chunk_left_ -= s.size();
  return {at, s.size()};
}

uint32_t Dictionary::Intern(std::string_view s) {
  if (slots_.empty()) Grow();
  const uint64_t h = HashOf(s);
  size_t at = Slot(s, h);
  if (slots_[at] != 0) return static_cast<uint32_t>((slots_[at] & 0xffffffff) - 1);
  const auto code = static_cast<uint32_t>(values_.size());
  values_.push_back(Copy(s));
  bytes_ += s.size();
  slots_[at] = (h >> 32 << 32) | (uint64_t{code} + 1);
  if (values_.size() * 2 > slots_.size()) Grow();  // at most half full
  return code;
}

int64_t Dictionary::Find(std::string_view s) const {
  if (slots_.empty()) return -1;
  const uint64_t slot = slots_[Slot(s, HashOf(s))];
  return slot == 0 ? -1 : static_cast<int64_t>((slot & 0xffffffff) - 1);
}

void Dictionary::Clear() {
  std::fill(slots_.begin(), slots_.end(), 0);  // the table keeps its size
  values_.clear();
  chunks_.clear();
  chunk_left_ = 0;
  chunk_size_ = 0;
  chunk_at_ = nullptr;
  bytes_ = 0;
}

}  // namespace waggle::column
