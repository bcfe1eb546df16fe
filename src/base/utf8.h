#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

// UTF-8 checks and repair: for text clients send (strings must be UTF-8, and some clients send
// what is not), and for text that goes back to them inside JSON (a message that echoes what a
// client sent must stay valid UTF-8, or the client fails to read the answer at all).
namespace waggle {

// Whether every byte of `s` is below 0x80: nearly every string on the wire. A word at a time,
// the last word (or the last of a short string's pieces) overlapping the ones before: no loop
// over a tail, whose length would vary from string to string.
inline bool IsAscii(std::string_view s) {
  const char* p = s.data();
  const size_t n = s.size();
  auto load64 = [](const char* at) {
    uint64_t w;
    std::memcpy(&w, at, 8);
    return w;
  };
  uint64_t high;
  if (n >= 8) {
    high = load64(p + n - 8);
    for (size_t i = 0; i + 8 < n; i += 8) high |= load64(p + i);
  } else if (n >= 4) {
    uint32_t a, b;
    std::memcpy(&a, p, 4);
    std::memcpy(&b, p + n - 4, 4);
    high = a | b;
  } else if (n > 0) {
    high = static_cast<uint8_t>(p[0]) | static_cast<uint8_t>(p[n / 2]) |
           static_cast<uint8_t>(p[n - 1]);
  } else {
    return true;
  }
  return (high & 0x8080808080808080u) == 0;
}

// Whether `s` is well-formed UTF-8 (RFC 3629).
bool IsUtf8Slow(std::string_view s);
inline bool IsUtf8(std::string_view s) { return IsAscii(s) || IsUtf8Slow(s); }

// The length (1 to 4) of the well-formed UTF-8 sequence that begins at in[at], or 0 when none
// does (`at` < in.size()).
size_t Utf8SequenceAt(std::string_view in, size_t at);

// Appends `in` to *out with every byte that does not begin a well-formed UTF-8 sequence (RFC
// 3629: no overlong forms, no surrogates, nothing past U+10FFFF) replaced by U+FFFD; returns how
// many it replaced.
size_t AppendValidUtf8(std::string* out, std::string_view in);

// `in` as UTF-8: itself when it is (nearly always, and then nothing is copied), else its repair
// (AppendValidUtf8) put in *storage. The repair's count of U+FFFD is added to *repairs unless
// that is null.
inline std::string_view AsValidUtf8(std::string_view in, std::string* storage,
                                    uint64_t* repairs = nullptr) {
  if (IsUtf8(in)) return in;
  storage->clear();
  const size_t replaced = AppendValidUtf8(storage, in);
  if (repairs != nullptr) *repairs += replaced;
  return *storage;
}

}  // namespace waggle
