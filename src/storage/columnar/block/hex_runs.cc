#include "storage/columnar/block/hex_runs.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#include "base/hex.h"

namespace waggle::storage::columnar::block {
namespace {

// A run's mark after the escape byte: 1..126 lowercase, 129..254 uppercase, each for runs of
// kMinHexRun to kMaxHexRun characters; 127 and 255 a UUID in either case (8-4-4-4-12 digits,
// 36 characters); 0 the escape byte itself.
constexpr size_t kMaxHexRun = kMinHexRun + 125;
constexpr uint8_t kUpperMarks = 128;
constexpr uint8_t kUuidMark = 127;
constexpr size_t kUuidLength = 36;

constexpr uint8_t kLower = 1, kUpper = 2;
constexpr std::array<uint8_t, 256> kClass = [] {
  std::array<uint8_t, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = kLower | kUpper;
  for (int c = 'a'; c <= 'f'; ++c) t[c] = kLower;
  for (int c = 'A'; c <= 'F'; ++c) t[c] = kUpper;
  return t;
}();

// How many characters from `p` (at most `n`) are of class `cls`.
size_t RunLength(const uint8_t* p, size_t n, uint8_t cls) {
  size_t i = 0;
  while (i < n && (kClass[p[i]] & cls) != 0) ++i;
  return i;
}

// Whether the 36 characters at `p` are a UUID whose digits are all of class `cls`.
bool IsUuid(const uint8_t* p, uint8_t cls) {
  for (size_t i = 0; i < kUuidLength; ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? p[i] != '-' : (kClass[p[i]] & cls) == 0) return false;
  }
  return true;
}

// The 32 digits of a UUID at `p`, two to a byte.
void PutUuidNibbles(const uint8_t* p, std::string* out) {
  for (size_t i = 0; i < kUuidLength;) {
    if (p[i] == '-') ++i;
    out->push_back(static_cast<char>(hex::DigitValue(static_cast<char>(p[i])) << 4 |
                                     hex::DigitValue(static_cast<char>(p[i + 1]))));
    i += 2;
  }
}

Status Corrupt(std::string_view what) {
  return Status::Corruption("hex-packed chunk: " + std::string(what));
}

// The run that starts at p[i], if any: sets *len (0 for none) and its mark.
void RunAt(const uint8_t* p, size_t n, size_t i, size_t* len, uint8_t* mark) {
  *len = 0;
  const uint8_t cls = kClass[p[i]];
  if (cls == 0 || i + kMinHexRun > n) return;
  if (i + kUuidLength <= n) {
    const uint8_t uuid = IsUuid(p + i, kLower) ? kLower : IsUuid(p + i, kUpper) ? kUpper : 0;
    if (uuid != 0) {
      *len = kUuidLength;
      *mark = uuid == kLower ? kUuidMark : kUpperMarks + kUuidMark;
      return;
    }
  }
  // Capped, so a long run is read once, not again from each place it is cut.
  const size_t most = std::min(n - i, kMaxHexRun);
  const size_t lower = (cls & kLower) ? RunLength(p + i, most, kLower) : 0;
  const size_t upper = (cls & kUpper) ? RunLength(p + i, most, kUpper) : 0;
  const size_t run = std::max(lower, upper);
  if (run < kMinHexRun) return;
  *len = run;
  const auto m = static_cast<uint8_t>(run - kMinHexRun + 1);
  *mark = lower >= upper ? m : static_cast<uint8_t>(kUpperMarks + m);
}

}  // namespace

size_t PackHexRuns(std::string_view raw, size_t min_packed, HexPacked* out) {
  const auto* p = reinterpret_cast<const uint8_t*>(raw.data());
  const size_t n = raw.size();
  // First only count: most chunks that are not text have no runs, and are left at that.
  size_t packed = 0;
  for (size_t i = 0; i < n;) {
    size_t len;
    uint8_t mark;
    RunAt(p, n, i, &len, &mark);
    packed += len;
    i += len > 0 ? len : 1;
  }
  if (packed < min_packed) return packed;
  // The escape is the byte the chunk holds least often, so that escaping costs least.
  std::array<size_t, 256> counts{};
  for (size_t i = 0; i < n; ++i) ++counts[p[i]];
  uint8_t escape = 0;
  for (int b = 1; b < 256; ++b) {
    if (counts[b] < counts[escape]) escape = static_cast<uint8_t>(b);
  }
  std::string& body = out->text;
  std::string& nibbles = out->nibbles;
  body.clear();
  nibbles.clear();
  body.reserve(n - packed / 2);
  out->escape = escape;
  for (size_t i = 0; i < n;) {
    size_t len;
    uint8_t mark;
    RunAt(p, n, i, &len, &mark);
    if (len == 0) {
      body.push_back(static_cast<char>(p[i]));
      if (p[i] == escape) body.push_back('\0');
      ++i;
      continue;
    }
    body.push_back(static_cast<char>(escape));
    body.push_back(static_cast<char>(mark));
    if (mark % kUpperMarks == kUuidMark) {
      PutUuidNibbles(p + i, &nibbles);
    } else {
      for (size_t k = 0; k < len; k += 2) {
        const int hi = hex::DigitValue(static_cast<char>(p[i + k]));
        const int lo = k + 1 < len ? hex::DigitValue(static_cast<char>(p[i + k + 1])) : 0;
        nibbles.push_back(static_cast<char>(hi << 4 | lo));
      }
    }
    i += len;
  }
  return packed;
}

Status UnpackHexRuns(uint8_t escape, std::string_view body, std::string_view nibbles,
                     size_t raw_length, std::string* out) {
  out->resize(raw_length);
  char* dst = out->data();
  size_t o = 0;
  for (size_t i = 0; i < body.size();) {
    // Copy up to the next escape in one go.
    const void* hit = std::memchr(body.data() + i, escape, body.size() - i);
    const size_t plain = hit ? static_cast<const char*>(hit) - body.data() - i : body.size() - i;
    if (plain > raw_length - o) return Corrupt("longer than its raw length");
    std::memcpy(dst + o, body.data() + i, plain);
    o += plain;
    i += plain;
    if (i == body.size()) break;
    if (i + 1 == body.size()) return Corrupt("escape at the end");
    const auto mark = static_cast<uint8_t>(body[i + 1]);
    i += 2;
    if (mark == 0) {
      if (o == raw_length) return Corrupt("longer than its raw length");
      dst[o++] = static_cast<char>(escape);
      continue;
    }
    if (mark == kUpperMarks) return Corrupt("bad run mark");
    const char* digits = mark > kUpperMarks ? hex::kUpperDigits : hex::kLowerDigits;
    const auto* nb = reinterpret_cast<const uint8_t*>(nibbles.data());
    if (mark % kUpperMarks == kUuidMark) {
      if (kUuidLength > raw_length - o) return Corrupt("longer than its raw length");
      if (nibbles.size() < 16) return Corrupt("runs past the nibbles");
      for (size_t k = 0; k < 16; ++k) {
        if (k == 4 || k == 6 || k == 8 || k == 10) dst[o++] = '-';
        dst[o++] = digits[nb[k] >> 4];
        dst[o++] = digits[nb[k] & 15];
      }
      nibbles.remove_prefix(16);
      continue;
    }
    const size_t len = (mark > kUpperMarks ? mark - kUpperMarks : mark) + kMinHexRun - 1;
    const size_t bytes = (len + 1) / 2;
    if (len > raw_length - o) return Corrupt("longer than its raw length");
    if (bytes > nibbles.size()) return Corrupt("runs past the nibbles");
    for (size_t k = 0; k < len / 2; ++k) {
      dst[o++] = digits[nb[k] >> 4];
      dst[o++] = digits[nb[k] & 15];
    }
    if (len % 2 != 0) {
      if ((nb[len / 2] & 15) != 0) return Corrupt("odd run not padded with zero");
      dst[o++] = digits[nb[len / 2] >> 4];
    }
    nibbles.remove_prefix(bytes);
  }
  if (o != raw_length) return Corrupt("shorter than its raw length");
  if (!nibbles.empty()) return Corrupt("nibbles left over");
  return Status::Ok();
}

}  // namespace waggle::storage::columnar::block
