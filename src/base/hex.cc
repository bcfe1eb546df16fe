#include "base/hex.h"

namespace waggle::hex {

void Append(std::string* dst, const uint8_t* bytes, size_t n) {
  size_t at = dst->size();
  dst->resize(at + 2 * n);
  char* out = dst->data() + at;
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kLowerDigits[bytes[i] >> 4];
    out[2 * i + 1] = kLowerDigits[bytes[i] & 0xf];
  }
}

bool Decode(std::string_view text, uint8_t* out, size_t n) {
  if (text.size() != 2 * n) return false;
  for (size_t i = 0; i < n; ++i) {
    int hi = DigitValue(text[2 * i]);
    int lo = DigitValue(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

bool ParseU64(std::string_view text, uint64_t* out) {
  if (text.empty() || text.size() > 16) return false;
  uint64_t v = 0;
  for (char c : text) {
    int d = DigitValue(c);
    if (d < 0) return false;
    v = v << 4 | static_cast<uint64_t>(d);
  }
  *out = v;
  return true;
}

}  // namespace waggle::hex
