#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "base/clock.h"
#include "model/attribute.h"
#include "model/ids.h"

// The one span record everything becomes (DESIGN.md §2). X-Ray segments and subsegments map
// onto it as in spec/otlp.md §9.4; OTLP spans map onto it field by field.
namespace waggle::model {

// Numbered as OTLP's SpanKind.
enum class SpanKind : uint8_t {
  kUnspecified = 0,
  kInternal = 1,
  kServer = 2,
  kClient = 3,
  kProducer = 4,
  kConsumer = 5,
};

// X-Ray's three independent flags; none set means ok.
enum StatusFlag : uint8_t {
  kStatusError = 1,     // 4xx
  kStatusFault = 2,     // 5xx, OTel status ERROR
  kStatusThrottle = 4,  // 429
};

struct SpanEvent {
  int64_t time_ns = 0;
  std::string name;  // "exception" for exceptions
  Attributes attributes;
  bool operator==(const SpanEvent&) const = default;
};

struct SpanLink {
  TraceId trace_id;
  SpanId span_id;
  std::string trace_state;
  Attributes attributes;
  bool operator==(const SpanLink&) const = default;
};

// Span::context of a span whose attributes are all its own.
inline constexpr uint32_t kNoContext = UINT32_MAX;

struct Span {
  TraceId trace_id;
  SpanId span_id;
  SpanId parent_span_id;  // zero for a root

  std::string environment;  // from the API key or SigV4 access key; "default" when none
  std::string service;      // empty when not known yet (an X-Ray subsegment sent alone)
  std::string dataset;      // the Honeycomb dataset, when it is not `service` (classic keys)
  std::string name;
  SpanKind kind = SpanKind::kUnspecified;

  int64_t start_ns = 0;
  int64_t end_ns = 0;  // 0 while in progress
  bool in_progress = false;
  uint8_t status_flags = 0;  // StatusFlag bits
  std::string status_message;

  // Well-known columns.
  std::string http_method;
  std::string http_route;
  std::string http_url;
  int32_t http_status = 0;  // 0 when absent
  std::string client_ip;
  std::string user_agent;
  std::string db_system;
  std::string peer;  // the remote service a client span calls

  // OTLP's own fields (empty or zero for X-Ray spans).
  std::string trace_state;  // W3C tracestate, verbatim
  std::string scope_name;   // instrumentation scope (Honeycomb's library.name)
  std::string scope_version;
  uint32_t flags = 0;        // OTLP SpanFlags: low 8 bits are the W3C trace flags
  uint8_t otel_status = 0;   // OTLP StatusCode: 0 unset, 1 ok, 2 error
  uint32_t sample_rate = 1;  // each stored span stands for this many (Honeycomb's weight)
  // Decoded from an X-Ray segment document (which the store keeps): the X-Ray API returns
  // that document rather than rendering one from the span.
  bool from_xray_document = false;

  // Resource attributes (role kResource), scope attributes (kScope), then the span's own.
  // In a SpanBatch, the resource and scope attributes may instead be shared: `context` then
  // indexes the batch's `contexts`, which hold them, and `attributes` has the span's own.
  Attributes attributes;
  uint32_t context = kNoContext;
  std::vector<SpanEvent> events;
  std::vector<SpanLink> links;

  // ElapsedNs: 0 in progress or when the end is not after the start, never an overflow.
  int64_t duration_ns() const { return in_progress ? 0 : ElapsedNs(start_ns, end_ns); }
  bool operator==(const Span&) const = default;
};

// Every string member of Span, in declaration order: for code that treats them alike (resetting
// a span for reuse). Storage numbers its well-known string columns by position here
// (storage::StringField), so a new member goes at the end.
inline constexpr std::array<std::string Span::*, 15> kSpanStrings = {
    &Span::environment,    &Span::service,     &Span::dataset,      &Span::name,
    &Span::status_message, &Span::http_method, &Span::http_route,   &Span::http_url,
    &Span::client_ip,      &Span::user_agent,  &Span::db_system,    &Span::peer,
    &Span::trace_state,    &Span::scope_name,  &Span::scope_version};

}  // namespace waggle::model
