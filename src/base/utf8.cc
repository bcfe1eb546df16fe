#include "base/utf8.h"

#include <cstdint>

namespace waggle {

size_t Utf8SequenceAt(std::string_view in, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(in[k]); };
  const uint8_t b = byte(i);
  if (b < 0x80) return 1;
  size_t n;
  uint8_t lo = 0x80, hi = 0xbf;  // the range of the second byte
  if (b >= 0xc2 && b <= 0xdf) {
    n = 2;
  } else if (b >= 0xe0 && b <= 0xef) {
    n = 3;
    if (b == 0xe0) lo = 0xa0;  // overlong
    if (b == 0xed) hi = 0x9f;  // surrogates
  } else if (b >= 0xf0 && b <= 0xf4) {
    n = 4;
    if (b == 0xf0) lo = 0x90;  // overlong
    if (b == 0xf4) hi = 0x8f;  // past U+10FFFF
  } else {
    return 0;
  }
  if (i + n > in.size() || byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return 0;
  }
  return n;
}

bool IsUtf8Slow(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8SequenceAt(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

size_t AppendValidUtf8(std::string* out, std::string_view in) {
  out->reserve(out->size() + in.size());
  size_t replaced = 0;
  for (size_t i = 0; i < in.size();) {
    const size_t n = Utf8SequenceAt(in, i);
    if (n == 0) {
      *out += "\xef\xbf\xbd";  // U+FFFD
      ++replaced;
      ++i;
    } else {
      out->append(in, i, n);
      i += n;
    }
  }
  return replaced;
}

}  // namespace waggle
