#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

// Fixed-width bit packing of unsigned integers: value i occupies bits [i*w, (i+1)*w) of a
// little-endian bit stream, least significant bit first (docs/block-format.md).
namespace waggle::column {

// Bits needed for `max` (0 for 0, 64 for values with the top bit set).
inline int BitWidth(uint64_t max) { return std::bit_width(max); }

// Bytes that `n` values of `width` bits take.
inline size_t PackedSize(size_t n, int width) { return (n * static_cast<size_t>(width) + 7) / 8; }

// Appends `n` values of `width` bits (each value must fit) to `out`.
void BitPack(const uint64_t* values, size_t n, int width, std::string* out);

// Reads `n` values of `width` bits from `packed`, which holds at least PackedSize(n, width)
// bytes, adding `base` to each (frame of reference).
void BitUnpack(std::string_view packed, size_t n, int width, uint64_t base, uint64_t* out);

// Keeps the entries of `rows` (n ascending row numbers) whose packed value lies in [lo, hi],
// reading only those rows' bits; returns how many were kept (at the front of `rows`).
size_t BitSelectRange(std::string_view packed, int width, uint64_t lo, uint64_t hi, uint32_t* rows,
                      size_t n);

// The same for widths up to 32, into 32-bit values (dictionary codes).
void BitUnpack32(std::string_view packed, size_t n, int width, uint32_t* out);

}  // namespace waggle::column
