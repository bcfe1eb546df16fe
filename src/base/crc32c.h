#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

// CRC-32C (Castagnoli), hardware-accelerated where the CPU has SSE4.2.
namespace waggle::crc32c {

// Extends `init_crc` with `data`.
uint32_t Extend(uint32_t init_crc, const char* data, size_t n);
inline uint32_t Value(std::string_view data) { return Extend(0, data.data(), data.size()); }

// Stored CRCs are masked so that a CRC of data that itself contains CRCs stays robust.
constexpr uint32_t kMaskDelta = 0xa282ead8u;
inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }
inline uint32_t Unmask(uint32_t masked) {
  uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace waggle::crc32c
