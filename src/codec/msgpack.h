#pragma once

#include <cstdint>
#include <string>
#include <string_view>

// MessagePack (github.com/msgpack/msgpack/blob/master/spec.md), as Honeycomb's Go clients send
// Events API batches in it (spec/honeycomb.md §2.1): a reader of untrusted bytes that copies
// nothing, and the few writes an answer needs.
namespace waggle::codec::msgpack {

enum class Type : uint8_t {
  kNil,
  kBool,
  kInt,
  kUint,
  kFloat,
  kString,
  kBinary,
  kArray,
  kMap,
  kExt
};

// One value's header: a scalar whole; an array or map only its count, its entries following it
// in the input (a map's as key, value, key, value...); a string, binary or extension its bytes.
struct Value {
  Type type = Type::kNil;
  bool b = false;          // kBool
  int64_t i = 0;           // kInt: a negative integer, or a positive one sent as signed
  uint64_t u = 0;          // kUint
  double d = 0;            // kFloat (float 32 widened)
  std::string_view bytes;  // kString, kBinary, kExt
  uint32_t count = 0;      // kArray: entries; kMap: pairs
  int8_t ext_type = 0;     // kExt

  // An integer, signed or not, that fits int64.
  bool AsInt64(int64_t* out) const;
  // Any number (an integer, signed or not, or a float) as a double.
  bool AsDouble(double* out) const;
};

// Reads values one header at a time. Every length is checked against what is left, so a count
// or length that lies only ends the read (ok() false); nothing is reserved from a count.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  // Reads the next value's header into *v; false at the end of the input or on a malformed or
  // cut value (then ok() is false too).
  bool Next(Value* v);
  // Reads past the entries of `v` when it is an array or map (nested ones too, without
  // recursion); true for any other value.
  bool SkipEntries(const Value& v);
  // Reads past the next value and everything in it.
  bool SkipValue();

  bool ok() const { return ok_; }
  bool done() const { return in_.empty(); }
  size_t left() const { return in_.size(); }

 private:
  bool Fail() {
    ok_ = false;
    return false;
  }
  bool Take(size_t n, std::string_view* out);
  bool TakeBE(size_t n, uint64_t* out);

  std::string_view in_;
  bool ok_ = true;
};

// The extension types that hold a time: -1, the spec's timestamp (4, 8 or 12 bytes), and 5,
// the time.Time of the tinylib/msgp Go library (12 bytes: int64 seconds, int32 nanoseconds,
// big-endian), which libhoney-go's encoder writes for a time.Time in an event's data.
// Nanoseconds since the epoch; false for another extension or a time int64 ns cannot hold.
bool TimeOf(const Value& ext, int64_t* ns);

// Writes, for answers.
void PutArrayHeader(std::string* out, uint32_t n);
void PutMapHeader(std::string* out, uint32_t n);
void PutString(std::string* out, std::string_view s);
void PutInt(std::string* out, int64_t v);

}  // namespace waggle::codec::msgpack
