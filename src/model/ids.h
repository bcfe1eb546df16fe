#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <compare>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "base/mix.h"

// Trace and span identifiers. An X-Ray id `1-5759e988-bd862e3fe1be46a994272793` and the W3C id
// `5759e988bd862e3fe1be46a994272793` are the same 16 bytes (spec/otlp.md §9.2).
namespace waggle::model {

struct TraceId {
  std::array<uint8_t, 16> bytes{};

  // `1-XXXXXXXX-YYYYYYYYYYYYYYYYYYYYYYYY` (either case).
  static bool ParseXRay(std::string_view text, TraceId* out);
  // 32 hex digits.
  static bool ParseHex(std::string_view text, TraceId* out);
  // Either form.
  static bool Parse(std::string_view text, TraceId* out);

  std::string ToXRay() const;
  std::string ToHex() const;
  // The epoch seconds in the first four bytes (the X-Ray id's time part).
  uint32_t XRayEpochSeconds() const {
    return static_cast<uint32_t>(bytes[0]) << 24 | static_cast<uint32_t>(bytes[1]) << 16 |
           static_cast<uint32_t>(bytes[2]) << 8 | bytes[3];
  }
  bool IsZero() const {
    static constexpr std::array<uint8_t, 16> kZero{};
    return bytes == kZero;
  }
  // The largest id (all bytes 0xff).
  static TraceId Max() {
    TraceId id;
    id.bytes.fill(0xff);
    return id;
  }
  // The smallest and the largest id whose first four bytes are `seconds`.
  static TraceId FirstAt(uint32_t seconds) {
    TraceId id;
    for (int i = 0; i < 4; ++i) id.bytes[i] = static_cast<uint8_t>(seconds >> (24 - 8 * i));
    return id;
  }
  static TraceId LastAt(uint32_t seconds) {
    TraceId id = FirstAt(seconds);
    std::fill(id.bytes.begin() + 4, id.bytes.end(), 0xff);
    return id;
  }
  // Two word compares, not a call to memcmp (trace ids are compared in every hash map probe
  // and in every sort by trace). Equality needs no byte order; the order is byte by byte, as
  // the two halves read as big-endian numbers.
  friend bool operator==(const TraceId& a, const TraceId& b) {
    return a.Word(0) == b.Word(0) && a.Word(1) == b.Word(1);
  }
  friend std::strong_ordering operator<=>(const TraceId& a, const TraceId& b) {
    const uint64_t a0 = a.Half(0), b0 = b.Half(0);
    return a0 != b0 ? a0 <=> b0 : a.Half(1) <=> b.Half(1);
  }

 private:
  // Bytes 8*i to 8*i+7 as a word in native order.
  uint64_t Word(int i) const {
    uint64_t v;
    std::memcpy(&v, bytes.data() + 8 * i, 8);
    return v;
  }
  // The same bytes as a big-endian number.
  uint64_t Half(int i) const {
    const uint64_t v = Word(i);
    if constexpr (std::endian::native == std::endian::little) return __builtin_bswap64(v);
    return v;
  }
};

// Keyed by a seed, the process's by default: clients choose trace ids, and ids made to collide
// under an unkeyed hash would put a head's traces in one bucket (hash flooding, base/mix.h).
struct TraceIdHash {
  uint64_t seed = ProcessHashSeed();
  size_t operator()(const TraceId& id) const {
    uint64_t a, b;
    std::memcpy(&a, id.bytes.data(), 8);
    std::memcpy(&b, id.bytes.data() + 8, 8);
    return static_cast<size_t>(MixFinalize(MixFinalize(a ^ seed) ^ b));
  }
};

// An 8-byte span (segment, subsegment) id; zero means "none".
struct SpanId {
  uint64_t value = 0;

  // Exactly 16 hex digits (either case).
  static bool ParseHex(std::string_view text, SpanId* out);
  std::string ToHex() const;
  bool IsZero() const { return value == 0; }
  auto operator<=>(const SpanId&) const = default;
};

// Maps and sets keyed by span ids (SpanId::value). Clients choose the ids, so they hash with
// the process's seed (SeededHash64, base/mix.h): use these rather than std::hash.
template <typename V>
using BySpanId = std::unordered_map<uint64_t, V, SeededHash64>;
using SpanIdSet = std::unordered_set<uint64_t, SeededHash64>;

}  // namespace waggle::model
