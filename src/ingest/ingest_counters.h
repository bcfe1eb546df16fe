#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

// Counters of what ingest accepted and rejected, by reason. Exported on /metrics.
namespace waggle::ingest {

// A fixed set of reasons (X-Ray error codes and datagram faults); unknown ones count as "other".
class RejectionCounters {
 public:
  static constexpr std::array<std::string_view, 19> kReasons = {
      "truncated",       "missing_newline",  "bad_header",       "empty_body",     "InvalidSegment",
      "MissingId",       "InvalidId",        "MissingTraceId",   "InvalidTraceId", "MissingName",
      "InvalidName",     "MissingStartTime", "InvalidStartTime", "MissingEndTime", "InvalidEndTime",
      "MissingParentId", "InvalidParentId",  "store_error",      "other"};

  void Add(std::string_view reason, uint64_t n = 1);
  uint64_t Get(std::string_view reason) const;
  uint64_t Total() const;

 private:
  std::array<std::atomic<uint64_t>, kReasons.size()> counts_{};
};

// Thread-safe: every member is atomic.
struct IngestCounters {
  std::atomic<uint64_t> udp_datagrams{0};
  std::atomic<uint64_t> udp_segments_accepted{0};
  std::atomic<uint64_t> udp_spans_accepted{0};
  RejectionCounters udp_rejected;
  std::atomic<uint64_t> api_segments_accepted{0};
  std::atomic<uint64_t> api_spans_accepted{0};
  RejectionCounters api_rejected;
  // Lone surrogate escapes and bytes that were not UTF-8 in segment documents (UDP and API),
  // stored as U+FFFD in documents that were kept.
  std::atomic<uint64_t> text_repairs{0};
};

}  // namespace waggle::ingest
