#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

// Little-endian fixed-width and varint encodings for on-disk formats.
namespace waggle::coding {

inline void PutFixed32(std::string* dst, uint32_t v) {
  char buf[4];
  std::memcpy(buf, &v, 4);  // x86-64 and aarch64 are little-endian
  dst->append(buf, 4);
}
inline uint32_t DecodeFixed32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t DecodeFixed64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// The most bytes a varint of a uint64_t takes.
inline constexpr size_t kMaxVarint64Length = 10;

// Writes `v` at `p` (which must have kMaxVarint64Length bytes of room); returns the end.
inline char* EncodeVarint64(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}
// Zig-zag so that small negative numbers stay small.
inline char* EncodeVarsint64(char* p, int64_t v) {
  return EncodeVarint64(p, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}
inline char* EncodeFixed64(char* p, uint64_t v) {
  std::memcpy(p, &v, 8);
  return p + 8;
}
inline void PutFixed64(std::string* dst, uint64_t v) {
  char buf[8];
  dst->append(buf, static_cast<size_t>(EncodeFixed64(buf, v) - buf));
}

inline void PutVarint64(std::string* dst, uint64_t v) {
  char buf[kMaxVarint64Length];
  dst->append(buf, static_cast<size_t>(EncodeVarint64(buf, v) - buf));
}
inline void PutVarsint64(std::string* dst, int64_t v) {
  char buf[kMaxVarint64Length];
  dst->append(buf, static_cast<size_t>(EncodeVarsint64(buf, v) - buf));
}
inline void PutLengthPrefixed(std::string* dst, std::string_view s) {
  PutVarint64(dst, s.size());
  dst->append(s);
}

// The bytes PutVarint64 takes for `v`.
inline size_t VarintLength(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Reads from the front of `in`, advancing it. Each returns false on truncated input.
bool GetVarint64Slow(std::string_view* in, uint64_t* v);
// Inline for the one-byte case, which most varints on the read paths are.
inline bool GetVarint64(std::string_view* in, uint64_t* v) {
  if (!in->empty() && static_cast<unsigned char>((*in)[0]) < 0x80) {
    *v = static_cast<unsigned char>((*in)[0]);
    in->remove_prefix(1);
    return true;
  }
  return GetVarint64Slow(in, v);
}
bool GetVarsint64(std::string_view* in, int64_t* v);
bool GetFixed32(std::string_view* in, uint32_t* v);
bool GetFixed64(std::string_view* in, uint64_t* v);
bool GetLengthPrefixed(std::string_view* in, std::string_view* s);
bool GetBytes(std::string_view* in, size_t n, std::string_view* s);

}  // namespace waggle::coding
