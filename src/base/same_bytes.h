#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace waggle {

// Whether `a` and `b` hold the same bytes, as a == b, but inline up to 32 bytes: in a few
// loads that overlap, where a call to memcmp cost more than the compare. Ingest compares
// every attribute key and most values with the one it expects (a dictionary's, a column's),
// and most are that short.
inline bool SameBytes(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  if (n != b.size()) return false;
  const char* p = a.data();
  const char* q = b.data();
  auto word = [](const char* at) {
    uint64_t w;
    std::memcpy(&w, at, 8);
    return w;
  };
  if (n >= 8) {
    if (n > 32) return std::memcmp(p, q, n) == 0;
    uint64_t diff = (word(p) ^ word(q)) | (word(p + n - 8) ^ word(q + n - 8));
    if (n > 16) {
      diff |= (word(p + 8) ^ word(q + 8)) | (word(p + n - 16) ^ word(q + n - 16));
    }
    return diff == 0;
  }
  if (n >= 4) {
    uint32_t x0, y0, x1, y1;
    std::memcpy(&x0, p, 4);
    std::memcpy(&y0, q, 4);
    std::memcpy(&x1, p + n - 4, 4);
    std::memcpy(&y1, q + n - 4, 4);
    return ((x0 ^ y0) | (x1 ^ y1)) == 0;
  }
  // 0 to 3 bytes: the first, middle and last cover them all.
  return n == 0 || (p[0] == q[0] && p[n / 2] == q[n / 2] && p[n - 1] == q[n - 1]);
}

}  // namespace waggle
