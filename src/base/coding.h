#pragma once

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
inline void PutFixed64(std::string* dst, uint64_t v) {
  char buf[8];
  std::memcpy(buf, &v, 8);
  dst->append(buf, 8);
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

inline void PutVarint64(std::string* dst, uint64_t v) {
  char buf[10];
  int n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  dst->append(buf, n);
}
// Zig-zag so that small negative numbers stay small.
inline void PutVarsint64(std::string* dst, int64_t v) {
  PutVarint64(dst, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
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
