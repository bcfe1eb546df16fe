#include "codec/honeycomb/events.h"

#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <iterator>

#include "base/base64.h"
#include "base/hex.h"
#include "base/mix.h"
#include "base/time_text.h"
#include "codec/json_repair.h"
#include "codec/json_writer.h"
#include "codec/msgpack.h"
#include "codec/otlp/otlp.h"
#include "codec/otlp/span_rules.h"

namespace waggle::codec::honeycomb {
namespace {

using model::Attribute;
using model::AttributeValue;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// One field of an event's data, whichever encoding carried it.
struct EventField {
  model::Text key;
  bool null = false;  // a null value: the field is dropped
  AttributeValue value;
};

// A JSON value as an attribute value; false for null.
bool ToValue(const element& e, AttributeValue* v) {
  switch (e.type()) {
    case element_type::STRING:
      *v = AttributeValue::String(e.get_string().value_unsafe());
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

// An event's data as JSON; false when it is not an object.
bool JsonFields(const element& data, std::vector<EventField>* out) {
  object fields;
  if (data.get(fields) != simdjson::SUCCESS) return false;
  for (auto f : fields) {
    EventField& e = out->emplace_back();
    e.key.assign(f.key);
    e.null = !ToValue(f.value, &e.value);
  }
  return true;
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

// Builds the span an event's fields describe (taking their values). Returns an error text for
// an event that cannot be one (its end does not fit in int64 ns).
const char* EventToSpan(std::vector<EventField>& fields, int64_t time_ns, uint32_t sample_rate,
                        const EventOptions& options, uint64_t* seed, model::Span* span) {
  span->environment.assign(options.environment);
  span->service.assign(options.dataset);
  span->sample_rate = sample_rate;
  span->start_ns = time_ns;
  double duration_ms = 0;
  bool has_trace = false, has_span = false, error = false;
  for (EventField& f : fields) {
    const std::string_view k = f.key;
    const AttributeValue& v = f.value;
    const bool is_string = !f.null && v.type == AttributeValue::Type::kString;
    const std::string_view s = is_string ? std::string_view(v.string_value) : std::string_view();
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
    } else if (k == "duration_ms" && !f.null) {
      if (v.type == AttributeValue::Type::kInt) {
        duration_ms = static_cast<double>(v.int_value);
        continue;
      }
      if (v.type == AttributeValue::Type::kDouble) {
        duration_ms = v.double_value;
        continue;
      }
    } else if ((k == "span.kind" || k == "type") && is_string) {
      span->kind = KindFromName(s);
    } else if (k == "error" && !f.null && v.type == AttributeValue::Type::kBool) {
      error = v.int_value != 0;
    } else if (k == "status_message" && is_string) {
      span->status_message.assign(s);
    }
    if (f.null) continue;
    Attribute& a = span->attributes.emplace_back();
    a.key = std::move(f.key);
    a.value = std::move(f.value);
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

// A sample rate as sent: at least 1, and at most INT32_MAX.
uint32_t RateOf(int64_t n) {
  return n < 1 ? 1 : n > INT32_MAX ? INT32_MAX : static_cast<uint32_t>(n);
}
uint32_t RateOf(double d) {
  return d < 1 || !std::isfinite(d) ? 1 : d > INT32_MAX ? INT32_MAX : std::lround(d);
}

bool ParseSampleRate(std::string_view s, uint32_t* out) {
  int64_t v;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return false;
  *out = RateOf(v);
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

Status Malformed() { return Status::InvalidArgument(std::string(kMalformedBody)); }

Status DecodeJsonBatch(std::string_view body, const EventOptions& options, model::SpanBatch* out,
                       std::vector<EventStatus>* statuses) {
  element root;
  simdjson::dom::array events;
  size_t repairs;
  if (!ParseBody(body, &root, &repairs) || root.get(events) != simdjson::SUCCESS) {
    return Malformed();
  }
  uint64_t seed = options.seed;
  std::vector<EventField> fields;
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
          rate = RateOf(n);
        } else if (f.value.get(d) == simdjson::SUCCESS) {
          rate = RateOf(d);
        }
      }
    }
    fields.clear();
    if (!has_data) {
      error = "event has no data";
    } else if (!error && !JsonFields(data, &fields)) {
      error = "event data must be a JSON object";
    }
    model::Span span;
    if (error || (error = EventToSpan(fields, time_ns, rate, options, &seed, &span)) != nullptr) {
      status = {400, error};
      continue;
    }
    out->spans.push_back(std::move(span));
  }
  CountRepairs(options, repairs);
  return Status::Ok();
}

Status DecodeJsonEvent(std::string_view body, int64_t time_ns, uint32_t rate,
                       const EventOptions& options, model::SpanBatch* out) {
  element root;
  size_t repairs;
  if (!ParseBody(body, &root, &repairs)) return Malformed();
  std::vector<EventField> fields;
  if (!JsonFields(root, &fields)) {
    return Status::InvalidArgument("event data must be a JSON object");
  }
  uint64_t seed = options.seed;
  model::Span span;
  if (const char* error = EventToSpan(fields, time_ns, rate, options, &seed, &span)) {
    return Status::InvalidArgument(error);
  }
  out->spans.push_back(std::move(span));
  CountRepairs(options, repairs);
  return Status::Ok();
}

// Reads events sent as MessagePack: the envelope and data of libhoney-go's batches (its
// MsgpackEvent: "time" as a timestamp extension, "samplerate", "data" as a map), and any other
// encoding of the JSON form's values. Reading stops only on bytes that are not MessagePack;
// a value that cannot be kept is its event's error, and the read goes on past it.
class MsgpackEvents {
 public:
  explicit MsgpackEvents(std::string_view body) : r_(body) {}

  msgpack::Reader& reader() { return r_; }
  uint64_t repairs() const { return repairs_; }

  // Reads `map`'s pairs as fields. False on malformed bytes; *error when the data cannot be an
  // event's.
  bool ReadFields(const msgpack::Value& map, std::vector<EventField>* out, const char** error) {
    msgpack::Value k, v;
    for (uint32_t i = 0; i < map.count; ++i) {
      bool is_string;
      if (!NextKey(&k, &is_string, error, "event keys must be strings")) return false;
      if (!is_string) continue;
      EventField& f = out->emplace_back();
      otlp::AssignText(&f.key, k.bytes, &repairs_);
      if (!r_.Next(&v) || !ReadValue(v, &f, error)) return false;
    }
    return true;
  }

  // Reads the event at `ev` (its envelope header read), setting its time, rate and fields.
  bool ReadEnvelope(const msgpack::Value& ev, int64_t* time_ns, uint32_t* rate,
                    std::vector<EventField>* fields, const char** error) {
    if (ev.type != msgpack::Type::kMap) {
      *error = "event must be a map";
      return r_.SkipEntries(ev);
    }
    bool has_data = false;
    msgpack::Value k, v;
    for (uint32_t i = 0; i < ev.count; ++i) {
      bool is_string;
      if (!NextKey(&k, &is_string, error, "event keys must be strings")) return false;
      if (!is_string) continue;
      if (!r_.Next(&v)) return false;
      if (k.bytes == "data") {
        if (v.type != msgpack::Type::kMap) {
          *error = "event data must be a map";
          if (!r_.SkipEntries(v)) return false;
          continue;
        }
        has_data = true;
        fields->clear();
        if (!ReadFields(v, fields, error)) return false;
        continue;
      }
      if (k.bytes == "time") {
        ReadTime(v, time_ns, error);
      } else if (k.bytes == "samplerate") {
        int64_t n;
        double d;
        if (v.AsInt64(&n)) {
          *rate = RateOf(n);
        } else if (v.AsDouble(&d)) {
          *rate = RateOf(d);
        }
      }
      if (!r_.SkipEntries(v)) return false;
    }
    if (!has_data && *error == nullptr) *error = "event has no data";
    return true;
  }

 private:
  // Reads a map's next key into *k. False on malformed bytes. A key that is not a string is
  // skipped with its value, *is_string false and *error set to `message`.
  bool NextKey(msgpack::Value* k, bool* is_string, const char** error, const char* message) {
    if (!r_.Next(k)) return false;
    *is_string = k->type == msgpack::Type::kString;
    if (*is_string) return true;
    *error = message;
    return r_.SkipEntries(*k) && r_.SkipValue();
  }

  static void ReadTime(const msgpack::Value& v, int64_t* time_ns, const char** error) {
    double seconds;
    if (v.type == msgpack::Type::kExt) {
      if (!msgpack::TimeOf(v, time_ns)) *error = "time is not a timestamp extension";
    } else if (v.type == msgpack::Type::kString) {
      if (!ParseTimeText(v.bytes, time_ns)) *error = "time is not RFC 3339 or epoch seconds";
    } else if (v.AsDouble(&seconds)) {
      if (!EpochSecondsToNanos(seconds, time_ns)) *error = "time is out of range";
    } else if (v.type != msgpack::Type::kNil) {
      *error = "time is not RFC 3339 or epoch seconds";
    }
  }

  // A data value as an attribute value, as the JSON form would have given it: text repaired,
  // an integer past int64 a double, a time (an extension) RFC 3339 text, arrays and maps JSON.
  bool ReadValue(const msgpack::Value& v, EventField* f, const char** error) {
    int64_t n;
    switch (v.type) {
      case msgpack::Type::kNil:
        f->null = true;
        return true;
      case msgpack::Type::kBool:
        f->value = AttributeValue::Bool(v.b);
        return true;
      case msgpack::Type::kInt:
      case msgpack::Type::kUint:
        f->value = v.AsInt64(&n) ? AttributeValue::Int(n)
                                 : AttributeValue::Double(static_cast<double>(v.u));
        return true;
      case msgpack::Type::kFloat:
        // JSON has no NaN or infinity: dropped, as the JSON form cannot carry them either.
        if (std::isfinite(v.d)) {
          f->value = AttributeValue::Double(v.d);
        } else {
          f->null = true;
        }
        return true;
      case msgpack::Type::kString:
        f->value.type = AttributeValue::Type::kString;
        otlp::AssignText(&f->value.string_value, v.bytes, &repairs_);
        return true;
      case msgpack::Type::kBinary:
        f->value.type = AttributeValue::Type::kBytes;
        f->value.string_value.assign(v.bytes);
        return true;
      case msgpack::Type::kExt:
        if (int64_t ns; msgpack::TimeOf(v, &ns)) {
          f->value = AttributeValue::String(TimeTextOf(ns));
        } else {
          f->value.type = AttributeValue::Type::kBytes;
          f->value.string_value.assign(v.bytes);
        }
        return true;
      case msgpack::Type::kArray:
      case msgpack::Type::kMap: {
        rapidjson::StringBuffer buf;
        JsonWriter w(buf);
        if (!ReadJson(v, w, 1, error)) return false;
        f->value = AttributeValue::Json(std::string_view(buf.GetString(), buf.GetSize()));
        return true;
      }
    }
    return true;
  }

  // Writes `v` (its header read) and what it holds as JSON. False on malformed bytes.
  bool ReadJson(const msgpack::Value& v, JsonWriter& w, int depth, const char** error) {
    switch (v.type) {
      case msgpack::Type::kNil:
        w.Null();
        return true;
      case msgpack::Type::kBool:
        w.Bool(v.b);
        return true;
      case msgpack::Type::kInt:
        w.Int64(v.i);
        return true;
      case msgpack::Type::kUint:
        w.Uint64(v.u);
        return true;
      case msgpack::Type::kFloat:
        if (std::isfinite(v.d)) {
          w.Double(v.d);
        } else {
          w.Null();
        }
        return true;
      case msgpack::Type::kString:
        WriteString(w, v.bytes, &repairs_);
        return true;
      case msgpack::Type::kBinary:
      case msgpack::Type::kExt: {
        std::string text;
        if (int64_t ns; msgpack::TimeOf(v, &ns)) {
          text = TimeTextOf(ns);
        } else {
          base64::Append(&text, v.bytes);
        }
        WriteString(w, text);
        return true;
      }
      case msgpack::Type::kArray:
      case msgpack::Type::kMap:
        break;
    }
    if (depth > kMaxDepth) {
      *error = "a value is nested too deeply";
      w.Null();  // keeps the writer's object well formed; the event is refused anyway
      return r_.SkipEntries(v);
    }
    msgpack::Value e;
    if (v.type == msgpack::Type::kArray) {
      w.StartArray();
      for (uint32_t i = 0; i < v.count; ++i) {
        if (!r_.Next(&e) || !ReadJson(e, w, depth + 1, error)) return false;
      }
      w.EndArray();
      return true;
    }
    w.StartObject();
    for (uint32_t i = 0; i < v.count; ++i) {
      bool is_string;
      if (!NextKey(&e, &is_string, error, "map keys must be strings")) return false;
      if (!is_string) continue;
      WriteKey(w, e.bytes, &repairs_);
      if (!r_.Next(&e) || !ReadJson(e, w, depth + 1, error)) return false;
    }
    w.EndObject();
    return true;
  }

  static constexpr int kMaxDepth = 100;  // as the OTLP decoders nest AnyValues

  msgpack::Reader r_;
  uint64_t repairs_ = 0;
};

Status DecodeMsgpackBatch(std::string_view body, const EventOptions& options, model::SpanBatch* out,
                          std::vector<EventStatus>* statuses) {
  MsgpackEvents events(body);
  msgpack::Reader& r = events.reader();
  msgpack::Value top, ev;
  if (!r.Next(&top) || top.type != msgpack::Type::kArray) {
    return Malformed();
  }
  // What a body refused whole must not add: the spans and statuses wait until it is all read.
  std::vector<model::Span> spans;
  std::vector<EventStatus> read;
  uint64_t seed = options.seed;
  std::vector<EventField> fields;
  for (uint32_t i = 0; i < top.count; ++i) {
    if (!r.Next(&ev)) return Malformed();
    int64_t time_ns = options.now_ns;
    uint32_t rate = 1;
    const char* error = nullptr;
    fields.clear();
    if (!events.ReadEnvelope(ev, &time_ns, &rate, &fields, &error)) {
      return Malformed();
    }
    EventStatus& status = read.emplace_back();
    model::Span span;
    if (error || (error = EventToSpan(fields, time_ns, rate, options, &seed, &span)) != nullptr) {
      status = {400, error};
      continue;
    }
    spans.push_back(std::move(span));
  }
  if (!r.done()) return Malformed();
  for (model::Span& s : spans) out->spans.push_back(std::move(s));
  statuses->insert(statuses->end(), std::make_move_iterator(read.begin()),
                   std::make_move_iterator(read.end()));
  CountRepairs(options, events.repairs());
  return Status::Ok();
}

Status DecodeMsgpackEvent(std::string_view body, int64_t time_ns, uint32_t rate,
                          const EventOptions& options, model::SpanBatch* out) {
  MsgpackEvents events(body);
  msgpack::Reader& r = events.reader();
  msgpack::Value data;
  std::vector<EventField> fields;
  const char* error = nullptr;
  if (!r.Next(&data)) return Malformed();
  if (data.type != msgpack::Type::kMap) {
    if (!r.SkipEntries(data) || !r.done()) return Malformed();
    return Status::InvalidArgument("event data must be a map");
  }
  if (!events.ReadFields(data, &fields, &error) || !r.done()) {
    return Malformed();
  }
  uint64_t seed = options.seed;
  model::Span span;
  if (error || (error = EventToSpan(fields, time_ns, rate, options, &seed, &span)) != nullptr) {
    return Status::InvalidArgument(error);
  }
  out->spans.push_back(std::move(span));
  CountRepairs(options, events.repairs());
  return Status::Ok();
}

}  // namespace

Status DecodeBatch(std::string_view body, const EventOptions& options, model::SpanBatch* out,
                   std::vector<EventStatus>* statuses) {
  return options.encoding == EventEncoding::kMsgpack
             ? DecodeMsgpackBatch(body, options, out, statuses)
             : DecodeJsonBatch(body, options, out, statuses);
}

Status DecodeEvent(std::string_view body, std::string_view event_time, std::string_view samplerate,
                   const EventOptions& options, model::SpanBatch* out) {
  int64_t time_ns = options.now_ns;
  if (!event_time.empty() && !ParseTimeText(event_time, &time_ns)) {
    return Status::InvalidArgument("X-Honeycomb-Event-Time is not RFC 3339 or epoch seconds");
  }
  uint32_t rate = 1;
  if (!samplerate.empty() && !ParseSampleRate(samplerate, &rate)) {
    return Status::InvalidArgument("X-Honeycomb-Samplerate is not an integer");
  }
  return options.encoding == EventEncoding::kMsgpack
             ? DecodeMsgpackEvent(body, time_ns, rate, options, out)
             : DecodeJsonEvent(body, time_ns, rate, options, out);
}

}  // namespace waggle::codec::honeycomb
