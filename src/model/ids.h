#pragma once

#include <algorithm>
#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

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
  auto operator<=>(const TraceId&) const = default;
};

struct TraceIdHash {
  size_t operator()(const TraceId& id) const {
    uint64_t a, b;
    std::memcpy(&a, id.bytes.data(), 8);
    std::memcpy(&b, id.bytes.data() + 8, 8);
    return static_cast<size_t>(a * kGoldenGamma ^ b);
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

}  // namespace waggle::model
