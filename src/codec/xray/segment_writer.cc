#include "codec/xray/segment_writer.h"

#include "codec/xray/segment_json.h"

#include "base/base64.h"
#include "base/mix.h"

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
using Writer = JsonWriter;

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

std::string SegmentName(const model::Span& span) {
  const bool outgoing = span.kind == SpanKind::kClient || span.kind == SpanKind::kProducer ||
                        span.kind == SpanKind::kConsumer;
  if (span.kind == SpanKind::kServer || span.parent_span_id.IsZero()) {
    if (auto s = FindString(span, "aws.local.service"); !s.empty()) return EntityName(s);
    if (!span.service.empty()) return EntityName(span.service);
  }
  if (outgoing) {
    if (auto s = FindString(span, "aws.remote.service"); !s.empty()) return EntityName(s);
  }
  for (std::string_view key : {"peer.service", "service.peer.name", "aws.service", "db.name",
                               "db.namespace", "rpc.service", "server.address", "net.peer.name"}) {
    if (!outgoing && key != "peer.service" && key != "aws.service") continue;
    if (auto s = FindString(span, key); !s.empty()) return EntityName(s);
  }
  return EntityName(span.name);
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
  WriteKey(w, "id");
  WriteString(w, span.span_id.ToHex());
  WriteKey(w, "trace_id");
  WriteString(w, span.trace_id.ToXRay());
  WriteKey(w, "name");
  WriteString(w, SegmentName(span));
  WriteKey(w, "start_time");
  WriteSeconds(w, span.start_ns);
  if (span.in_progress) {
    WriteKey(w, "in_progress");
    w.Bool(true);
  } else {
    WriteKey(w, "end_time");
    WriteSeconds(w, span.end_ns);
  }
  if (!span.parent_span_id.IsZero()) {
    WriteKey(w, "parent_id");
    WriteString(w, span.parent_span_id.ToHex());
  }
  if (!segment) {
    WriteKey(w, "type");
    WriteString(w, "subsegment");
  }
  std::string_view rpc_system = FindString(span, "rpc.system");
  if (rpc_system == "aws-api" || Find(span, "aws.service")) {
    WriteKey(w, "namespace");
    WriteString(w, "aws");
  } else if (span.kind == SpanKind::kClient) {
    WriteKey(w, "namespace");
    WriteString(w, "remote");
  }
  if (auto user = FindString(span, "enduser.id"); !user.empty())
    WriteKey(w, "user"), WriteString(w, user);
  if (span.status_flags & model::kStatusError) {
    WriteKey(w, "error");
    w.Bool(true);
  }
  if (span.status_flags & model::kStatusThrottle) {
    WriteKey(w, "throttle");
    w.Bool(true);
  }
  if (span.status_flags & model::kStatusFault) {
    WriteKey(w, "fault");
    w.Bool(true);
  }
  if (!span.http_method.empty() || !span.http_url.empty() || span.http_status != 0) {
    WriteKey(w, "http");
    w.StartObject();
    if (!span.http_method.empty() || !span.http_url.empty() || !span.client_ip.empty() ||
        !span.user_agent.empty()) {
      WriteKey(w, "request");
      w.StartObject();
      if (!span.http_method.empty()) WriteKey(w, "method"), WriteString(w, span.http_method);
      if (!span.http_url.empty()) WriteKey(w, "url"), WriteString(w, span.http_url);
      if (!span.user_agent.empty()) WriteKey(w, "user_agent"), WriteString(w, span.user_agent);
      if (!span.client_ip.empty()) WriteKey(w, "client_ip"), WriteString(w, span.client_ip);
      w.EndObject();
    }
    if (span.http_status != 0) {
      WriteKey(w, "response");
      w.StartObject();
      WriteKey(w, "status");
      w.Int(span.http_status);
      w.EndObject();
    }
    w.EndObject();
  }
  if (IsSqlSystem(span.db_system)) {
    WriteKey(w, "sql");
    w.StartObject();
    WriteKey(w, "url");
    WriteString(w, span.name);
    WriteKey(w, "database_type");
    WriteString(w, span.db_system);
    std::string_view connection = FindString(span, "db.connection_string");
    std::string_view db_name = FindString(span, "db.name");
    if (db_name.empty()) db_name = FindString(span, "db.namespace");
    WriteKey(w, "connection_string");
    WriteString(
        w, std::string(connection.empty() ? "localhost" : connection) + "/" + std::string(db_name));
    if (auto user = FindString(span, "db.user"); !user.empty())
      WriteKey(w, "user"), WriteString(w, user);
    for (std::string_view key : {"db.query.text", "db.statement"}) {
      if (auto q = FindString(span, key); !q.empty()) {
        WriteKey(w, "sanitized_query");
        WriteString(w, q);
        break;
      }
    }
    w.EndObject();
  }
  // Exceptions: span events named "exception"; without any, an error status's message.
  bool has_exception = false;
  for (const auto& e : span.events) has_exception |= e.name == "exception";
  if (has_exception || (span.otel_status == 2 && !span.status_message.empty())) {
    WriteKey(w, "cause");
    w.StartObject();
    WriteKey(w, "exceptions");
    w.StartArray();
    uint64_t n = 0;
    auto exception_id = [&] {
      char id[17];
      snprintf(id, sizeof id, "%016llx",
               static_cast<unsigned long long>(span.span_id.value ^ (kGoldenGamma * ++n)));
      return std::string(id);
    };
    for (const auto& e : span.events) {
      if (e.name != "exception") continue;
      w.StartObject();
      WriteKey(w, "id");
      WriteString(w, exception_id());
      for (const auto& a : e.attributes) {
        if (a.value.type != AttributeValue::Type::kString) continue;
        if (a.key == "exception.type") WriteKey(w, "type"), WriteString(w, a.value.string_value);
        if (a.key == "exception.message")
          WriteKey(w, "message"), WriteString(w, a.value.string_value);
      }
      WriteKey(w, "remote");
      w.Bool(outgoing);
      w.EndObject();
    }
    if (!has_exception) {
      w.StartObject();
      WriteKey(w, "id");
      WriteString(w, exception_id());
      WriteKey(w, "message");
      WriteString(w, span.status_message);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  // Annotations named by aws.xray.annotations; the rest is metadata.
  const std::vector<bool> annotation = AnnotationMask(span);
  if (std::find(annotation.begin(), annotation.end(), true) != annotation.end()) {
    WriteKey(w, "annotations");
    w.StartObject();
    for (size_t i = 0; i < span.attributes.size(); ++i) {
      if (!annotation[i]) continue;
      std::string key = span.attributes[i].key.str();
      for (char& c : key) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') c = '_';
      }
      WriteKey(w, key);
      WriteAttributeValue(w, span.attributes[i].value);
    }
    w.EndObject();
  }
  WriteKey(w, "metadata");
  w.StartObject();
  for (const Attribute& a : span.attributes) {
    std::string_view ns = MetadataNamespace(a);
    if (ns.empty() || ns == "default") continue;
    WriteKey(w, ns);
    w.RawValue(a.value.string_value.data(), a.value.string_value.size(), rapidjson::kObjectType);
  }
  WriteKey(w, "default");
  w.StartObject();
  for (size_t i = 0; i < span.attributes.size(); ++i) {
    const Attribute& a = span.attributes[i];
    if (annotation[i] || a.key == "aws.xray.annotations" || a.key == "enduser.id") continue;
    if (std::string_view ns = MetadataNamespace(a); !ns.empty() && ns != "default") continue;
    if (a.role == AttributeRole::kResource) {
      if (!segment) continue;
      WriteKey(w, "otel.resource." + a.key);
    } else if (a.role == AttributeRole::kScope) {
      continue;
    } else {
      WriteKey(w, a.key);
    }
    WriteAttributeValue(w, a.value);
  }
  w.EndObject();
  w.EndObject();
  if (!span.links.empty()) {
    WriteKey(w, "links");
    w.StartArray();
    for (const auto& l : span.links) {
      w.StartObject();
      WriteKey(w, "trace_id");
      WriteString(w, l.trace_id.ToXRay());
      WriteKey(w, "id");
      WriteString(w, l.span_id.ToHex());
      if (!l.attributes.empty()) {
        WriteKey(w, "attributes");
        w.StartObject();
        for (const auto& a : l.attributes) {
          WriteKey(w, a.key);
          WriteAttributeValue(w, a.value);
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
