#pragma once

#include <array>
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
// Each byte's value as a hex digit of either case, -1 for a byte that is not one. A lookup:
// branches on the digit's range mispredict on random digits (ids), 3-5% of writing a block.
inline constexpr std::array<int8_t, 256> kDigitValues = [] {
  std::array<int8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    t[c] = c >= '0' && c <= '9'   ? static_cast<int8_t>(c - '0')
           : c >= 'a' && c <= 'f' ? static_cast<int8_t>(c - 'a' + 10)
           : c >= 'A' && c <= 'F' ? static_cast<int8_t>(c - 'A' + 10)
                                  : int8_t{-1};
  }
  return t;
}();
constexpr int DigitValue(char c) { return kDigitValues[static_cast<uint8_t>(c)]; }

}  // namespace waggle::hex
