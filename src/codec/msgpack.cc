#include "codec/msgpack.h"

#include <cstring>

namespace waggle::codec::msgpack {
namespace {

// The `n` bytes at `p` (at most 8) as a big-endian number.
uint64_t LoadBE(const char* p, size_t n) {
  uint64_t v = 0;
  for (size_t k = 0; k < n; ++k) v = v << 8 | static_cast<uint8_t>(p[k]);
  return v;
}

// `tag`, then `v` in `n` big-endian bytes.
void PutBE(std::string* out, uint8_t tag, uint64_t v, size_t n) {
  out->push_back(static_cast<char>(tag));
  for (size_t k = n; k-- > 0;) out->push_back(static_cast<char>(v >> (8 * k)));
}

}  // namespace

bool Value::AsInt64(int64_t* out) const {
  if (type == Type::kInt) {
    *out = i;
    return true;
  }
  if (type == Type::kUint && u <= static_cast<uint64_t>(INT64_MAX)) {
    *out = static_cast<int64_t>(u);
    return true;
  }
  return false;
}

bool Value::AsDouble(double* out) const {
  switch (type) {
    case Type::kInt:
      *out = static_cast<double>(i);
      return true;
    case Type::kUint:
      *out = static_cast<double>(u);
      return true;
    case Type::kFloat:
      *out = d;
      return true;
    default:
      return false;
  }
}

bool Reader::Take(size_t n, std::string_view* out) {
  if (n > in_.size()) return Fail();
  *out = in_.substr(0, n);
  in_.remove_prefix(n);
  return true;
}

bool Reader::TakeBE(size_t n, uint64_t* out) {
  std::string_view b;
  if (!Take(n, &b)) return false;
  *out = LoadBE(b.data(), n);
  return true;
}

bool Reader::Next(Value* v) {
  if (!ok_ || in_.empty()) return false;
  const auto tag = static_cast<uint8_t>(in_[0]);
  in_.remove_prefix(1);
  *v = Value();
  uint64_t n = 0;
  // A string, binary or extension of `len` bytes.
  auto bytes = [&](Type type, uint64_t len) {
    v->type = type;
    return Take(len, &v->bytes);
  };
  auto container = [&](Type type, uint64_t count) {
    v->type = type;
    v->count = static_cast<uint32_t>(count);
    // Each entry (each pair's key and value) takes at least a byte: a count past what is left
    // cannot be met, and is refused before anyone loops on it.
    if (count * (type == Type::kMap ? 2 : 1) > in_.size()) return Fail();
    return true;
  };
  auto ext = [&](uint64_t len) {
    uint64_t type;
    if (!TakeBE(1, &type)) return false;
    v->ext_type = static_cast<int8_t>(static_cast<uint8_t>(type));
    return bytes(Type::kExt, len);
  };
  if (tag <= 0x7f) {
    v->type = Type::kUint;
    v->u = tag;
    return true;
  }
  if (tag >= 0xe0) {
    v->type = Type::kInt;
    v->i = static_cast<int8_t>(tag);
    return true;
  }
  if ((tag & 0xf0) == 0x80) return container(Type::kMap, tag & 0x0f);
  if ((tag & 0xf0) == 0x90) return container(Type::kArray, tag & 0x0f);
  if ((tag & 0xe0) == 0xa0) return bytes(Type::kString, tag & 0x1f);
  switch (tag) {
    case 0xc0:
      v->type = Type::kNil;
      return true;
    case 0xc2:
    case 0xc3:
      v->type = Type::kBool;
      v->b = tag == 0xc3;
      return true;
    case 0xc4:
    case 0xc5:
    case 0xc6:
      return TakeBE(size_t{1} << (tag - 0xc4), &n) && bytes(Type::kBinary, n);
    case 0xc7:
    case 0xc8:
    case 0xc9:
      return TakeBE(size_t{1} << (tag - 0xc7), &n) && ext(n);
    case 0xca: {
      if (!TakeBE(4, &n)) return false;
      float f;
      const auto bits = static_cast<uint32_t>(n);
      std::memcpy(&f, &bits, 4);
      v->type = Type::kFloat;
      v->d = f;
      return true;
    }
    case 0xcb:
      if (!TakeBE(8, &n)) return false;
      v->type = Type::kFloat;
      std::memcpy(&v->d, &n, 8);
      return true;
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
      v->type = Type::kUint;
      return TakeBE(size_t{1} << (tag - 0xcc), &v->u);
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
      const size_t size = size_t{1} << (tag - 0xd0);
      if (!TakeBE(size, &n)) return false;
      // Sign-extend from `size` bytes.
      const int shift = static_cast<int>(64 - 8 * size);
      v->type = Type::kInt;
      v->i = static_cast<int64_t>(n << shift) >> shift;
      return true;
    }
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
      return ext(size_t{1} << (tag - 0xd4));
    case 0xd9:
    case 0xda:
    case 0xdb:
      return TakeBE(size_t{1} << (tag - 0xd9), &n) && bytes(Type::kString, n);
    case 0xdc:
    case 0xdd:
      return TakeBE(size_t{2} << (tag - 0xdc), &n) && container(Type::kArray, n);
    case 0xde:
    case 0xdf:
      return TakeBE(size_t{2} << (tag - 0xde), &n) && container(Type::kMap, n);
    default:  // 0xc1: never used
      return Fail();
  }
}

bool Reader::SkipEntries(const Value& v) {
  // Values still to read: a count, not a stack, so that nesting costs no depth.
  uint64_t pending = v.type == Type::kArray ? v.count : v.type == Type::kMap ? 2 * v.count : 0;
  Value e;
  while (pending > 0) {
    if (!Next(&e)) return Fail();
    --pending;
    if (e.type == Type::kArray) pending += e.count;
    if (e.type == Type::kMap) pending += 2 * uint64_t{e.count};
  }
  return true;
}

bool Reader::SkipValue() {
  Value v;
  return Next(&v) && SkipEntries(v);
}

bool TimeOf(const Value& ext, int64_t* ns) {
  if (ext.type != Type::kExt) return false;
  const char* b = ext.bytes.data();
  auto be = [&](size_t at, size_t n) { return LoadBE(b + at, n); };
  int64_t sec;
  uint64_t nsec;
  if (ext.ext_type == -1 && ext.bytes.size() == 4) {
    sec = static_cast<int64_t>(be(0, 4));
    nsec = 0;
  } else if (ext.ext_type == -1 && ext.bytes.size() == 8) {
    const uint64_t v = be(0, 8);
    nsec = v >> 34;
    sec = static_cast<int64_t>(v & ((uint64_t{1} << 34) - 1));
  } else if (ext.ext_type == -1 && ext.bytes.size() == 12) {
    nsec = be(0, 4);
    sec = static_cast<int64_t>(be(4, 8));
  } else if (ext.ext_type == 5 && ext.bytes.size() == 12) {
    sec = static_cast<int64_t>(be(0, 8));
    nsec = static_cast<uint32_t>(be(8, 4));  // an int32: a negative one is out of range below
  } else {
    return false;
  }
  if (nsec >= 1'000'000'000) return false;
  int64_t out;
  if (__builtin_mul_overflow(sec, int64_t{1'000'000'000}, &out) ||
      __builtin_add_overflow(out, static_cast<int64_t>(nsec), &out)) {
    return false;
  }
  *ns = out;
  return true;
}

namespace {

// An array's or map's header: the fix form below 16 entries, else the 16- or 32-bit one.
void PutContainerHeader(std::string* out, uint32_t n, uint8_t fix, uint8_t tag16) {
  if (n < 16) {
    out->push_back(static_cast<char>(fix | n));
  } else if (n <= 0xffff) {
    PutBE(out, tag16, n, 2);
  } else {
    PutBE(out, static_cast<uint8_t>(tag16 + 1), n, 4);
  }
}

}  // namespace

void PutArrayHeader(std::string* out, uint32_t n) { PutContainerHeader(out, n, 0x90, 0xdc); }

void PutMapHeader(std::string* out, uint32_t n) { PutContainerHeader(out, n, 0x80, 0xde); }

void PutString(std::string* out, std::string_view s) {
  const size_t n = s.size();
  if (n < 32) {
    out->push_back(static_cast<char>(0xa0 | n));
  } else if (n <= 0xff) {
    PutBE(out, 0xd9, n, 1);
  } else if (n <= 0xffff) {
    PutBE(out, 0xda, n, 2);
  } else {
    PutBE(out, 0xdb, n, 4);
  }
  out->append(s);
}

void PutInt(std::string* out, int64_t v) {
  if (v >= 0 && v < 128) {
    out->push_back(static_cast<char>(v));
  } else if (v >= -32 && v < 0) {
    out->push_back(static_cast<char>(static_cast<uint8_t>(v)));
  } else {
    PutBE(out, 0xd3, static_cast<uint64_t>(v), 8);
  }
}

}  // namespace waggle::codec::msgpack
