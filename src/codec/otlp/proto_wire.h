#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "base/coding.h"

// The protobuf wire format (spec/otlp.md §5): a reader over untrusted bytes that never reads
// past its end, and the writes responses (and test and benchmark requests) need.
namespace waggle::codec::otlp::wire {

enum WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLen = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5
};

// Reads one message's fields in order. Every call returns false (and leaves the reader
// failed) on truncated or malformed input.
class Reader {
 public:
  explicit Reader(std::string_view bytes)
      : p_(reinterpret_cast<const uint8_t*>(bytes.data())), end_(p_ + bytes.size()) {}

  bool done() const { return p_ == end_; }

  // Reads the next tag. False at the end of the message or on a bad tag (see ok()).
  bool Next(uint32_t* field, uint32_t* type) {
    if (p_ == end_) return false;
    uint64_t tag;
    if (!Varint(&tag) || (tag >> 3) == 0 || (tag >> 3) > 0x1fffffff) return Fail();
    *field = static_cast<uint32_t>(tag >> 3);
    *type = static_cast<uint32_t>(tag & 7);
    return true;
  }
  // False when a read failed (as opposed to the message ending).
  bool ok() const { return ok_; }

  bool Varint(uint64_t* v) {
    // Tags and most lengths are one byte: that case inline, the rest out of line.
    if (p_ != end_ && *p_ < 0x80) {
      *v = *p_++;
      return true;
    }
    return LongVarint(v);
  }
  bool Fixed64(uint64_t* v) {
    if (end_ - p_ < 8) return Fail();
    std::memcpy(v, p_, 8);  // little-endian hosts only (x86-64, arm64)
    p_ += 8;
    return true;
  }
  bool Fixed32(uint32_t* v) {
    if (end_ - p_ < 4) return Fail();
    std::memcpy(v, p_, 4);
    p_ += 4;
    return true;
  }
  bool Bytes(std::string_view* v) {
    uint64_t n;
    if (!Varint(&n)) return false;
    if (n > static_cast<uint64_t>(end_ - p_)) return Fail();
    *v = std::string_view(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return true;
  }
  // Skips a field of `type` (the one Next() just read for `field`). An unknown group (wire
  // types 3..4, proto2's) is skipped to its matching end tag, as libprotobuf does.
  bool Skip(uint32_t type, uint32_t field = 0) {
    uint64_t u64;
    uint32_t u32;
    std::string_view s;
    switch (type) {
      case kVarint:
        return Varint(&u64);
      case kFixed64:
        return Fixed64(&u64);
      case kLen:
        return Bytes(&s);
      case kFixed32:
        return Fixed32(&u32);
      case kStartGroup:
        return SkipGroup(field);
      default:
        return Fail();  // a stray end-group tag, or types 6 and 7
    }
  }
  // Reads a field whose wire type must be `want`; anything else is malformed for a known
  // field.
  bool Expect(uint32_t type, uint32_t want) { return type == want || Fail(); }

 private:
  static constexpr int kMaxGroupDepth = 100;

  [[gnu::noinline]] bool LongVarint(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return Fail();
      const uint8_t b = *p_++;
      result |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (b < 0x80) {
        *v = result;
        return true;
      }
    }
    return Fail();
  }

  // Skips fields up to the end-group tag of `field`, nested groups included.
  bool SkipGroup(uint32_t field) {
    uint32_t open[kMaxGroupDepth];
    int depth = 0;
    open[depth++] = field;
    while (depth > 0) {
      uint32_t f, t;
      if (!Next(&f, &t)) return Fail();
      if (t == kEndGroup) {
        if (open[--depth] != f) return Fail();
      } else if (t == kStartGroup) {
        if (depth == kMaxGroupDepth) return Fail();
        open[depth++] = f;
      } else if (t == kVarint || t == kFixed64 || t == kLen || t == kFixed32) {
        if (!Skip(t)) return false;
      } else {
        return Fail();
      }
    }
    return true;
  }

  bool Fail() {
    ok_ = false;
    p_ = end_;
    return false;
  }
  const uint8_t* p_;
  const uint8_t* end_;
  bool ok_ = true;
};

// Protobuf's varints and fixed-width numbers are those of the store's formats (LEB128, little
// endian).
inline void PutVarint(std::string* out, uint64_t v) { coding::PutVarint64(out, v); }
inline void PutTag(std::string* out, uint32_t field, uint32_t type) {
  PutVarint(out, uint64_t{field} << 3 | type);
}
inline void PutFixed64(std::string* out, uint64_t v) { coding::PutFixed64(out, v); }
inline void PutFixed32(std::string* out, uint32_t v) { coding::PutFixed32(out, v); }
inline void PutBytes(std::string* out, uint32_t field, std::string_view bytes) {
  PutTag(out, field, kLen);
  PutVarint(out, bytes.size());
  out->append(bytes);
}

}  // namespace waggle::codec::otlp::wire
