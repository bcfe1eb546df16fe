// OTLP protobuf requests read field by field into the span and log models (spec/otlp.md §5).
// Known fields with an unexpected wire type are skipped as unknown ones, as libprotobuf does.

#include <cmath>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "base/base64.h"
#include "base/utf8.h"
#include "codec/json_writer.h"
#include "codec/otlp/decoders.h"
#include "codec/otlp/proto_wire.h"
#include "codec/otlp/span_rules.h"

namespace waggle::codec::otlp {
namespace {

using model::Attribute;
using model::AttributeRole;
using model::AttributeValue;
using wire::kFixed32;
using wire::kFixed64;
using wire::kLen;
using wire::kVarint;

constexpr int kMaxDepth = 100;  // libprotobuf's default recursion limit

double BitsToDouble(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, 8);
  return d;
}

void WriteDouble(JsonWriter& w, double d) {
  if (std::isfinite(d)) {
    w.Double(d);
  } else {
    w.Null();
  }
}

bool AnyValueJson(std::string_view bytes, JsonWriter& w, int depth, uint64_t* repairs);

// The member of an AnyValue's oneof that counts: the last one on the wire (0 for none).
struct AnyMember {
  uint32_t field = 0;
  std::string_view bytes;  // fields 1, 5, 6, 7
  uint64_t num = 0;        // fields 2, 3 (varint), 4 (double bits)
};

bool LastMember(std::string_view bytes, AnyMember* m) {
  // A string shorter than 128 bytes, alone: nearly every attribute's value.
  if (bytes.size() >= 2 && bytes[0] == 0x0a && static_cast<uint8_t>(bytes[1]) < 0x80 &&
      static_cast<size_t>(bytes[1]) + 2 == bytes.size()) {
    m->field = 1;
    m->bytes = bytes.substr(2);
    return true;
  }
  wire::Reader r(bytes);
  uint32_t f, t;
  while (r.Next(&f, &t)) {
    if ((f == 1 || f == 5 || f == 6 || f == 7) && t == kLen) {
      if (!r.Bytes(&m->bytes)) return false;
    } else if ((f == 2 || f == 3) && t == kVarint) {
      if (!r.Varint(&m->num)) return false;
    } else if (f == 4 && t == kFixed64) {
      if (!r.Fixed64(&m->num)) return false;
    } else {
      if (!r.Skip(t, f)) return false;
      continue;
    }
    m->field = f;
  }
  return r.ok();
}

// ArrayValue {repeated AnyValue values = 1}
bool ArrayJson(std::string_view bytes, JsonWriter& w, int depth, uint64_t* repairs) {
  wire::Reader r(bytes);
  uint32_t f, t;
  w.StartArray();
  while (r.Next(&f, &t)) {
    std::string_view v;
    if (f == 1 && t == kLen) {
      if (!r.Bytes(&v) || !AnyValueJson(v, w, depth + 1, repairs)) return false;
    } else if (!r.Skip(t, f)) {
      return false;
    }
  }
  w.EndArray();
  return r.ok();
}

// KeyValue {string key = 1; AnyValue value = 2}: the key and the value's bytes (the last of
// each when repeated); false on malformed wire.
bool ReadKeyValue(std::string_view bytes, std::string_view* key, std::string_view* value,
                  bool* has_value) {
  // As nearly every encoder writes one: the key, then the value, each shorter than 128 bytes
  // (a one-byte length), and nothing else.
  const auto* b = reinterpret_cast<const uint8_t*>(bytes.data());
  if (bytes.size() >= 4 && b[0] == 0x0a && b[1] < 0x80) {
    const size_t k = b[1];
    if (k + 4 <= bytes.size() && b[k + 2] == 0x12 && b[k + 3] < 0x80 &&
        k + 4 + b[k + 3] == bytes.size()) {
      *key = bytes.substr(2, k);
      *value = bytes.substr(k + 4);
      *has_value = true;
      return true;
    }
  }
  wire::Reader r(bytes);
  uint32_t f, t;
  while (r.Next(&f, &t)) {
    if (f == 1 && t == kLen) {
      if (!r.Bytes(key)) return false;
    } else if (f == 2 && t == kLen) {
      if (!r.Bytes(value)) return false;
      *has_value = true;
    } else if (!r.Skip(t, f)) {
      return false;
    }
  }
  return r.ok();
}

// KeyValueList {repeated KeyValue values = 1}; KeyValue {string key = 1; AnyValue value = 2}
bool KvListJson(std::string_view bytes, JsonWriter& w, int depth, uint64_t* repairs) {
  wire::Reader r(bytes);
  uint32_t f, t;
  w.StartObject();
  while (r.Next(&f, &t)) {
    std::string_view kv;
    if (f != 1 || t != kLen) {
      if (!r.Skip(t, f)) return false;
      continue;
    }
    if (!r.Bytes(&kv)) return false;
    std::string_view key, value;
    bool has_value = false;
    if (!ReadKeyValue(kv, &key, &value, &has_value)) return false;
    WriteKey(w, key, repairs);
    if (has_value) {
      if (!AnyValueJson(value, w, depth + 1, repairs)) return false;
    } else {
      w.Null();
    }
  }
  w.EndObject();
  return r.ok();
}

// AnyValue as JSON: the last field of the oneof wins; none set is null.
bool AnyValueJson(std::string_view bytes, JsonWriter& w, int depth, uint64_t* repairs) {
  if (depth > kMaxDepth) return false;
  AnyMember m;  // nested values are validated whichever member counts
  if (!LastMember(bytes, &m)) return false;
  switch (m.field) {
    case 1:
      WriteString(w, m.bytes, repairs);
      return true;
    case 2:
      w.Bool(m.num != 0);
      return true;
    case 3:
      w.Int64(static_cast<int64_t>(m.num));
      return true;
    case 4:
      WriteDouble(w, BitsToDouble(m.num));
      return true;
    case 5:
      return ArrayJson(m.bytes, w, depth, repairs);
    case 6:
      return KvListJson(m.bytes, w, depth, repairs);
    case 7: {
      std::string b64;
      base64::Append(&b64, m.bytes);
      WriteString(w, b64);
      return true;
    }
    default:
      w.Null();
      return true;
  }
}

// An attribute's AnyValue. False on malformed bytes; *present false for an empty AnyValue.
bool DecodeAnyValue(std::string_view bytes, AttributeValue* out, bool* present, TextTo text) {
  uint64_t* repairs = text.repairs;
  AnyMember m;
  if (!LastMember(bytes, &m)) return false;
  *present = m.field != 0;
  switch (m.field) {
    case 1:
      out->type = AttributeValue::Type::kString;
      text.Set(&out->string_value, m.bytes);
      return true;
    case 2:
      out->type = AttributeValue::Type::kBool;
      out->int_value = m.num != 0;
      return true;
    case 3:
      out->type = AttributeValue::Type::kInt;
      out->int_value = static_cast<int64_t>(m.num);
      return true;
    case 4:
      out->type = AttributeValue::Type::kDouble;
      out->double_value = BitsToDouble(m.num);
      return true;
    case 7:
      out->type = AttributeValue::Type::kBytes;
      text.Bytes(&out->string_value, m.bytes);
      return true;
    case 5:
    case 6: {
      rapidjson::StringBuffer buf;
      JsonWriter w(buf);
      if (!(m.field == 5 ? ArrayJson(m.bytes, w, 1, repairs)
                         : KvListJson(m.bytes, w, 1, repairs))) {
        return false;
      }
      out->type = AttributeValue::Type::kJson;
      out->string_value.assign(buf.GetString(), buf.GetSize());
      return true;
    }
    default:
      return true;
  }
}

Attribute& Add(model::Attributes* attrs) { return attrs->emplace_back(); }
void Drop(model::Attributes* attrs) { attrs->pop_back(); }
Attribute& Add(model::AttributeFiller* attrs) { return attrs->Add(); }
void Drop(model::AttributeFiller* attrs) { attrs->Drop(); }

// KeyValue {string key = 1; AnyValue value = 2}, added to `attrs` (an attribute list or a
// filler of one) unless its key is empty or its value unset. Repeated value fields merge; for
// a oneof that is "the last one wins".
template <typename List>
bool DecodeKeyValue(std::string_view bytes, AttributeRole role, List* attrs, TextTo text) {
  std::string_view key;
  std::string_view value;
  bool has_value = false;
  if (!ReadKeyValue(bytes, &key, &value, &has_value)) return false;
  if (!has_value) return true;
  if (key.empty()) {  // left out, but a malformed value still refuses the body
    AttributeValue ignored;
    bool present = false;
    return DecodeAnyValue(value, &ignored, &present, text);
  }
  Attribute& a = Add(attrs);
  bool present = false;
  if (!DecodeAnyValue(value, &a.value, &present, text)) return false;
  if (!present) {  // an empty AnyValue: left out
    Drop(attrs);
    return true;
  }
  text.Set(&a.key, key);
  a.role = role;
  return true;
}

// Resource {repeated KeyValue attributes = 1; ...}
bool DecodeResource(std::string_view bytes, model::Attributes* attrs, TextTo text) {
  wire::Reader r(bytes);
  uint32_t f, t;
  while (r.Next(&f, &t)) {
    std::string_view v;
    if (f == 1 && t == kLen) {
      if (!r.Bytes(&v) || !DecodeKeyValue(v, AttributeRole::kResource, attrs, text)) {
        return false;
      }
    } else if (!r.Skip(t, f)) {
      return false;
    }
  }
  return r.ok();
}

// InstrumentationScope {name = 1; version = 2; repeated KeyValue attributes = 3; ...}
bool DecodeScope(std::string_view bytes, Scope* scope, TextTo text) {
  wire::Reader r(bytes);
  uint32_t f, t;
  while (r.Next(&f, &t)) {
    std::string_view v;
    if (f == 1 && t == kLen) {
      if (!r.Bytes(&scope->name)) return false;
    } else if (f == 2 && t == kLen) {
      if (!r.Bytes(&scope->version)) return false;
    } else if (f == 3 && t == kLen) {
      if (!r.Bytes(&v) || !DecodeKeyValue(v, AttributeRole::kScope, &scope->attributes, text)) {
        return false;
      }
    } else if (!r.Skip(t, f)) {
      return false;
    }
  }
  scope->name = AsValidUtf8(scope->name, &scope->repaired_name, text.repairs);
  scope->version = AsValidUtf8(scope->version, &scope->repaired_version, text.repairs);
  return r.ok();
}

// The fields of a container message (ResourceSpans, ScopeSpans, ...) gathered before any is
// decoded, since the resource or scope may come after the records it applies to.
struct Container {
  std::vector<std::string_view> heads;    // field 1 occurrences (merged in order)
  std::vector<std::string_view> records;  // field 2
};

bool Gather(std::string_view bytes, Container* c) {
  c->heads.clear();
  c->records.clear();
  wire::Reader r(bytes);
  uint32_t f, t;
  while (r.Next(&f, &t)) {
    std::string_view v;
    if ((f == 1 || f == 2) && t == kLen) {
      if (!r.Bytes(&v)) return false;
      (f == 1 ? c->heads : c->records).push_back(v);
    } else if (!r.Skip(t, f)) {
      return false;
    }
  }
  return r.ok();
}

// Export{Trace,Logs}ServiceRequest share one shape: {repeated R resources = 1},
// R {Resource resource = 1; repeated S scopes = 2}, S {InstrumentationScope scope = 1;
// repeated Record records = 2}. Walks it, resolving each resource's service by the dataset
// rule of Decoder::kSignal and calling decoder->Record(bytes, resource, scope) for each record.
template <typename Decoder>
bool Walk(std::string_view request, Decoder* decoder) {
  wire::Reader r(request);
  uint32_t f, t;
  Container resource_container, scope_container;
  ResourceContext resource;
  while (r.Next(&f, &t)) {
    std::string_view v;
    if (f != 1 || t != kLen) {
      if (!r.Skip(t, f)) return false;
      continue;
    }
    if (!r.Bytes(&v) || !Gather(v, &resource_container)) return false;
    resource.attributes.clear();
    for (std::string_view h : resource_container.heads) {
      if (!DecodeResource(h, &resource.attributes, decoder->text_to())) return false;
    }
    ResolveService(Decoder::kSignal, decoder->options(), &resource);
    for (std::string_view scope_bytes : resource_container.records) {
      if (!Gather(scope_bytes, &scope_container)) return false;
      Scope scope;
      for (std::string_view h : scope_container.heads) {
        if (!DecodeScope(h, &scope, decoder->text_to())) return false;
      }
      const size_t copies = ContextBytes(decoder->options(), resource, scope);
      decoder->NewContext();
      for (std::string_view record : scope_container.records) {
        if (!decoder->CountContext(copies) || !decoder->Record(record, resource, scope)) {
          return false;
        }
      }
    }
  }
  return r.ok();
}

class TraceDecoder : public RecordDecoder<Signal::kTraces, model::SpanBatch> {
 public:
  using RecordDecoder::RecordDecoder;

  bool Record(std::string_view bytes, const ResourceContext& resource, const Scope& scope) {
    model::AttributeFiller attributes;
    model::Span& span = BeginSpan(options_, resource, scope, out_, &attributes, &shared_);
    std::string_view trace_id, span_id, parent_id;
    wire::Reader r(bytes);
    uint32_t f, t;
    while (r.Next(&f, &t)) {
      std::string_view v;
      uint64_t n;
      uint32_t n32;
      bool ok = true;
      switch (f) {
        case 1:
          ok = t == kLen ? r.Bytes(&trace_id) : r.Skip(t, f);
          break;
        case 2:
          ok = t == kLen ? r.Bytes(&span_id) : r.Skip(t, f);
          break;
        case 3:
          ok = t == kLen ? r.Bytes(&v) && Text(&span.trace_state, v) : r.Skip(t, f);
          break;
        case 4:
          ok = t == kLen ? r.Bytes(&parent_id) : r.Skip(t, f);
          break;
        case 5:
          ok = t == kLen ? r.Bytes(&v) && Text(&span.name, v) : r.Skip(t, f);
          break;
        case 6:
          if (t == kVarint) {
            ok = r.Varint(&n);
            span.kind = static_cast<model::SpanKind>(static_cast<uint32_t>(n) <= 5 ? n : 0);
          } else {
            ok = r.Skip(t, f);
          }
          break;
        case 7:
          ok = t == kFixed64 ? (r.Fixed64(&n) && (span.start_ns = static_cast<int64_t>(n), true))
                             : r.Skip(t, f);
          break;
        case 8:
          ok = t == kFixed64 ? (r.Fixed64(&n) && (span.end_ns = static_cast<int64_t>(n), true))
                             : r.Skip(t, f);
          break;
        case 9:
          ok = t == kLen
                   ? r.Bytes(&v) && DecodeKeyValue(v, AttributeRole::kPlain, &attributes, text_to())
                   : r.Skip(t, f);
          break;
        case 11:
          ok = t == kLen ? r.Bytes(&v) && Event(v, &span) : r.Skip(t, f);
          break;
        case 13:
          ok = t == kLen ? r.Bytes(&v) && Link(v, &span) : r.Skip(t, f);
          break;
        case 15:
          ok = t == kLen ? r.Bytes(&v) && Status(v, &span) : r.Skip(t, f);
          break;
        case 16:
          ok = t == kFixed32 ? (r.Fixed32(&n32) && (span.flags = n32, true)) : r.Skip(t, f);
          break;
        default:
          ok = r.Skip(t, f);
      }
      if (!ok) return false;
    }
    if (!r.ok()) return false;
    attributes.Finish();
    const char* reason = nullptr;
    if (!ValidTraceIdBytes(trace_id)) {
      reason = "a span's trace_id is not 16 bytes or is all zero";
    } else if (!ValidSpanIdBytes(span_id)) {
      reason = "a span's span_id is not 8 bytes or is all zero";
    } else if (!parent_id.empty() && parent_id.size() != 8) {
      reason = "a span's parent_span_id is not 8 bytes";
    }
    if (reason) {
      out_->DropLastSpan();
      rejected_->Add(reason);
      return true;
    }
    std::memcpy(span.trace_id.bytes.data(), trace_id.data(), 16);
    span.span_id = SpanIdFromBytes(span_id.data());
    if (!parent_id.empty()) span.parent_span_id = SpanIdFromBytes(parent_id.data());
    FinishSpan(&span, *out_, shared_);
    return true;
  }

 private:
  // Span.Event {fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3}
  bool Event(std::string_view bytes, model::Span* span) {
    model::SpanEvent& e = span->events.emplace_back();
    wire::Reader r(bytes);
    uint32_t f, t;
    while (r.Next(&f, &t)) {
      std::string_view v;
      uint64_t n;
      bool ok;
      if (f == 1 && t == kFixed64) {
        ok = r.Fixed64(&n) && (e.time_ns = static_cast<int64_t>(n), true);
      } else if (f == 2 && t == kLen) {
        ok = r.Bytes(&v) && Text(&e.name, v);
      } else if (f == 3 && t == kLen) {
        ok = r.Bytes(&v) && DecodeKeyValue(v, AttributeRole::kPlain, &e.attributes, text_to());
      } else {
        ok = r.Skip(t, f);
      }
      if (!ok) return false;
    }
    return r.ok();
  }

  // Span.Link {trace_id = 1; span_id = 2; trace_state = 3; repeated KeyValue attributes = 4}.
  // A link with malformed ids is dropped; the span stays.
  bool Link(std::string_view bytes, model::Span* span) {
    model::SpanLink link;
    std::string_view trace_id, span_id;
    wire::Reader r(bytes);
    uint32_t f, t;
    while (r.Next(&f, &t)) {
      std::string_view v;
      bool ok;
      if (f == 1 && t == kLen) {
        ok = r.Bytes(&trace_id);
      } else if (f == 2 && t == kLen) {
        ok = r.Bytes(&span_id);
      } else if (f == 3 && t == kLen) {
        ok = r.Bytes(&v) && Text(&link.trace_state, v);
      } else if (f == 4 && t == kLen) {
        ok = r.Bytes(&v) && DecodeKeyValue(v, AttributeRole::kPlain, &link.attributes, text_to());
      } else {
        ok = r.Skip(t, f);
      }
      if (!ok) return false;
    }
    if (!r.ok()) return false;
    if (ValidTraceIdBytes(trace_id) && ValidSpanIdBytes(span_id)) {
      std::memcpy(link.trace_id.bytes.data(), trace_id.data(), 16);
      link.span_id = SpanIdFromBytes(span_id.data());
      span->links.push_back(std::move(link));
    }
    return true;
  }

  // Status {string message = 2; StatusCode code = 3}
  bool Status(std::string_view bytes, model::Span* span) {
    wire::Reader r(bytes);
    uint32_t f, t;
    while (r.Next(&f, &t)) {
      std::string_view v;
      uint64_t n;
      bool ok;
      if (f == 2 && t == kLen) {
        ok = r.Bytes(&v) && Text(&span->status_message, v);
      } else if (f == 3 && t == kVarint) {
        ok = r.Varint(&n) && (span->otel_status = static_cast<uint32_t>(n) <= 2 ? n : 0, true);
      } else {
        ok = r.Skip(t, f);
      }
      if (!ok) return false;
    }
    return r.ok();
  }
};

class LogDecoder : public RecordDecoder<Signal::kLogs, model::LogBatch> {
 public:
  using RecordDecoder::RecordDecoder;

  bool Record(std::string_view bytes, const ResourceContext& resource, const Scope& scope) {
    model::LogRecord& rec = BeginLogRecord(options_, resource, scope, out_);
    std::string_view trace_id, span_id, body;
    bool has_body = false;
    wire::Reader r(bytes);
    uint32_t f, t;
    while (r.Next(&f, &t)) {
      std::string_view v;
      uint64_t n;
      uint32_t n32;
      bool ok;
      if (f == 1 && t == kFixed64) {
        ok = r.Fixed64(&n) && (rec.time_ns = static_cast<int64_t>(n), true);
      } else if (f == 11 && t == kFixed64) {
        ok = r.Fixed64(&n) && (rec.observed_ns = static_cast<int64_t>(n), true);
      } else if (f == 2 && t == kVarint) {
        ok = r.Varint(&n) && (rec.severity_number = n <= 24 ? static_cast<uint8_t>(n) : 0, true);
      } else if (f == 3 && t == kLen) {
        ok = r.Bytes(&v) && Text(&rec.severity_text, v);
      } else if (f == 5 && t == kLen) {
        ok = r.Bytes(&body);
        has_body = true;
      } else if (f == 6 && t == kLen) {
        ok = r.Bytes(&v) && DecodeKeyValue(v, AttributeRole::kPlain, &rec.attributes, text_to());
      } else if (f == 8 && t == kFixed32) {
        ok = r.Fixed32(&n32) && (rec.flags = n32, true);
      } else if (f == 9 && t == kLen) {
        ok = r.Bytes(&trace_id);
      } else if (f == 10 && t == kLen) {
        ok = r.Bytes(&span_id);
      } else if (f == 12 && t == kLen) {
        ok = r.Bytes(&v) && Text(&rec.event_name, v);
      } else {
        ok = r.Skip(t, f);
      }
      if (!ok) return false;
    }
    if (!r.ok()) return false;
    if (has_body) {
      model::AttributeValue value;
      bool present = false;
      if (!DecodeAnyValue(body, &value, &present, text_to())) return false;
      if (present && value.type == model::AttributeValue::Type::kString) {
        rec.body = value.string_value.view();
      } else if (present && value.type == model::AttributeValue::Type::kJson) {
        rec.body = value.string_value.view();  // an array or map, already JSON
        rec.body_is_json = true;
      } else if (present) {
        rapidjson::StringBuffer buf;
        JsonWriter w(buf);
        if (!AnyValueJson(body, w, 0, repairs())) return false;
        rec.body.assign(buf.GetString(), buf.GetSize());
        rec.body_is_json = true;
      }
    }
    if (rec.time_ns == 0) rec.time_ns = rec.observed_ns;
    const char* reason = nullptr;
    if (!trace_id.empty() && trace_id.size() != 16) {
      reason = "a log record's trace_id is not 16 bytes";
    } else if (!span_id.empty() && span_id.size() != 8) {
      reason = "a log record's span_id is not 8 bytes";
    }
    if (reason) {
      out_->records.pop_back();
      rejected_->Add(reason);
      return true;
    }
    if (!trace_id.empty()) std::memcpy(rec.trace_id.bytes.data(), trace_id.data(), 16);
    if (!span_id.empty()) rec.span_id = SpanIdFromBytes(span_id.data());
    return true;
  }
};

// Decodes a whole request with `Decoder`; `what` names the message in the error.
template <typename Decoder, typename Batch>
Status Decode(std::string_view body, const DecodeOptions& options, Batch* out, Rejections* rejected,
              std::string_view what) {
  Decoder decoder(options, out, rejected);
  if (!Walk(body, &decoder)) return decoder.WalkError(what);
  return Status::Ok();
}

}  // namespace

Status DecodeTracesProto(std::string_view body, const DecodeOptions& options, model::SpanBatch* out,
                         Rejections* rejected) {
  return Decode<TraceDecoder>(body, options, out, rejected, "ExportTraceServiceRequest");
}

Status DecodeLogsProto(std::string_view body, const DecodeOptions& options, model::LogBatch* out,
                       Rejections* rejected) {
  return Decode<LogDecoder>(body, options, out, rejected, "ExportLogsServiceRequest");
}

}  // namespace waggle::codec::otlp
