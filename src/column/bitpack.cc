#include "column/bitpack.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <utility>

namespace waggle::column {
namespace {

inline uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Reads the value at bit offset `bit`, touching only bytes below `end` (the slow path for
// the last values of a buffer and for widths over 56 bits).
uint64_t ReadSafe(const char* data, size_t size, size_t bit, int width) {
  uint64_t v = 0;
  int got = 0;
  size_t byte = bit / 8;
  int shift = static_cast<int>(bit % 8);
  while (got < width && byte < size) {
    uint64_t b = static_cast<uint8_t>(data[byte]) >> shift;
    v |= b << got;
    got += 8 - shift;
    shift = 0;
    ++byte;
  }
  return width == 64 ? v : v & ((uint64_t{1} << width) - 1);
}

// Unpacks with one unaligned 8-byte load per value; `width` <= 56 and every load in range.
template <int W, typename T>
void UnpackFast(const char* data, size_t n, uint64_t base, T* out) {
  constexpr uint64_t kMask = (uint64_t{1} << W) - 1;
  for (size_t i = 0; i < n; ++i) {
    const size_t bit = i * W;
    out[i] = static_cast<T>(((Load64(data + bit / 8) >> (bit % 8)) & kMask) + base);
  }
}

template <typename T>
using UnpackFn = void (*)(const char*, size_t, uint64_t, T*);

template <typename T, int... W>
constexpr auto MakeTable(std::integer_sequence<int, W...>) {
  return std::array<UnpackFn<T>, sizeof...(W)>{&UnpackFast<W + 1, T>...};
}

// Unpacks `n` values of `width` bits (at most kMaxFast of them on the fast path).
template <typename T, int kMaxFast>
void Unpack(std::string_view packed, size_t n, int width, uint64_t base, T* out) {
  if (width == 0) {
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<T>(base);
    return;
  }
  static constexpr auto kFast = MakeTable<T>(std::make_integer_sequence<int, kMaxFast>());
  const char* data = packed.data();
  const size_t size = packed.size();
  // Values whose 8-byte load stays inside the buffer take the fast path.
  size_t fast = 0;
  if (width <= kMaxFast && size >= 8) {
    fast = std::min(n, ((size - 8) * 8) / static_cast<size_t>(width) + 1);
    kFast[width - 1](data, fast, base, out);
  }
  for (size_t i = fast; i < n; ++i) {
    out[i] = static_cast<T>(ReadSafe(data, size, i * static_cast<size_t>(width), width) + base);
  }
}

}  // namespace

int BitWidth(uint64_t max) { return max == 0 ? 0 : 64 - std::countl_zero(max); }

void BitPack(const uint64_t* values, size_t n, int width, std::string* out) {
  const size_t start = out->size();
  out->resize(start + PackedSize(n, width), '\0');
  if (width == 0) return;
  char* data = out->data() + start;
  uint64_t acc = 0;  // bits not yet written
  int have = 0;
  size_t pos = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t v = values[i];
    acc |= v << have;
    const int total = have + width;
    if (total >= 64) {
      std::memcpy(data + pos, &acc, 8);
      pos += 8;
      // The bits of v that did not fit (none when have == 0).
      acc = have == 0 ? 0 : v >> (64 - have);
      have = total - 64;
    } else {
      have = total;
    }
  }
  while (have > 0) {
    data[pos++] = static_cast<char>(acc);
    acc >>= 8;
    have -= 8;
  }
}

void BitUnpack(std::string_view packed, size_t n, int width, uint64_t base, uint64_t* out) {
  Unpack<uint64_t, 56>(packed, n, width, base, out);
}

void BitUnpack32(std::string_view packed, size_t n, int width, uint32_t* out) {
  Unpack<uint32_t, 32>(packed, n, width, 0, out);
}

}  // namespace waggle::column
