#include "codec/honeycomb/events.h"

#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <cstring>

#include "base/hex.h"
#include "base/mix.h"
#include "base/time_text.h"
#include "codec/json_repair.h"
#include "codec/otlp/otlp.h"
#include "codec/otlp/span_rules.h"

namespace waggle::codec::honeycomb {
namespace {

using model::Attribute;
using model::AttributeValue;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// A JSON value as an attribute value; false for null.
bool ToValue(const element& e, AttributeValue* v) {
  switch (e.type()) {
    case element_type::STRING:
      *v = AttributeValue::String(std::string(e.get_string().value_unsafe()));
      return true;
    case element_type::INT64:
      *v = AttributeValue::Int(e.get_int64().value_unsafe());
      return true;
    case element_type::UINT64:
      *v = AttributeValue::Double(static_cast<double>(e.get_uint64().value_unsafe()));
      return true;
    case element_type::DOUBLE:
      *v = AttributeValue::Double(e.get_double().value_unsafe());
      return true;
    case element_type::BOOL:
      *v = AttributeValue::Bool(e.get_bool().value_unsafe());
      return true;
    case element_type::NULL_VALUE:
      return false;
    default:  // arrays and objects, kept as JSON text
      *v = AttributeValue::Json(simdjson::minify(e));
      return true;
  }
}

// A trace id as 32 hex digits, or a 64-bit one (16 hex digits, zero-padded on the left).
bool ParseTraceId(std::string_view s, model::TraceId* id) {
  if (s.size() == 32) return hex::Decode(s, id->bytes.data(), 16) && !id->IsZero();
  if (s.size() == 16) {
    *id = model::TraceId();
    return hex::Decode(s, id->bytes.data() + 8, 8) && !id->IsZero();
  }
  return false;
}

model::SpanKind KindFromName(std::string_view s) {
  if (s == "server") return model::SpanKind::kServer;
  if (s == "client") return model::SpanKind::kClient;
  if (s == "producer") return model::SpanKind::kProducer;
  if (s == "consumer") return model::SpanKind::kConsumer;
  if (s == "internal") return model::SpanKind::kInternal;
  return model::SpanKind::kUnspecified;
}

// 2^63: a duration in ns below it converts to int64 (one at or past it is undefined to convert).
constexpr double kMaxDurationNs = 9223372036854775808.0;

// Builds the span an event's fields describe. Returns an error text for an event that cannot
// be one (its fields are not an object, or its end does not fit in int64 ns).
const char* EventToSpan(const element& data, int64_t time_ns, uint32_t sample_rate,
                        const EventOptions& options, uint64_t* seed, model::Span* span) {
  object fields;
  if (data.get(fields) != simdjson::SUCCESS) return "event data must be a JSON object";
  span->environment.assign(options.environment);
  span->service.assign(options.dataset);
  span->sample_rate = sample_rate;
  span->start_ns = time_ns;
  double duration_ms = 0;
  bool has_trace = false, has_span = false, error = false;
  for (auto f : fields) {
    const std::string_view k = f.key;
    std::string_view s;
    const bool is_string = f.value.get(s) == simdjson::SUCCESS;
    if (k == "trace.trace_id" && is_string) {
      has_trace = ParseTraceId(s, &span->trace_id);
      if (has_trace) continue;
    } else if (k == "trace.span_id" && is_string) {
      has_span = model::SpanId::ParseHex(s, &span->span_id) && !span->span_id.IsZero();
      if (has_span) continue;
    } else if (k == "trace.parent_id" && is_string) {
      if (model::SpanId::ParseHex(s, &span->parent_span_id)) continue;
    } else if (k == "name" && is_string) {
      span->name.assign(s);
      continue;
    } else if ((k == "service.name" || k == "service_name") && is_string && !s.empty()) {
      span->service.assign(s);
      span->dataset.assign(options.dataset);  // the event still belongs to the URL's dataset
    } else if (k == "duration_ms") {
      if (f.value.get(duration_ms) == simdjson::SUCCESS) continue;
    } else if ((k == "span.kind" || k == "type") && is_string) {
      span->kind = KindFromName(s);
    } else if (k == "error") {
      bool b;
      if (f.value.get(b) == simdjson::SUCCESS) error = b;
    } else if (k == "status_message" && is_string) {
      span->status_message.assign(s);
    }
    Attribute a;
    if (!ToValue(f.value, &a.value)) continue;
    a.key.assign(k);
    span->attributes.push_back(std::move(a));
  }
  if (!has_trace) {
    uint64_t hi = SplitMix64Next(seed), lo = SplitMix64Next(seed);
    // The first four bytes are the epoch seconds, as X-Ray ids have them.
    hi = (static_cast<uint64_t>(time_ns / 1000000000) << 32) | (hi & 0xffffffffu);
    for (int i = 0; i < 8; ++i) {
      span->trace_id.bytes[i] = static_cast<uint8_t>(hi >> (56 - 8 * i));
      span->trace_id.bytes[8 + i] = static_cast<uint8_t>(lo >> (56 - 8 * i));
    }
  }
  if (!has_span) span->span_id.value = SplitMix64Next(seed) | 1;
  span->end_ns = time_ns;
  if (std::isfinite(duration_ms) && duration_ms > 0) {
    // Converting a double past int64's range is undefined, and so is the sum overflowing.
    const double duration_ns = duration_ms * 1e6;
    if (duration_ns >= kMaxDurationNs ||
        __builtin_add_overflow(time_ns, static_cast<int64_t>(duration_ns), &span->end_ns)) {
      return "duration_ms is out of range";
    }
  }
  if (span->name.empty()) span->name.assign(options.dataset);
  if (error) span->otel_status = 2;
  otlp::FinishSpan(span);
  return nullptr;
}

bool ParseSampleRate(std::string_view s, uint32_t* out) {
  int64_t v;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return false;
  *out = v < 1 ? 1 : v > INT32_MAX ? INT32_MAX : static_cast<uint32_t>(v);
  return true;
}

simdjson::dom::parser& Parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

// Parses `body`, or failing that its repair, as Honeycomb reads what JavaScript's
// JSON.stringify writes for a string cut through a surrogate pair (ParseRepairing).
bool ParseBody(std::string_view body, element* root, size_t* repairs) {
  std::string repaired;
  return ParseRepairing(Parser(), body, root, &repaired, repairs) == simdjson::SUCCESS;
}

// Counts a decoded body's repairs where `options` says.
void CountRepairs(const EventOptions& options, size_t repairs) {
  if (options.text_repairs != nullptr) *options.text_repairs += repairs;
}

}  // namespace

Status DecodeBatch(std::string_view body, const EventOptions& options, model::SpanBatch* out,
                   std::vector<EventStatus>* statuses) {
  element root;
  simdjson::dom::array events;
  size_t repairs;
  if (!ParseBody(body, &root, &repairs) || root.get(events) != simdjson::SUCCESS) {
    return Status::InvalidArgument("Request body is malformed and cannot be read.");
  }
  uint64_t seed = options.seed;
  for (element ev : events) {
    EventStatus& status = statuses->emplace_back();
    object o;
    if (ev.get(o) != simdjson::SUCCESS) {
      status = {400, "event must be a JSON object"};
      continue;
    }
    element data;
    int64_t time_ns = options.now_ns;
    uint32_t rate = 1;
    bool has_data = false;
    const char* error = nullptr;
    for (auto f : o) {
      if (f.key == "data") {
        data = f.value;
        has_data = true;
      } else if (f.key == "time") {
        std::string_view s;
        double d;
        if (f.value.get(s) == simdjson::SUCCESS) {
          if (!ParseTimeText(s, &time_ns)) error = "time is not RFC 3339 or epoch seconds";
        } else if (f.value.get(d) == simdjson::SUCCESS) {
          if (!EpochSecondsToNanos(d, &time_ns)) error = "time is out of range";
        } else if (f.value.type() != element_type::NULL_VALUE) {
          error = "time is not RFC 3339 or epoch seconds";
        }
      } else if (f.key == "samplerate") {
        int64_t n;
        double d;
        if (f.value.get(n) == simdjson::SUCCESS) {
          rate = n < 1 ? 1 : n > INT32_MAX ? INT32_MAX : static_cast<uint32_t>(n);
        } else if (f.value.get(d) == simdjson::SUCCESS) {
          rate = d < 1 || !std::isfinite(d) ? 1 : d > INT32_MAX ? INT32_MAX : std::lround(d);
        }
      }
    }
    if (!has_data) error = "event has no data";
    if (error) {
      status = {400, error};
      continue;
    }
    model::Span span;
    if ((error = EventToSpan(data, time_ns, rate, options, &seed, &span)) != nullptr) {
      status = {400, error};
      continue;
    }
    out->spans.push_back(std::move(span));
  }
  CountRepairs(options, repairs);
  return Status::Ok();
}

Status DecodeEvent(std::string_view body, std::string_view event_time, std::string_view samplerate,
                   const EventOptions& options, model::SpanBatch* out) {
  element root;
  size_t repairs;
  if (!ParseBody(body, &root, &repairs)) {
    return Status::InvalidArgument("Request body is malformed and cannot be read.");
  }
  int64_t time_ns = options.now_ns;
  if (!event_time.empty() && !ParseTimeText(event_time, &time_ns)) {
    return Status::InvalidArgument("X-Honeycomb-Event-Time is not RFC 3339 or epoch seconds");
  }
  uint32_t rate = 1;
  if (!samplerate.empty() && !ParseSampleRate(samplerate, &rate)) {
    return Status::InvalidArgument("X-Honeycomb-Samplerate is not an integer");
  }
  uint64_t seed = options.seed;
  model::Span span;
  if (const char* error = EventToSpan(root, time_ns, rate, options, &seed, &span)) {
    return Status::InvalidArgument(error);
  }
  out->spans.push_back(std::move(span));
  CountRepairs(options, repairs);
  return Status::Ok();
}

}  // namespace waggle::codec::honeycomb
