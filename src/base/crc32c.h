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

// The CRC of A then B, from the CRCs of A and of B and B's length (without reading either).
uint32_t Combine(uint32_t crc_a, uint32_t crc_b, size_t len_b);

// CRCs of any stretch of one buffer, each in a time that does not grow with the stretch's
// length: the CRCs of the buffer's prefixes every kStride bytes are computed once, and a
// stretch's CRC is found from the two prefixes around it (Combine's algebra, with the powers
// it needs looked up in tables of 256 KiB and 4 bytes per 64 KiB of the buffer). For looking
// for records at every offset of damaged bytes (WAL recovery), where computing each candidate's
// CRC over its claimed length would take time quadratic in the bytes. The buffer must outlive
// it. Thread-compatible.
class StretchCrc {
 public:
  explicit StretchCrc(std::string_view data);
  // Value(data.substr(begin, end - begin)); begin <= end <= data.size().
  uint32_t Of(size_t begin, size_t end);

 private:
  static constexpr size_t kStride = 512;
  // A prefix's CRC, kept: the next one a little further on extends it.
  struct Cursor {
    size_t end = 0;
    uint32_t crc = 0;
  };
  // Value(data.substr(0, end)), from `c` when it is a little before `end`, else from the
  // prefix before `end`; `c` is left at `end`.
  uint32_t Prefix(size_t end, Cursor* c) const;
  std::string_view data_;
  std::vector<uint32_t> prefixes_;  // prefixes_[i]: Value(data.substr(0, i * kStride))
  // x^(8n) modulo the polynomial is low_[n % 65536] * high_[n / 65536].
  std::vector<uint32_t> low_, high_;
  // A search moves its stretch a byte at a time, often keeping its length: each end extends
  // the one before, and the power is the one before.
  Cursor begin_, end_;
  size_t power_length_ = 0;
  uint32_t power_ = 1u << 31;
  // Once one power serves many stretches in a row (bytes that look like the same header at
  // every offset), multiplying by it is four lookups: times_power_[k][b] is it times byte k.
  size_t power_uses_ = 0;
  uint32_t times_power_[4][256];
};

// Stored CRCs are masked so that a CRC of data that itself contains CRCs stays robust.
constexpr uint32_t kMaskDelta = 0xa282ead8u;
inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }
inline uint32_t Unmask(uint32_t masked) {
  uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace waggle::crc32c
