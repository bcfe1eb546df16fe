#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

// CRC-32C (Castagnoli), hardware-accelerated where the CPU has SSE4.2.
namespace waggle::crc32c {

// Extends `init_crc` with `data`.
uint32_t Extend(uint32_t init_crc, const char* data, size_t n);
inline uint32_t Value(std::string_view data) { return Extend(0, data.data(), data.size()); }

namespace internal {

// Multiplication by a fixed polynomial `m` modulo the CRC's (CRC registers without their
// inversions, reflected bit order): linear in the other factor, so a lookup per byte of it.
class TimesTable {
 public:
  TimesTable() = default;  // times 0
  explicit TimesTable(uint32_t m);
  uint32_t operator()(uint32_t r) const {
    return t_[0][r & 0xff] ^ t_[1][(r >> 8) & 0xff] ^ t_[2][(r >> 16) & 0xff] ^ t_[3][r >> 24];
  }

 private:
  uint32_t t_[4][256] = {};
};

}  // namespace internal

// CRCs of any stretch of one buffer, each in a time that does not grow with the stretch's
// length: the CRCs of the buffer's prefixes every kStride bytes are computed once, and a
// stretch's CRC is found from the two prefixes around it, as CRC(A then B) = CRC(A) *
// x^(8|B|) XOR CRC(B) modulo the polynomial. For looking for records at every offset of
// damaged bytes (WAL recovery), where computing each candidate's CRC over its claimed length
// would take time quadratic in the bytes. The buffer must outlive it. Thread-compatible.
class StretchCrc {
 public:
  explicit StretchCrc(std::string_view data);
  // Value(data.substr(begin, end - begin)); begin <= end <= data.size().
  uint32_t Of(size_t begin, size_t end);

 private:
  static constexpr size_t kStride = 512;
  // A prefix's CRC, kept: a search moves its stretch a byte at a time, and each prefix extends
  // the one before by a byte or so.
  struct Cursor {
    size_t end = 0;
    uint32_t crc = 0;
  };
  // Value(data.substr(0, end)), from `c` when it is a little before `end`, else from the
  // prefix before `end`; `c` is left at `end`.
  uint32_t Prefix(size_t end, Cursor* c) const;
  std::string_view data_;
  std::vector<uint32_t> prefixes_;  // prefixes_[i]: Value(data.substr(0, i * kStride))
  Cursor begin_, end_;
  // x^(8n) for the last length n, and how many stretches in a row had it.
  size_t power_length_ = 0;
  uint32_t power_ = 1u << 31;
  size_t power_uses_ = 0;
  internal::TimesTable times_power_;  // times power_, once it served kUsesForATable
};

// Stored CRCs are masked so that a CRC of data that itself contains CRCs stays robust.
constexpr uint32_t kMaskDelta = 0xa282ead8u;
inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }
inline uint32_t Unmask(uint32_t masked) {
  uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace waggle::crc32c
