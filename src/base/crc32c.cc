#include "base/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace waggle::crc32c {
namespace {

constexpr uint32_t kPoly = 0x82f63b78u;  // reflected Castagnoli polynomial

constexpr std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr auto kTable = MakeTable();

uint32_t ExtendPortable(uint32_t crc, const char* p, size_t n) {
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) {
    crc = kTable[(crc ^ static_cast<unsigned char>(p[i])) & 0xff] ^ (crc >> 8);
  }
  return ~crc;
}

// Polynomials modulo the CRC's, in the CRC's reflected bit order: bit 31 is x^0, bit 0 x^31.
// A CRC (its register without the pre- and post-inversion) is linear over GF(2): appending n
// bytes multiplies the CRC of what came before by x^(8n), so CRC(A then B) =
// CRC(A) * x^(8 |B|) + CRC(B), where + is XOR (the inversions cancel out).
uint32_t MultiplyModPoly(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t bit = 1u << 31; bit != 0; bit >>= 1) {
    if (a & bit) product ^= b;
    b = (b & 1) ? (b >> 1) ^ kPoly : b >> 1;  // b * x
  }
  return product;
}

// x^(8n) mod P: the product over the bytes v (at k) of n of x^(8 v 256^k), from a table.
uint32_t XPowerOfBytes(uint64_t n) {
  static const auto kPowers = [] {
    std::array<std::array<uint32_t, 256>, 8> t{};
    uint32_t x_to_8_256k = 1u << 23;  // x^8, then x^(8 * 256^k)
    for (auto& row : t) {
      row[0] = 1u << 31;  // 1
      for (size_t v = 1; v < 256; ++v) row[v] = MultiplyModPoly(row[v - 1], x_to_8_256k);
      x_to_8_256k = MultiplyModPoly(row[255], x_to_8_256k);
    }
    return t;
  }();
  uint32_t p = 1u << 31;
  for (size_t k = 0; n != 0; ++k, n >>= 8) {
    if (n & 0xff) p = MultiplyModPoly(kPowers[k][n & 0xff], p);
  }
  return p;
}

#if defined(__x86_64__)
// The CRC instruction has a latency of three cycles and a throughput of one: long inputs run
// as three interleaved streams of kStripe bytes, joined by shifting a stream's register over
// the bytes after it: a multiplication by x^(8 kStripe), a table lookup per byte.
constexpr size_t kStripe = 1024;

__attribute__((target("sse4.2"))) uint32_t ExtendSse42(uint32_t crc, const char* p, size_t n) {
  uint64_t c = ~crc;
  if (n >= 3 * kStripe) {
    static const internal::TimesTable shift(XPowerOfBytes(kStripe));
    do {
      uint64_t a = c, b = 0, d = 0;
      for (size_t i = 0; i < kStripe; i += 8) {
        uint64_t va, vb, vd;
        std::memcpy(&va, p + i, 8);
        std::memcpy(&vb, p + kStripe + i, 8);
        std::memcpy(&vd, p + 2 * kStripe + i, 8);
        a = _mm_crc32_u64(a, va);
        b = _mm_crc32_u64(b, vb);
        d = _mm_crc32_u64(d, vd);
      }
      c = shift(shift(static_cast<uint32_t>(a)) ^ static_cast<uint32_t>(b)) ^
          static_cast<uint32_t>(d);
      p += 3 * kStripe;
      n -= 3 * kStripe;
    } while (n >= 3 * kStripe);
  }
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n > 0) {
    c32 = _mm_crc32_u8(c32, static_cast<unsigned char>(*p++));
    --n;
  }
  return ~c32;
}
#endif

using ExtendFn = uint32_t (*)(uint32_t, const char*, size_t);

ExtendFn Choose() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("sse4.2")) return ExtendSse42;
#endif
  return ExtendPortable;
}

}  // namespace

uint32_t Extend(uint32_t init_crc, const char* data, size_t n) {
  static const ExtendFn fn = Choose();
  return fn(init_crc, data, n);
}

StretchCrc::StretchCrc(std::string_view data) : data_(data) {
  prefixes_.reserve(data.size() / kStride + 1);
  uint32_t crc = 0;
  prefixes_.push_back(crc);
  for (size_t at = kStride; at <= data.size(); at += kStride) {
    crc = Extend(crc, data.data() + at - kStride, kStride);
    prefixes_.push_back(crc);
  }
}

uint32_t StretchCrc::Prefix(size_t end, Cursor* c) const {
  if (end < c->end || end - c->end > kStride) {
    const size_t i = end / kStride;
    *c = {i * kStride, prefixes_[i]};
  }
  c->crc = Extend(c->crc, data_.data() + c->end, end - c->end);
  c->end = end;
  return c->crc;
}

uint32_t StretchCrc::Of(size_t begin, size_t end) {
  const size_t n = end - begin;
  if (n <= 2 * kStride) return Extend(0, data_.data() + begin, n);
  // Prefix(end) = Prefix(begin) * x^(8n) XOR Of(begin, end) (see MultiplyModPoly).
  if (n != power_length_) {
    power_length_ = n;
    power_ = XPowerOfBytes(n);
    power_uses_ = 0;
  }
  // Many stretches of one length in a row (bytes that look like the same header at every
  // offset) multiply by a table.
  constexpr size_t kUsesForATable = 64;
  if (++power_uses_ == kUsesForATable) times_power_ = internal::TimesTable(power_);
  const uint32_t before = Prefix(begin, &begin_);
  const uint32_t shifted =
      power_uses_ >= kUsesForATable ? times_power_(before) : MultiplyModPoly(power_, before);
  return shifted ^ Prefix(end, &end_);
}

internal::TimesTable::TimesTable(uint32_t m) {
  // The product is linear in each factor: by bytes, from the products with single bits.
  for (int k = 0; k < 4; ++k) {
    uint32_t bit[8];
    for (int i = 0; i < 8; ++i) bit[i] = MultiplyModPoly(m, uint32_t{1} << (8 * k + i));
    for (uint32_t b = 0; b < 256; ++b) {
      uint32_t v = 0;
      for (int i = 0; i < 8; ++i) v ^= (b >> i & 1) ? bit[i] : 0;
      t_[k][b] = v;
    }
  }
}

}  // namespace waggle::crc32c
