#include "codec/xray/segment_writer.h"

#include "base/base64.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <array>
#include <cctype>
#include <cmath>
#include <string_view>

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
  // Annotations named by aws.xray.annotations (a JSON array of keys); the rest is metadata.
  const AttributeValue* indexed = Find(span, "aws.xray.annotations");
  auto is_annotation = [&](const Attribute& a) {
    if (a.role == AttributeRole::kAnnotation) return true;
    if (!indexed || a.role != AttributeRole::kPlain ||
        a.value.type == AttributeValue::Type::kJson ||
        a.value.type == AttributeValue::Type::kBytes) {
      return false;
    }
    return indexed->string_value.find("\"" + a.key + "\"") != std::string::npos;
  };
  bool any_annotation = false;
  for (const Attribute& a : span.attributes) any_annotation |= is_annotation(a);
  if (any_annotation) {
    Key(w, "annotations");
    w.StartObject();
    for (const Attribute& a : span.attributes) {
      if (!is_annotation(a)) continue;
      std::string key = a.key;
      for (char& c : key) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') c = '_';
      }
      Key(w, key);
      WriteValue(w, a.value);
    }
    w.EndObject();
  }
  // aws.xray.metadata.<ns> holding a JSON object is namespace <ns>; X-Ray metadata decoded
  // from segments (role kMetadata) goes back under its own namespace too.
  constexpr std::string_view kMetadataPrefix = "aws.xray.metadata.";
  auto metadata_namespace = [&](const Attribute& a) -> std::string_view {
    if (!std::string_view(a.key).starts_with(kMetadataPrefix)) return {};
    if (a.value.type == AttributeValue::Type::kJson ||
        (a.value.type == AttributeValue::Type::kString && !a.value.string_value.empty() &&
         a.value.string_value.front() == '{' && a.value.string_value.back() == '}')) {
      return std::string_view(a.key).substr(kMetadataPrefix.size());
    }
    return {};
  };
  Key(w, "metadata");
  w.StartObject();
  for (const Attribute& a : span.attributes) {
    std::string_view ns = metadata_namespace(a);
    if (ns.empty() || ns == "default") continue;
    Key(w, ns);
    w.RawValue(a.value.string_value.data(), a.value.string_value.size(), rapidjson::kObjectType);
  }
  Key(w, "default");
  w.StartObject();
  for (const Attribute& a : span.attributes) {
    if (is_annotation(a) || a.key == "aws.xray.annotations" || a.key == "enduser.id") continue;
    if (std::string_view ns = metadata_namespace(a); !ns.empty() && ns != "default") continue;
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
