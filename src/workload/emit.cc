#include "workload/emit.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <string_view>
#include <utility>

#include "base/base64.h"
#include "codec/otlp/proto_wire.h"
#include "codec/xray/segment_json.h"
#include "workload/random.h"

namespace waggle::workload {
namespace {

using model::Attribute;
using model::AttributeRole;
using model::AttributeValue;
using model::Span;
using model::SpanKind;

// ---------------------------------------------------------------------------------------------
// X-Ray.

using codec::JsonWriter;
using codec::WriteKey;
using codec::WriteString;
using codec::xray::EntityName;
using codec::xray::IsSqlSystem;
using codec::xray::WriteAttributeValue;
using codec::xray::WriteSeconds;

constexpr std::string_view kDatagramHeader = "{\"format\":\"json\",\"version\":1}\n";

std::string_view FindString(const Span& span, std::string_view key) {
  return model::FindString(span.attributes, key);
}
const AttributeValue* FindInt(const Span& span, std::string_view key) {
  const model::Attribute* a = model::FindAttribute(span.attributes, key);
  return a != nullptr && a->value.type == AttributeValue::Type::kInt ? &a->value : nullptr;
}

// Attributes a document's own fields carry, so metadata does not repeat them.
bool Consumed(std::string_view key) {
  static constexpr std::string_view kKeys[] = {"http.request.method",
                                               "http.method",
                                               "url.full",
                                               "http.url",
                                               "http.response.status_code",
                                               "http.status_code",
                                               "client.address",
                                               "http.client_ip",
                                               "user_agent.original",
                                               "http.user_agent",
                                               "enduser.id",
                                               "http.response.body.size",
                                               "aws.operation",
                                               "aws.region",
                                               "aws.request_id",
                                               "aws.table_name",
                                               "db.statement",
                                               "db.user",
                                               "service.name",
                                               "service.version",
                                               "telemetry.sdk.name",
                                               "telemetry.sdk.version"};
  return std::find(std::begin(kKeys), std::end(kKeys), key) != std::end(kKeys);
}

// Annotation keys must be [A-Za-z0-9_] to be filterable.
std::string AnnotationKey(std::string_view key) {
  std::string out(key);
  for (char& c : out) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) c = '_';
  }
  return out;
}

struct StackFrame {
  std::string_view path;
  int64_t line = 0;
  std::string_view label;
};

int64_t ParseLine(std::string_view digits) {
  int64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9' || n > 100'000'000) break;
    n = n * 10 + (c - '0');
  }
  return n;
}

// Frames of a Python traceback (`  File "p", line N, in f`) or of the form X-Ray's exceptions
// decode to (`\tat f(p: N)`), most recent call first as X-Ray lists them.
std::vector<StackFrame> ParseStack(std::string_view text) {
  std::vector<StackFrame> frames;
  bool python = false;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.starts_with("  File \"")) {
      line.remove_prefix(8);
      const size_t q = line.find('"');
      if (q == std::string_view::npos) continue;
      StackFrame f;
      f.path = line.substr(0, q);
      line.remove_prefix(q + 1);
      if (line.starts_with(", line ")) line.remove_prefix(7);
      f.line = ParseLine(line);
      if (const size_t in = line.find(", in "); in != std::string_view::npos) {
        f.label = line.substr(in + 5);
      }
      frames.push_back(f);
      python = true;
    } else if (line.starts_with("\tat ")) {
      line.remove_prefix(4);
      const size_t open = line.find('(');
      const size_t colon = line.rfind(": ");
      if (open == std::string_view::npos || colon == std::string_view::npos || colon < open) {
        continue;
      }
      frames.push_back({line.substr(open + 1, colon - open - 1), ParseLine(line.substr(colon + 2)),
                        line.substr(0, open)});
    }
  }
  if (python) std::reverse(frames.begin(), frames.end());
  return frames;
}

class XRayRenderer {
 public:
  explicit XRayRenderer(const std::vector<Span>& spans) : spans_(spans), children_(spans.size()) {
    std::map<std::pair<model::TraceId, model::SpanId>, size_t> by_id;
    for (size_t i = 0; i < spans.size(); ++i) {
      by_id.emplace(std::pair(spans[i].trace_id, spans[i].span_id), i);
    }
    for (size_t i = 0; i < spans.size(); ++i) {
      const Span& s = spans[i];
      auto parent = s.parent_span_id.IsZero() ? by_id.end()
                                              : by_id.find(std::pair(s.trace_id, s.parent_span_id));
      if (parent != by_id.end() && parent->second != i &&
          spans[parent->second].service == s.service) {
        children_[parent->second].push_back(i);
      } else {
        tops_.push_back(i);
      }
    }
  }

  std::vector<std::string> Run() {
    for (size_t i : tops_) Emit(i);
    return std::move(out_);
  }

 private:
  // Sends span `i` and its subtree: as one document when it fits, else split.
  void Emit(size_t i) {
    std::string doc = Render(i, /*embed=*/true, /*lean=*/false);
    if (Fits(doc)) {
      out_.push_back(std::move(doc));
      return;
    }
    doc = Render(i, /*embed=*/false, /*lean=*/false);
    if (!Fits(doc)) doc = Render(i, /*embed=*/false, /*lean=*/true);
    if (Fits(doc)) out_.push_back(std::move(doc));
    for (size_t c : children_[i]) Emit(c);
  }

  static bool Fits(const std::string& datagram) { return datagram.size() <= kMaxDatagramBytes; }

  // A whole datagram for span `i` as a document of its own.
  std::string Render(size_t i, bool embed, bool lean) {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    Entity(w, i, /*document=*/true, embed, lean);
    std::string out(kDatagramHeader);
    out.append(buf.GetString(), buf.GetSize());
    return out;
  }

  void Entity(JsonWriter& w, size_t i, bool document, bool embed, bool lean) {
    const Span& s = spans_[i];
    const bool segment = document && (s.parent_span_id.IsZero() || s.kind == SpanKind::kServer ||
                                      s.kind == SpanKind::kConsumer);
    const bool outgoing = s.kind == SpanKind::kClient || s.kind == SpanKind::kProducer;
    w.StartObject();
    WriteKey(w, "name");
    if (segment) {
      WriteString(w, EntityName(s.service.empty() ? s.name : s.service));
    } else {
      WriteString(w, EntityName(outgoing && !s.peer.empty() ? s.peer : s.name));
    }
    WriteKey(w, "id");
    WriteString(w, s.span_id.ToHex());
    WriteKey(w, "start_time");
    WriteSeconds(w, s.start_ns);
    if (s.in_progress) {
      WriteKey(w, "in_progress");
      w.Bool(true);
    } else {
      WriteKey(w, "end_time");
      WriteSeconds(w, s.end_ns);
    }
    if (document) {
      WriteKey(w, "trace_id");
      WriteString(w, s.trace_id.ToXRay());
      if (!s.parent_span_id.IsZero()) {
        WriteKey(w, "parent_id");
        WriteString(w, s.parent_span_id.ToHex());
      }
      if (!segment) {
        WriteKey(w, "type");
        WriteString(w, "subsegment");
      }
    }
    const bool aws_call =
        FindString(s, "rpc.system") == "aws-api" || !FindString(s, "aws.operation").empty();
    if (!segment && outgoing) {
      WriteKey(w, "namespace");
      WriteString(w, aws_call ? "aws" : "remote");
    }
    if (segment) {
      const std::string_view platform = FindString(s, "cloud.platform");
      const std::string_view origin = platform == "aws_ec2"   ? "AWS::EC2::Instance"
                                      : platform == "aws_ecs" ? "AWS::ECS::Container"
                                      : platform == "aws_eks" ? "AWS::EKS::Container"
                                      : platform == "aws_elastic_beanstalk"
                                          ? "AWS::ElasticBeanstalk::Environment"
                                          : "";
      if (!origin.empty()) {
        WriteKey(w, "origin");
        WriteString(w, origin);
      }
      if (auto user = FindString(s, "enduser.id"); !user.empty()) {
        WriteKey(w, "user");
        WriteString(w, user);
      }
      if (auto version = FindString(s, "service.version"); !version.empty()) {
        WriteKey(w, "service");
        w.StartObject();
        WriteKey(w, "version");
        WriteString(w, version);
        w.EndObject();
      }
    }
    Http(w, s);
    if (s.status_flags & model::kStatusError) {
      WriteKey(w, "error");
      w.Bool(true);
    }
    if (s.status_flags & model::kStatusThrottle) {
      WriteKey(w, "throttle");
      w.Bool(true);
    }
    if (s.status_flags & model::kStatusFault) {
      WriteKey(w, "fault");
      w.Bool(true);
    }
    Aws(w, s, segment, aws_call);
    Sql(w, s);
    Cause(w, s, outgoing, lean);
    Annotations(w, s);
    if (!lean) Metadata(w, s, segment);
    if (embed && !children_[i].empty()) {
      WriteKey(w, "subsegments");
      w.StartArray();
      for (size_t c : children_[i]) Entity(w, c, /*document=*/false, /*embed=*/true, lean);
      w.EndArray();
    }
    w.EndObject();
  }

  static void Http(JsonWriter& w, const Span& s) {
    const AttributeValue* length = FindInt(s, "http.response.body.size");
    const bool request = !s.http_method.empty() || !s.http_url.empty() || !s.client_ip.empty() ||
                         !s.user_agent.empty();
    const bool response = s.http_status > 0 || length != nullptr;
    if (!request && !response) return;
    WriteKey(w, "http");
    w.StartObject();
    if (request) {
      WriteKey(w, "request");
      w.StartObject();
      auto field = [&w](std::string_view key, const std::string& value) {
        if (value.empty()) return;
        WriteKey(w, key);
        WriteString(w, value);
      };
      field("method", s.http_method);
      field("url", s.http_url);
      field("user_agent", s.user_agent);
      field("client_ip", s.client_ip);
      w.EndObject();
    }
    if (response) {
      WriteKey(w, "response");
      w.StartObject();
      if (s.http_status > 0) {
        WriteKey(w, "status");
        w.Int(s.http_status);
      }
      if (length) {
        WriteKey(w, "content_length");
        w.Int64(length->int_value);
      }
      w.EndObject();
    }
    w.EndObject();
  }

  static void Aws(JsonWriter& w, const Span& s, bool segment, bool aws_call) {
    if (segment) {
      // The SDK that reported the segment: "X-Ray for Python", or "<name> for <language>".
      std::string sdk(FindString(s, "telemetry.sdk.name"));
      const std::string_view language = FindString(s, "telemetry.sdk.language");
      if (sdk.empty()) return;
      if (sdk.find(" for ") == std::string::npos && !language.empty()) {
        sdk.append(" for ").append(language);
      }
      WriteKey(w, "aws");
      w.StartObject();
      WriteKey(w, "xray");
      w.StartObject();
      WriteKey(w, "sdk");
      WriteString(w, sdk);
      if (auto version = FindString(s, "telemetry.sdk.version"); !version.empty()) {
        WriteKey(w, "sdk_version");
        WriteString(w, version);
      }
      w.EndObject();
      w.EndObject();
      return;
    }
    if (!aws_call) return;
    WriteKey(w, "aws");
    w.StartObject();
    static constexpr std::pair<std::string_view, std::string_view> kFields[] = {
        {"aws.operation", "operation"},
        {"aws.region", "region"},
        {"aws.request_id", "request_id"},
        {"aws.table_name", "table_name"}};
    for (const auto& [key, field] : kFields) {
      if (auto v = FindString(s, key); !v.empty()) {
        WriteKey(w, field);
        WriteString(w, v);
      }
    }
    w.EndObject();
  }

  static void Sql(JsonWriter& w, const Span& s) {
    if (!IsSqlSystem(s.db_system)) return;
    WriteKey(w, "sql");
    w.StartObject();
    std::string url = s.db_system + "://";
    url.append(FindString(s, "server.address"));
    if (const AttributeValue* port = FindInt(s, "server.port")) {
      url.append(":").append(std::to_string(port->int_value));
    }
    url.append("/").append(FindString(s, "db.name"));
    WriteKey(w, "url");
    WriteString(w, url);
    WriteKey(w, "database_type");
    WriteString(w, s.db_system);
    if (auto query = FindString(s, "db.statement"); !query.empty()) {
      WriteKey(w, "sanitized_query");
      WriteString(w, query);
    }
    if (auto user = FindString(s, "db.user"); !user.empty()) {
      WriteKey(w, "user");
      WriteString(w, user);
    }
    w.EndObject();
  }

  static void Cause(JsonWriter& w, const Span& s, bool outgoing, bool lean) {
    size_t n = 0;
    for (const model::SpanEvent& e : s.events) n += e.name == "exception";
    if (n == 0) return;
    WriteKey(w, "cause");
    w.StartObject();
    WriteKey(w, "exceptions");
    w.StartArray();
    uint64_t k = 0;
    for (const model::SpanEvent& e : s.events) {
      if (e.name != "exception") continue;
      auto attr = [&e](std::string_view key) -> std::string_view {
        const Attribute* a = model::FindAttribute(e.attributes, key);
        return a && a->value.type == AttributeValue::Type::kString
                   ? std::string_view(a->value.string_value)
                   : std::string_view();
      };
      w.StartObject();
      WriteKey(w, "id");
      // Stable for the span and the exception's place in it.
      model::SpanId id{Mix64(s.span_id.value ^ (++k * kGoldenGamma))};
      WriteString(w, id.ToHex());
      if (auto type = attr("exception.type"); !type.empty()) {
        WriteKey(w, "type");
        WriteString(w, type);
      }
      if (auto message = attr("exception.message"); !message.empty()) {
        WriteKey(w, "message");
        WriteString(w, message);
      }
      if (outgoing) {
        WriteKey(w, "remote");
        w.Bool(true);
      }
      if (!lean) {
        std::vector<StackFrame> frames = ParseStack(attr("exception.stacktrace"));
        if (!frames.empty()) {
          WriteKey(w, "stack");
          w.StartArray();
          for (const StackFrame& f : frames) {
            w.StartObject();
            WriteKey(w, "path");
            WriteString(w, f.path);
            WriteKey(w, "line");
            w.Int64(f.line);
            WriteKey(w, "label");
            WriteString(w, f.label);
            w.EndObject();
          }
          w.EndArray();
        }
      }
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }

  static void Annotations(JsonWriter& w, const Span& s) {
    bool open = false;
    for (const Attribute& a : s.attributes) {
      if (a.role != AttributeRole::kAnnotation) continue;
      const auto type = a.value.type;
      if (type == AttributeValue::Type::kJson || type == AttributeValue::Type::kBytes) continue;
      if (type == AttributeValue::Type::kDouble && !std::isfinite(a.value.double_value)) continue;
      if (!open) {
        WriteKey(w, "annotations");
        w.StartObject();
        open = true;
      }
      WriteKey(w, AnnotationKey(a.key));
      WriteAttributeValue(w, a.value);
    }
    if (open) w.EndObject();
  }

  // metadata.default: every attribute the document's fields do not carry (resource attributes
  // on segments only, as otel.resource.<key>); aws.xray.metadata.<ns> attributes (JSON, role
  // kMetadata) as namespaces of their own.
  static void Metadata(JsonWriter& w, const Span& s, bool segment) {
    constexpr std::string_view kNamespacePrefix = "aws.xray.metadata.";
    bool open = false, in_default = false;
    auto begin = [&] {
      if (open) return;
      WriteKey(w, "metadata");
      w.StartObject();
      open = true;
    };
    for (const Attribute& a : s.attributes) {
      if (a.role == AttributeRole::kAnnotation || Consumed(a.key)) continue;
      if (a.role == AttributeRole::kResource && !segment) continue;
      if (a.role == AttributeRole::kMetadata && a.key.starts_with(kNamespacePrefix) &&
          a.value.type == AttributeValue::Type::kJson && a.key != "aws.xray.metadata.default") {
        continue;  // written below, after default
      }
      begin();
      if (!in_default) {
        WriteKey(w, "default");
        w.StartObject();
        in_default = true;
      }
      if (a.role == AttributeRole::kResource) {
        WriteKey(w, "otel.resource." + a.key);
      } else {
        WriteKey(w, a.key);
      }
      WriteAttributeValue(w, a.value);
    }
    if (in_default) w.EndObject();
    for (const Attribute& a : s.attributes) {
      if (a.role != AttributeRole::kMetadata || !a.key.starts_with(kNamespacePrefix) ||
          a.value.type != AttributeValue::Type::kJson || a.key == "aws.xray.metadata.default") {
        continue;
      }
      begin();
      WriteKey(w, std::string_view(a.key).substr(kNamespacePrefix.size()));
      WriteAttributeValue(w, a.value);
    }
    if (open) w.EndObject();
  }

  const std::vector<Span>& spans_;
  std::vector<std::vector<size_t>> children_;
  std::vector<size_t> tops_;
  std::vector<std::string> out_;
};

// ---------------------------------------------------------------------------------------------
// OTLP protobuf (spec/otlp.md §5.1-5.3).

using codec::otlp::wire::kFixed32;
using codec::otlp::wire::kFixed64;
using codec::otlp::wire::kVarint;
using codec::otlp::wire::PutBytes;
using codec::otlp::wire::PutFixed32;
using codec::otlp::wire::PutFixed64;
using codec::otlp::wire::PutTag;
using codec::otlp::wire::PutVarint;

void PutFixed64Field(std::string* out, uint32_t field, uint64_t v) {
  PutTag(out, field, kFixed64);
  PutFixed64(out, v);
}
void PutVarintField(std::string* out, uint32_t field, uint64_t v) {
  PutTag(out, field, kVarint);
  PutVarint(out, v);
}

std::string_view SpanIdBytes(model::SpanId id, char (&buf)[8]) {
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>(id.value >> (56 - 8 * i));
  return std::string_view(buf, 8);
}

// AnyValue {string 1, bool 2, int 3, double 4, bytes 7}; JSON text goes as a string.
void PutAnyValue(std::string* out, const AttributeValue& v) {
  switch (v.type) {
    case AttributeValue::Type::kString:
    case AttributeValue::Type::kJson:
      PutBytes(out, 1, v.string_value);
      break;
    case AttributeValue::Type::kBool:
      PutVarintField(out, 2, v.int_value != 0 ? 1 : 0);
      break;
    case AttributeValue::Type::kInt:
      PutVarintField(out, 3, static_cast<uint64_t>(v.int_value));
      break;
    case AttributeValue::Type::kDouble: {
      uint64_t bits;
      std::memcpy(&bits, &v.double_value, 8);
      PutFixed64Field(out, 4, bits);
      break;
    }
    case AttributeValue::Type::kBytes:
      PutBytes(out, 7, v.string_value);
      break;
  }
}

// KeyValue {string key = 1; AnyValue value = 2} as field `field` of `out`.
void PutKeyValue(std::string* out, uint32_t field, const Attribute& a, std::string* scratch) {
  std::string value;
  PutAnyValue(&value, a.value);
  scratch->clear();
  PutBytes(scratch, 1, a.key);
  PutBytes(scratch, 2, value);
  PutBytes(out, field, *scratch);
}

bool SameAttributes(const std::vector<const Attribute*>& a,
                    const std::vector<const Attribute*>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const Attribute* x, const Attribute* y) { return *x == *y; });
}

// Span {trace_id 1, span_id 2, trace_state 3, parent_span_id 4, name 5, kind 6, start 7, end 8,
// attributes 9, events 11, links 13, status 15, flags 16}.
void PutSpan(std::string* out, const Span& s, std::string* scratch) {
  std::string span;
  char id[8];
  PutBytes(&span, 1, std::string_view(reinterpret_cast<const char*>(s.trace_id.bytes.data()), 16));
  PutBytes(&span, 2, SpanIdBytes(s.span_id, id));
  if (!s.trace_state.empty()) PutBytes(&span, 3, s.trace_state);
  if (!s.parent_span_id.IsZero()) PutBytes(&span, 4, SpanIdBytes(s.parent_span_id, id));
  if (!s.name.empty()) PutBytes(&span, 5, s.name);
  if (s.kind != SpanKind::kUnspecified) PutVarintField(&span, 6, static_cast<uint64_t>(s.kind));
  PutFixed64Field(&span, 7, static_cast<uint64_t>(s.start_ns));
  if (!s.in_progress) PutFixed64Field(&span, 8, static_cast<uint64_t>(s.end_ns));
  for (const Attribute& a : s.attributes) {
    if (a.role == AttributeRole::kResource || a.role == AttributeRole::kScope) continue;
    PutKeyValue(&span, 9, a, scratch);
  }
  for (const model::SpanEvent& e : s.events) {
    std::string event;  // Event {time 1, name 2, attributes 3}
    PutFixed64Field(&event, 1, static_cast<uint64_t>(e.time_ns));
    if (!e.name.empty()) PutBytes(&event, 2, e.name);
    for (const Attribute& a : e.attributes) PutKeyValue(&event, 3, a, scratch);
    PutBytes(&span, 11, event);
  }
  for (const model::SpanLink& l : s.links) {
    std::string link;  // Link {trace_id 1, span_id 2, trace_state 3, attributes 4}
    PutBytes(&link, 1,
             std::string_view(reinterpret_cast<const char*>(l.trace_id.bytes.data()), 16));
    PutBytes(&link, 2, SpanIdBytes(l.span_id, id));
    if (!l.trace_state.empty()) PutBytes(&link, 3, l.trace_state);
    for (const Attribute& a : l.attributes) PutKeyValue(&link, 4, a, scratch);
    PutBytes(&span, 13, link);
  }
  if (s.otel_status != 0 || !s.status_message.empty()) {
    std::string status;  // Status {message 2, code 3}
    if (!s.status_message.empty()) PutBytes(&status, 2, s.status_message);
    if (s.otel_status != 0) PutVarintField(&status, 3, s.otel_status);
    PutBytes(&span, 15, status);
  }
  if (s.flags != 0) {
    PutTag(&span, 16, kFixed32);
    PutFixed32(&span, s.flags);
  }
  PutBytes(out, 2, span);  // ScopeSpans.spans
}

}  // namespace

std::vector<std::string> ToXRayDatagrams(const std::vector<Span>& spans) {
  return XRayRenderer(spans).Run();
}

std::string ToOtlpProtobuf(const std::vector<Span>& spans) {
  struct ScopeGroup {
    const Span* first;  // name, version and scope attributes come from here
    std::vector<const Attribute*> attributes;
    std::string spans;  // encoded ScopeSpans.spans fields
  };
  struct ResourceGroup {
    std::string_view service;
    std::vector<const Attribute*> attributes;
    bool add_service_name;
    std::vector<ScopeGroup> scopes;
  };
  std::vector<ResourceGroup> groups;
  std::vector<const Attribute*> resource, scope;
  std::string scratch;
  size_t last = 0;
  for (const Span& s : spans) {
    resource.clear();
    scope.clear();
    bool has_name = false;
    for (const Attribute& a : s.attributes) {
      if (a.role == AttributeRole::kResource) {
        resource.push_back(&a);
        has_name = has_name || a.key == "service.name";
      } else if (a.role == AttributeRole::kScope) {
        scope.push_back(&a);
      }
    }
    auto same_resource = [&](const ResourceGroup& g) {
      return g.service == s.service && SameAttributes(g.attributes, resource);
    };
    if (last >= groups.size() || !same_resource(groups[last])) {
      last = static_cast<size_t>(std::find_if(groups.begin(), groups.end(), same_resource) -
                                 groups.begin());
      if (last == groups.size()) {
        groups.push_back({s.service, resource, !has_name && !s.service.empty(), {}});
      }
    }
    ResourceGroup& g = groups[last];
    auto same_scope = [&](const ScopeGroup& sg) {
      return sg.first->scope_name == s.scope_name && sg.first->scope_version == s.scope_version &&
             SameAttributes(sg.attributes, scope);
    };
    auto it = std::find_if(g.scopes.begin(), g.scopes.end(), same_scope);
    if (it == g.scopes.end()) {
      g.scopes.push_back({&s, scope, {}});
      it = g.scopes.end() - 1;
    }
    PutSpan(&it->spans, s, &scratch);
  }

  std::string request;
  for (const ResourceGroup& g : groups) {
    std::string resource_spans, res;  // ResourceSpans {resource 1, scope_spans 2}
    if (g.add_service_name) {
      const Attribute name{"service.name", AttributeValue::String(std::string(g.service)),
                           AttributeRole::kResource};
      PutKeyValue(&res, 1, name, &scratch);
    }
    for (const Attribute* a : g.attributes) PutKeyValue(&res, 1, *a, &scratch);
    PutBytes(&resource_spans, 1, res);
    for (const ScopeGroup& sg : g.scopes) {
      std::string scope_spans, sc;  // ScopeSpans {scope 1, spans 2}; scope {name 1, version 2,
                                    // attributes 3}
      if (!sg.first->scope_name.empty()) PutBytes(&sc, 1, sg.first->scope_name);
      if (!sg.first->scope_version.empty()) PutBytes(&sc, 2, sg.first->scope_version);
      for (const Attribute* a : sg.attributes) PutKeyValue(&sc, 3, *a, &scratch);
      PutBytes(&scope_spans, 1, sc);
      scope_spans.append(sg.spans);
      PutBytes(&resource_spans, 2, scope_spans);
    }
    PutBytes(&request, 1, resource_spans);
  }
  return request;
}

}  // namespace waggle::workload
