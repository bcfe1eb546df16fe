#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

// The well-known fields of a stored span: one column each in every backend, named the same in
// scans, in blocks and in `waggle inspect` (docs/block-format.md). Every other attribute is a
// column of its own, named by its key.
namespace waggle::storage {

// The well-known string fields, in column order.
enum class StringField : uint8_t {
  kEnvironment,
  kService,
  kDataset,
  kName,
  kStatusMessage,
  kHttpMethod,
  kHttpRoute,
  kHttpUrl,
  kClientIp,
  kUserAgent,
  kDbSystem,
  kPeer,
  kTraceState,
  kScopeName,
  kScopeVersion,
};
inline constexpr size_t kStringFieldCount = 15;

// The well-known integer fields, in column order.
enum class IntField : uint8_t {
  kStartNs,
  kDurationNs,  // end_ns - start_ns (wrapping); see kEndIsZero
  kEndIsZero,   // 1 when end_ns is 0 (in progress), so the end survives the round trip
  kKind,
  kInProgress,
  kStatusFlags,
  kHttpStatus,
  kFlags,
  kOtelStatus,
  kSampleRate,
  kFromXRayDocument,
};
inline constexpr size_t kIntFieldCount = 11;

std::string_view StringFieldName(StringField f);
std::string_view IntFieldName(IntField f);
// The field a name stands for, when it names one.
std::optional<StringField> FindStringField(std::string_view name);
std::optional<IntField> FindIntField(std::string_view name);

}  // namespace waggle::storage
