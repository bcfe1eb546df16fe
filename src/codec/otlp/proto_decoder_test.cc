// Checks the hand-written OTLP decoders (DecodeTraces, DecodeLogs) against libprotobuf. Requests
// are built with our own copy of the schema (testing/otlp_test.proto), serialized by libprotobuf
// (binary, and OTLP/JSON: protobuf's JSON with the ids rewritten as hex), decoded, and compared
// field by field with what the message said, mapped by the rules of spec/otlp.md §4 as spelled
// out in ExpectTraces() and ExpectLogs() below.
//
// Where the rules left room, this test decided as follows (each is one spot below, easy to flip):
//  - An attribute whose value is missing, or is an AnyValue with nothing set, is skipped at the
//    top level (husky skips nil values); inside an array or kvlist it is JSON null. Attributes
//    with an empty key are skipped. The profiles-only string_value_strindex is never generated.
//  - Array and kvlist values are compared as JSON values, not as text: same shape, kvlist keys in
//    wire order, strings and bools equal, numbers equal as numbers (ints exactly). Spacing and
//    1.0-versus-1 are the decoder's choice. Ints inside JSON are numbers, bytes base64 strings.
//  - Well-known columns read the resource, scope and span attributes (in that order, so a later
//    occurrence wins), except `peer`, which only a span's own attributes name. Each column takes
//    the first key of its list (new semconv name first) that is present with a string value (an
//    int for http_status, kept when 0 < status < 1000), whatever the wire order.
//  - status_flags: http status 400-499 => error (429 also throttle); 500-599 => fault; otherwise
//    fault when the OTel status is ERROR. So 404 with status ERROR is error alone (as the X-Ray
//    exporter does).
//  - A span kind outside 0..5 (negative included) is kUnspecified; a status code outside 0..2 is
//    0 (unset) and so never sets fault.
//  - sampleRate: looked up in the span's attributes, then the scope's, then the resource's (the
//    most specific wins); in one list `sampleRate` beats `SampleRate` whatever the wire order
//    (spec/otlp.md §4.6 "sampleRate (preferred)"). Every attribute with either key is dropped from
//    the span's attributes at all three levels, used or not (Honeycomb's one flat event loses them
//    all); events and links keep theirs. An int is taken as is, a double rounded half away from
//    zero, a string parsed as a decimal number and rounded; a bool, a kvlist, an unparsable
//    string etc. give 1 and end the lookup. Then <= 0 gives 1 and above 2^31-1 is clamped.
//  - Times: the fixed64 as int64 (generated ones stay below 2^62). Span and log flags verbatim,
//    no masking. Dropped counts and schema urls are not kept anywhere.
//  - Links: only valid ids are generated (the decoders drop a link with bad ids).
//  - A protobuf body of zero bytes is an empty request: OK, nothing decoded.
//  - Malformed wire (RefusesMalformedWire) is refused wherever libprotobuf refuses it: tag 0,
//    field numbers above 2^29-1, wire types 6 and 7, varints over 10 bytes, unbalanced groups.
//    Unknown fields of every wire type, groups included, are skipped (as libprotobuf does), and
//    so are known fields sent with another wire type.
//  - Logs: service = the trimmed service.name when it is valid by the traces rule (a string, not
//    blank, not starting with unknown_service); else the trimmed dataset header when not blank;
//    else unknown_log_source. Attributes: resource (kResource), scope (kScope), then the record's
//    own (kPlain), as husky copies them (kLogsCopyScopeAttributes).
//    A body that is absent or an empty AnyValue is "" with body_is_json false; a bytes body is
//    a JSON string of its base64. A 16-byte all-zero trace id (8-byte zero span id) is kept as
//    zero, not refused. Severity numbers are generated in 0..24 only. No sampleRate handling.
#include "codec/otlp/otlp.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/unknown_field_set.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "base/hex.h"
#include "base/testing/testdata.h"
#include "codec/otlp/testing/otlp_test.pb.h"
#include "codec/otlp/testing/proto_builder.h"
#include "model/attribute.h"
#include "model/log_record.h"
#include "model/span.h"
#include "model/span_batch.h"

namespace waggle::codec::otlp {
namespace {

namespace pb = ::waggle::otlptest;
using google::protobuf::RepeatedPtrField;
using model::AttributeRole;
using model::AttributeValue;
using ::waggle::test_util::ReadTestdata;

// See the decisions above: log records get their scope's attributes too.
constexpr bool kLogsCopyScopeAttributes = true;

// ---------------------------------------------------------------------------------------------
// Bytes, hex and base64.

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::string FromHex(std::string_view text) {
  std::string out;
  for (size_t i = 0; i + 1 < text.size(); i += 2) {
    int hi = hex::DigitValue(text[i]), lo = hex::DigitValue(text[i + 1]);
    if (hi < 0 || lo < 0) {
      ADD_FAILURE() << "not hex: " << text;
      return out;
    }
    out += static_cast<char>(hi << 4 | lo);
  }
  return out;
}

// Standard alphabet, with padding: what protobuf's JSON writes and OTLP/JSON wants for bytes.
std::string Base64(std::string_view bytes) {
  std::string out;
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t n = static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])) << 16 |
                 static_cast<uint32_t>(static_cast<uint8_t>(bytes[i + 1])) << 8 |
                 static_cast<uint8_t>(bytes[i + 2]);
    out += kBase64Alphabet[n >> 18];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += kBase64Alphabet[(n >> 6) & 63];
    out += kBase64Alphabet[n & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t n = static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])) << 16;
    if (rest == 2) n |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[i + 1])) << 8;
    out += kBase64Alphabet[n >> 18];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += rest == 2 ? kBase64Alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string FromBase64(std::string_view text) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    const char* at = c == '\0' ? nullptr : std::strchr(kBase64Alphabet, c);
    if (at == nullptr) {
      ADD_FAILURE() << "not base64: " << text;
      return out;
    }
    acc = acc << 6 | static_cast<uint32_t>(at - kBase64Alphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::string Base64ToHex(std::string_view b64) { return Hex(FromBase64(b64)); }
std::string HexToBase64(std::string_view hex) { return Base64(FromHex(hex)); }

bool AllZero(std::string_view bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; });
}

model::TraceId TraceIdFrom(std::string_view bytes) {
  model::TraceId id;
  if (!bytes.empty())
    std::memcpy(id.bytes.data(), bytes.data(), std::min<size_t>(bytes.size(), 16));
  return id;
}

// Big-endian, as SpanId::ToHex prints it.
model::SpanId SpanIdFrom(std::string_view bytes) {
  model::SpanId id;
  for (unsigned char c : bytes) id.value = id.value << 8 | c;
  return id;
}

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

// ---------------------------------------------------------------------------------------------
// JSON: the text an array or kvlist value should become, and comparing two such texts.

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void WriteJson(const pb::AnyValue& v, JsonWriter* w) {
  switch (v.value_case()) {
    case pb::AnyValue::kStringValue:
      w->String(v.string_value().data(), static_cast<rapidjson::SizeType>(v.string_value().size()));
      break;
    case pb::AnyValue::kBoolValue:
      w->Bool(v.bool_value());
      break;
    case pb::AnyValue::kIntValue:
      w->Int64(v.int_value());
      break;
    case pb::AnyValue::kDoubleValue:
      w->Double(v.double_value());
      break;
    case pb::AnyValue::kArrayValue:
      w->StartArray();
      for (const pb::AnyValue& e : v.array_value().values()) WriteJson(e, w);
      w->EndArray();
      break;
    case pb::AnyValue::kKvlistValue:
      w->StartObject();
      for (const pb::KeyValue& kv : v.kvlist_value().values()) {
        w->Key(kv.key().data(), static_cast<rapidjson::SizeType>(kv.key().size()));
        if (kv.has_value()) {
          WriteJson(kv.value(), w);
        } else {
          w->Null();
        }
      }
      w->EndObject();
      break;
    case pb::AnyValue::kBytesValue: {
      const std::string b64 = Base64(v.bytes_value());
      w->String(b64.data(), static_cast<rapidjson::SizeType>(b64.size()));
      break;
    }
    case pb::AnyValue::kStringValueStrindex:
    case pb::AnyValue::VALUE_NOT_SET:
      w->Null();
      break;
  }
}

std::string JsonText(const pb::AnyValue& v) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  WriteJson(v, &w);
  return std::string(buf.GetString(), buf.GetSize());
}

bool JsonSame(const rapidjson::Value& a, const rapidjson::Value& b) {
  if (a.IsNumber() && b.IsNumber()) {
    if (a.IsDouble() || b.IsDouble()) return a.GetDouble() == b.GetDouble();
    if (a.IsInt64() && b.IsInt64()) return a.GetInt64() == b.GetInt64();
    if (a.IsUint64() && b.IsUint64()) return a.GetUint64() == b.GetUint64();
    return false;
  }
  if (a.GetType() != b.GetType()) return false;
  if (a.IsString()) {
    return std::string_view(a.GetString(), a.GetStringLength()) ==
           std::string_view(b.GetString(), b.GetStringLength());
  }
  if (a.IsArray()) {
    if (a.Size() != b.Size()) return false;
    for (rapidjson::SizeType i = 0; i < a.Size(); ++i) {
      if (!JsonSame(a[i], b[i])) return false;
    }
    return true;
  }
  if (a.IsObject()) {
    if (a.MemberCount() != b.MemberCount()) return false;
    for (auto ia = a.MemberBegin(), ib = b.MemberBegin(); ia != a.MemberEnd(); ++ia, ++ib) {
      if (!JsonSame(ia->name, ib->name) || !JsonSame(ia->value, ib->value)) return false;
    }
    return true;
  }
  return true;  // null, true, false: the type said it all
}

bool JsonTextSame(std::string_view want, std::string_view got) {
  rapidjson::Document a, b;
  a.Parse<rapidjson::kParseFullPrecisionFlag>(want.data(), want.size());
  b.Parse<rapidjson::kParseFullPrecisionFlag>(got.data(), got.size());
  if (a.HasParseError() || b.HasParseError()) return false;
  return JsonSame(a, b);
}

// protobuf's JSON mapping writes bytes as base64; OTLP/JSON writes the three id fields as hex.
using IdConverter = std::string (*)(std::string_view);

void RewriteIdMembers(rapidjson::Value* v, rapidjson::Document::AllocatorType& alloc,
                      IdConverter convert) {
  if (v->IsArray()) {
    for (rapidjson::SizeType i = 0; i < v->Size(); ++i) RewriteIdMembers(&(*v)[i], alloc, convert);
    return;
  }
  if (!v->IsObject()) return;
  for (rapidjson::SizeType i = 0; i < v->MemberCount(); ++i) {
    auto m = v->MemberBegin() + i;
    const std::string_view name(m->name.GetString(), m->name.GetStringLength());
    if (m->value.IsString() && (name == "traceId" || name == "spanId" || name == "parentSpanId")) {
      const std::string id =
          convert(std::string_view(m->value.GetString(), m->value.GetStringLength()));
      m->value.SetString(id.data(), static_cast<rapidjson::SizeType>(id.size()), alloc);
    } else {
      RewriteIdMembers(&m->value, alloc, convert);
    }
  }
}

// Adds members no OTLP message has to every object.
void AddUnknownMembers(rapidjson::Value* v, rapidjson::Document::AllocatorType& alloc) {
  if (v->IsArray()) {
    for (rapidjson::SizeType i = 0; i < v->Size(); ++i) AddUnknownMembers(&(*v)[i], alloc);
    return;
  }
  if (!v->IsObject()) return;
  for (rapidjson::SizeType i = 0; i < v->MemberCount(); ++i) {
    AddUnknownMembers(&(v->MemberBegin() + i)->value, alloc);
  }
  rapidjson::Value list(rapidjson::kArrayType);
  rapidjson::Value one(1), text(rapidjson::StringRef("x")), null_value, yes(true),
      inner(rapidjson::kObjectType);
  rapidjson::Value half(2.5);
  inner.AddMember("traceId", half, alloc);  // a known name, but inside an unknown member
  list.PushBack(one, alloc).PushBack(text, alloc).PushBack(null_value, alloc);
  list.PushBack(yes, alloc).PushBack(inner, alloc);
  rapidjson::Value extra(rapidjson::kObjectType);
  extra.AddMember("nested", list, alloc);
  rapidjson::Value null_member, number(-12.5e3);
  v->AddMember("someFutureField", extra, alloc);
  v->AddMember("zzUnknown", null_member, alloc);
  v->AddMember("unknownNumber", number, alloc);
}

std::string WriteDocument(const rapidjson::Document& doc, bool ascii_only) {
  rapidjson::StringBuffer buf;
  if (ascii_only) {
    // Every non-ASCII character as \uXXXX (astral ones as surrogate pairs).
    rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>, rapidjson::ASCII<>> w(buf);
    EXPECT_TRUE(doc.Accept(w));
  } else {
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    EXPECT_TRUE(doc.Accept(w));
  }
  return std::string(buf.GetString(), buf.GetSize());
}

std::string RewriteJson(std::string_view json, IdConverter convert, bool ascii_only,
                        bool add_unknown_members = false) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseFullPrecisionFlag>(json.data(), json.size());
  EXPECT_FALSE(doc.HasParseError()) << json.substr(0, 2000);
  RewriteIdMembers(&doc, doc.GetAllocator(), convert);
  if (add_unknown_members) AddUnknownMembers(&doc, doc.GetAllocator());
  return WriteDocument(doc, ascii_only);
}

// OTLP/JSON for `message`: protobuf's JSON (lowerCamelCase names, enums as integers) with the
// ids rewritten as hex.
std::string ToOtlpJson(const google::protobuf::Message& message, bool ascii_only,
                       bool add_unknown_members = false) {
  google::protobuf::util::JsonPrintOptions print;
  print.always_print_enums_as_ints = true;
  print.preserve_proto_field_names = false;
  std::string json;
  const auto status = google::protobuf::util::MessageToJsonString(message, &json, print);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return RewriteJson(json, &Base64ToHex, ascii_only, add_unknown_members);
}

// ---------------------------------------------------------------------------------------------
// The expected model: what a request says, by the rules at the top of this file.

// The model value of a top-level attribute; nullopt when the attribute is skipped.
std::optional<AttributeValue> ModelValue(const pb::AnyValue& v) {
  switch (v.value_case()) {
    case pb::AnyValue::kStringValue:
      return AttributeValue::String(v.string_value());
    case pb::AnyValue::kBoolValue:
      return AttributeValue::Bool(v.bool_value());
    case pb::AnyValue::kIntValue:
      return AttributeValue::Int(v.int_value());
    case pb::AnyValue::kDoubleValue:
      return AttributeValue::Double(v.double_value());
    case pb::AnyValue::kBytesValue: {
      AttributeValue out = AttributeValue::String(v.bytes_value());
      out.type = AttributeValue::Type::kBytes;
      return out;
    }
    case pb::AnyValue::kArrayValue:
    case pb::AnyValue::kKvlistValue:
      return AttributeValue::Json(JsonText(v));
    case pb::AnyValue::kStringValueStrindex:
    case pb::AnyValue::VALUE_NOT_SET:
      return std::nullopt;
  }
  return std::nullopt;
}

bool IsSampleRateKey(std::string_view key) { return key == "sampleRate" || key == "SampleRate"; }

void AppendAttributes(const RepeatedPtrField<pb::KeyValue>& kvs, AttributeRole role,
                      bool drop_sample_rate, model::Attributes* out) {
  for (const pb::KeyValue& kv : kvs) {
    if (kv.key().empty() || !kv.has_value()) continue;
    if (drop_sample_rate && IsSampleRateKey(kv.key())) continue;
    std::optional<AttributeValue> value = ModelValue(kv.value());
    if (!value) continue;
    model::Attribute a;
    a.key = kv.key();
    a.value = std::move(*value);
    a.role = role;
    out->push_back(std::move(a));
  }
}

const pb::AnyValue* Find(const RepeatedPtrField<pb::KeyValue>& kvs, std::string_view key) {
  for (const pb::KeyValue& kv : kvs) {
    if (kv.key() == key && kv.has_value()) return &kv.value();
  }
  return nullptr;
}

using AttributeLists = std::vector<const RepeatedPtrField<pb::KeyValue>*>;

// What a well-known column reads: the first of `keys` found with a value of `type` in any of
// `lists`; of several occurrences of that key, the last one.
const pb::AnyValue* ColumnValue(const AttributeLists& lists,
                                std::initializer_list<std::string_view> keys,
                                pb::AnyValue::ValueCase type) {
  for (std::string_view key : keys) {
    const pb::AnyValue* found = nullptr;
    for (const RepeatedPtrField<pb::KeyValue>* list : lists) {
      for (const pb::KeyValue& kv : *list) {
        if (kv.key() == key && kv.has_value() && kv.value().value_case() == type) {
          found = &kv.value();
        }
      }
    }
    if (found != nullptr) return found;
  }
  return nullptr;
}

// The first of `keys` with a string value in `kvs` (its first occurrence).
std::string FirstString(const RepeatedPtrField<pb::KeyValue>& kvs,
                        std::initializer_list<std::string_view> keys) {
  for (std::string_view key : keys) {
    for (const pb::KeyValue& kv : kvs) {
      if (kv.key() == key && kv.has_value() &&
          kv.value().value_case() == pb::AnyValue::kStringValue) {
        return kv.value().string_value();
      }
    }
  }
  return "";
}

// The trimmed service.name when usable; empty when missing, not a string, blank, or
// unknown_service...
std::string UsableServiceName(const pb::Resource& resource) {
  const pb::AnyValue* v = Find(resource.attributes(), "service.name");
  if (v == nullptr || v->value_case() != pb::AnyValue::kStringValue) return "";
  const std::string_view name = Trim(v->string_value());
  if (name.empty() || name.starts_with("unknown_service")) return "";
  return std::string(name);
}

// nullopt when the list has neither sampleRate nor SampleRate.
std::optional<uint32_t> SampleRateIn(const RepeatedPtrField<pb::KeyValue>& kvs) {
  const pb::AnyValue* v = Find(kvs, "sampleRate");
  if (v == nullptr) v = Find(kvs, "SampleRate");
  if (v == nullptr) return std::nullopt;
  double rate = 0;
  switch (v->value_case()) {
    case pb::AnyValue::kIntValue:
      rate = static_cast<double>(v->int_value());
      break;
    case pb::AnyValue::kDoubleValue:
      rate = std::round(v->double_value());
      break;
    case pb::AnyValue::kStringValue: {
      const std::string& s = v->string_value();
      char* end = nullptr;
      const double parsed = std::strtod(s.c_str(), &end);
      if (s.empty() || end != s.c_str() + s.size()) return 1u;
      rate = std::round(parsed);
      break;
    }
    default:
      return 1u;
  }
  if (!(rate > 0)) return 1u;
  if (rate > 2147483647.0) return 2147483647u;
  return static_cast<uint32_t>(rate);
}

bool ValidTraceId(std::string_view id) { return id.size() == 16 && !AllZero(id); }
bool ValidSpanId(std::string_view id) { return id.size() == 8 && !AllZero(id); }

struct ExpectedSpans {
  std::vector<model::Span> spans;
  uint64_t rejected = 0;
};

model::Span ExpectSpan(const pb::Resource& resource, const pb::InstrumentationScope& scope,
                       const pb::Span& span, const std::string& service,
                       const DecodeOptions& options) {
  model::Span s;
  s.trace_id = TraceIdFrom(span.trace_id());
  s.span_id = SpanIdFrom(span.span_id());
  s.parent_span_id = SpanIdFrom(span.parent_span_id());
  s.environment = std::string(options.environment);
  s.service = service;
  s.dataset = options.classic_key ? std::string(options.dataset_header) : "";
  s.name = span.name();
  const int kind = static_cast<int>(span.kind());
  s.kind =
      kind >= 0 && kind <= 5 ? static_cast<model::SpanKind>(kind) : model::SpanKind::kUnspecified;
  s.start_ns = static_cast<int64_t>(span.start_time_unix_nano());
  s.end_ns = static_cast<int64_t>(span.end_time_unix_nano());
  s.trace_state = span.trace_state();
  s.scope_name = scope.name();
  s.scope_version = scope.version();
  s.flags = span.flags();
  const int code = static_cast<int>(span.status().code());
  s.otel_status = static_cast<uint8_t>(code >= 0 && code <= 2 ? code : 0);
  s.status_message = span.status().message();

  const auto& attrs = span.attributes();
  const AttributeLists all = {&resource.attributes(), &scope.attributes(), &attrs};
  auto column = [&](std::initializer_list<std::string_view> keys) -> std::string {
    const pb::AnyValue* v = ColumnValue(all, keys, pb::AnyValue::kStringValue);
    return v != nullptr ? v->string_value() : "";
  };
  s.http_method = column({"http.request.method", "http.method"});
  s.http_route = column({"http.route"});
  s.http_url = column({"url.full", "http.url"});
  s.client_ip = column({"client.address", "http.client_ip"});
  s.user_agent = column({"user_agent.original", "http.user_agent"});
  s.db_system = column({"db.system.name", "db.system"});
  s.peer =
      FirstString(attrs, {"peer.service", "service.peer.name", "server.address", "net.peer.name"});
  if (const pb::AnyValue* v = ColumnValue(all, {"http.response.status_code", "http.status_code"},
                                          pb::AnyValue::kIntValue);
      v != nullptr && v->int_value() > 0 && v->int_value() < 1000) {
    s.http_status = static_cast<int32_t>(v->int_value());
  }
  if (s.http_status >= 400 && s.http_status <= 499) {
    s.status_flags = model::kStatusError;
    if (s.http_status == 429) s.status_flags |= model::kStatusThrottle;
  } else if (s.http_status >= 500 && s.http_status <= 599) {
    s.status_flags = model::kStatusFault;
  } else if (s.otel_status == 2) {
    s.status_flags = model::kStatusFault;
  }

  std::optional<uint32_t> rate = SampleRateIn(attrs);
  if (!rate) rate = SampleRateIn(scope.attributes());
  if (!rate) rate = SampleRateIn(resource.attributes());
  s.sample_rate = rate.value_or(1);

  AppendAttributes(resource.attributes(), AttributeRole::kResource, true, &s.attributes);
  AppendAttributes(scope.attributes(), AttributeRole::kScope, true, &s.attributes);
  AppendAttributes(attrs, AttributeRole::kPlain, true, &s.attributes);
  for (const pb::Span::Event& e : span.events()) {
    model::SpanEvent event;
    event.time_ns = static_cast<int64_t>(e.time_unix_nano());
    event.name = e.name();
    AppendAttributes(e.attributes(), AttributeRole::kPlain, false, &event.attributes);
    s.events.push_back(std::move(event));
  }
  for (const pb::Span::Link& l : span.links()) {
    model::SpanLink link;
    link.trace_id = TraceIdFrom(l.trace_id());
    link.span_id = SpanIdFrom(l.span_id());
    link.trace_state = l.trace_state();
    AppendAttributes(l.attributes(), AttributeRole::kPlain, false, &link.attributes);
    s.links.push_back(std::move(link));
  }
  return s;
}

ExpectedSpans ExpectTraces(const pb::ExportTraceServiceRequest& req, const DecodeOptions& options) {
  ExpectedSpans out;
  for (const pb::ResourceSpans& rs : req.resource_spans()) {
    std::string service = UsableServiceName(rs.resource());
    if (service.empty()) service = "unknown_service";
    for (const pb::ScopeSpans& ss : rs.scope_spans()) {
      for (const pb::Span& span : ss.spans()) {
        if (!ValidTraceId(span.trace_id()) || !ValidSpanId(span.span_id()) ||
            (!span.parent_span_id().empty() && span.parent_span_id().size() != 8)) {
          ++out.rejected;
          continue;
        }
        out.spans.push_back(ExpectSpan(rs.resource(), ss.scope(), span, service, options));
      }
    }
  }
  return out;
}

struct ExpectedLogs {
  std::vector<model::LogRecord> records;
  uint64_t rejected = 0;
};

ExpectedLogs ExpectLogs(const pb::ExportLogsServiceRequest& req, const DecodeOptions& options) {
  ExpectedLogs out;
  for (const pb::ResourceLogs& rl : req.resource_logs()) {
    std::string service = UsableServiceName(rl.resource());
    if (service.empty()) service = std::string(Trim(options.dataset_header));
    if (service.empty()) service = "unknown_log_source";
    for (const pb::ScopeLogs& sl : rl.scope_logs()) {
      for (const pb::LogRecord& lr : sl.log_records()) {
        if ((!lr.trace_id().empty() && lr.trace_id().size() != 16) ||
            (!lr.span_id().empty() && lr.span_id().size() != 8)) {
          ++out.rejected;
          continue;
        }
        model::LogRecord r;
        r.trace_id = TraceIdFrom(lr.trace_id());
        r.span_id = SpanIdFrom(lr.span_id());
        r.environment = std::string(options.environment);
        r.service = service;
        r.observed_ns = static_cast<int64_t>(lr.observed_time_unix_nano());
        r.time_ns =
            lr.time_unix_nano() != 0 ? static_cast<int64_t>(lr.time_unix_nano()) : r.observed_ns;
        r.severity_number = static_cast<uint8_t>(lr.severity_number());
        r.severity_text = lr.severity_text();
        switch (lr.body().value_case()) {  // body() is the empty default when absent
          case pb::AnyValue::kStringValue:
            r.body = lr.body().string_value();
            break;
          case pb::AnyValue::kStringValueStrindex:
          case pb::AnyValue::VALUE_NOT_SET:
            break;
          default:
            r.body = JsonText(lr.body());
            r.body_is_json = true;
            break;
        }
        r.event_name = lr.event_name();
        r.flags = lr.flags();
        r.scope_name = sl.scope().name();
        AppendAttributes(rl.resource().attributes(), AttributeRole::kResource, false,
                         &r.attributes);
        if (kLogsCopyScopeAttributes) {
          AppendAttributes(sl.scope().attributes(), AttributeRole::kScope, false, &r.attributes);
        }
        AppendAttributes(lr.attributes(), AttributeRole::kPlain, false, &r.attributes);
        out.records.push_back(std::move(r));
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Comparing what was decoded with what was expected, with readable differences.

std::string Quote(std::string_view s) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kDigits[c >> 4];
      out += kDigits[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

template <class T>
std::string Show(const T& v) {
  if constexpr (std::is_same_v<T, std::string>) {
    return Quote(v);
  } else if constexpr (std::is_same_v<T, model::TraceId> || std::is_same_v<T, model::SpanId>) {
    return v.ToHex();
  } else if constexpr (std::is_same_v<T, bool>) {
    return v ? "true" : "false";
  } else if constexpr (std::is_enum_v<T>) {
    return std::to_string(static_cast<int64_t>(v));
  } else {
    return std::to_string(v);
  }
}

template <class T>
void DiffField(std::string* out, std::string_view name, const T& want, const T& got) {
  if (want == got) return;
  *out += "  ";
  *out += name;
  *out += ": want " + Show(want) + ", got " + Show(got) + "\n";
}

std::string ShowValue(const AttributeValue& v) {
  switch (v.type) {
    case AttributeValue::Type::kString:
      return "string " + Quote(v.string_value);
    case AttributeValue::Type::kInt:
      return "int " + std::to_string(v.int_value);
    case AttributeValue::Type::kDouble: {
      std::ostringstream os;
      os.precision(17);
      os << "double " << v.double_value;
      return os.str();
    }
    case AttributeValue::Type::kBool:
      return v.int_value != 0 ? "bool true" : "bool false";
    case AttributeValue::Type::kBytes:
      return "bytes " + Hex(v.string_value);
    case AttributeValue::Type::kJson:
      return "json " + v.string_value;
  }
  return "?";
}

std::string ShowAttributes(const model::Attributes& attrs) {
  std::string out = "[";
  for (const model::Attribute& a : attrs) {
    if (out.size() > 1) out += ", ";
    out += Quote(a.key) + "(role " + std::to_string(static_cast<int>(a.role)) +
           ")=" + ShowValue(a.value);
  }
  return out + "]";
}

bool SameValue(const AttributeValue& want, const AttributeValue& got) {
  if (want.type != AttributeValue::Type::kJson || got.type != AttributeValue::Type::kJson) {
    return want == got;
  }
  return want.int_value == got.int_value && want.double_value == got.double_value &&
         JsonTextSame(want.string_value, got.string_value);
}

void DiffAttributes(std::string* out, std::string_view name, const model::Attributes& want,
                    const model::Attributes& got) {
  bool same = want.size() == got.size();
  for (size_t i = 0; same && i < want.size(); ++i) {
    same = want[i].key == got[i].key && want[i].role == got[i].role &&
           SameValue(want[i].value, got[i].value);
  }
  if (same) return;
  *out += "  ";
  *out += name;
  *out += ":\n    want " + ShowAttributes(want) + "\n    got  " + ShowAttributes(got) + "\n";
}

// Keep in step with model::Span: every field is compared.
std::string DiffSpan(const model::Span& want, const model::Span& got) {
  std::string out;
  DiffField(&out, "trace_id", want.trace_id, got.trace_id);
  DiffField(&out, "span_id", want.span_id, got.span_id);
  DiffField(&out, "parent_span_id", want.parent_span_id, got.parent_span_id);
  DiffField(&out, "environment", want.environment, got.environment);
  DiffField(&out, "service", want.service, got.service);
  DiffField(&out, "dataset", want.dataset, got.dataset);
  DiffField(&out, "name", want.name, got.name);
  DiffField(&out, "kind", want.kind, got.kind);
  DiffField(&out, "start_ns", want.start_ns, got.start_ns);
  DiffField(&out, "end_ns", want.end_ns, got.end_ns);
  DiffField(&out, "in_progress", want.in_progress, got.in_progress);
  DiffField(&out, "status_flags", want.status_flags, got.status_flags);
  DiffField(&out, "status_message", want.status_message, got.status_message);
  DiffField(&out, "http_method", want.http_method, got.http_method);
  DiffField(&out, "http_route", want.http_route, got.http_route);
  DiffField(&out, "http_url", want.http_url, got.http_url);
  DiffField(&out, "http_status", want.http_status, got.http_status);
  DiffField(&out, "client_ip", want.client_ip, got.client_ip);
  DiffField(&out, "user_agent", want.user_agent, got.user_agent);
  DiffField(&out, "db_system", want.db_system, got.db_system);
  DiffField(&out, "peer", want.peer, got.peer);
  DiffField(&out, "trace_state", want.trace_state, got.trace_state);
  DiffField(&out, "scope_name", want.scope_name, got.scope_name);
  DiffField(&out, "scope_version", want.scope_version, got.scope_version);
  DiffField(&out, "flags", want.flags, got.flags);
  DiffField(&out, "otel_status", want.otel_status, got.otel_status);
  DiffField(&out, "sample_rate", want.sample_rate, got.sample_rate);
  DiffField(&out, "from_xray_document", want.from_xray_document, got.from_xray_document);
  DiffAttributes(&out, "attributes", want.attributes, got.attributes);
  DiffField(&out, "events.size()", want.events.size(), got.events.size());
  for (size_t i = 0; i < std::min(want.events.size(), got.events.size()); ++i) {
    const std::string at = "events[" + std::to_string(i) + "].";
    DiffField(&out, at + "time_ns", want.events[i].time_ns, got.events[i].time_ns);
    DiffField(&out, at + "name", want.events[i].name, got.events[i].name);
    DiffAttributes(&out, at + "attributes", want.events[i].attributes, got.events[i].attributes);
  }
  DiffField(&out, "links.size()", want.links.size(), got.links.size());
  for (size_t i = 0; i < std::min(want.links.size(), got.links.size()); ++i) {
    const std::string at = "links[" + std::to_string(i) + "].";
    DiffField(&out, at + "trace_id", want.links[i].trace_id, got.links[i].trace_id);
    DiffField(&out, at + "span_id", want.links[i].span_id, got.links[i].span_id);
    DiffField(&out, at + "trace_state", want.links[i].trace_state, got.links[i].trace_state);
    DiffAttributes(&out, at + "attributes", want.links[i].attributes, got.links[i].attributes);
  }
  return out;
}

// Keep in step with model::LogRecord: every field is compared.
std::string DiffLog(const model::LogRecord& want, const model::LogRecord& got) {
  std::string out;
  DiffField(&out, "trace_id", want.trace_id, got.trace_id);
  DiffField(&out, "span_id", want.span_id, got.span_id);
  DiffField(&out, "environment", want.environment, got.environment);
  DiffField(&out, "service", want.service, got.service);
  DiffField(&out, "time_ns", want.time_ns, got.time_ns);
  DiffField(&out, "observed_ns", want.observed_ns, got.observed_ns);
  DiffField(&out, "severity_number", want.severity_number, got.severity_number);
  DiffField(&out, "severity_text", want.severity_text, got.severity_text);
  DiffField(&out, "body_is_json", want.body_is_json, got.body_is_json);
  const bool body_same = want.body_is_json && got.body_is_json ? JsonTextSame(want.body, got.body)
                                                               : want.body == got.body;
  if (!body_same) out += "  body: want " + Quote(want.body) + ", got " + Quote(got.body) + "\n";
  DiffField(&out, "event_name", want.event_name, got.event_name);
  DiffField(&out, "flags", want.flags, got.flags);
  DiffField(&out, "scope_name", want.scope_name, got.scope_name);
  DiffAttributes(&out, "attributes", want.attributes, got.attributes);
  return out;
}

constexpr size_t kMaxReport = 12000;

::testing::AssertionResult Report(std::string diff) {
  if (diff.empty()) return ::testing::AssertionSuccess();
  if (diff.size() > kMaxReport) diff = diff.substr(0, kMaxReport) + "\n  ...";
  return ::testing::AssertionFailure() << "\n" << diff;
}

std::string DiffRejections(uint64_t want, const Rejections& got) {
  std::string out;
  if (got.count != want) {
    out += "rejected: want " + std::to_string(want) + ", got " + std::to_string(got.count) + " (" +
           Quote(got.message) + ")\n";
  }
  if ((got.count == 0) != got.message.empty()) {
    out += "rejection message " + Quote(got.message) + " with count " + std::to_string(got.count) +
           "\n";
  }
  return out;
}

::testing::AssertionResult SpansMatch(const std::vector<model::Span>& want, uint64_t want_rejected,
                                      const std::vector<model::Span>& got,
                                      const Rejections& rejected) {
  std::string out = DiffRejections(want_rejected, rejected);
  if (got.size() != want.size()) {
    out +=
        "spans: want " + std::to_string(want.size()) + ", got " + std::to_string(got.size()) + "\n";
  }
  for (size_t i = 0; i < std::min(want.size(), got.size()) && out.size() < kMaxReport; ++i) {
    const std::string diff = DiffSpan(want[i], got[i]);
    if (!diff.empty()) {
      out +=
          "span " + std::to_string(i) + " (want span_id " + want[i].span_id.ToHex() + "):\n" + diff;
    }
  }
  return Report(std::move(out));
}

::testing::AssertionResult LogsMatch(const std::vector<model::LogRecord>& want,
                                     uint64_t want_rejected,
                                     const std::vector<model::LogRecord>& got,
                                     const Rejections& rejected) {
  std::string out = DiffRejections(want_rejected, rejected);
  if (got.size() != want.size()) {
    out += "records: want " + std::to_string(want.size()) + ", got " + std::to_string(got.size()) +
           "\n";
  }
  for (size_t i = 0; i < std::min(want.size(), got.size()) && out.size() < kMaxReport; ++i) {
    const std::string diff = DiffLog(want[i], got[i]);
    if (!diff.empty()) out += "record " + std::to_string(i) + ":\n" + diff;
  }
  return Report(std::move(out));
}

struct TraceDecode {
  Status status;
  model::SpanBatch batch;
  Rejections rejected;
};

TraceDecode DecodeT(Encoding encoding, std::string_view body, const DecodeOptions& options) {
  TraceDecode d;
  d.status = DecodeTraces(encoding, body, options, &d.batch, &d.rejected);
  return d;
}

struct LogDecode {
  Status status;
  model::LogBatch batch;
  Rejections rejected;
};

LogDecode DecodeL(Encoding encoding, std::string_view body, const DecodeOptions& options) {
  LogDecode d;
  d.status = DecodeLogs(encoding, body, options, &d.batch, &d.rejected);
  return d;
}

::testing::AssertionResult TracesMatch(const ExpectedSpans& want, Encoding encoding,
                                       std::string_view body, const DecodeOptions& options) {
  TraceDecode got = DecodeT(encoding, body, options);
  if (!got.status.ok()) return ::testing::AssertionFailure() << got.status.ToString();
  return SpansMatch(want.spans, want.rejected, got.batch.spans, got.rejected);
}

::testing::AssertionResult LogsMatchBody(const ExpectedLogs& want, Encoding encoding,
                                         std::string_view body, const DecodeOptions& options) {
  LogDecode got = DecodeL(encoding, body, options);
  if (!got.status.ok()) return ::testing::AssertionFailure() << got.status.ToString();
  return LogsMatch(want.records, want.rejected, got.batch.records, got.rejected);
}

std::string Serialize(const google::protobuf::Message& m) {
  std::string out;
  EXPECT_TRUE(m.SerializeToString(&out));
  return out;
}

std::string Head(const std::string& s, size_t n = 6000) {
  return s.size() <= n ? s : s.substr(0, n) + "...";
}

// ---------------------------------------------------------------------------------------------
// Random requests.

class Gen {
 public:
  explicit Gen(uint64_t seed) : rng_(seed) {}

  std::mt19937_64& rng() { return rng_; }
  uint64_t U64() { return rng_(); }
  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <class T>
  T Pick(const std::vector<T>& items) {
    return items[static_cast<size_t>(Int(0, static_cast<int>(items.size()) - 1))];
  }

  std::string Bytes(size_t n) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(rng_() & 0xff);
    return s;
  }
  std::string NonZeroBytes(size_t n) {
    std::string s = Bytes(n);
    if (!s.empty()) s.back() = static_cast<char>(s.back() | 1);
    return s;
  }

  // Valid UTF-8 with what JSON must escape, multi-byte characters and U+2028.
  std::string Text() {
    static const std::vector<std::string> kPieces = [] {
      // clang-format off
      std::vector<std::string> pieces = {
          "a", "b", "Z", "0", "9", " ", "-", "_", ":", "\"", "\\", "/", "\n", "\t", "\r", "\b",
          "\f", "\x01", "\x1f", "\x7f", "<", ">", "&", "'", "\xc3\xa9", "\xe6\x97\xa5",
          "\xf0\x9f\x98\x80", "\xe2\x80\xa8", "{", "}", "[", "]", ","};
      // clang-format on
      pieces.push_back(std::string(1, '\0'));
      return pieces;
    }();
    std::string out;
    for (int n = Int(0, 8); n > 0; --n) out += Pick(kPieces);
    return out;
  }

  int64_t Int64() {
    switch (Int(0, 3)) {
      case 0:
        return Pick<int64_t>({0, 1, -1, std::numeric_limits<int64_t>::min(),
                              std::numeric_limits<int64_t>::max(), 42, -1234567890123});
      case 1:
        return Int(-1000, 1000);
      default:
        return static_cast<int64_t>(U64());
    }
  }

  // Finite only: NaN and the infinities have no agreed JSON text.
  double Double() {
    if (Chance(0.5)) {
      return Pick<double>(
          {0.0, -0.0, 0.5, -2.25, 3.0, 0.1, 1e300, -1e-300, 5e-324, 1e21, 123456.789, 2.5});
    }
    return std::uniform_real_distribution<double>(-1e6, 1e6)(rng_);
  }

 private:
  std::mt19937_64 rng_;
};

void RandomValue(Gen& g, int depth, pb::AnyValue* v) {
  switch (g.Int(0, 9)) {
    case 0:
    case 1:
      v->set_string_value(g.Text());
      return;
    case 2:
      v->set_bool_value(g.Chance(0.5));
      return;
    case 3:
      v->set_int_value(g.Int64());
      return;
    case 4:
      v->set_double_value(g.Double());
      return;
    case 5:
      v->set_bytes_value(g.Bytes(static_cast<size_t>(g.Int(0, 10))));
      return;
    case 6:
      return;  // an empty AnyValue
    case 7:
    case 8: {
      if (depth >= 3) {
        v->set_string_value("deep");
        return;
      }
      pb::ArrayValue* array = v->mutable_array_value();
      for (int n = g.Int(0, 4); n > 0; --n) RandomValue(g, depth + 1, array->add_values());
      return;
    }
    default: {
      if (depth >= 3) {
        v->set_int_value(7);
        return;
      }
      pb::KeyValueList* list = v->mutable_kvlist_value();
      const int n = g.Int(0, 4);
      for (int i = 0; i < n; ++i) {
        pb::KeyValue* kv = list->add_values();
        kv->set_key("k" + std::to_string(i) + g.Text());
        if (g.Chance(0.9)) RandomValue(g, depth + 1, kv->mutable_value());
      }
      return;
    }
  }
}

pb::KeyValue StringKv(std::string key, std::string value) {
  pb::KeyValue kv;
  kv.set_key(std::move(key));
  kv.mutable_value()->set_string_value(std::move(value));
  return kv;
}

pb::KeyValue IntKv(std::string key, int64_t value) {
  pb::KeyValue kv;
  kv.set_key(std::move(key));
  kv.mutable_value()->set_int_value(value);
  return kv;
}

pb::KeyValue DoubleKv(std::string key, double value) {
  pb::KeyValue kv;
  kv.set_key(std::move(key));
  kv.mutable_value()->set_double_value(value);
  return kv;
}

pb::KeyValue BoolKv(std::string key, bool value) {
  pb::KeyValue kv;
  kv.set_key(std::move(key));
  kv.mutable_value()->set_bool_value(value);
  return kv;
}

pb::KeyValue SampleRateKv(Gen& g) {
  pb::KeyValue kv;
  kv.set_key(g.Chance(0.5) ? "sampleRate" : "SampleRate");
  pb::AnyValue* v = kv.mutable_value();
  switch (g.Int(0, 3)) {
    case 0:
      v->set_int_value(g.Pick<int64_t>({-5, 0, 1, 7, 100, 3000000000}));
      break;
    case 1:
      v->set_double_value(g.Pick<double>({0.4, 2.5, 10.49, -1.0, 1e12}));
      break;
    case 2:
      v->set_string_value(g.Pick<std::string>({"20", "12.5", "abc", "-3", ""}));
      break;
    default:
      v->set_bool_value(true);
      break;
  }
  return kv;
}

// Keys that mean nothing to the decoder (Text() cannot spell a special one).
void AddGenericAttributes(Gen& g, int max, std::set<std::string>* used,
                          std::vector<pb::KeyValue>* out) {
  static const std::vector<std::string> kKeys = {
      "k",   "user.id", "region",   "count",     "a.b.c",
      "x y", "",        "\xce\xa9", "host.name", "deployment.environment"};
  for (int n = g.Int(0, max); n > 0; --n) {
    std::string key = g.Chance(0.7) ? g.Pick(kKeys) : g.Text();
    if (!used->insert(key).second) continue;
    pb::KeyValue kv;
    kv.set_key(std::move(key));
    if (g.Chance(0.95)) RandomValue(g, 0, kv.mutable_value());
    out->push_back(std::move(kv));
  }
}

void Emit(Gen& g, std::vector<pb::KeyValue> kvs, RepeatedPtrField<pb::KeyValue>* out) {
  std::shuffle(kvs.begin(), kvs.end(), g.rng());
  for (pb::KeyValue& kv : kvs) *out->Add() = std::move(kv);
}

void MaybeAddSampleRate(Gen& g, double p, std::set<std::string>* used,
                        std::vector<pb::KeyValue>* out) {
  if (!g.Chance(p)) return;
  pb::KeyValue kv = SampleRateKv(g);
  if (used->insert(kv.key()).second) out->push_back(std::move(kv));
}

void RandomGenericAttributes(Gen& g, int max, RepeatedPtrField<pb::KeyValue>* out) {
  std::vector<pb::KeyValue> kvs;
  std::set<std::string> used;
  AddGenericAttributes(g, max, &used, &kvs);
  Emit(g, std::move(kvs), out);
}

void RandomSpanAttributes(Gen& g, RepeatedPtrField<pb::KeyValue>* out) {
  static const std::vector<std::string> kStringKeys = {"http.request.method",
                                                       "http.method",
                                                       "http.route",
                                                       "url.full",
                                                       "http.url",
                                                       "client.address",
                                                       "http.client_ip",
                                                       "user_agent.original",
                                                       "http.user_agent",
                                                       "db.system.name",
                                                       "db.system",
                                                       "peer.service",
                                                       "service.peer.name",
                                                       "server.address",
                                                       "net.peer.name"};
  std::vector<pb::KeyValue> kvs;
  std::set<std::string> used;
  for (const std::string& key : kStringKeys) {
    if (!g.Chance(0.12)) continue;
    used.insert(key);
    kvs.push_back(StringKv(
        key, g.Chance(0.5) ? g.Pick<std::string>({"GET", "POST", "/users/:id", "postgresql",
                                                  "10.0.0.7", "curl/8.0", "payments"})
                           : g.Text()));
  }
  for (const char* key : {"http.response.status_code", "http.status_code"}) {
    if (!g.Chance(0.15)) continue;
    used.insert(key);
    kvs.push_back(
        IntKv(key, g.Pick<int64_t>({100, 200, 204, 302, 400, 404, 429, 499, 500, 503, 599})));
  }
  MaybeAddSampleRate(g, 0.15, &used, &kvs);
  MaybeAddSampleRate(g, 0.05, &used, &kvs);
  AddGenericAttributes(g, 5, &used, &kvs);
  Emit(g, std::move(kvs), out);
}

void RandomResource(Gen& g, bool with_sample_rate, pb::Resource* r) {
  std::vector<pb::KeyValue> kvs;
  std::set<std::string> used = {"service.name"};
  switch (g.Int(0, 9)) {
    case 0:
      break;  // no service.name
    case 1:
      kvs.push_back(StringKv("service.name", " \t "));
      break;
    case 2:
      kvs.push_back(StringKv("service.name", "unknown_service:node"));
      break;
    case 3:
      kvs.push_back(StringKv("service.name", " unknown_service"));
      break;
    case 4:
      kvs.push_back(IntKv("service.name", 42));
      break;
    case 5:
      kvs.push_back(StringKv("service.name", "\tpayments \n"));
      break;
    default:
      kvs.push_back(
          StringKv("service.name", g.Pick<std::string>({"checkout", "frontend", "\xce\xa9-svc"})));
      break;
  }
  if (with_sample_rate) MaybeAddSampleRate(g, 0.1, &used, &kvs);
  // Names the span columns read (a resource's server.address names no peer).
  if (g.Chance(0.1) && used.insert("http.request.method").second) {
    kvs.push_back(StringKv("http.request.method", "FROM-RESOURCE"));
  }
  if (g.Chance(0.1) && used.insert("server.address").second) {
    kvs.push_back(StringKv("server.address", "resource.host"));
  }
  AddGenericAttributes(g, 4, &used, &kvs);
  Emit(g, std::move(kvs), r->mutable_attributes());
  if (g.Chance(0.2)) r->set_dropped_attributes_count(static_cast<uint32_t>(g.Int(1, 5)));
  if (g.Chance(0.2)) {
    pb::EntityRef* e = r->add_entity_refs();
    e->set_schema_url("https://opentelemetry.io/schemas/1.30.0");
    e->set_type("service");
    e->add_id_keys("service.name");
    e->add_description_keys("service.version");
  }
}

void RandomScope(Gen& g, bool with_sample_rate, pb::InstrumentationScope* s) {
  s->set_name(g.Chance(0.8) ? g.Pick<std::string>({"", "@opentelemetry/instrumentation-http",
                                                   "io.opentelemetry.jdbc", "my-lib"})
                            : g.Text());
  if (g.Chance(0.6)) s->set_version(g.Pick<std::string>({"1.0.0", "0.52.1", ""}));
  std::vector<pb::KeyValue> kvs;
  std::set<std::string> used;
  if (with_sample_rate) MaybeAddSampleRate(g, 0.1, &used, &kvs);
  if (g.Chance(0.1) && used.insert("http.route").second) {
    kvs.push_back(StringKv("http.route", "/from-scope"));
  }
  AddGenericAttributes(g, 3, &used, &kvs);
  Emit(g, std::move(kvs), s->mutable_attributes());
  if (g.Chance(0.1)) s->set_dropped_attributes_count(2);
}

// Mostly a valid id of `size` bytes; now and then one a span is refused for.
std::string RandomId(Gen& g, size_t size) {
  if (g.Chance(0.05)) {
    switch (g.Int(0, 3)) {
      case 0:
        return g.NonZeroBytes(size - 1);
      case 1:
        return std::string(size, '\0');
      case 2:
        return "";
      default:
        return g.NonZeroBytes(size + 1);
    }
  }
  return g.NonZeroBytes(size);
}

void RandomSpan(Gen& g, pb::Span* s) {
  s->set_trace_id(RandomId(g, 16));
  s->set_span_id(RandomId(g, 8));
  const int parent = g.Int(0, 19);
  if (parent == 8) {
    s->set_parent_span_id(std::string(8, '\0'));  // all zero: a root
  } else if (parent == 9) {
    s->set_parent_span_id(g.NonZeroBytes(7));  // refused
  } else if (parent > 9) {
    s->set_parent_span_id(g.NonZeroBytes(8));
  }
  if (g.Chance(0.3)) {
    s->set_trace_state(g.Chance(0.5) ? "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE" : g.Text());
  }
  s->set_name(g.Chance(0.8) ? g.Pick<std::string>({"GET /api/users", "SELECT users", "work", ""})
                            : g.Text());
  const int kind = g.Chance(0.9) ? g.Int(0, 5) : g.Pick<int>({6, 100, -1});
  s->set_kind(static_cast<pb::Span_SpanKind>(kind));
  const uint64_t start = g.Chance(0.05) ? 0 : g.U64() >> 2;
  s->set_start_time_unix_nano(start);
  if (g.Chance(0.05)) {
    s->set_end_time_unix_nano(0);
  } else if (g.Chance(0.1)) {
    s->set_end_time_unix_nano(start - std::min<uint64_t>(start, 1000));  // before the start
  } else {
    s->set_end_time_unix_nano(start + g.U64() % 10'000'000'000ull);
  }
  RandomSpanAttributes(g, s->mutable_attributes());
  if (g.Chance(0.2)) s->set_dropped_attributes_count(static_cast<uint32_t>(g.Int(1, 9)));
  for (int n = g.Int(0, 3); n > 0; --n) {
    pb::Span::Event* e = s->add_events();
    e->set_time_unix_nano(start + static_cast<uint64_t>(g.Int(0, 1000000)));
    e->set_name(g.Chance(0.7) ? g.Pick<std::string>({"exception", "cache.miss"}) : g.Text());
    RandomGenericAttributes(g, 3, e->mutable_attributes());
    if (g.Chance(0.1)) e->set_dropped_attributes_count(1);
  }
  if (g.Chance(0.1)) s->set_dropped_events_count(3);
  for (int n = g.Int(0, 2); n > 0; --n) {
    pb::Span::Link* l = s->add_links();
    l->set_trace_id(g.NonZeroBytes(16));
    l->set_span_id(g.NonZeroBytes(8));
    if (g.Chance(0.3)) l->set_trace_state("k=v");
    RandomGenericAttributes(g, 2, l->mutable_attributes());
    if (g.Chance(0.1)) l->set_dropped_attributes_count(4);
    if (g.Chance(0.5)) l->set_flags(g.Pick<uint32_t>({1, 257, 0x301}));
  }
  if (g.Chance(0.1)) s->set_dropped_links_count(2);
  if (g.Chance(0.7)) {
    pb::Status* status = s->mutable_status();
    status->set_code(static_cast<pb::Status_StatusCode>(g.Chance(0.95) ? g.Int(0, 2) : 7));
    if (g.Chance(0.5)) status->set_message(g.Text());
  }
  if (g.Chance(0.8)) {
    s->set_flags(g.Chance(0.7) ? g.Pick<uint32_t>({0, 1, 257, 0x301})
                               : static_cast<uint32_t>(g.U64()));
  }
}

struct Shape {
  int resources = 3;
  int scopes = 3;
  int items = 5;  // spans or log records per scope
};

pb::ExportTraceServiceRequest RandomTraces(Gen& g, Shape shape) {
  pb::ExportTraceServiceRequest req;
  for (int r = g.Int(1, shape.resources); r > 0; --r) {
    pb::ResourceSpans* rs = req.add_resource_spans();
    if (g.Chance(0.9)) RandomResource(g, /*with_sample_rate=*/true, rs->mutable_resource());
    if (g.Chance(0.3)) rs->set_schema_url("https://opentelemetry.io/schemas/1.26.0");
    for (int s = g.Int(0, shape.scopes); s > 0; --s) {
      pb::ScopeSpans* ss = rs->add_scope_spans();
      if (g.Chance(0.85)) RandomScope(g, /*with_sample_rate=*/true, ss->mutable_scope());
      if (g.Chance(0.2)) ss->set_schema_url("https://opentelemetry.io/schemas/1.26.0");
      for (int n = g.Int(0, shape.items); n > 0; --n) RandomSpan(g, ss->add_spans());
    }
  }
  return req;
}

void RandomLogRecord(Gen& g, pb::LogRecord* r) {
  if (g.Chance(0.8)) r->set_time_unix_nano(g.U64() >> 2);
  if (g.Chance(0.8)) r->set_observed_time_unix_nano(g.U64() >> 2);
  r->set_severity_number(static_cast<pb::SeverityNumber>(g.Int(0, 24)));
  if (g.Chance(0.6)) r->set_severity_text(g.Pick<std::string>({"INFO", "warn", "ERROR", ""}));
  if (g.Chance(0.4)) {
    r->mutable_body()->set_string_value(g.Text());
  } else if (g.Chance(0.85)) {
    RandomValue(g, 0, r->mutable_body());
  }
  RandomGenericAttributes(g, 5, r->mutable_attributes());
  if (g.Chance(0.1)) r->set_dropped_attributes_count(2);
  if (g.Chance(0.5)) r->set_flags(g.Pick<uint32_t>({0, 1, 257}));
  const int trace = g.Int(0, 19);
  if (trace == 6) {
    r->set_trace_id(std::string(16, '\0'));  // kept, as zero
  } else if (trace == 7) {
    r->set_trace_id(g.NonZeroBytes(15));  // refused
  } else if (trace > 7) {
    r->set_trace_id(g.NonZeroBytes(16));
  }
  const int span = g.Int(0, 19);
  if (span == 6) {
    r->set_span_id(std::string(8, '\0'));
  } else if (span == 7) {
    r->set_span_id(g.NonZeroBytes(7));
  } else if (span > 7) {
    r->set_span_id(g.NonZeroBytes(8));
  }
  if (g.Chance(0.3)) {
    r->set_event_name(g.Chance(0.7) ? g.Pick<std::string>({"browser.click", "app.start"})
                                    : g.Text());
  }
}

pb::ExportLogsServiceRequest RandomLogs(Gen& g, Shape shape) {
  pb::ExportLogsServiceRequest req;
  for (int r = g.Int(1, shape.resources); r > 0; --r) {
    pb::ResourceLogs* rl = req.add_resource_logs();
    if (g.Chance(0.9)) RandomResource(g, /*with_sample_rate=*/false, rl->mutable_resource());
    if (g.Chance(0.3)) rl->set_schema_url("https://opentelemetry.io/schemas/1.26.0");
    for (int s = g.Int(0, shape.scopes); s > 0; --s) {
      pb::ScopeLogs* sl = rl->add_scope_logs();
      if (g.Chance(0.85)) RandomScope(g, /*with_sample_rate=*/false, sl->mutable_scope());
      for (int n = g.Int(0, shape.items); n > 0; --n) RandomLogRecord(g, sl->add_log_records());
    }
  }
  return req;
}

DecodeOptions OptionsFor(int i) {
  static constexpr std::string_view kEnvironments[] = {"default", "prod"};
  static constexpr std::string_view kHeaders[] = {"", "my-dataset", "   "};
  DecodeOptions o;
  o.environment = kEnvironments[i % 2];
  o.dataset_header = kHeaders[i % 3];
  o.classic_key = (i / 2) % 2 == 1;
  return o;
}

constexpr int kRandomRequests = 300;
constexpr uint64_t kSeed = 0x0071'7a5e'ed00'0000;

// Adds unknown fields of every kind to `m` and every message inside it.
void AddUnknownFields(google::protobuf::Message* m, bool groups) {
  const google::protobuf::Reflection* r = m->GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(*m, &fields);
  for (const google::protobuf::FieldDescriptor* f : fields) {
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(*m, f); ++i) {
        AddUnknownFields(r->MutableRepeatedMessage(m, f, i), groups);
      }
    } else {
      AddUnknownFields(r->MutableMessage(m, f), groups);
    }
  }
  google::protobuf::UnknownFieldSet* u = r->MutableUnknownFields(m);
  u->AddVarint(100, 0xffffffffffffffffull);  // ten bytes
  u->AddFixed64(101, 0x0123456789abcdefull);
  u->AddFixed32(102, 0xdeadbeef);
  u->AddLengthDelimited(103, "not one of ours");
  u->AddLengthDelimited(536870911, std::string("\x0a\x02hi", 4));  // the largest field number
  u->AddLengthDelimited(99, std::string("\x01\x96\x01\x03", 4));   // as a packed varint list
  if (groups) {
    google::protobuf::UnknownFieldSet* group = u->AddGroup(104);
    group->AddVarint(1, 5);
    group->AddLengthDelimited(2, "in a group");
    group->AddGroup(3)->AddFixed32(4, 7);
    u->AddGroup(105);  // empty
  }
}

// ---------------------------------------------------------------------------------------------
// A hand-rolled protobuf writer, for bodies libprotobuf would never write.

using Wire = test_util::ProtoBuilder;

Wire StrValue(std::string_view s) { return Wire().Bytes(1, s); }
Wire IntValue(int64_t v) { return Wire().Varint(3, static_cast<uint64_t>(v)); }
Wire KV(std::string_view key, const Wire& value) { return Wire().Bytes(1, key).Message(2, value); }

// ---------------------------------------------------------------------------------------------
// Small requests for the rules, decoded from protobuf and from JSON alike.

const std::string kTraceHex = "4bf92f3577b34da6a3ce929d0e0e4736";
const std::string kSpanHex = "00f067aa0ba902b7";

pb::Span* AddSpan(pb::ExportTraceServiceRequest* req) {
  if (req->resource_spans_size() == 0) req->add_resource_spans()->add_scope_spans();
  pb::Span* s = req->mutable_resource_spans(0)->mutable_scope_spans(0)->add_spans();
  s->set_trace_id(FromHex(kTraceHex));
  s->set_span_id(FromHex(kSpanHex));
  s->set_name("op");
  return s;
}

RepeatedPtrField<pb::KeyValue>* ResourceAttrs(pb::ExportTraceServiceRequest* req) {
  return req->mutable_resource_spans(0)->mutable_resource()->mutable_attributes();
}

RepeatedPtrField<pb::KeyValue>* ScopeAttrs(pb::ExportTraceServiceRequest* req) {
  return req->mutable_resource_spans(0)
      ->mutable_scope_spans(0)
      ->mutable_scope()
      ->mutable_attributes();
}

// Both encodings must decode `req` and agree; returns the spans.
std::vector<model::Span> DecodeBoth(const pb::ExportTraceServiceRequest& req,
                                    const DecodeOptions& options = {}) {
  TraceDecode from_pb = DecodeT(Encoding::kProtobuf, Serialize(req), options);
  const std::string json = ToOtlpJson(req, false);
  TraceDecode from_json = DecodeT(Encoding::kJson, json, options);
  EXPECT_TRUE(from_pb.status.ok()) << from_pb.status.ToString();
  EXPECT_TRUE(from_json.status.ok()) << from_json.status.ToString() << "\n" << Head(json);
  EXPECT_TRUE(SpansMatch(from_pb.batch.spans, from_pb.rejected.count, from_json.batch.spans,
                         from_json.rejected))
      << "the JSON decode differs from the protobuf decode; JSON:\n"
      << Head(json);
  return std::move(from_pb.batch.spans);
}

std::vector<model::LogRecord> DecodeLogsBoth(const pb::ExportLogsServiceRequest& req,
                                             const DecodeOptions& options = {},
                                             uint64_t* rejected = nullptr) {
  LogDecode from_pb = DecodeL(Encoding::kProtobuf, Serialize(req), options);
  const std::string json = ToOtlpJson(req, false);
  LogDecode from_json = DecodeL(Encoding::kJson, json, options);
  EXPECT_TRUE(from_pb.status.ok()) << from_pb.status.ToString();
  EXPECT_TRUE(from_json.status.ok()) << from_json.status.ToString() << "\n" << Head(json);
  EXPECT_TRUE(LogsMatch(from_pb.batch.records, from_pb.rejected.count, from_json.batch.records,
                        from_json.rejected))
      << "the JSON decode differs from the protobuf decode; JSON:\n"
      << Head(json);
  if (rejected != nullptr) *rejected = from_pb.rejected.count;
  return std::move(from_pb.batch.records);
}

const model::Attribute* Attr(const model::Span& s, std::string_view key) {
  for (const model::Attribute& a : s.attributes) {
    if (a.key == key) return &a;
  }
  return nullptr;
}

bool HasSampleRateAttribute(const model::Span& s) {
  return std::any_of(s.attributes.begin(), s.attributes.end(),
                     [](const model::Attribute& a) { return IsSampleRateKey(a.key); });
}

const model::Span* SpanNamed(const std::vector<model::Span>& spans, std::string_view name) {
  for (const model::Span& s : spans) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

// =============================================================================================
// Random requests against libprotobuf.

TEST(OtlpProtoDecoder, RandomTraceRequestsDecodeAsLibprotobufReadsThem) {
  uint64_t spans = 0, rejected = 0;
  for (int i = 0; i < kRandomRequests; ++i) {
    Gen g(kSeed + static_cast<uint64_t>(i));
    const pb::ExportTraceServiceRequest req = RandomTraces(g, Shape{});
    const DecodeOptions options = OptionsFor(i);
    const ExpectedSpans want = ExpectTraces(req, options);
    spans += want.spans.size();
    rejected += want.rejected;
    const std::string body = Serialize(req);
    ASSERT_TRUE(TracesMatch(want, Encoding::kProtobuf, body, options))
        << "request " << i << ":\n"
        << Head(req.Utf8DebugString());
  }
  // The generator does reach both sides.
  EXPECT_GT(spans, 1000u);
  EXPECT_GT(rejected, 50u);
}

// Every record carries its own copy of its resource's and scope's attributes, so a small body
// that names a large resource over many records would decode to many times its size: past
// DecodeOptions::max_context_bytes the body is refused whole, in both encodings, for traces and
// logs alike.
TEST(OtlpDecoders, ABodyWhoseRecordsWouldCopyTooMuchOfTheirResourceIsRefusedWhole) {
  constexpr size_t kRecords = 100;
  const std::string big(64 << 10, 'x');
  pb::ExportTraceServiceRequest traces;
  pb::ExportLogsServiceRequest logs;
  {
    pb::ResourceSpans* rs = traces.add_resource_spans();
    pb::KeyValue* kv = rs->mutable_resource()->add_attributes();
    kv->set_key("big");
    kv->mutable_value()->set_string_value(big);
    pb::ScopeSpans* ss = rs->add_scope_spans();
    pb::ResourceLogs* rl = logs.add_resource_logs();
    *rl->mutable_resource() = rs->resource();
    pb::ScopeLogs* sl = rl->add_scope_logs();
    for (size_t i = 0; i < kRecords; ++i) {
      pb::Span* span = ss->add_spans();
      span->set_trace_id(std::string(16, '\x01'));
      span->set_span_id(std::string(7, '\x01') + static_cast<char>(i + 1));
      sl->add_log_records()->mutable_body()->set_string_value("hello");
    }
  }
  // What the records copy: the attribute, its key and text, and the service name.
  const size_t copies = kRecords * (sizeof(model::Attribute) + 3 + big.size());
  for (const Encoding encoding : {Encoding::kProtobuf, Encoding::kJson}) {
    const std::string traces_body =
        encoding == Encoding::kJson ? ToOtlpJson(traces, false) : Serialize(traces);
    const std::string logs_body =
        encoding == Encoding::kJson ? ToOtlpJson(logs, false) : Serialize(logs);
    DecodeOptions options;
    options.max_context_bytes = copies / 2;
    model::SpanBatch spans;
    spans.spans.emplace_back();  // what was there stays
    model::LogBatch records;
    Rejections rejected;
    Status s = DecodeTraces(encoding, traces_body, options, &spans, &rejected);
    EXPECT_EQ(s.code(), Status::Code::kResourceExhausted) << s.ToString();
    EXPECT_EQ(spans.spans.size(), 1u);
    s = DecodeLogs(encoding, logs_body, options, &records, &rejected);
    EXPECT_EQ(s.code(), Status::Code::kResourceExhausted) << s.ToString();
    EXPECT_TRUE(records.records.empty());
    EXPECT_EQ(rejected.count, 0u);

    options.max_context_bytes = copies + kRecords * 64;  // room for the service name too
    ASSERT_TRUE(DecodeTraces(encoding, traces_body, options, &spans, &rejected).ok());
    ASSERT_EQ(spans.spans.size(), 1 + kRecords);
    EXPECT_EQ(model::FindString(spans.spans.back().attributes, "big"), big);
    ASSERT_TRUE(DecodeLogs(encoding, logs_body, options, &records, &rejected).ok());
    EXPECT_EQ(records.records.size(), kRecords);

    // A classic key's dataset header is copied into every span too, and counted.
    options.classic_key = true;
    options.dataset_header = big;
    EXPECT_EQ(DecodeTraces(encoding, traces_body, options, &spans, &rejected).code(),
              Status::Code::kResourceExhausted);
    EXPECT_EQ(spans.spans.size(), 1 + kRecords);
  }
}

// Request i of the tests that decode random requests into reused batches: its options,
// encoding (JSON one time in three) and body (cut in half one time in seven, so that it is
// refused whole, most of the time).
struct RandomTraceBody {
  pb::ExportTraceServiceRequest request;
  DecodeOptions options;
  Encoding encoding;
  std::string body;
};
RandomTraceBody RandomTraceBodyFor(int i) {
  Gen g(kSeed + static_cast<uint64_t>(i));
  RandomTraceBody c{RandomTraces(g, Shape{}),
                    OptionsFor(i),
                    i % 3 == 2 ? Encoding::kJson : Encoding::kProtobuf,
                    {}};
  c.body = c.encoding == Encoding::kJson ? ToOtlpJson(c.request, false) : Serialize(c.request);
  if (i % 7 == 6) c.body.resize(c.body.size() / 2);
  return c;
}

// The server decodes each request into a batch recycled from an earlier one
// (SpanBatch::Recycle): whatever that batch held before, and whichever encoding came before,
// a request decodes into it exactly as into a new batch, refused bodies included.
TEST(OtlpDecoders, RandomTraceRequestsDecodeIntoARecycledBatchAsIntoANewOne) {
  model::SpanBatch recycled;
  size_t reused = 0;
  for (int i = 0; i < kRandomRequests; ++i) {
    const RandomTraceBody c = RandomTraceBodyFor(i);
    const DecodeOptions& options = c.options;
    const Encoding encoding = c.encoding;
    const std::string& body = c.body;
    const TraceDecode want = DecodeT(encoding, body, options);
    const size_t kept = recycled.kept();
    Rejections rejected;
    const Status status = DecodeTraces(encoding, body, options, &recycled, &rejected);
    reused += kept - recycled.kept();
    ASSERT_EQ(status.ok(), want.status.ok()) << "request " << i;
    ASSERT_EQ(recycled.spans, want.batch.spans) << "request " << i;
    ASSERT_EQ(rejected.count, want.rejected.count) << "request " << i;
    ASSERT_EQ(rejected.message, want.rejected.message) << "request " << i;
    recycled.Recycle();
  }
  EXPECT_GT(reused, 500u);  // the decodes did reuse kept spans
}

// Spans decoded with shared contexts, once Materialize()d, are the spans decoded without: the
// rules that read the resource's and scope's attributes (well-known columns, the sample rate,
// and the sample rate attributes' removal) come out the same.
TEST(OtlpDecoders, RandomTraceRequestsWithSharedContextsMaterializeAsCopied) {
  model::SpanBatch shared;
  size_t with_context = 0;
  for (int i = 0; i < kRandomRequests; ++i) {
    const RandomTraceBody c = RandomTraceBodyFor(i);
    DecodeOptions options = c.options;
    const Encoding encoding = c.encoding;
    const std::string& body = c.body;
    const pb::ExportTraceServiceRequest& req = c.request;
    const TraceDecode want = DecodeT(encoding, body, options);
    options.shared_context = true;
    Rejections rejected;
    const Status status = DecodeTraces(encoding, body, options, &shared, &rejected);
    ASSERT_EQ(status.ok(), want.status.ok()) << "request " << i;
    ASSERT_EQ(rejected.count, want.rejected.count) << "request " << i;
    ASSERT_EQ(rejected.message, want.rejected.message) << "request " << i;
    if (!status.ok()) {
      EXPECT_TRUE(shared.spans.empty() && shared.contexts.empty()) << "request " << i;
      continue;
    }
    size_t pairs = 0;  // resource and scope pairs
    for (const pb::ResourceSpans& rs : req.resource_spans()) pairs += rs.scope_spans_size();
    EXPECT_LE(shared.contexts.size(), pairs) << "request " << i;
    for (const model::Span& s : shared.spans) {
      with_context += s.context != model::kNoContext;
      for (const model::Attribute& a : s.attributes) {
        ASSERT_EQ(a.role, model::AttributeRole::kPlain) << "request " << i;
      }
    }
    shared.Materialize();
    EXPECT_TRUE(shared.contexts.empty());
    ASSERT_EQ(shared.spans, want.batch.spans) << "request " << i;
    shared.Recycle();
  }
  EXPECT_GT(with_context, 500u);
}

// With borrow_text (as the server decodes), attributes' text that is UTF-8 refers to the body
// instead of a copy, and the spans are those of the copying decode.
TEST(OtlpDecoders, RandomTraceRequestsWithBorrowedTextDecodeAsCopied) {
  model::SpanBatch batch;
  size_t borrowed = 0, held = 0;
  for (int i = 0; i < kRandomRequests; ++i) {
    const RandomTraceBody c = RandomTraceBodyFor(i);
    if (c.encoding != Encoding::kProtobuf) continue;
    const std::string& body = c.body;
    DecodeOptions options = c.options;
    const TraceDecode want = DecodeT(c.encoding, body, options);
    options.shared_context = true;
    options.borrow_text = true;
    Rejections rejected;
    const Status status = DecodeTraces(c.encoding, body, options, &batch, &rejected);
    ASSERT_EQ(status.ok(), want.status.ok()) << "request " << i;
    ASSERT_EQ(rejected.count, want.rejected.count) << "request " << i;
    auto in_body = [&](const model::Text& t) {
      return t.data() >= body.data() && t.data() + t.size() <= body.data() + body.size();
    };
    auto check = [&](const model::Attributes& attrs) {
      for (const model::Attribute& a : attrs) {
        for (const model::Text* t : {&a.key, &a.value.string_value}) {
          ASSERT_EQ(t->borrowed(), in_body(*t)) << "request " << i;
          (t->borrowed() ? borrowed : held) += 1;
        }
      }
    };
    for (const model::Attributes& context : batch.contexts) check(context);
    for (const model::Span& s : batch.spans) {
      check(s.attributes);
      for (const model::SpanEvent& e : s.events) check(e.attributes);
      for (const model::SpanLink& l : s.links) check(l.attributes);
    }
    batch.Materialize();
    ASSERT_EQ(batch.spans, want.batch.spans) << "request " << i;
    batch.Recycle();
  }
  EXPECT_GT(borrowed, 1000u);
  EXPECT_GT(held, 0u);  // the empty values of numbers, and contexts copied by Materialize
}

TEST(OtlpDecoders, SharedContextsOfARefusedBodyLeaveTheBatchAsItWas) {
  pb::ExportTraceServiceRequest req;
  AddSpan(&req);
  AddSpan(&req);
  *ResourceAttrs(&req)->Add() = StringKv("service.name", "a");
  *ScopeAttrs(&req)->Add() = StringKv("b", "c");
  pb::ScopeSpans* bare = req.mutable_resource_spans(0)->add_scope_spans();  // no attributes
  *bare->add_spans() = req.resource_spans(0).scope_spans(0).spans(0);
  const std::string body = Serialize(req);
  DecodeOptions options;
  options.shared_context = true;
  model::SpanBatch batch;
  Rejections rejected;
  ASSERT_TRUE(DecodeTraces(Encoding::kProtobuf, body, options, &batch, &rejected).ok());
  const model::SpanBatch before = batch;
  ASSERT_EQ(batch.contexts.size(), 2u);  // a scope without attributes still has the resource's
  ASSERT_EQ(batch.spans.size(), 3u);
  EXPECT_EQ(batch.contexts[0].size(), 2u);
  EXPECT_EQ(batch.spans[1].context, 0u);
  EXPECT_EQ(batch.spans[2].context, 1u);
  // A second request into the same batch numbers its contexts after the first one's.
  ASSERT_TRUE(DecodeTraces(Encoding::kProtobuf, body, options, &batch, &rejected).ok());
  ASSERT_EQ(batch.contexts.size(), 2 * before.contexts.size());
  for (size_t i = before.spans.size(); i < batch.spans.size(); ++i) {
    const model::Span& s = batch.spans[i];
    const model::Span& first = batch.spans[i - before.spans.size()];
    ASSERT_EQ(s.context == model::kNoContext, first.context == model::kNoContext);
    if (s.context != model::kNoContext) {
      EXPECT_EQ(s.context, first.context + before.contexts.size());
    }
  }
  batch = before;
  const std::string cut = body.substr(0, body.size() - 3);
  EXPECT_FALSE(DecodeTraces(Encoding::kProtobuf, cut, options, &batch, &rejected).ok());
  EXPECT_EQ(batch.spans, before.spans);
  EXPECT_EQ(batch.contexts, before.contexts);
}

TEST(OtlpDecoders, CapturedBodiesWithSharedContextsMaterializeAsCopied) {
  for (const auto& [file, encoding] : {std::pair{"otlp-node-body.pb", Encoding::kProtobuf},
                                       {"otlp-node-body.json", Encoding::kJson}}) {
    const std::string body = ReadTestdata(file);
    DecodeOptions options;
    const TraceDecode want = DecodeT(encoding, body, options);
    ASSERT_TRUE(want.status.ok()) << file;
    options.shared_context = true;
    TraceDecode got = DecodeT(encoding, body, options);
    ASSERT_TRUE(got.status.ok()) << file;
    ASSERT_EQ(got.batch.contexts.size(), 1u) << file;  // one resource, one scope
    for (const model::Span& s : got.batch.spans) EXPECT_EQ(s.context, 0u) << file;
    EXPECT_EQ(model::FindString(got.batch.contexts[0], "service.name"), "backend-node") << file;
    got.batch.Materialize();
    EXPECT_EQ(got.batch.spans, want.batch.spans) << file;
  }
}

TEST(OtlpJsonDecoder, RandomTraceRequestsDecodeAsFromProtobuf) {
  for (int i = 0; i < kRandomRequests; ++i) {
    Gen g(kSeed + static_cast<uint64_t>(i));
    const pb::ExportTraceServiceRequest req = RandomTraces(g, Shape{});
    const DecodeOptions options = OptionsFor(i);
    const std::string json = ToOtlpJson(req, /*ascii_only=*/i % 2 == 1);
    TraceDecode from_pb = DecodeT(Encoding::kProtobuf, Serialize(req), options);
    TraceDecode from_json = DecodeT(Encoding::kJson, json, options);
    ASSERT_TRUE(from_json.status.ok())
        << "request " << i << ": " << from_json.status.ToString() << "\n"
        << Head(json);
    ASSERT_TRUE(from_pb.status.ok()) << from_pb.status.ToString();
    ASSERT_TRUE(SpansMatch(from_pb.batch.spans, from_pb.rejected.count, from_json.batch.spans,
                           from_json.rejected))
        << "request " << i << " (protobuf decode vs JSON decode); JSON:\n"
        << Head(json);
    const ExpectedSpans want = ExpectTraces(req, options);
    ASSERT_TRUE(SpansMatch(want.spans, want.rejected, from_json.batch.spans, from_json.rejected))
        << "request " << i << " (expected vs JSON decode); JSON:\n"
        << Head(json);
  }
}

TEST(OtlpProtoDecoder, RandomLogRequestsDecodeAsLibprotobufReadsThem) {
  uint64_t records = 0, rejected = 0;
  for (int i = 0; i < kRandomRequests; ++i) {
    Gen g(kSeed + 100000 + static_cast<uint64_t>(i));
    const pb::ExportLogsServiceRequest req = RandomLogs(g, Shape{});
    const DecodeOptions options = OptionsFor(i);
    const ExpectedLogs want = ExpectLogs(req, options);
    records += want.records.size();
    rejected += want.rejected;
    ASSERT_TRUE(LogsMatchBody(want, Encoding::kProtobuf, Serialize(req), options))
        << "request " << i << ":\n"
        << Head(req.Utf8DebugString());
  }
  EXPECT_GT(records, 1000u);
  EXPECT_GT(rejected, 50u);
}

TEST(OtlpJsonDecoder, RandomLogRequestsDecodeAsFromProtobuf) {
  for (int i = 0; i < kRandomRequests; ++i) {
    Gen g(kSeed + 100000 + static_cast<uint64_t>(i));
    const pb::ExportLogsServiceRequest req = RandomLogs(g, Shape{});
    const DecodeOptions options = OptionsFor(i);
    const std::string json = ToOtlpJson(req, /*ascii_only=*/i % 2 == 0);
    LogDecode from_pb = DecodeL(Encoding::kProtobuf, Serialize(req), options);
    LogDecode from_json = DecodeL(Encoding::kJson, json, options);
    ASSERT_TRUE(from_json.status.ok())
        << "request " << i << ": " << from_json.status.ToString() << "\n"
        << Head(json);
    ASSERT_TRUE(from_pb.status.ok()) << from_pb.status.ToString();
    ASSERT_TRUE(LogsMatch(from_pb.batch.records, from_pb.rejected.count, from_json.batch.records,
                          from_json.rejected))
        << "request " << i << " (protobuf decode vs JSON decode); JSON:\n"
        << Head(json);
    const ExpectedLogs want = ExpectLogs(req, options);
    ASSERT_TRUE(LogsMatch(want.records, want.rejected, from_json.batch.records, from_json.rejected))
        << "request " << i << " (expected vs JSON decode); JSON:\n"
        << Head(json);
  }
}

// =============================================================================================
// Unknown fields, field order, repeated fields.

TEST(OtlpProtoDecoder, SkipsUnknownFieldsInEveryMessage) {
  for (int i = 0; i < 40; ++i) {
    Gen g(kSeed + 200000 + static_cast<uint64_t>(i));
    pb::ExportTraceServiceRequest traces = RandomTraces(g, Shape{});
    pb::ExportLogsServiceRequest logs = RandomLogs(g, Shape{});
    const DecodeOptions options = OptionsFor(i);
    const ExpectedSpans want_spans = ExpectTraces(traces, options);
    const ExpectedLogs want_logs = ExpectLogs(logs, options);
    const size_t plain_size = Serialize(traces).size();
    AddUnknownFields(&traces, /*groups=*/false);
    AddUnknownFields(&logs, /*groups=*/false);
    const std::string body = Serialize(traces);
    ASSERT_GT(body.size(), plain_size);
    ASSERT_TRUE(TracesMatch(want_spans, Encoding::kProtobuf, body, options)) << "request " << i;
    ASSERT_TRUE(LogsMatchBody(want_logs, Encoding::kProtobuf, Serialize(logs), options))
        << "request " << i;
  }
}

TEST(OtlpProtoDecoder, SkipsUnknownGroups) {
  for (int i = 0; i < 10; ++i) {
    Gen g(kSeed + 300000 + static_cast<uint64_t>(i));
    pb::ExportTraceServiceRequest traces = RandomTraces(g, Shape{});
    pb::ExportLogsServiceRequest logs = RandomLogs(g, Shape{});
    const DecodeOptions options = OptionsFor(i);
    const ExpectedSpans want_spans = ExpectTraces(traces, options);
    const ExpectedLogs want_logs = ExpectLogs(logs, options);
    AddUnknownFields(&traces, /*groups=*/true);
    AddUnknownFields(&logs, /*groups=*/true);
    ASSERT_TRUE(TracesMatch(want_spans, Encoding::kProtobuf, Serialize(traces), options))
        << "request " << i;
    ASSERT_TRUE(LogsMatchBody(want_logs, Encoding::kProtobuf, Serialize(logs), options))
        << "request " << i;
  }
}

TEST(OtlpJsonDecoder, IgnoresUnknownMembersInEveryObject) {
  for (int i = 0; i < 40; ++i) {
    Gen g(kSeed + 400000 + static_cast<uint64_t>(i));
    const pb::ExportTraceServiceRequest traces = RandomTraces(g, Shape{});
    const pb::ExportLogsServiceRequest logs = RandomLogs(g, Shape{});
    const DecodeOptions options = OptionsFor(i);
    const std::string traces_json = ToOtlpJson(traces, false, /*add_unknown_members=*/true);
    const std::string logs_json = ToOtlpJson(logs, false, /*add_unknown_members=*/true);
    ASSERT_TRUE(TracesMatch(ExpectTraces(traces, options), Encoding::kJson, traces_json, options))
        << "request " << i << ":\n"
        << Head(traces_json);
    ASSERT_TRUE(LogsMatchBody(ExpectLogs(logs, options), Encoding::kJson, logs_json, options))
        << "request " << i << ":\n"
        << Head(logs_json);
  }
}

// Fields in reverse order, singular fields sent twice (the last wins), a message field sent twice
// (the two merge), the scope and resource after the spans they apply to, unknown fields first.
// Attributes whose key and value take one-byte lengths or more (the decoder reads the common
// shape, a key then a string value of under 128 bytes each, on a shorter path), and
// key-values with their fields in the other order, repeated, or followed by unknown fields.
TEST(OtlpProtoDecoder, KeyValuesOnEitherSideOfOneByteLengthsDecodeAsLibprotobufReadsThem) {
  for (size_t key_size : {1, 2, 125, 126, 127, 128, 300}) {
    for (size_t value_size : {0, 1, 123, 124, 125, 126, 127, 128, 129, 300}) {
      pb::ExportTraceServiceRequest req;
      pb::Span* span = AddSpan(&req);
      *span->add_attributes() = StringKv(std::string(key_size, 'k'), std::string(value_size, 'v'));
      pb::KeyValue* i = span->add_attributes();
      i->set_key(std::string(key_size, 'i'));
      i->mutable_value()->set_int_value(static_cast<int64_t>(value_size));
      const DecodeOptions options;
      ASSERT_TRUE(
          TracesMatch(ExpectTraces(req, options), Encoding::kProtobuf, Serialize(req), options))
          << key_size << " " << value_size;
    }
  }
  const std::string trace_id = FromHex(kTraceHex);
  const std::string span_id = FromHex(kSpanHex);
  auto decode_attrs = [&](const Wire& kv) {
    const Wire span = Wire().Bytes(1, trace_id).Bytes(2, span_id).Bytes(5, "op").Message(9, kv);
    const Wire body = Wire().Message(1, Wire().Message(2, Wire().Message(2, span)));
    const TraceDecode got = DecodeT(Encoding::kProtobuf, body.data(), DecodeOptions{});
    EXPECT_TRUE(got.status.ok()) << got.status.ToString();
    return got.batch.spans.size() == 1 ? got.batch.spans[0].attributes : model::Attributes{};
  };
  const model::Attributes want = {{"k", model::AttributeValue::String("v")}};
  EXPECT_EQ(decode_attrs(Wire().Message(2, StrValue("v")).Bytes(1, "k")), want);
  EXPECT_EQ(decode_attrs(Wire().Bytes(1, "x").Message(2, StrValue("v")).Bytes(1, "k")), want);
  EXPECT_EQ(decode_attrs(KV("k", StrValue("v")).Varint(9, 1)), want);
  EXPECT_EQ(decode_attrs(KV("k", StrValue("v").Varint(9, 1))), want);
  EXPECT_EQ(decode_attrs(KV("k", StrValue("w").Bytes(1, "v"))), want);
}

TEST(OtlpProtoDecoder, AcceptsAnyFieldOrderLastValueWinsAndMessagesMerge) {
  const std::string trace_id = FromHex(kTraceHex);
  const std::string span_a = FromHex(kSpanHex), span_b = FromHex("b7ad6b7169203331");
  const Wire span1 =
      Wire()
          .Varint(99, 1)
          .Fixed32(16, 0x301)
          .Message(15, Wire().Bytes(2, "first message").Varint(3, 1))
          .Varint(14, 4)
          .Message(13, Wire().Fixed32(6, 1).Bytes(3, "t=1").Bytes(2, span_b).Bytes(1, trace_id))
          .Varint(12, 2)
          .Message(11,
                   Wire().Message(3, KV("e.attr", StrValue("v"))).Bytes(2, "evt").Fixed64(1, 1500))
          .Varint(10, 1)
          .Message(9, KV("http.response.status_code", IntValue(503)))
          .Fixed64(8, 2000)
          .Fixed64(7, 1000)
          .Varint(6, 3)
          .Bytes(5, "old name")
          .Bytes(4, FromHex("0102030405060708"))
          .Bytes(3, "congo=t61rcWkgMzE")
          .Bytes(2, span_a)
          .Bytes(1, std::string(8, 'x'))  // replaced by the next one
          .Bytes(1, trace_id)
          .Bytes(5, "new name")
          .Varint(5, 7)      // a known field with another wire type: skipped, as unknown
          .Fixed32(1, 0x55)  // the same
          .Varint(6, 2)
          .Message(9, KV("http.request.method", StrValue("POST")))
          .Message(15, Wire().Varint(3, 2))  // merges into the status above
          .Message(9, KV("mixed", Wire().Bytes(1, "was a string").Varint(3, 7)))
          .Message(
              9,
              Wire().Bytes(1, "merged").Message(2, StrValue("a")).Message(2, Wire().Varint(2, 1)))
          .Fixed32(16, 0x1);
  const Wire span2 =
      Wire().Bytes(5, "second").Fixed64(8, 6).Fixed64(7, 5).Bytes(2, span_b).Bytes(1, trace_id);
  const Wire scope_spans = Wire()
                               .Message(2, span1)
                               .Message(1, Wire().Bytes(1, "s1").Bytes(2, "v1"))
                               .Bytes(3, "https://example.com/schema")
                               .Message(2, span2)
                               .Message(1, Wire().Bytes(1, "s2"));
  const Wire resource_spans =
      Wire()
          .Fixed64(77, 5)
          .Message(2, scope_spans)
          .Message(1, Wire().Message(1, KV("service.name", StrValue("checkout"))))
          .Bytes(3, "https://example.com/schema")
          .Message(1, Wire().Varint(2, 3).Message(1, KV("host.name", StrValue("h1"))));
  const std::string body = Wire().Message(1, Wire()).Message(1, resource_spans).data();

  pb::ExportTraceServiceRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(body));
  const DecodeOptions options{};
  const ExpectedSpans want = ExpectTraces(parsed, options);
  // What libprotobuf made of it, spelled out.
  ASSERT_EQ(want.spans.size(), 2u);
  const model::Span& s = want.spans[0];
  EXPECT_EQ(s.trace_id.ToHex(), kTraceHex);
  EXPECT_EQ(s.name, "new name");
  EXPECT_EQ(s.kind, model::SpanKind::kServer);
  EXPECT_EQ(s.flags, 1u);
  EXPECT_EQ(s.otel_status, 2);
  EXPECT_EQ(s.status_message, "first message");
  EXPECT_EQ(s.http_status, 503);
  EXPECT_EQ(s.status_flags, model::kStatusFault);
  EXPECT_EQ(s.http_method, "POST");
  EXPECT_EQ(s.scope_name, "s2");
  EXPECT_EQ(s.scope_version, "v1");
  EXPECT_EQ(s.service, "checkout");
  ASSERT_NE(Attr(s, "mixed"), nullptr);
  EXPECT_EQ(Attr(s, "mixed")->value, AttributeValue::Int(7));
  ASSERT_NE(Attr(s, "merged"), nullptr);
  EXPECT_EQ(Attr(s, "merged")->value, AttributeValue::Bool(true));
  ASSERT_GE(s.attributes.size(), 2u);
  EXPECT_EQ(s.attributes[0].key, "service.name");
  EXPECT_EQ(s.attributes[1].key, "host.name");
  EXPECT_EQ(want.spans[1].scope_name, "s2");

  EXPECT_TRUE(TracesMatch(want, Encoding::kProtobuf, body, options));
}

TEST(OtlpProtoDecoder, LogRecordFieldsInAnyOrderLastValueWins) {
  const Wire record = Wire()
                          .Bytes(12, "evt")
                          .Fixed64(11, 900)
                          .Bytes(10, FromHex(kSpanHex))
                          .Bytes(9, FromHex(kTraceHex))
                          .Fixed32(8, 1)
                          .Message(6, KV("a", IntValue(1)))
                          .Message(5, StrValue("text"))
                          .Bytes(3, "INFO")
                          .Varint(2, 9)
                          .Fixed64(1, 0)
                          .Message(5, Wire().Message(6, Wire().Message(1, KV("k", StrValue("v")))))
                          .Varint(2, 13);
  const Wire scope_logs = Wire().Message(2, record).Message(1, Wire().Bytes(1, "logger"));
  const Wire resource_logs =
      Wire()
          .Message(2, scope_logs)
          .Message(1, Wire().Message(1, KV("service.name", StrValue(" api "))));
  const std::string body = Wire().Message(1, resource_logs).data();

  pb::ExportLogsServiceRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(body));
  const DecodeOptions options{};
  const ExpectedLogs want = ExpectLogs(parsed, options);
  ASSERT_EQ(want.records.size(), 1u);
  const model::LogRecord& r = want.records[0];
  EXPECT_EQ(r.service, "api");
  EXPECT_EQ(r.time_ns, 900);
  EXPECT_EQ(r.severity_number, 13);
  EXPECT_TRUE(r.body_is_json);
  EXPECT_TRUE(JsonTextSame(r.body, R"({"k":"v"})")) << r.body;
  EXPECT_EQ(r.scope_name, "logger");

  EXPECT_TRUE(LogsMatchBody(want, Encoding::kProtobuf, body, options));
}

// =============================================================================================
// Truncated and malformed bodies.

TEST(OtlpProtoDecoder, EveryPrefixOfATraceRequestDecodesOrIsRefusedWhole) {
  Gen g(kSeed + 500000);
  const pb::ExportTraceServiceRequest req = RandomTraces(g, Shape{3, 2, 3});
  const std::string body = Serialize(req);
  ASSERT_GT(body.size(), 500u);
  const DecodeOptions options{};
  model::Span sentinel;
  sentinel.name = "already in the batch";
  size_t refused = 0;
  for (size_t n = 0; n <= body.size(); ++n) {
    // An allocation of exactly n bytes, so a sanitizer sees any read past the end.
    std::unique_ptr<char[]> copy(new char[n]);
    std::memcpy(copy.get(), body.data(), n);
    const std::string_view prefix(copy.get(), n);
    model::SpanBatch batch;
    batch.spans.push_back(sentinel);
    Rejections rejected;
    const Status status = DecodeTraces(Encoding::kProtobuf, prefix, options, &batch, &rejected);
    pb::ExportTraceServiceRequest reference;
    if (!reference.ParseFromArray(copy.get(), static_cast<int>(n))) {
      ++refused;  // cut inside a field
      ASSERT_EQ(status.code(), Status::Code::kInvalidArgument)
          << "prefix of " << n << " bytes: " << status.ToString();
      ASSERT_EQ(batch.spans.size(), 1u) << "prefix of " << n << " bytes";
      ASSERT_TRUE(batch.spans[0] == sentinel) << "prefix of " << n << " bytes";
    } else {
      ASSERT_TRUE(status.ok()) << "prefix of " << n << " bytes: " << status.ToString();
      ExpectedSpans want = ExpectTraces(reference, options);
      want.spans.insert(want.spans.begin(), sentinel);
      ASSERT_TRUE(SpansMatch(want.spans, want.rejected, batch.spans, rejected))
          << "prefix of " << n << " bytes";
    }
  }
  EXPECT_GT(refused, body.size() / 2);
}

TEST(OtlpProtoDecoder, EveryPrefixOfALogRequestDecodesOrIsRefusedWhole) {
  Gen g(kSeed + 500001);
  const pb::ExportLogsServiceRequest req = RandomLogs(g, Shape{3, 2, 3});
  const std::string body = Serialize(req);
  ASSERT_GT(body.size(), 200u);
  const DecodeOptions options{};
  model::LogRecord sentinel;
  sentinel.body = "already in the batch";
  size_t refused = 0;
  for (size_t n = 0; n <= body.size(); ++n) {
    std::unique_ptr<char[]> copy(new char[n]);
    std::memcpy(copy.get(), body.data(), n);
    const std::string_view prefix(copy.get(), n);
    model::LogBatch batch;
    batch.records.push_back(sentinel);
    Rejections rejected;
    const Status status = DecodeLogs(Encoding::kProtobuf, prefix, options, &batch, &rejected);
    pb::ExportLogsServiceRequest reference;
    if (!reference.ParseFromArray(copy.get(), static_cast<int>(n))) {
      ++refused;
      ASSERT_EQ(status.code(), Status::Code::kInvalidArgument)
          << "prefix of " << n << " bytes: " << status.ToString();
      ASSERT_EQ(batch.records.size(), 1u) << "prefix of " << n << " bytes";
      ASSERT_TRUE(batch.records[0] == sentinel) << "prefix of " << n << " bytes";
    } else {
      ASSERT_TRUE(status.ok()) << "prefix of " << n << " bytes: " << status.ToString();
      ExpectedLogs want = ExpectLogs(reference, options);
      want.records.insert(want.records.begin(), sentinel);
      ASSERT_TRUE(LogsMatch(want.records, want.rejected, batch.records, rejected))
          << "prefix of " << n << " bytes";
    }
  }
  EXPECT_GT(refused, body.size() / 2);
}

TEST(OtlpJsonDecoder, EveryStrictPrefixOfABodyIsRefused) {
  Gen g(kSeed + 500002);
  const std::string traces = ToOtlpJson(RandomTraces(g, Shape{2, 2, 2}), false);
  const std::string logs = ToOtlpJson(RandomLogs(g, Shape{2, 2, 2}), false);
  const DecodeOptions options{};
  for (size_t n = 0; n < traces.size(); ++n) {
    std::unique_ptr<char[]> copy(new char[n]);
    std::memcpy(copy.get(), traces.data(), n);
    model::SpanBatch batch;
    Rejections rejected;
    const Status status =
        DecodeTraces(Encoding::kJson, std::string_view(copy.get(), n), options, &batch, &rejected);
    ASSERT_EQ(status.code(), Status::Code::kInvalidArgument)
        << "prefix of " << n << " bytes: " << traces.substr(0, n);
    ASSERT_TRUE(batch.empty()) << "prefix of " << n << " bytes";
  }
  for (size_t n = 0; n < logs.size(); ++n) {
    std::unique_ptr<char[]> copy(new char[n]);
    std::memcpy(copy.get(), logs.data(), n);
    model::LogBatch batch;
    Rejections rejected;
    const Status status =
        DecodeLogs(Encoding::kJson, std::string_view(copy.get(), n), options, &batch, &rejected);
    ASSERT_EQ(status.code(), Status::Code::kInvalidArgument)
        << "prefix of " << n << " bytes: " << logs.substr(0, n);
    ASSERT_TRUE(batch.empty()) << "prefix of " << n << " bytes";
  }
  EXPECT_TRUE(DecodeT(Encoding::kJson, traces, options).status.ok());
  EXPECT_TRUE(DecodeL(Encoding::kJson, logs, options).status.ok());
}

TEST(OtlpProtoDecoder, RefusesMalformedWireAsLibprotobufDoes) {
  const std::string trace_id = FromHex(kTraceHex), span_id = FromHex(kSpanHex);
  // A request around one span holding `raw` after its ids.
  auto in_span = [&](std::string_view raw) {
    const Wire span = Wire().Bytes(1, trace_id).Bytes(2, span_id).Raw(raw);
    return Wire().Message(1, Wire().Message(2, Wire().Message(2, span))).data();
  };
  struct Case {
    const char* what;
    std::string body;
  };
  const std::vector<Case> cases = {
      {"length past the end", std::string("\x0a\x05"
                                          "ab",
                                          4)},
      {"length over 2^32", std::string("\x0a\x80\x80\x80\x80\x80\x01"
                                       "x",
                                       8)},
      {"inner length past the outer one", std::string("\x0a\x03\x12\x0a\x00", 5)},
      {"wire type 6", std::string("\x0e", 1)},
      {"wire type 7", std::string("\x0f", 1)},
      {"tag 0", std::string("\x00\x01", 2)},
      {"field number 2^29", std::string("\x80\x80\x80\x80\x10\x01", 6)},
      {"end group without a start", std::string("\x0c", 1)},
      {"group never ended", std::string("\x1b\x08\x01", 3)},
      {"group ended by another field's end", std::string("\x1b\x24", 2)},
      {"varint of 11 bytes",
       in_span(std::string("\x30\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12))},
      {"varint cut short", in_span(std::string("\x30\xff\xff", 3))},
      {"fixed64 cut short", in_span(std::string("\x39\x01\x02\x03", 4))},
      {"fixed32 cut short", in_span(std::string("\x85\x01\x01\x02", 4))},
      {"tag cut short", in_span(std::string("\x85", 1))},
      {"attribute value past its key-value", in_span(std::string("\x4a\x04\x0a\x01k\x12", 6))},
  };
  for (const Case& c : cases) {
    pb::ExportTraceServiceRequest reference;
    ASSERT_FALSE(reference.ParseFromString(c.body)) << c.what << ": libprotobuf takes it";
    TraceDecode traces = DecodeT(Encoding::kProtobuf, c.body, DecodeOptions{});
    EXPECT_EQ(traces.status.code(), Status::Code::kInvalidArgument)
        << c.what << ": " << traces.status.ToString();
    EXPECT_TRUE(traces.batch.empty()) << c.what;
    // Read as a logs request, the same bytes may be well formed (a span's fields are other
    // fields there): ours must refuse exactly when libprotobuf does.
    pb::ExportLogsServiceRequest logs_reference;
    if (logs_reference.ParseFromString(c.body)) continue;
    LogDecode logs = DecodeL(Encoding::kProtobuf, c.body, DecodeOptions{});
    EXPECT_EQ(logs.status.code(), Status::Code::kInvalidArgument)
        << c.what << " (as logs): " << logs.status.ToString();
    EXPECT_TRUE(logs.batch.empty()) << c.what;
  }
}

TEST(OtlpProtoDecoder, EmptyBodyIsAnEmptyRequest) {
  TraceDecode traces = DecodeT(Encoding::kProtobuf, "", DecodeOptions{});
  EXPECT_TRUE(traces.status.ok()) << traces.status.ToString();
  EXPECT_TRUE(traces.batch.empty());
  EXPECT_EQ(traces.rejected.count, 0u);
  LogDecode logs = DecodeL(Encoding::kProtobuf, "", DecodeOptions{});
  EXPECT_TRUE(logs.status.ok()) << logs.status.ToString();
  EXPECT_TRUE(logs.batch.empty());
}

TEST(OtlpJsonDecoder, RefusesWhatIsNotAJsonObject) {
  for (std::string_view body : {"", " ", "[]", "{", "nope", "{\"resourceSpans\":[}", "\"x\""}) {
    TraceDecode traces = DecodeT(Encoding::kJson, body, DecodeOptions{});
    EXPECT_EQ(traces.status.code(), Status::Code::kInvalidArgument) << Quote(body);
    EXPECT_TRUE(traces.batch.empty()) << Quote(body);
    LogDecode logs = DecodeL(Encoding::kJson, body, DecodeOptions{});
    EXPECT_EQ(logs.status.code(), Status::Code::kInvalidArgument) << Quote(body);
  }
  EXPECT_TRUE(DecodeT(Encoding::kJson, "{}", DecodeOptions{}).status.ok());
  EXPECT_TRUE(DecodeL(Encoding::kJson, "{}", DecodeOptions{}).status.ok());
}

// =============================================================================================
// Bodies captured from the OpenTelemetry JS SDK (test/testdata/README.md).

TEST(OtlpProtoDecoder, CapturedNodeBodyDecodesAsLibprotobufReadsIt) {
  const std::string body = ReadTestdata("otlp-node-body.pb");
  ASSERT_EQ(body.size(), 2089u);
  pb::ExportTraceServiceRequest req;
  ASSERT_TRUE(req.ParseFromString(body));
  const DecodeOptions options{};
  const ExpectedSpans want = ExpectTraces(req, options);
  ASSERT_EQ(want.spans.size(), 3u);
  ASSERT_TRUE(TracesMatch(want, Encoding::kProtobuf, body, options));

  // What the SDK sent, spelled out.
  TraceDecode got = DecodeT(Encoding::kProtobuf, body, options);
  ASSERT_TRUE(got.status.ok());
  const auto& spans = got.batch.spans;
  for (const model::Span& s : spans) {
    EXPECT_EQ(s.trace_id.ToHex(), "b6fb1e06e317958e2f2f24f5d4a9fe31");
    EXPECT_EQ(s.service, "backend-node");
    EXPECT_EQ(s.environment, "default");
    EXPECT_EQ(s.dataset, "");
    EXPECT_EQ(s.scope_name, "scout-emitter");
    EXPECT_EQ(s.scope_version, "0.1.0");
    EXPECT_EQ(s.flags, 257u);
    EXPECT_EQ(s.sample_rate, 1u);
    ASSERT_FALSE(s.attributes.empty());
    EXPECT_EQ(s.attributes[0].key, "service.name");
    EXPECT_EQ(s.attributes[0].role, AttributeRole::kResource);
  }
  const model::Span* server = SpanNamed(spans, "GET /api/activities/home");
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->span_id.ToHex(), "270cfbd692c14ad7");
  EXPECT_TRUE(server->parent_span_id.IsZero());
  EXPECT_EQ(server->kind, model::SpanKind::kServer);
  EXPECT_EQ(server->http_method, "GET");
  EXPECT_EQ(server->http_route, "/api/activities/home");
  EXPECT_EQ(server->http_url, "http://127.0.0.1:4567/api/activities/home");
  EXPECT_EQ(server->http_status, 500);
  EXPECT_EQ(server->status_flags, model::kStatusFault);
  EXPECT_EQ(server->start_ns, 1795239402427000000);
  EXPECT_EQ(server->end_ns, 1795239402428797439);

  const model::Span* db = SpanNamed(spans, "SELECT activities");
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->parent_span_id.ToHex(), "270cfbd692c14ad7");
  EXPECT_EQ(db->kind, model::SpanKind::kClient);
  EXPECT_EQ(db->db_system, "postgresql");
  EXPECT_EQ(db->otel_status, 0);
  EXPECT_EQ(db->status_flags, 0);

  const model::Span* work = SpanNamed(spans, "serialize");
  ASSERT_NE(work, nullptr);
  EXPECT_EQ(work->parent_span_id.ToHex(), "ad5078add76d115d");
  EXPECT_EQ(work->kind, model::SpanKind::kInternal);
  EXPECT_EQ(work->otel_status, 2);
  EXPECT_EQ(work->status_flags, model::kStatusFault);
  EXPECT_EQ(work->status_message, "cannot read property x of undefined");
  ASSERT_EQ(work->events.size(), 2u);
  EXPECT_EQ(work->events[0].name, "exception");
  EXPECT_EQ(work->events[0].time_ns, 1795239402428315969);
  EXPECT_EQ(work->events[1].name, "cache.miss");
  ASSERT_NE(Attr(*work, "ratio"), nullptr);
  EXPECT_EQ(Attr(*work, "ratio")->value, AttributeValue::Double(0.25));
  ASSERT_NE(Attr(*work, "cache.hit"), nullptr);
  EXPECT_EQ(Attr(*work, "cache.hit")->value, AttributeValue::Bool(false));
  ASSERT_NE(Attr(*work, "tags"), nullptr);
  EXPECT_EQ(Attr(*work, "tags")->value.type, AttributeValue::Type::kJson);
  EXPECT_TRUE(JsonTextSame(Attr(*work, "tags")->value.string_value, R"(["a","b"])"))
      << Attr(*work, "tags")->value.string_value;
}

TEST(OtlpProtoDecoder, CapturedGrpcMessageCarriesTheSameRequest) {
  const std::string message = ReadTestdata("otlp-node-grpc-message.bin");
  ASSERT_EQ(message.size(), 2094u);
  // gRPC framing: a compressed flag, then the length big-endian.
  EXPECT_EQ(message[0], '\0');
  const uint32_t length = static_cast<uint32_t>(static_cast<uint8_t>(message[1])) << 24 |
                          static_cast<uint32_t>(static_cast<uint8_t>(message[2])) << 16 |
                          static_cast<uint32_t>(static_cast<uint8_t>(message[3])) << 8 |
                          static_cast<uint8_t>(message[4]);
  ASSERT_EQ(length, message.size() - 5);
  const std::string payload = message.substr(5);
  EXPECT_EQ(payload, ReadTestdata("otlp-node-body.pb"));

  pb::ExportTraceServiceRequest req;
  ASSERT_TRUE(req.ParseFromString(payload));
  const DecodeOptions options{};
  EXPECT_TRUE(TracesMatch(ExpectTraces(req, options), Encoding::kProtobuf, payload, options));
}

TEST(OtlpJsonDecoder, CapturedNodeJsonBodyDecodesAsTheProtobufBody) {
  const std::string json = ReadTestdata("otlp-node-body.json");
  ASSERT_EQ(json.size(), 3798u);
  const DecodeOptions options{};
  TraceDecode from_json = DecodeT(Encoding::kJson, json, options);
  ASSERT_TRUE(from_json.status.ok()) << from_json.status.ToString();
  TraceDecode from_pb = DecodeT(Encoding::kProtobuf, ReadTestdata("otlp-node-body.pb"), options);
  ASSERT_TRUE(from_pb.status.ok()) << from_pb.status.ToString();
  ASSERT_EQ(from_pb.batch.spans.size(), 3u);
  EXPECT_TRUE(SpansMatch(from_pb.batch.spans, 0, from_json.batch.spans, from_json.rejected));

  // And libprotobuf's own reading of that JSON, once the ids are base64 as its mapping wants.
  pb::ExportTraceServiceRequest req;
  google::protobuf::util::JsonParseOptions parse;
  parse.ignore_unknown_fields = true;
  const auto status = google::protobuf::util::JsonStringToMessage(
      RewriteJson(json, &HexToBase64, false), &req, parse);
  ASSERT_TRUE(status.ok()) << status.ToString();
  const ExpectedSpans want = ExpectTraces(req, options);
  EXPECT_TRUE(SpansMatch(want.spans, want.rejected, from_json.batch.spans, from_json.rejected));
}

TEST(OtlpJsonDecoder, CapturedBodyWithOptionsAndClassicKey) {
  DecodeOptions options;
  options.environment = "staging";
  options.classic_key = true;
  options.dataset_header = "legacy-traces";
  TraceDecode got = DecodeT(Encoding::kJson, ReadTestdata("otlp-node-body.json"), options);
  ASSERT_TRUE(got.status.ok()) << got.status.ToString();
  ASSERT_EQ(got.batch.spans.size(), 3u);
  for (const model::Span& s : got.batch.spans) {
    EXPECT_EQ(s.environment, "staging");
    EXPECT_EQ(s.dataset, "legacy-traces");
    EXPECT_EQ(s.service, "backend-node");
  }
}

// =============================================================================================
// The placement rules one at a time (spec/otlp.md §4), from protobuf and JSON alike.

TEST(OtlpDecodeRules, ServiceComesFromTrimmedServiceNameElseUnknownService) {
  struct Case {
    std::optional<pb::KeyValue> service_name;
    std::string want;
  };
  const std::vector<Case> cases = {
      {StringKv("service.name", " checkout\t"), "checkout"},
      {StringKv("service.name", "unknown_service:java"), "unknown_service"},
      {StringKv("service.name", "unknown_service"), "unknown_service"},
      {StringKv("service.name", "  "), "unknown_service"},
      {StringKv("service.name", ""), "unknown_service"},
      {IntKv("service.name", 7), "unknown_service"},
      {std::nullopt, "unknown_service"},
  };
  for (const Case& c : cases) {
    pb::ExportTraceServiceRequest req;
    AddSpan(&req);
    if (c.service_name) *ResourceAttrs(&req)->Add() = *c.service_name;
    const std::vector<model::Span> spans = DecodeBoth(req);
    ASSERT_EQ(spans.size(), 1u);
    EXPECT_EQ(spans[0].service, c.want) << req.ShortDebugString();
    EXPECT_EQ(spans[0].dataset, "");
  }
}

TEST(OtlpDecodeRules, ClassicKeyPutsSpansInTheHeaderDataset) {
  pb::ExportTraceServiceRequest req;
  AddSpan(&req);
  *ResourceAttrs(&req)->Add() = StringKv("service.name", "checkout");
  DecodeOptions options;
  options.dataset_header = "legacy";
  options.classic_key = true;
  std::vector<model::Span> spans = DecodeBoth(req, options);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].dataset, "legacy");
  EXPECT_EQ(spans[0].service, "checkout");
  options.classic_key = false;
  spans = DecodeBoth(req, options);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].dataset, "");
}

TEST(OtlpDecodeRules, StatusFlagsComeFromTheHttpStatusThenTheOtelStatus) {
  struct Case {
    const char* key;  // nullptr: no http status
    int64_t http;
    int otel;
    uint8_t want;
  };
  const std::vector<Case> cases = {
      {nullptr, 0, 0, 0},
      {nullptr, 0, 1, 0},
      {nullptr, 0, 2, model::kStatusFault},
      {"http.response.status_code", 200, 2, model::kStatusFault},
      {"http.response.status_code", 404, 0, model::kStatusError},
      {"http.response.status_code", 404, 2, model::kStatusError},
      {"http.status_code", 429, 0, model::kStatusError | model::kStatusThrottle},
      {"http.status_code", 499, 1, model::kStatusError},
      {"http.status_code", 500, 0, model::kStatusFault},
      {"http.response.status_code", 599, 1, model::kStatusFault},
      {"http.response.status_code", 302, 0, 0},
  };
  for (const Case& c : cases) {
    pb::ExportTraceServiceRequest req;
    pb::Span* span = AddSpan(&req);
    if (c.key != nullptr) *span->add_attributes() = IntKv(c.key, c.http);
    span->mutable_status()->set_code(static_cast<pb::Status_StatusCode>(c.otel));
    const std::vector<model::Span> spans = DecodeBoth(req);
    ASSERT_EQ(spans.size(), 1u);
    EXPECT_EQ(spans[0].status_flags, c.want) << span->ShortDebugString();
    EXPECT_EQ(spans[0].http_status, c.key != nullptr ? c.http : 0);
    EXPECT_EQ(spans[0].otel_status, c.otel);
  }
}

TEST(OtlpDecodeRules, WellKnownColumnsPreferNewSemconvAndOnlyThePeerIgnoresTheResource) {
  pb::ExportTraceServiceRequest req;
  pb::Span* span = AddSpan(&req);
  for (const pb::KeyValue& kv :
       {StringKv("http.method", "OLD"), StringKv("http.request.method", "NEW"),
        StringKv("http.url", "http://old"), StringKv("url.full", "http://new"),
        StringKv("net.peer.name", "n"), StringKv("server.address", "s"),
        StringKv("service.peer.name", "sp"), StringKv("peer.service", "p"),
        StringKv("db.system", "pg-old"), StringKv("db.system.name", "pg"),
        StringKv("http.user_agent", "ua-old"), StringKv("user_agent.original", "ua"),
        StringKv("http.client_ip", "1.1.1.1"), StringKv("client.address", "2.2.2.2"),
        StringKv("http.route", "/r"), IntKv("http.status_code", 201),
        IntKv("http.response.status_code", 404)}) {
    *span->add_attributes() = kv;
  }
  pb::Span* bare = AddSpan(&req);
  bare->set_span_id(FromHex("1111111111111111"));
  *bare->add_attributes() = StringKv("server.address", "db.internal");
  *bare->add_attributes() = StringKv("net.peer.name", "n");
  *bare->add_attributes() = StringKv("http.method", "PUT");
  *ResourceAttrs(&req)->Add() = StringKv("http.request.method", "FROM-RESOURCE");
  *ResourceAttrs(&req)->Add() = StringKv("peer.service", "resource-peer");
  *ScopeAttrs(&req)->Add() = StringKv("http.route", "/from-scope");

  const std::vector<model::Span> spans = DecodeBoth(req);
  ASSERT_EQ(spans.size(), 2u);
  const model::Span& s = spans[0];
  EXPECT_EQ(s.http_method, "NEW");
  EXPECT_EQ(s.http_url, "http://new");
  EXPECT_EQ(s.peer, "p");
  EXPECT_EQ(s.db_system, "pg");
  EXPECT_EQ(s.user_agent, "ua");
  EXPECT_EQ(s.client_ip, "2.2.2.2");
  EXPECT_EQ(s.http_route, "/r");
  EXPECT_EQ(s.http_status, 404);
  EXPECT_EQ(s.status_flags, model::kStatusError);
  // The columns are copies: the attributes stay (3 from the resource and scope, 17 own).
  EXPECT_EQ(s.attributes.size(), 20u);
  EXPECT_NE(Attr(s, "http.method"), nullptr);

  // The resource's and scope's attributes fill columns too (Honeycomb's one flat event), the
  // new semconv name first wherever it is; but a resource names no peer.
  const model::Span& b = spans[1];
  EXPECT_EQ(b.peer, "db.internal");
  EXPECT_EQ(b.http_method, "FROM-RESOURCE");
  EXPECT_EQ(b.http_route, "/from-scope");
}

TEST(OtlpDecodeRules, SampleRateComesFromSpanThenScopeThenResourceAndIsDropped) {
  struct Case {
    const char* what;
    std::vector<pb::KeyValue> span, resource, scope;
    uint32_t want;
  };
  const std::vector<Case> cases = {
      {"none", {}, {}, {}, 1},
      {"span int", {IntKv("sampleRate", 10)}, {}, {}, 10},
      {"span double rounds half up", {DoubleKv("SampleRate", 2.5)}, {}, {}, 3},
      {"span double rounds down", {DoubleKv("sampleRate", 10.49)}, {}, {}, 10},
      {"span string", {StringKv("sampleRate", "12.5")}, {}, {}, 13},
      {"span zero", {IntKv("sampleRate", 0)}, {}, {}, 1},
      {"span negative", {IntKv("sampleRate", -4)}, {}, {}, 1},
      {"span huge", {DoubleKv("sampleRate", 1e12)}, {}, {}, 2147483647},
      {"span unparsable string", {StringKv("sampleRate", "abc")}, {IntKv("sampleRate", 7)}, {}, 1},
      {"span bool", {BoolKv("sampleRate", true)}, {}, {}, 1},
      {"sampleRate beats a later SampleRate",
       {IntKv("sampleRate", 3), IntKv("SampleRate", 5)},
       {},
       {},
       3},
      {"sampleRate beats an earlier SampleRate",
       {IntKv("SampleRate", 5), IntKv("sampleRate", 3)},
       {},
       {},
       3},
      {"resource", {}, {IntKv("SampleRate", 7)}, {}, 7},
      {"scope", {}, {}, {IntKv("sampleRate", 9)}, 9},
      {"scope beats resource", {}, {IntKv("sampleRate", 7)}, {IntKv("SampleRate", 9)}, 9},
      {"span beats scope and resource",
       {IntKv("SampleRate", 4)},
       {IntKv("sampleRate", 7)},
       {IntKv("sampleRate", 9)},
       4},
  };
  for (const Case& c : cases) {
    pb::ExportTraceServiceRequest req;
    pb::Span* span = AddSpan(&req);
    for (const pb::KeyValue& kv : c.span) *span->add_attributes() = kv;
    for (const pb::KeyValue& kv : c.resource) *ResourceAttrs(&req)->Add() = kv;
    for (const pb::KeyValue& kv : c.scope) *ScopeAttrs(&req)->Add() = kv;
    *span->add_attributes() = StringKv("kept", "yes");
    const std::vector<model::Span> spans = DecodeBoth(req);
    ASSERT_EQ(spans.size(), 1u) << c.what;
    EXPECT_EQ(spans[0].sample_rate, c.want) << c.what;
    EXPECT_FALSE(HasSampleRateAttribute(spans[0]))
        << c.what << ": " << ShowAttributes(spans[0].attributes);
    EXPECT_NE(Attr(spans[0], "kept"), nullptr) << c.what;
  }
}

TEST(OtlpDecodeRules, AttributeValuesKeepTheirTypesAndNestedOnesBecomeJson) {
  pb::ExportTraceServiceRequest req;
  pb::Span* span = AddSpan(&req);
  *span->add_attributes() = StringKv("s", "text");
  *span->add_attributes() = BoolKv("b", true);
  *span->add_attributes() = IntKv("i", -3);
  *span->add_attributes() = DoubleKv("d", 1.5);
  pb::KeyValue* bytes = span->add_attributes();
  bytes->set_key("by");
  bytes->mutable_value()->set_bytes_value(std::string("\x00\xff", 2));
  pb::KeyValue* array = span->add_attributes();
  array->set_key("arr");
  pb::ArrayValue* values = array->mutable_value()->mutable_array_value();
  values->add_values()->set_int_value(1);
  values->add_values()->set_string_value("x");
  values->add_values();  // empty: null
  values->add_values()->mutable_array_value()->add_values()->set_bool_value(true);
  values->add_values()->set_double_value(0.5);
  pb::KeyValue* map = span->add_attributes();
  map->set_key("kv");
  pb::KeyValueList* members = map->mutable_value()->mutable_kvlist_value();
  *members->add_values() = IntKv("a", 1);
  members->add_values()->set_key("b");  // no value: null
  pb::KeyValue* c = members->add_values();
  c->set_key("c");
  c->mutable_value()->set_bytes_value("\x01");
  *members->add_values() = StringKv("d", "q\"uote");
  span->add_attributes()->set_key("no value");
  pb::KeyValue* empty = span->add_attributes();
  empty->set_key("empty value");
  empty->mutable_value();
  *span->add_attributes() = StringKv("", "empty key");
  pb::KeyValue* empty_array = span->add_attributes();
  empty_array->set_key("empty array");
  empty_array->mutable_value()->mutable_array_value();

  const std::vector<model::Span> spans = DecodeBoth(req);
  ASSERT_EQ(spans.size(), 1u);
  const model::Attributes& got = spans[0].attributes;
  ASSERT_EQ(got.size(), 8u) << ShowAttributes(got);
  EXPECT_EQ(got[0].key, "s");
  EXPECT_EQ(got[0].value, AttributeValue::String("text"));
  EXPECT_EQ(got[1].value, AttributeValue::Bool(true));
  EXPECT_EQ(got[2].value, AttributeValue::Int(-3));
  EXPECT_EQ(got[3].value, AttributeValue::Double(1.5));
  EXPECT_EQ(got[4].value.type, AttributeValue::Type::kBytes);
  EXPECT_EQ(got[4].value.string_value, std::string("\x00\xff", 2));
  EXPECT_EQ(got[5].key, "arr");
  EXPECT_EQ(got[5].value.type, AttributeValue::Type::kJson);
  EXPECT_TRUE(JsonTextSame(got[5].value.string_value, R"([1,"x",null,[true],0.5])"))
      << got[5].value.string_value;
  EXPECT_EQ(got[6].key, "kv");
  EXPECT_EQ(got[6].value.type, AttributeValue::Type::kJson);
  EXPECT_TRUE(
      JsonTextSame(got[6].value.string_value, R"({"a":1,"b":null,"c":"AQ==","d":"q\"uote"})"))
      << got[6].value.string_value;
  EXPECT_EQ(got[7].key, "empty array");
  EXPECT_TRUE(JsonTextSame(got[7].value.string_value, "[]")) << got[7].value.string_value;
  for (const model::Attribute& a : got) EXPECT_EQ(a.role, AttributeRole::kPlain);
}

TEST(OtlpDecodeRules, AttributesComeResourceThenScopeThenSpanWithTheirRoles) {
  pb::ExportTraceServiceRequest req;
  pb::Span* span = AddSpan(&req);
  *span->add_attributes() = StringKv("span.attr", "3");
  *ScopeAttrs(&req)->Add() = StringKv("scope.attr", "2");
  *ResourceAttrs(&req)->Add() = StringKv("service.name", "checkout");
  *ResourceAttrs(&req)->Add() = StringKv("resource.attr", "1");
  req.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_scope()->set_name("lib");
  req.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_scope()->set_version("9");
  const std::vector<model::Span> spans = DecodeBoth(req);
  ASSERT_EQ(spans.size(), 1u);
  const model::Attributes& got = spans[0].attributes;
  ASSERT_EQ(got.size(), 4u) << ShowAttributes(got);
  EXPECT_EQ(got[0].key, "service.name");
  EXPECT_EQ(got[0].role, AttributeRole::kResource);
  EXPECT_EQ(got[1].key, "resource.attr");
  EXPECT_EQ(got[1].role, AttributeRole::kResource);
  EXPECT_EQ(got[2].key, "scope.attr");
  EXPECT_EQ(got[2].role, AttributeRole::kScope);
  EXPECT_EQ(got[3].key, "span.attr");
  EXPECT_EQ(got[3].role, AttributeRole::kPlain);
  EXPECT_EQ(spans[0].scope_name, "lib");
  EXPECT_EQ(spans[0].scope_version, "9");
}

TEST(OtlpDecodeRules, SpansWithBadIdsAreRefusedAlone) {
  pb::ExportTraceServiceRequest req;
  AddSpan(&req)->set_name("good");
  AddSpan(&req)->set_trace_id(std::string(15, '\x01'));
  AddSpan(&req)->set_trace_id(std::string(16, '\0'));
  AddSpan(&req)->set_trace_id("");
  AddSpan(&req)->set_span_id(std::string(7, '\x01'));
  AddSpan(&req)->set_span_id(std::string(8, '\0'));
  AddSpan(&req)->set_parent_span_id(std::string(7, '\x01'));
  pb::Span* zero_parent = AddSpan(&req);
  zero_parent->set_name("zero parent");
  zero_parent->set_parent_span_id(std::string(8, '\0'));
  pb::Span* kind = AddSpan(&req);
  kind->set_name("odd kind");
  kind->set_kind(static_cast<pb::Span_SpanKind>(9));
  const std::string body = Serialize(req);
  TraceDecode got = DecodeT(Encoding::kProtobuf, body, DecodeOptions{});
  ASSERT_TRUE(got.status.ok()) << got.status.ToString();
  EXPECT_EQ(got.rejected.count, 6u);
  EXPECT_FALSE(got.rejected.message.empty());
  ASSERT_EQ(got.batch.spans.size(), 3u);
  EXPECT_EQ(got.batch.spans[0].name, "good");
  EXPECT_EQ(got.batch.spans[1].name, "zero parent");
  EXPECT_TRUE(got.batch.spans[1].parent_span_id.IsZero());
  EXPECT_EQ(got.batch.spans[2].kind, model::SpanKind::kUnspecified);
  DecodeBoth(req);  // and JSON agrees
}

// Every string of a trace request that holds `text`: names, keys, values (nested ones too),
// the scope, the resource's service.name, events, links and the status.
pb::ExportTraceServiceRequest TraceWithText(std::string_view text) {
  const std::string t(text);
  pb::ExportTraceServiceRequest req;
  pb::Span* span = AddSpan(&req);
  span->set_name("GET " + t);
  span->set_trace_state("k=" + t);
  *span->add_attributes() = StringKv("key" + t, "value" + t);
  pb::KeyValue* map = span->add_attributes();
  map->set_key("map");
  *map->mutable_value()->mutable_kvlist_value()->add_values() = StringKv("in" + t, "side" + t);
  pb::KeyValue* array = span->add_attributes();
  array->set_key("array");
  array->mutable_value()->mutable_array_value()->add_values()->set_string_value("a" + t);
  pb::Span::Event* event = span->add_events();
  event->set_name("event" + t);
  *event->add_attributes() = StringKv("e", t);
  pb::Span::Link* link = span->add_links();
  link->set_trace_id(FromHex(kTraceHex));
  link->set_span_id(FromHex(kSpanHex));
  link->set_trace_state("l=" + t);
  *link->add_attributes() = StringKv("l", t);
  span->mutable_status()->set_message("failed" + t);
  span->mutable_status()->set_code(pb::Status::STATUS_CODE_ERROR);
  pb::InstrumentationScope* scope =
      req.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_scope();
  scope->set_name("lib" + t);
  scope->set_version("1" + t);
  *scope->add_attributes() = StringKv("scope" + t, t);
  *ResourceAttrs(&req)->Add() = StringKv("service.name", "svc" + t);
  return req;
}

// Replaces every `from` in `text` with `to`.
std::string ReplaceAll(std::string text, std::string_view from, std::string_view to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

size_t CountOf(std::string_view text, std::string_view what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string_view::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

// libprotobuf refuses to parse a proto3 string that is not UTF-8 (and warns when serializing
// one), so the bad bytes go in after serializing, in place of a marker of the same length.
TEST(OtlpProtoDecoder, StringsThatAreNotUtf8AreKeptWithReplacementCharacters) {
  const std::string kMarker = "<X>";
  const std::string kFffd = "\xef\xbf\xbd";
  struct Case {
    std::string bytes;  // what replaces the marker on the wire
    std::string want;   // and what the decoder makes of them
    uint64_t repairs;   // for each
  };
  const Case cases[] = {
      {"\xed\xa0\x80", kFffd + kFffd + kFffd, 3},  // an encoded surrogate (CESU-8)
      {"a\xffz", "a" + kFffd + "z", 1},
      {"\xc3(\xc3", kFffd + "(" + kFffd, 2},  // a lead byte without its continuation
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(Quote(c.bytes));
    const std::string marked = Serialize(TraceWithText(kMarker));
    const size_t n = CountOf(marked, kMarker);
    ASSERT_EQ(n, 17u);
    for (bool shared : {false, true}) {
      DecodeOptions options;
      options.shared_context = shared;
      options.borrow_text = shared;  // text that needs repair is never borrowed
      const std::string body = ReplaceAll(marked, kMarker, c.bytes);
      TraceDecode got = DecodeT(Encoding::kProtobuf, body, options);
      ASSERT_TRUE(got.status.ok()) << got.status.ToString();
      got.batch.Materialize();
      DecodeOptions copying = options;  // the body below goes before the spans are read
      copying.borrow_text = false;
      TraceDecode want = DecodeT(Encoding::kProtobuf, Serialize(TraceWithText(c.want)), copying);
      ASSERT_TRUE(want.status.ok()) << want.status.ToString();
      want.batch.Materialize();
      EXPECT_TRUE(SpansMatch(want.batch.spans, 0, got.batch.spans, got.rejected));
      EXPECT_EQ(got.rejected.text_repairs, n * c.repairs);
      EXPECT_EQ(want.rejected.text_repairs, 0u);
      ASSERT_EQ(got.batch.spans.size(), 1u);
      EXPECT_EQ(got.batch.spans[0].service, "svc" + c.want);
      EXPECT_EQ(got.batch.spans[0].name, "GET " + c.want);
    }
  }
}

// JavaScript's JSON.stringify writes a string cut through a surrogate pair (as attribute length
// limits cut them) as a lone \u escape, which simdjson refuses: such a body is read repaired.
TEST(OtlpJsonDecoder, LoneSurrogateEscapesAndBadBytesAreReadAsReplacementCharacters) {
  const std::string kMarker = "<X>";
  const std::string kFffd = "\xef\xbf\xbd";
  const std::string marked = ToOtlpJson(TraceWithText(kMarker), false);
  const size_t n = CountOf(marked, kMarker);
  ASSERT_EQ(n, 17u);
  struct Case {
    std::string text;  // in place of the marker
    std::string want;
    uint64_t repairs;  // for each
  };
  const Case cases[] = {
      {"\\ud83d", kFffd, 1},                      // the first half of U+1F44D alone
      {"\\udc4d!", kFffd + "!", 1},               // the second half alone
      {"\\udc4d\\ud83d", kFffd + kFffd, 2},       // the halves the wrong way round
      {"\\ud83d\\udc4d", "\xf0\x9f\x91\x8d", 0},  // the pair: nothing to repair
      {"\\\\ud83d", "\\ud83d", 0},                // an escaped backslash, then text
      {"a\xffz", "a" + kFffd + "z", 1},           // a byte that is not UTF-8
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    TraceDecode got = DecodeT(Encoding::kJson, ReplaceAll(marked, kMarker, c.text), {});
    ASSERT_TRUE(got.status.ok()) << got.status.ToString();
    TraceDecode want = DecodeT(Encoding::kProtobuf, Serialize(TraceWithText(c.want)), {});
    ASSERT_TRUE(want.status.ok()) << want.status.ToString();
    EXPECT_TRUE(SpansMatch(want.batch.spans, 0, got.batch.spans, got.rejected));
    EXPECT_EQ(got.rejected.text_repairs, n * c.repairs);
  }
  // A body that is not JSON for another reason as well is still refused whole.
  TraceDecode bad = DecodeT(Encoding::kJson, "{\"resourceSpans\":[\"\\ud800\"", {});
  EXPECT_EQ(bad.status.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(bad.rejected.text_repairs, 0u);
}

TEST(OtlpProtoDecoder, LogStringsThatAreNotUtf8AreKeptWithReplacementCharacters) {
  const std::string kFffd = "\xef\xbf\xbd";
  auto logs = [](const std::string& t) {
    pb::ExportLogsServiceRequest req;
    pb::ResourceLogs* rl = req.add_resource_logs();
    *rl->mutable_resource()->add_attributes() = StringKv("service.name", "api" + t);
    pb::ScopeLogs* sl = rl->add_scope_logs();
    sl->mutable_scope()->set_name("logger" + t);
    pb::LogRecord* r = sl->add_log_records();
    r->set_severity_text("WARN" + t);
    r->set_event_name("event" + t);
    r->mutable_body()->set_string_value("body" + t);
    *r->add_attributes() = StringKv("k" + t, "v" + t);
    pb::LogRecord* json = sl->add_log_records();
    *json->mutable_body()->mutable_kvlist_value()->add_values() = StringKv("k" + t, "v" + t);
    return req;
  };
  const std::string marked = Serialize(logs("<X>"));
  const size_t n = CountOf(marked, "<X>");
  ASSERT_EQ(n, 9u);
  LogDecode got = DecodeL(Encoding::kProtobuf, ReplaceAll(marked, "<X>", "\xed\xa0\x80"), {});
  ASSERT_TRUE(got.status.ok()) << got.status.ToString();
  LogDecode want = DecodeL(Encoding::kProtobuf, Serialize(logs(kFffd + kFffd + kFffd)), {});
  ASSERT_TRUE(want.status.ok()) << want.status.ToString();
  EXPECT_TRUE(LogsMatch(want.batch.records, 0, got.batch.records, got.rejected));
  EXPECT_EQ(got.rejected.text_repairs, 3 * n);
}

TEST(OtlpLogsDecodeRules, ServiceIsServiceNameElseDatasetHeaderElseUnknownLogSource) {
  struct Case {
    std::optional<pb::KeyValue> service_name;
    std::string_view header;
    std::string want;
  };
  const std::vector<Case> cases = {
      {StringKv("service.name", " api "), "hdr", "api"},
      {StringKv("service.name", "unknown_service:x"), "hdr", "hdr"},
      {StringKv("service.name", "   "), "hdr", "hdr"},
      {IntKv("service.name", 1), "hdr", "hdr"},
      {std::nullopt, "hdr", "hdr"},
      {std::nullopt, "", "unknown_log_source"},
      {std::nullopt, "  ", "unknown_log_source"},
      {StringKv("service.name", "unknown_service"), "", "unknown_log_source"},
  };
  for (const Case& c : cases) {
    pb::ExportLogsServiceRequest req;
    pb::ResourceLogs* rl = req.add_resource_logs();
    if (c.service_name) *rl->mutable_resource()->add_attributes() = *c.service_name;
    rl->add_scope_logs()->add_log_records()->mutable_body()->set_string_value("hi");
    DecodeOptions options;
    options.dataset_header = c.header;
    const std::vector<model::LogRecord> records = DecodeLogsBoth(req, options);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].service, c.want) << req.ShortDebugString() << " header " << c.header;
  }
}

TEST(OtlpLogsDecodeRules, BodyTimeIdsAndAttributes) {
  pb::ExportLogsServiceRequest req;
  pb::ResourceLogs* rl = req.add_resource_logs();
  *rl->mutable_resource()->add_attributes() = StringKv("service.name", "api");
  pb::ScopeLogs* sl = rl->add_scope_logs();
  sl->mutable_scope()->set_name("logger");
  *sl->mutable_scope()->add_attributes() = StringKv("scope.attr", "s");
  auto add = [&](const char* text) {
    pb::LogRecord* r = sl->add_log_records();
    r->set_severity_text(text);
    return r;
  };
  add("string")->mutable_body()->set_string_value("hello");
  add("int")->mutable_body()->set_int_value(42);
  add("bool")->mutable_body()->set_bool_value(false);
  add("bytes")->mutable_body()->set_bytes_value("\x01\x02");
  *add("kvlist")->mutable_body()->mutable_kvlist_value()->add_values() = StringKv("k", "v");
  add("absent");
  add("empty")->mutable_body();
  pb::LogRecord* timed = add("timed");
  timed->set_time_unix_nano(0);
  timed->set_observed_time_unix_nano(777);
  timed->set_trace_id(std::string(16, '\0'));
  timed->set_span_id(FromHex(kSpanHex));
  *timed->add_attributes() = IntKv("n", 5);
  add("bad trace id")->set_trace_id(std::string(15, '\x01'));
  add("bad span id")->set_span_id(std::string(7, '\x01'));

  uint64_t rejected = 0;
  const std::vector<model::LogRecord> records = DecodeLogsBoth(req, DecodeOptions{}, &rejected);
  EXPECT_EQ(rejected, 2u);
  ASSERT_EQ(records.size(), 8u);
  auto check_body = [&](size_t i, const char* body, bool is_json) {
    EXPECT_EQ(records[i].body_is_json, is_json) << records[i].severity_text;
    if (is_json) {
      EXPECT_TRUE(JsonTextSame(records[i].body, body))
          << records[i].severity_text << ": " << records[i].body;
    } else {
      EXPECT_EQ(records[i].body, body) << records[i].severity_text;
    }
  };
  check_body(0, "hello", false);
  check_body(1, "42", true);
  check_body(2, "false", true);
  check_body(3, "\"AQI=\"", true);
  check_body(4, R"({"k":"v"})", true);
  check_body(5, "", false);
  check_body(6, "", false);
  const model::LogRecord& t = records[7];
  EXPECT_EQ(t.time_ns, 777);
  EXPECT_EQ(t.observed_ns, 777);
  EXPECT_TRUE(t.trace_id.IsZero());
  EXPECT_EQ(t.span_id.ToHex(), kSpanHex);
  EXPECT_EQ(t.scope_name, "logger");
  ASSERT_EQ(t.attributes.size(), kLogsCopyScopeAttributes ? 3u : 2u)
      << ShowAttributes(t.attributes);
  EXPECT_EQ(t.attributes.front().key, "service.name");
  EXPECT_EQ(t.attributes.front().role, AttributeRole::kResource);
  EXPECT_EQ(t.attributes.back().key, "n");
  EXPECT_EQ(t.attributes.back().role, AttributeRole::kPlain);
}

}  // namespace
}  // namespace waggle::codec::otlp
