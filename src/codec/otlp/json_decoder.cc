// OTLP/JSON requests (spec/otlp.md §6), read leniently as real receivers do: lowerCamelCase
// or snake_case keys, ids in hex (either case) or base64, 64-bit integers as numbers or
// strings, enums as numbers or names, unknown fields ignored, null as the default.

#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <optional>
#include <string>

#include "base/base64.h"
#include "base/hex.h"
#include "codec/json_repair.h"
#include "codec/json_writer.h"
#include "codec/otlp/decoders.h"
#include "codec/otlp/span_rules.h"

namespace waggle::codec::otlp {
namespace {

using model::Attribute;
using model::AttributeRole;
using model::AttributeValue;
using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

constexpr int kMaxDepth = 100;

// A key in either of its two spellings.
bool Is(std::string_view key, std::string_view camel, std::string_view snake) {
  return key == camel || key == snake;
}

bool IsNull(const element& e) { return e.type() == element_type::NULL_VALUE; }

bool GetString(const element& e, std::string_view* out) {
  if (IsNull(e)) {
    *out = {};
    return true;
  }
  return e.get(*out) == simdjson::SUCCESS;
}

// A string into *out: a std::string or a model::Text.
template <typename S>
bool AssignString(const element& e, S* out) {
  std::string_view s;
  if (!GetString(e, &s)) return false;
  out->assign(s);
  return true;
}

// An unsigned 64-bit integer as a number or a decimal string.
bool GetU64(const element& e, uint64_t* out) {
  switch (e.type()) {
    case element_type::UINT64:
      return e.get(*out) == simdjson::SUCCESS;
    case element_type::INT64: {
      int64_t v;
      if (e.get(v) != simdjson::SUCCESS) return false;
      *out = static_cast<uint64_t>(v);
      return true;
    }
    case element_type::DOUBLE: {
      double d;
      if (e.get(d) != simdjson::SUCCESS || !(d >= 0) || d >= 1.8446744073709552e19) return false;
      *out = static_cast<uint64_t>(d);
      return true;
    }
    case element_type::STRING: {
      std::string_view s;
      if (e.get(s) != simdjson::SUCCESS) return false;
      if (!s.empty() && s[0] == '-') {
        int64_t v;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc() || p != s.data() + s.size()) return false;
        *out = static_cast<uint64_t>(v);
        return true;
      }
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
      return ec == std::errc() && p == s.data() + s.size();
    }
    case element_type::NULL_VALUE:
      *out = 0;
      return true;
    default:
      return false;
  }
}

bool GetI64(const element& e, int64_t* out) {
  uint64_t v;
  if (!GetU64(e, &v)) return false;
  *out = static_cast<int64_t>(v);
  return true;
}

bool GetDouble(const element& e, double* out) {
  switch (e.type()) {
    case element_type::DOUBLE:
    case element_type::INT64:
    case element_type::UINT64:
      return e.get(*out) == simdjson::SUCCESS;
    case element_type::STRING: {
      std::string_view s;
      (void)e.get(s);
      if (s == "NaN") {
        *out = std::numeric_limits<double>::quiet_NaN();
      } else if (s == "Infinity") {
        *out = std::numeric_limits<double>::infinity();
      } else if (s == "-Infinity") {
        *out = -std::numeric_limits<double>::infinity();
      } else {
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
        return ec == std::errc() && p == s.data() + s.size();
      }
      return true;
    }
    case element_type::NULL_VALUE:
      *out = 0;
      return true;
    default:
      return false;
  }
}

bool GetBool(const element& e, bool* out) {
  if (IsNull(e)) {
    *out = false;
    return true;
  }
  return e.get(*out) == simdjson::SUCCESS;
}

// An enum as its number or one of its names (with or without the type prefix). Unknown names
// read as 0.
bool GetEnum(const element& e, const char* const* names, size_t count, std::string_view prefix,
             uint64_t* out) {
  if (e.type() != element_type::STRING) return GetU64(e, out);
  std::string_view s;
  (void)e.get(s);
  if (!s.empty() && s[0] >= '0' && s[0] <= '9') return GetU64(e, out);
  if (s.starts_with(prefix)) s.remove_prefix(prefix.size());
  *out = 0;
  for (size_t i = 0; i < count; ++i) {
    if (s == names[i]) *out = i;
  }
  return true;
}

constexpr const char* kKindNames[] = {"UNSPECIFIED", "INTERNAL", "SERVER",
                                      "CLIENT",      "PRODUCER", "CONSUMER"};
constexpr const char* kStatusNames[] = {"UNSET", "OK", "ERROR"};
constexpr const char* kSeverityNames[] = {
    "UNSPECIFIED", "TRACE",  "TRACE2", "TRACE3", "TRACE4", "DEBUG",  "DEBUG2", "DEBUG3", "DEBUG4",
    "INFO",        "INFO2",  "INFO3",  "INFO4",  "WARN",   "WARN2",  "WARN3",  "WARN4",  "ERROR",
    "ERROR2",      "ERROR3", "ERROR4", "FATAL",  "FATAL2", "FATAL3", "FATAL4"};

// An id as hex (2n digits, either case) or base64 of n bytes. Returns the decoded length:
// 0 for an empty string, -1 for text that is neither.
int DecodeId(std::string_view text, uint8_t* out, size_t n) {
  if (text.empty()) return 0;
  if (text.size() == 2 * n && hex::Decode(text, out, n)) return static_cast<int>(n);
  std::string raw;
  if (base64::Decode(text, &raw) && raw.size() == n) {
    std::memcpy(out, raw.data(), n);
    return static_cast<int>(n);
  }
  return -1;
}

// A span id the same way: 8 when decoded, 0 when empty, -1 otherwise.
int DecodeSpanId(std::string_view text, model::SpanId* id) {
  uint8_t bytes[8];
  const int n = DecodeId(text, bytes, 8);
  if (n == 8) *id = SpanIdFromBytes(bytes);
  return n;
}

bool ValueJson(const element& any, JsonWriter& w, int depth);

bool ArrayValueJson(const element& e, JsonWriter& w, int depth) {
  w.StartArray();
  if (!IsNull(e)) {
    object o;
    if (e.get(o) != simdjson::SUCCESS) return false;
    for (auto field : o) {
      if (field.key != "values" || IsNull(field.value)) continue;
      array values;
      if (field.value.get(values) != simdjson::SUCCESS) return false;
      for (element v : values) {
        if (!ValueJson(v, w, depth + 1)) return false;
      }
    }
  }
  w.EndArray();
  return true;
}

bool KvListJson(const element& e, JsonWriter& w, int depth) {
  w.StartObject();
  if (!IsNull(e)) {
    object o;
    if (e.get(o) != simdjson::SUCCESS) return false;
    for (auto field : o) {
      if (field.key != "values" || IsNull(field.value)) continue;
      array values;
      if (field.value.get(values) != simdjson::SUCCESS) return false;
      for (element kv : values) {
        object kvo;
        if (kv.get(kvo) != simdjson::SUCCESS) return false;
        std::string_view key;
        element value;
        bool has_value = false;
        for (auto f : kvo) {
          if (f.key == "key") {
            if (!GetString(f.value, &key)) return false;
          } else if (f.key == "value") {
            value = f.value;
            has_value = !IsNull(f.value);
          }
        }
        WriteKey(w, key);
        if (!has_value) {
          w.Null();
        } else if (!ValueJson(value, w, depth + 1)) {
          return false;
        }
      }
    }
  }
  w.EndObject();
  return true;
}

// An AnyValue object as plain JSON.
bool ValueJson(const element& any, JsonWriter& w, int depth) {
  if (depth > kMaxDepth) return false;
  if (IsNull(any)) {
    w.Null();
    return true;
  }
  object o;
  if (any.get(o) != simdjson::SUCCESS) return false;
  bool wrote = false;
  for (auto f : o) {
    const std::string_view k = f.key;
    if (IsNull(f.value)) continue;
    const bool known = Is(k, "stringValue", "string_value") || Is(k, "boolValue", "bool_value") ||
                       Is(k, "intValue", "int_value") || Is(k, "doubleValue", "double_value") ||
                       Is(k, "bytesValue", "bytes_value") || Is(k, "arrayValue", "array_value") ||
                       Is(k, "kvlistValue", "kvlist_value");
    if (!known) continue;     // unknown members are ignored
    if (wrote) return false;  // two members of a oneof
    if (Is(k, "stringValue", "string_value")) {
      std::string_view s;
      if (!GetString(f.value, &s)) return false;
      WriteString(w, s);
    } else if (Is(k, "boolValue", "bool_value")) {
      bool b;
      if (!GetBool(f.value, &b)) return false;
      w.Bool(b);
    } else if (Is(k, "intValue", "int_value")) {
      int64_t i;
      if (!GetI64(f.value, &i)) return false;
      w.Int64(i);
    } else if (Is(k, "doubleValue", "double_value")) {
      double d;
      if (!GetDouble(f.value, &d)) return false;
      if (std::isfinite(d)) {
        w.Double(d);
      } else {
        w.Null();
      }
    } else if (Is(k, "bytesValue", "bytes_value")) {
      std::string_view s;
      std::string raw;
      if (!GetString(f.value, &s) || !base64::Decode(s, &raw)) return false;
      std::string b64;
      base64::Append(&b64, raw);
      WriteString(w, b64);
    } else if (Is(k, "arrayValue", "array_value")) {
      if (!ArrayValueJson(f.value, w, depth)) return false;
    } else if (Is(k, "kvlistValue", "kvlist_value")) {
      if (!KvListJson(f.value, w, depth)) return false;
    } else {
      continue;
    }
    wrote = true;
  }
  if (!wrote) w.Null();
  return true;
}

// An AnyValue into an attribute value; *present false when no member is set.
bool DecodeValue(const element& any, AttributeValue* out, bool* present) {
  *present = false;
  if (IsNull(any)) return true;
  object o;
  if (any.get(o) != simdjson::SUCCESS) return false;
  for (auto f : o) {
    const std::string_view k = f.key;
    if (IsNull(f.value)) continue;
    if (Is(k, "stringValue", "string_value")) {
      out->type = AttributeValue::Type::kString;
      if (!AssignString(f.value, &out->string_value)) return false;
    } else if (Is(k, "boolValue", "bool_value")) {
      bool b;
      if (!GetBool(f.value, &b)) return false;
      out->type = AttributeValue::Type::kBool;
      out->int_value = b;
    } else if (Is(k, "intValue", "int_value")) {
      out->type = AttributeValue::Type::kInt;
      if (!GetI64(f.value, &out->int_value)) return false;
    } else if (Is(k, "doubleValue", "double_value")) {
      out->type = AttributeValue::Type::kDouble;
      if (!GetDouble(f.value, &out->double_value)) return false;
    } else if (Is(k, "bytesValue", "bytes_value")) {
      std::string_view s;
      out->type = AttributeValue::Type::kBytes;
      std::string bytes;
      if (!GetString(f.value, &s) || !base64::Decode(s, &bytes)) return false;
      out->string_value = bytes;
    } else if (Is(k, "arrayValue", "array_value") || Is(k, "kvlistValue", "kvlist_value")) {
      rapidjson::StringBuffer buf;
      JsonWriter w(buf);
      const bool is_array = k[0] == 'a';
      if (!(is_array ? ArrayValueJson(f.value, w, 1) : KvListJson(f.value, w, 1))) return false;
      out->type = AttributeValue::Type::kJson;
      out->string_value.assign(buf.GetString(), buf.GetSize());
    } else {
      continue;
    }
    if (*present) return false;  // two members of a oneof
    *present = true;
  }
  return true;
}

bool DecodeAttributes(const element& e, AttributeRole role, model::Attributes* attrs) {
  if (IsNull(e)) return true;
  array list;
  if (e.get(list) != simdjson::SUCCESS) return false;
  for (element kv : list) {
    object o;
    if (kv.get(o) != simdjson::SUCCESS) return false;
    Attribute a;
    bool present = false;
    for (auto f : o) {
      if (f.key == "key") {
        if (!AssignString(f.value, &a.key)) return false;
      } else if (f.key == "value") {
        if (!DecodeValue(f.value, &a.value, &present)) return false;
      }
    }
    if (a.key.empty() || !present) continue;
    a.role = role;
    attrs->push_back(std::move(a));
  }
  return true;
}

// The elements of an array member (null or absent read as empty).
bool ForEach(const element& e, auto&& fn) {
  if (IsNull(e)) return true;
  array list;
  if (e.get(list) != simdjson::SUCCESS) return false;
  for (element item : list) {
    if (!fn(item)) return false;
  }
  return true;
}

bool DecodeResource(const element& e, model::Attributes* attrs) {
  if (IsNull(e)) return true;
  object o;
  if (e.get(o) != simdjson::SUCCESS) return false;
  for (auto f : o) {
    if (f.key == "attributes" && !DecodeAttributes(f.value, AttributeRole::kResource, attrs)) {
      return false;
    }
  }
  return true;
}

bool DecodeScope(const element& e, Scope* scope) {
  if (IsNull(e)) return true;
  object o;
  if (e.get(o) != simdjson::SUCCESS) return false;
  for (auto f : o) {
    bool ok = true;
    if (f.key == "name") {
      ok = GetString(f.value, &scope->name);
    } else if (f.key == "version") {
      ok = GetString(f.value, &scope->version);
    } else if (f.key == "attributes") {
      ok = DecodeAttributes(f.value, AttributeRole::kScope, &scope->attributes);
    }
    if (!ok) return false;
  }
  return true;
}

// A container object ({resource|scope, <records>}): the head is decoded before the records,
// whatever the order of the members.
bool Split(const element& e, std::string_view head_camel, std::string_view records_camel,
           std::string_view records_snake, std::optional<element>* head,
           std::optional<element>* records) {
  object o;
  if (e.get(o) != simdjson::SUCCESS) return false;
  for (auto f : o) {
    if (f.key == head_camel) *head = f.value;
    if (Is(f.key, records_camel, records_snake)) *records = f.value;
  }
  return true;
}

// The member names of one signal's request: {resourceSpans: [{resource, scopeSpans: [{scope,
// spans: [...]}]}]} for traces, and the same shape with Logs/logRecords for logs.
struct Shape {
  std::string_view resources_camel, resources_snake;
  std::string_view scopes_camel, scopes_snake;
  std::string_view records_camel, records_snake;
};
constexpr Shape kTraceShape = {"resourceSpans", "resource_spans", "scopeSpans",
                               "scope_spans",   "spans",          "spans"};
constexpr Shape kLogShape = {"resourceLogs", "resource_logs", "scopeLogs",
                             "scope_logs",   "logRecords",    "log_records"};

// Walks a request of `shape`, resolving each resource's service by the dataset rule of
// Decoder::kSignal and calling decoder->Record(element, resource, scope) for each record.
template <typename Decoder>
bool Walk(const element& root, const Shape& shape, Decoder* decoder) {
  object o;
  if (root.get(o) != simdjson::SUCCESS) return false;
  ResourceContext resource;
  for (auto f : o) {
    if (!Is(f.key, shape.resources_camel, shape.resources_snake)) continue;
    const bool ok = ForEach(f.value, [&](const element& rs) {
      std::optional<element> resource_e, scopes;
      if (!Split(rs, "resource", shape.scopes_camel, shape.scopes_snake, &resource_e, &scopes)) {
        return false;
      }
      resource.attributes.clear();
      if (resource_e && !DecodeResource(*resource_e, &resource.attributes)) return false;
      ResolveService(Decoder::kSignal, decoder->options(), &resource);
      return !scopes || ForEach(*scopes, [&](const element& ss) {
        std::optional<element> scope_e, records;
        if (!Split(ss, "scope", shape.records_camel, shape.records_snake, &scope_e, &records)) {
          return false;
        }
        Scope scope;
        if (scope_e && !DecodeScope(*scope_e, &scope)) return false;
        const size_t copies = ContextBytes(decoder->options(), resource, scope);
        decoder->NewContext();
        return !records || ForEach(*records, [&](const element& r) {
          return decoder->CountContext(copies) && decoder->Record(r, resource, scope);
        });
      });
    });
    if (!ok) return false;
  }
  return true;
}

class TraceDecoder : public RecordDecoder<Signal::kTraces, model::SpanBatch> {
 public:
  using RecordDecoder::RecordDecoder;

  bool Record(const element& e, const ResourceContext& resource, const Scope& scope) {
    object o;
    if (e.get(o) != simdjson::SUCCESS) return false;
    model::AttributeFiller context_attributes;
    model::Span& span = BeginSpan(options_, resource, scope, out_, &context_attributes, &shared_);
    context_attributes.Finish();  // the span's own are appended to the list
    std::string_view trace_id, span_id, parent_id;
    for (auto f : o) {
      const std::string_view k = f.key;
      bool ok = true;
      uint64_t n;
      if (Is(k, "traceId", "trace_id")) {
        ok = GetString(f.value, &trace_id);
      } else if (Is(k, "spanId", "span_id")) {
        ok = GetString(f.value, &span_id);
      } else if (Is(k, "parentSpanId", "parent_span_id")) {
        ok = GetString(f.value, &parent_id);
      } else if (Is(k, "traceState", "trace_state")) {
        ok = AssignString(f.value, &span.trace_state);
      } else if (k == "name") {
        ok = AssignString(f.value, &span.name);
      } else if (k == "kind") {
        ok = GetEnum(f.value, kKindNames, 6, "SPAN_KIND_", &n);
        span.kind = static_cast<model::SpanKind>(n <= 5 ? n : 0);
      } else if (Is(k, "startTimeUnixNano", "start_time_unix_nano")) {
        ok = GetI64(f.value, &span.start_ns);
      } else if (Is(k, "endTimeUnixNano", "end_time_unix_nano")) {
        ok = GetI64(f.value, &span.end_ns);
      } else if (k == "attributes") {
        ok = DecodeAttributes(f.value, AttributeRole::kPlain, &span.attributes);
      } else if (k == "events") {
        ok = ForEach(f.value, [&](const element& ev) { return Event(ev, &span); });
      } else if (k == "links") {
        ok = ForEach(f.value, [&](const element& l) { return Link(l, &span); });
      } else if (k == "status") {
        ok = Status(f.value, &span);
      } else if (k == "flags") {
        ok = GetU64(f.value, &n);
        span.flags = static_cast<uint32_t>(n);
      }
      if (!ok) return false;
    }
    const char* reason = nullptr;
    if (DecodeId(trace_id, span.trace_id.bytes.data(), 16) != 16 || span.trace_id.IsZero()) {
      reason = "a span's traceId is not 16 bytes (32 hex digits) or is all zero";
    } else if (DecodeSpanId(span_id, &span.span_id) != 8 || span.span_id.IsZero()) {
      reason = "a span's spanId is not 8 bytes (16 hex digits) or is all zero";
    } else if (DecodeSpanId(parent_id, &span.parent_span_id) < 0) {
      reason = "a span's parentSpanId is not 8 bytes (16 hex digits)";
    }
    if (reason) {
      out_->DropLastSpan();
      rejected_->Add(reason);
      return true;
    }
    FinishSpan(&span, *out_, shared_);
    return true;
  }

  static bool Event(const element& e, model::Span* span) {
    object o;
    if (e.get(o) != simdjson::SUCCESS) return false;
    model::SpanEvent& ev = span->events.emplace_back();
    for (auto f : o) {
      bool ok = true;
      if (Is(f.key, "timeUnixNano", "time_unix_nano")) {
        ok = GetI64(f.value, &ev.time_ns);
      } else if (f.key == "name") {
        ok = AssignString(f.value, &ev.name);
      } else if (f.key == "attributes") {
        ok = DecodeAttributes(f.value, AttributeRole::kPlain, &ev.attributes);
      }
      if (!ok) return false;
    }
    return true;
  }

  static bool Link(const element& e, model::Span* span) {
    object o;
    if (e.get(o) != simdjson::SUCCESS) return false;
    model::SpanLink link;
    std::string_view trace_id, span_id;
    for (auto f : o) {
      bool ok = true;
      if (Is(f.key, "traceId", "trace_id")) {
        ok = GetString(f.value, &trace_id);
      } else if (Is(f.key, "spanId", "span_id")) {
        ok = GetString(f.value, &span_id);
      } else if (Is(f.key, "traceState", "trace_state")) {
        ok = AssignString(f.value, &link.trace_state);
      } else if (f.key == "attributes") {
        ok = DecodeAttributes(f.value, AttributeRole::kPlain, &link.attributes);
      }
      if (!ok) return false;
    }
    if (DecodeId(trace_id, link.trace_id.bytes.data(), 16) == 16 && !link.trace_id.IsZero() &&
        DecodeSpanId(span_id, &link.span_id) == 8 && !link.span_id.IsZero()) {
      span->links.push_back(std::move(link));
    }
    return true;
  }

  static bool Status(const element& e, model::Span* span) {
    if (IsNull(e)) return true;
    object o;
    if (e.get(o) != simdjson::SUCCESS) return false;
    for (auto f : o) {
      bool ok = true;
      uint64_t n;
      if (f.key == "message") {
        ok = AssignString(f.value, &span->status_message);
      } else if (f.key == "code") {
        ok = GetEnum(f.value, kStatusNames, 3, "STATUS_CODE_", &n);
        span->otel_status = n <= 2 ? static_cast<uint8_t>(n) : 0;
      }
      if (!ok) return false;
    }
    return true;
  }
};

class LogDecoder : public RecordDecoder<Signal::kLogs, model::LogBatch> {
 public:
  using RecordDecoder::RecordDecoder;

  bool Record(const element& e, const ResourceContext& resource, const Scope& scope) {
    object o;
    if (e.get(o) != simdjson::SUCCESS) return false;
    model::LogRecord& rec = BeginLogRecord(options_, resource, scope, out_);
    std::string_view trace_id, span_id;
    for (auto f : o) {
      const std::string_view k = f.key;
      bool ok = true;
      uint64_t n;
      if (Is(k, "timeUnixNano", "time_unix_nano")) {
        ok = GetI64(f.value, &rec.time_ns);
      } else if (Is(k, "observedTimeUnixNano", "observed_time_unix_nano")) {
        ok = GetI64(f.value, &rec.observed_ns);
      } else if (Is(k, "severityNumber", "severity_number")) {
        ok = GetEnum(f.value, kSeverityNames, 25, "SEVERITY_NUMBER_", &n);
        rec.severity_number = n <= 24 ? static_cast<uint8_t>(n) : 0;
      } else if (Is(k, "severityText", "severity_text")) {
        ok = AssignString(f.value, &rec.severity_text);
      } else if (k == "body") {
        ok = Body(f.value, &rec);
      } else if (k == "attributes") {
        ok = DecodeAttributes(f.value, AttributeRole::kPlain, &rec.attributes);
      } else if (k == "flags") {
        ok = GetU64(f.value, &n);
        rec.flags = static_cast<uint32_t>(n);
      } else if (Is(k, "traceId", "trace_id")) {
        ok = GetString(f.value, &trace_id);
      } else if (Is(k, "spanId", "span_id")) {
        ok = GetString(f.value, &span_id);
      } else if (Is(k, "eventName", "event_name")) {
        ok = AssignString(f.value, &rec.event_name);
      }
      if (!ok) return false;
    }
    if (rec.time_ns == 0) rec.time_ns = rec.observed_ns;
    const char* reason = nullptr;
    if (DecodeId(trace_id, rec.trace_id.bytes.data(), 16) < 0) {
      reason = "a log record's traceId is not 16 bytes (32 hex digits)";
    } else if (DecodeSpanId(span_id, &rec.span_id) < 0) {
      reason = "a log record's spanId is not 8 bytes (16 hex digits)";
    }
    if (reason) {
      out_->records.pop_back();
      rejected_->Add(reason);
    }
    return true;
  }

  static bool Body(const element& e, model::LogRecord* rec) {
    AttributeValue v;
    bool present = false;
    if (!DecodeValue(e, &v, &present)) return false;
    if (!present) return true;
    if (v.type == AttributeValue::Type::kString) {
      rec->body = std::move(v.string_value);
      return true;
    }
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    if (!ValueJson(e, w, 0)) return false;
    rec->body.assign(buf.GetString(), buf.GetSize());
    rec->body_is_json = true;
    return true;
  }
};

// One parser per thread: it keeps its buffers between requests.
simdjson::dom::parser& Parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

// Parses and decodes a whole request with `Decoder`; `what` names the message in the error.
template <typename Decoder, typename Batch>
Status Decode(std::string_view body, const Shape& shape, const DecodeOptions& options, Batch* out,
              Rejections* rejected, std::string_view what) {
  element root;
  std::string repaired;  // JavaScript exporters send a string cut through a surrogate pair
  size_t repairs;        // as a lone \u escape
  if (ParseRepairing(Parser(), body, &root, &repaired, &repairs) != simdjson::SUCCESS) {
    return Status::InvalidArgument("the body is not JSON");
  }
  rejected->text_repairs += repairs;
  Decoder decoder(options, out, rejected);
  if (!Walk(root, shape, &decoder)) return decoder.WalkError("OTLP/JSON " + std::string(what));
  return Status::Ok();
}

}  // namespace

Status DecodeTracesJson(std::string_view body, const DecodeOptions& options, model::SpanBatch* out,
                        Rejections* rejected) {
  return Decode<TraceDecoder>(body, kTraceShape, options, out, rejected,
                              "ExportTraceServiceRequest");
}

Status DecodeLogsJson(std::string_view body, const DecodeOptions& options, model::LogBatch* out,
                      Rejections* rejected) {
  return Decode<LogDecoder>(body, kLogShape, options, out, rejected, "ExportLogsServiceRequest");
}

}  // namespace waggle::codec::otlp
