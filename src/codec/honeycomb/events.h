#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "model/span_batch.h"

// Honeycomb's Events API bodies (spec/honeycomb.md §2.1) as spans: an event with trace fields
// (trace.trace_id, trace.span_id, trace.parent_id, name, duration_ms) is the span it
// describes; any other event becomes a one-span trace of its own. Every other field is kept as
// an attribute.
namespace waggle::codec::honeycomb {

// How a body is encoded: JSON, or MessagePack (Content-Type application/msgpack), as
// libhoney-go and what is built on it (Refinery) send batches.
enum class EventEncoding { kJson, kMsgpack };

// Honeycomb's answer to a body it cannot read at all.
inline constexpr std::string_view kMalformedBody = "Request body is malformed and cannot be read.";

struct EventOptions {
  EventEncoding encoding = EventEncoding::kJson;
  std::string_view dataset;      // from the URL path, already decoded
  std::string_view environment;  // from the API key
  int64_t now_ns = 0;            // the receive time: an event's default timestamp
  uint64_t seed = 0;             // for ids of events that carry none
  // Where to count the repairs of a body that is not quite valid JSON (codec::RepairJsonText):
  // lone surrogate escapes and bytes that are not UTF-8, read as U+FFFD. May be null.
  uint64_t* text_repairs = nullptr;
};

// One event's outcome in a batch response: 202, or 400 with an error.
struct EventStatus {
  int status = 202;
  std::string error;
};

// POST /1/batch/{dataset}: an array of {"data": {...}, "time": ..., "samplerate": N}. Appends
// one span per good event and one status per event, in order. InvalidArgument, adding nothing,
// when the body is not an array in its encoding (for MessagePack: with no bytes after it).
Status DecodeBatch(std::string_view body, const EventOptions& options, model::SpanBatch* out,
                   std::vector<EventStatus>* statuses);

// POST /1/events/{dataset}: one object (a map) of fields; the time and sample rate come from the
// X-Honeycomb-Event-Time (base/time_text.h) and X-Honeycomb-Samplerate headers (empty when
// absent).
Status DecodeEvent(std::string_view body, std::string_view event_time, std::string_view samplerate,
                   const EventOptions& options, model::SpanBatch* out);

}  // namespace waggle::codec::honeycomb
