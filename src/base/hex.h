#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace waggle::hex {

inline constexpr char kLowerDigits[] = "0123456789abcdef";
inline constexpr char kUpperDigits[] = "0123456789ABCDEF";

// Appends 2*n lowercase hex digits.
void Append(std::string* dst, const uint8_t* bytes, size_t n);
// Decodes exactly 2*n hex digits (either case) into `out`; false on a non-hex digit.
bool Decode(std::string_view text, uint8_t* out, size_t n);
// Decodes up to 16 hex digits into an integer; false on a non-hex digit or empty text.
bool ParseU64(std::string_view text, uint64_t* out);
constexpr int DigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace waggle::hex
