#include "codec/xray/segment_writer.h"

#include "base/base64.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <string_view>
#include <vector>

namespace waggle::codec::xray {
namespace {

using model::Attribute;
using model::AttributeRole;
using model::AttributeValue;
using model::SpanKind;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Str(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
void Key(Writer& w, std::string_view s) {
  w.Key(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

const AttributeValue* Find(const model::Span& span, std::string_view key, bool span_only = true) {
  for (const Attribute& a : span.attributes) {
    if (a.key == key && (!span_only || a.role == AttributeRole::kPlain)) return &a.value;
  }
  return nullptr;
}

std::string_view FindString(const model::Span& span, std::string_view key) {
  const AttributeValue* v = Find(span, key);
  return v && v->type == AttributeValue::Type::kString ? std::string_view(v->string_value)
                                                       : std::string_view();
}

// X-Ray names allow letters, digits, space and _ . : / % & # = + \ - @; at most 200 chars.
std::string Sanitize(std::string_view name) {
  std::string out;
  for (unsigned char c : name) {
    if (out.size() >= 200) break;
    if (std::isalnum(c) || c >= 0x80 ||
        std::string_view(" _.:/%&#=+\\-@").find(static_cast<char>(c)) != std::string_view::npos) {
      out.push_back(static_cast<char>(c));
    }
  }
  return out.empty() ? "span" : out;
}

std::string SegmentName(const model::Span& span) {
  const bool outgoing = span.kind == SpanKind::kClient || span.kind == SpanKind::kProducer ||
                        span.kind == SpanKind::kConsumer;
  if (span.kind == SpanKind::kServer || span.parent_span_id.IsZero()) {
    if (auto s = FindString(span, "aws.local.service"); !s.empty()) return Sanitize(s);
    if (!span.service.empty()) return Sanitize(span.service);
  }
  if (outgoing) {
    if (auto s = FindString(span, "aws.remote.service"); !s.empty()) return Sanitize(s);
  }
  for (std::string_view key : {"peer.service", "service.peer.name", "aws.service", "db.name",
                               "db.namespace", "rpc.service", "server.address", "net.peer.name"}) {
    if (!outgoing && key != "peer.service" && key != "aws.service") continue;
    if (auto s = FindString(span, key); !s.empty()) return Sanitize(s);
  }
  return Sanitize(span.name);
}

void WriteValue(Writer& w, const AttributeValue& v) {
  switch (v.type) {
    case AttributeValue::Type::kInt:
      w.Int64(v.int_value);
      break;
    case AttributeValue::Type::kBool:
      w.Bool(v.int_value != 0);
      break;
    case AttributeValue::Type::kDouble:
      if (std::isfinite(v.double_value)) {
        w.Double(v.double_value);
      } else {
        w.Null();
      }
      break;
    case AttributeValue::Type::kJson:
      w.RawValue(v.string_value.data(), v.string_value.size(), rapidjson::kObjectType);
      break;
    case AttributeValue::Type::kBytes: {
      std::string text;  // raw bytes are not JSON text: base64, as protobuf JSON writes them
      base64::Append(&text, v.string_value);
      Str(w, text);
      break;
    }
    default:
      Str(w, v.string_value);
  }
}

bool IsSqlSystem(std::string_view db) {
  static constexpr std::array<std::string_view, 11> kSql = {
      "db2",    "derby",      "hive",   "mariadb",  "mssql",    "mysql",
      "oracle", "postgresql", "sqlite", "teradata", "other_sql"};
  for (auto s : kSql) {
    if (db == s) return true;
  }
  return false;
}

void Seconds(Writer& w, int64_t ns) {
  // Microsecond precision, as the SDKs send.
  w.Double(static_cast<double>(ns / 1000) / 1e6);
}

// Which of the span's attributes are X-Ray annotations: its own (role kAnnotation) and the
// plain scalar attributes named by aws.xray.annotations (a JSON array of keys).
std::vector<bool> AnnotationMask(const model::Span& span) {
  std::vector<bool> mask(span.attributes.size());
  std::vector<std::string_view> named;
  rapidjson::Document list;
  if (const AttributeValue* v = Find(span, "aws.xray.annotations");
      v != nullptr &&
      (v->type == AttributeValue::Type::kJson || v->type == AttributeValue::Type::kString)) {
    list.Parse(v->string_value.data(), v->string_value.size());
    if (!list.HasParseError() && list.IsArray()) {
      for (const auto& k : list.GetArray()) {
        if (k.IsString()) named.emplace_back(k.GetString(), k.GetStringLength());
      }
    }
  }
  for (size_t i = 0; i < mask.size(); ++i) {
    const Attribute& a = span.attributes[i];
    const bool scalar =
        a.value.type != AttributeValue::Type::kJson && a.value.type != AttributeValue::Type::kBytes;
    mask[i] = a.role == AttributeRole::kAnnotation ||
              (a.role == AttributeRole::kPlain && scalar &&
               std::find(named.begin(), named.end(), a.key) != named.end());
  }
  return mask;
}

// The namespace <ns> of an attribute aws.xray.metadata.<ns> whose value is a JSON object (as
// a map, or as text that parses as one); empty for any other attribute.
std::string_view MetadataNamespace(const Attribute& a) {
  constexpr std::string_view kPrefix = "aws.xray.metadata.";
  if (!std::string_view(a.key).starts_with(kPrefix)) return {};
  if (a.value.type == AttributeValue::Type::kString) {
    rapidjson::Document d;
    d.Parse(a.value.string_value.data(), a.value.string_value.size());
    if (d.HasParseError() || !d.IsObject()) return {};  // kept as a string under default
  } else if (a.value.type != AttributeValue::Type::kJson || a.value.string_value.empty() ||
             a.value.string_value.front() != '{') {
    return {};
  }
  return std::string_view(a.key).substr(kPrefix.size());
}

}  // namespace

std::string RenderSegment(const model::Span& span) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  const bool segment = span.kind == SpanKind::kServer || span.parent_span_id.IsZero();
  const bool outgoing = span.kind == SpanKind::kClient || span.kind == SpanKind::kProducer;
  w.StartObject();
  Key(w, "id");
  Str(w, span.span_id.ToHex());
  Key(w, "trace_id");
  Str(w, span.trace_id.ToXRay());
  Key(w, "name");
  Str(w, SegmentName(span));
  Key(w, "start_time");
  Seconds(w, span.start_ns);
  if (span.in_progress) {
    Key(w, "in_progress");
    w.Bool(true);
  } else {
    Key(w, "end_time");
    Seconds(w, span.end_ns);
  }
  if (!span.parent_span_id.IsZero()) {
    Key(w, "parent_id");
    Str(w, span.parent_span_id.ToHex());
  }
  if (!segment) {
    Key(w, "type");
    Str(w, "subsegment");
  }
  std::string_view rpc_system = FindString(span, "rpc.system");
  if (rpc_system == "aws-api" || Find(span, "aws.service")) {
    Key(w, "namespace");
    Str(w, "aws");
  } else if (span.kind == SpanKind::kClient) {
    Key(w, "namespace");
    Str(w, "remote");
  }
  if (auto user = FindString(span, "enduser.id"); !user.empty()) Key(w, "user"), Str(w, user);
  if (span.status_flags & model::kStatusError) {
    Key(w, "error");
    w.Bool(true);
  }
  if (span.status_flags & model::kStatusThrottle) {
    Key(w, "throttle");
    w.Bool(true);
  }
  if (span.status_flags & model::kStatusFault) {
    Key(w, "fault");
    w.Bool(true);
  }
  if (!span.http_method.empty() || !span.http_url.empty() || span.http_status != 0) {
    Key(w, "http");
    w.StartObject();
    if (!span.http_method.empty() || !span.http_url.empty() || !span.client_ip.empty() ||
        !span.user_agent.empty()) {
      Key(w, "request");
      w.StartObject();
      if (!span.http_method.empty()) Key(w, "method"), Str(w, span.http_method);
      if (!span.http_url.empty()) Key(w, "url"), Str(w, span.http_url);
      if (!span.user_agent.empty()) Key(w, "user_agent"), Str(w, span.user_agent);
      if (!span.client_ip.empty()) Key(w, "client_ip"), Str(w, span.client_ip);
      w.EndObject();
    }
    if (span.http_status != 0) {
      Key(w, "response");
      w.StartObject();
      Key(w, "status");
      w.Int(span.http_status);
      w.EndObject();
    }
    w.EndObject();
  }
  if (IsSqlSystem(span.db_system)) {
    Key(w, "sql");
    w.StartObject();
    Key(w, "url");
    Str(w, span.name);
    Key(w, "database_type");
    Str(w, span.db_system);
    std::string_view connection = FindString(span, "db.connection_string");
    std::string_view db_name = FindString(span, "db.name");
    if (db_name.empty()) db_name = FindString(span, "db.namespace");
    Key(w, "connection_string");
    Str(w, std::string(connection.empty() ? "localhost" : connection) + "/" + std::string(db_name));
    if (auto user = FindString(span, "db.user"); !user.empty()) Key(w, "user"), Str(w, user);
    for (std::string_view key : {"db.query.text", "db.statement"}) {
      if (auto q = FindString(span, key); !q.empty()) {
        Key(w, "sanitized_query");
        Str(w, q);
        break;
      }
    }
    w.EndObject();
  }
  // Exceptions: span events named "exception"; without any, an error status's message.
  bool has_exception = false;
  for (const auto& e : span.events) has_exception |= e.name == "exception";
  if (has_exception || (span.otel_status == 2 && !span.status_message.empty())) {
    Key(w, "cause");
    w.StartObject();
    Key(w, "exceptions");
    w.StartArray();
    uint64_t n = 0;
    auto exception_id = [&] {
      char id[17];
      snprintf(id, sizeof id, "%016llx",
               static_cast<unsigned long long>(span.span_id.value ^ (0x9e3779b97f4a7c15ull * ++n)));
      return std::string(id);
    };
    for (const auto& e : span.events) {
      if (e.name != "exception") continue;
      w.StartObject();
      Key(w, "id");
      Str(w, exception_id());
      for (const auto& a : e.attributes) {
        if (a.value.type != AttributeValue::Type::kString) continue;
        if (a.key == "exception.type") Key(w, "type"), Str(w, a.value.string_value);
        if (a.key == "exception.message") Key(w, "message"), Str(w, a.value.string_value);
      }
      Key(w, "remote");
      w.Bool(outgoing);
      w.EndObject();
    }
    if (!has_exception) {
      w.StartObject();
      Key(w, "id");
      Str(w, exception_id());
      Key(w, "message");
      Str(w, span.status_message);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  // Annotations named by aws.xray.annotations; the rest is metadata.
  const std::vector<bool> annotation = AnnotationMask(span);
  if (std::find(annotation.begin(), annotation.end(), true) != annotation.end()) {
    Key(w, "annotations");
    w.StartObject();
    for (size_t i = 0; i < span.attributes.size(); ++i) {
      if (!annotation[i]) continue;
      std::string key = span.attributes[i].key;
      for (char& c : key) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') c = '_';
      }
      Key(w, key);
      WriteValue(w, span.attributes[i].value);
    }
    w.EndObject();
  }
  Key(w, "metadata");
  w.StartObject();
  for (const Attribute& a : span.attributes) {
    std::string_view ns = MetadataNamespace(a);
    if (ns.empty() || ns == "default") continue;
    Key(w, ns);
    w.RawValue(a.value.string_value.data(), a.value.string_value.size(), rapidjson::kObjectType);
  }
  Key(w, "default");
  w.StartObject();
  for (size_t i = 0; i < span.attributes.size(); ++i) {
    const Attribute& a = span.attributes[i];
    if (annotation[i] || a.key == "aws.xray.annotations" || a.key == "enduser.id") continue;
    if (std::string_view ns = MetadataNamespace(a); !ns.empty() && ns != "default") continue;
    if (a.role == AttributeRole::kResource) {
      if (!segment) continue;
      Key(w, "otel.resource." + a.key);
    } else if (a.role == AttributeRole::kScope) {
      continue;
    } else {
      Key(w, a.key);
    }
    WriteValue(w, a.value);
  }
  w.EndObject();
  w.EndObject();
  if (!span.links.empty()) {
    Key(w, "links");
    w.StartArray();
    for (const auto& l : span.links) {
      w.StartObject();
      Key(w, "trace_id");
      Str(w, l.trace_id.ToXRay());
      Key(w, "id");
      Str(w, l.span_id.ToHex());
      if (!l.attributes.empty()) {
        Key(w, "attributes");
        w.StartObject();
        for (const auto& a : l.attributes) {
          Key(w, a.key);
          WriteValue(w, a.value);
        }
        w.EndObject();
      }
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace waggle::codec::xray
