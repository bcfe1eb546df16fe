#include "column/bitpack.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <utility>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

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

// The packed value of `row`, with one unaligned 8-byte load (W <= 56, the load in range).
template <int W>
uint64_t PackedAt(const char* data, uint32_t row) {
  const size_t bit = static_cast<size_t>(row) * W;
  return (Load64(data + bit / 8) >> (bit % 8)) & ((uint64_t{1} << W) - 1);
}

// Selection on packed values, one compare per row and no branches: the rows from `from` to
// `n` whose value is in [lo, lo + span], written to `out` (which may be where they were read).
template <int W>
size_t SelectEvery(const char* data, uint64_t lo, uint64_t span, uint32_t from, size_t n,
                   uint32_t* out) {
  size_t kept = 0;
  for (uint32_t row = from; row < n; ++row) {
    out[kept] = row;
    kept += (PackedAt<W>(data, row) - lo) <= span;
  }
  return kept;
}

// The same over the n row numbers in `rows`.
template <int W>
size_t SelectScalar(const char* data, uint64_t lo, uint64_t span, uint32_t* rows, size_t n) {
  // Every row from 0 (rows ascend without repeats): no need to read the row numbers.
  if (rows[0] == 0 && rows[n - 1] == n - 1) return SelectEvery<W>(data, lo, span, 0, n, rows);
  size_t kept = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t row = rows[i];
    rows[kept] = row;
    kept += (PackedAt<W>(data, row) - lo) <= span;
  }
  return kept;
}

#if defined(__x86_64__)
// For each mask of 8 compare results, the positions of its set bits, lowest first.
struct CompressTable {
  alignas(32) uint32_t at[256][8];
  constexpr CompressTable() : at{} {
    for (uint32_t m = 0; m < 256; ++m) {
      uint32_t k = 0;
      for (uint32_t b = 0; b < 8; ++b) {
        if (m >> b & 1) at[m][k++] = b;
      }
    }
  }
};
constexpr CompressTable kCompress;

// Stores the row numbers of the set bits of `match` (rows `row` to `row` + 7) at `out`, through
// the compress table, and returns how many there are. It writes eight slots: those past the
// matches are written over by the next step or lie past the result.
__attribute__((target("avx2,popcnt"))) inline size_t PutMatches(uint32_t match, uint32_t row,
                                                                uint32_t* out) {
  const __m256i at = _mm256_load_si256(reinterpret_cast<const __m256i*>(kCompress.at[match]));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out),
                      _mm256_add_epi32(at, _mm256_set1_epi32(static_cast<int>(row))));
  return static_cast<size_t>(std::popcount(match));
}

// SelectEvery from row 0, eight rows a step with AVX2. Eight rows of W bits start on a byte
// boundary, so each lane's byte offset and shift within the step are constants: eight loads
// (vpgatherqq was slower on AMD Zen) fill two vectors, a signed compare after flipping the sign
// bits tests them, and the matching row numbers are stored through the compress table.
template <int W>
__attribute__((target("avx2,popcnt"))) size_t SelectAllAvx2(const char* data, uint64_t lo,
                                                            uint64_t span, uint32_t* rows,
                                                            size_t n) {
  constexpr uint64_t kMask = (uint64_t{1} << W) - 1;
  const __m256i shifts_a = _mm256_setr_epi64x(0, W % 8, 2 * W % 8, 3 * W % 8);
  const __m256i shifts_b = _mm256_setr_epi64x(4 * W % 8, 5 * W % 8, 6 * W % 8, 7 * W % 8);
  const __m256i mask = _mm256_set1_epi64x(static_cast<long long>(kMask));
  const __m256i sign = _mm256_set1_epi64x(INT64_MIN);
  const __m256i low = _mm256_set1_epi64x(static_cast<long long>(lo));
  const __m256i limit = _mm256_xor_si256(_mm256_set1_epi64x(static_cast<long long>(span)), sign);
  size_t kept = 0;
  uint32_t row = 0;
  for (; row + 8 <= n; row += 8) {
    const char* step = data + static_cast<size_t>(row) / 8 * W;
    __m256i a = _mm256_setr_epi64x(static_cast<long long>(Load64(step)),
                                   static_cast<long long>(Load64(step + W / 8)),
                                   static_cast<long long>(Load64(step + 2 * W / 8)),
                                   static_cast<long long>(Load64(step + 3 * W / 8)));
    __m256i b = _mm256_setr_epi64x(static_cast<long long>(Load64(step + 4 * W / 8)),
                                   static_cast<long long>(Load64(step + 5 * W / 8)),
                                   static_cast<long long>(Load64(step + 6 * W / 8)),
                                   static_cast<long long>(Load64(step + 7 * W / 8)));
    a = _mm256_and_si256(_mm256_srlv_epi64(a, shifts_a), mask);
    b = _mm256_and_si256(_mm256_srlv_epi64(b, shifts_b), mask);
    // (v - lo) > span, unsigned: the rows that do not match.
    a = _mm256_cmpgt_epi64(_mm256_xor_si256(_mm256_sub_epi64(a, low), sign), limit);
    b = _mm256_cmpgt_epi64(_mm256_xor_si256(_mm256_sub_epi64(b, low), sign), limit);
    const auto out = static_cast<uint32_t>(_mm256_movemask_pd(_mm256_castsi256_pd(a)) |
                                           _mm256_movemask_pd(_mm256_castsi256_pd(b)) << 4);
    kept += PutMatches(~out & 0xff, row, rows + kept);  // kept <= row
  }
  return kept + SelectEvery<W>(data, lo, span, row, n, rows + kept);
}

// The same for widths up to 25, eight rows a step in 32-bit lanes: a value and its shift fit
// in four bytes, and the eight values' bytes lie in two 16-byte loads (the first four rows from
// the step's first byte, the last four from the byte where the fifth begins), so one byte
// shuffle puts each value's bytes in its lane. Runs while those loads stay below `size`;
// `lo` <= the largest W-bit value and `span` <= what is left above it.
template <int W>
__attribute__((target("avx2,popcnt"))) size_t SelectAllAvx2Narrow(const char* data, size_t size,
                                                                  uint32_t lo, uint32_t span,
                                                                  uint32_t* rows, size_t n) {
  static_assert(W <= 25, "a value and its shift must fit in 32 bits");
  constexpr size_t kHalf = 4 * W / 8;  // byte of the second load, relative to the step
  // Byte k of lane i's four, within the load lane i is in (i < 4 the first, else the second);
  // lane i's shift is i * W % 8 (`shifts`).
  constexpr auto byte_at = [](int i, int k) {
    const int from = i * W / 8 - (i < 4 ? 0 : static_cast<int>(kHalf));
    return static_cast<char>(from + k);
  };
  const __m256i shuffle = _mm256_setr_epi8(
      byte_at(0, 0), byte_at(0, 1), byte_at(0, 2), byte_at(0, 3), byte_at(1, 0), byte_at(1, 1),
      byte_at(1, 2), byte_at(1, 3), byte_at(2, 0), byte_at(2, 1), byte_at(2, 2), byte_at(2, 3),
      byte_at(3, 0), byte_at(3, 1), byte_at(3, 2), byte_at(3, 3), byte_at(4, 0), byte_at(4, 1),
      byte_at(4, 2), byte_at(4, 3), byte_at(5, 0), byte_at(5, 1), byte_at(5, 2), byte_at(5, 3),
      byte_at(6, 0), byte_at(6, 1), byte_at(6, 2), byte_at(6, 3), byte_at(7, 0), byte_at(7, 1),
      byte_at(7, 2), byte_at(7, 3));
  const __m256i shifts =
      _mm256_setr_epi32(0, W % 8, 2 * W % 8, 3 * W % 8, 4 * W % 8, 5 * W % 8, 6 * W % 8, 7 * W % 8);
  const __m256i mask = _mm256_set1_epi32(static_cast<int>((uint32_t{1} << W) - 1));
  const __m256i sign = _mm256_set1_epi32(INT32_MIN);
  const __m256i low = _mm256_set1_epi32(static_cast<int>(lo));
  const __m256i limit = _mm256_xor_si256(_mm256_set1_epi32(static_cast<int>(span)), sign);
  // Steps whose second load ends by `size`: step s reads up to s * W + kHalf + 16.
  const size_t steps = size < kHalf + 16 ? 0 : (size - kHalf - 16) / W + 1;
  const size_t end = std::min(n / 8, steps) * 8;
  size_t kept = 0;
  uint32_t row = 0;
  for (; row < end; row += 8) {
    const char* step = data + static_cast<size_t>(row) / 8 * W;
    __m256i v = _mm256_setr_m128i(_mm_loadu_si128(reinterpret_cast<const __m128i*>(step)),
                                  _mm_loadu_si128(reinterpret_cast<const __m128i*>(step + kHalf)));
    v = _mm256_and_si256(_mm256_srlv_epi32(_mm256_shuffle_epi8(v, shuffle), shifts), mask);
    // (v - lo) > span, unsigned: the rows that do not match.
    v = _mm256_cmpgt_epi32(_mm256_xor_si256(_mm256_sub_epi32(v, low), sign), limit);
    const auto out = static_cast<uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(v)));
    kept += PutMatches(~out & 0xff, row, rows + kept);
  }
  return kept + SelectEvery<W>(data, lo, span, row, n, rows + kept);
}

template <int W>
size_t SelectFast(const char* data, size_t size, uint64_t lo, uint64_t span, uint32_t* rows,
                  size_t n) {
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
  if (avx2 && n >= 8 && rows[0] == 0 && rows[n - 1] == n - 1) {
    if constexpr (W <= 25) {
      // BitSelectRange keeps lo and lo + span within W bits.
      return SelectAllAvx2Narrow<W>(data, size, static_cast<uint32_t>(lo),
                                    static_cast<uint32_t>(span), rows, n);
    } else {
      return SelectAllAvx2<W>(data, lo, span, rows, n);
    }
  }
  return SelectScalar<W>(data, lo, span, rows, n);
}
#else
template <int W>
size_t SelectFast(const char* data, size_t /*size*/, uint64_t lo, uint64_t span, uint32_t* rows,
                  size_t n) {
  return SelectScalar<W>(data, lo, span, rows, n);
}
#endif

using SelectFn = size_t (*)(const char*, size_t, uint64_t, uint64_t, uint32_t*, size_t);

template <int... W>
constexpr auto MakeSelectTable(std::integer_sequence<int, W...>) {
  return std::array<SelectFn, sizeof...(W)>{&SelectFast<W + 1>...};
}

}  // namespace

size_t BitSelectRange(std::string_view packed, int width, uint64_t lo, uint64_t hi, uint32_t* rows,
                      size_t n) {
  if (lo > hi) return 0;
  if (width == 0) return lo == 0 ? n : 0;
  // No value is above `largest`: a range past it matches nothing, and one that reaches past
  // it is cut there (which keeps every path's arithmetic within the width).
  const uint64_t largest = width >= 64 ? UINT64_MAX : (uint64_t{1} << width) - 1;
  if (lo > largest) return 0;
  const uint64_t span = std::min(hi, largest) - lo;
  static constexpr auto kFast = MakeSelectTable(std::make_integer_sequence<int, 56>());
  const char* data = packed.data();
  const size_t size = packed.size();
  // Rows whose 8-byte load stays inside the buffer take the fast path (rows ascend).
  size_t fast = 0;
  if (width <= 56 && size >= 8) {
    const size_t limit = ((size - 8) * 8) / static_cast<size_t>(width) + 1;  // rows below it
    fast = static_cast<size_t>(std::lower_bound(rows, rows + n, limit) - rows);
  }
  size_t kept = fast > 0 ? kFast[width - 1](data, size, lo, span, rows, fast) : 0;
  for (size_t i = fast; i < n; ++i) {
    const uint32_t row = rows[i];
    const uint64_t v = ReadSafe(data, size, static_cast<size_t>(row) * width, width);
    rows[kept] = row;
    kept += (v - lo) <= span;
  }
  return kept;
}

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
