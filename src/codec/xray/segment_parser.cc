#include "codec/xray/segment_parser.h"

#include <simdjson.h>

#include <cmath>
#include <cstring>
#include <string>

#include "base/ascii.h"
#include "codec/json_repair.h"

namespace waggle::codec::xray {
namespace {

// The AWS service an `aws` subsegment calls, by the name X-Ray's service graph gives it
// (spec/xray.md §7.3): the table, queue when the call names one, else the service
// spelled canonically (Python names subsegments by botocore's lowercase endpoint prefix).
std::string AwsPeer(const model::Span& span) {
  auto attr = [&](std::string_view key) { return model::FindString(span.attributes, key); };
  if (std::string_view table = attr("aws.table_name"); !table.empty()) return std::string(table);
  if (std::string_view queue = attr("aws.queue_url"); !queue.empty()) {
    while (!queue.empty() && queue.back() == '/') queue.remove_suffix(1);
    return std::string(queue.substr(queue.rfind('/') + 1));
  }
  static constexpr std::pair<std::string_view, std::string_view> kCanonical[] = {
      {"dynamodb", "DynamoDB"},
      {"sns", "SNS"},
      {"sqs", "SQS"},
      {"s3", "S3"},
      {"lambda", "Lambda"},
      {"kinesis", "Kinesis"},
      {"ec2", "EC2"},
      {"sts", "STS"},
      {"cognito-idp", "CognitoIdentityProvider"},
      {"secretsmanager", "SecretsManager"},
      {"ssm", "SSM"},
      {"states", "SFN"},
      {"events", "EventBridge"},
      {"firehose", "Firehose"},
      {"kms", "KMS"},
  };
  const std::string lower = AsciiLower(span.name);
  for (const auto& [prefix, canonical] : kCanonical) {
    if (lower == prefix) return std::string(canonical);
  }
  return span.name;
}

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

// Times outside [2000-01-01, 2200-01-01) are "absurd" and rejected.
constexpr double kMinEpochSeconds = 946684800.0;
constexpr double kMaxEpochSeconds = 7258118400.0;
// Deepest subsegment nesting accepted; deeper documents are rejected, not recursed into.
constexpr int kMaxDepth = 64;

bool IsNameByte(unsigned char c) {
  if (c >= 0x80) return true;  // part of a UTF-8 sequence: letters of other scripts
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case ' ':
    case '\t':
    case '\n':
    case '\r':
    case '_':
    case '.':
    case ':':
    case '/':
    case '%':
    case '&':
    case '#':
    case '=':
    case '+':
    case '\\':
    case '-':
    case '@':
      return true;
    default:
      return false;
  }
}

// Microsecond-exact nanoseconds: t * 1e6 stays below 2^53 for any valid time.
int64_t SecondsToNanos(double t) { return std::llround(t * 1e6) * 1000; }

std::string_view GetString(const object& obj, std::string_view key) {
  std::string_view s;
  if (obj[key].get(s) != simdjson::SUCCESS) return {};
  return s;
}

bool GetBool(const object& obj, std::string_view key) {
  bool b = false;
  if (obj[key].get(b) != simdjson::SUCCESS) return false;
  return b;
}

void AddString(model::Attributes* attrs, std::string_view key, std::string_view value) {
  if (!value.empty()) attrs->push_back({key, model::AttributeValue::String(value), {}});
}

// Scalar JSON -> attribute value; false for arrays, objects and null.
bool ScalarValue(const element& e, model::AttributeValue* out) {
  switch (e.type()) {
    case simdjson::dom::element_type::STRING:
      *out = model::AttributeValue::String(e.get_string().value_unsafe());
      return true;
    case simdjson::dom::element_type::INT64:
      *out = model::AttributeValue::Int(e.get_int64().value_unsafe());
      return true;
    case simdjson::dom::element_type::UINT64:
      *out = model::AttributeValue::Double(static_cast<double>(e.get_uint64().value_unsafe()));
      return true;
    case simdjson::dom::element_type::DOUBLE:
      *out = model::AttributeValue::Double(e.get_double().value_unsafe());
      return true;
    case simdjson::dom::element_type::BOOL:
      *out = model::AttributeValue::Bool(e.get_bool().value_unsafe());
      return true;
    default:
      return false;
  }
}

class Decoder {
 public:
  Decoder(std::string_view environment, model::SpanBatch* batch, SegmentError* error)
      : environment_(environment), batch_(batch), error_(error) {}

  bool DecodeDocument(const element& root, std::string_view json) {
    object doc;
    if (root.get(doc) != simdjson::SUCCESS) {
      // X-Ray answers MissingId for a JSON array or scalar.
      return Fail("MissingId", "segment document is not a JSON object");
    }
    std::string_view id_text;
    if (doc["id"].get(id_text) == simdjson::SUCCESS) error_->id = std::string(id_text);

    const bool independent = GetString(doc, "type") == "subsegment";
    model::TraceId trace_id;
    std::string_view trace_text;
    if (doc["trace_id"].get(trace_text) != simdjson::SUCCESS) {
      return Fail("MissingTraceId", "trace_id is missing or not a string");
    }
    if (!model::TraceId::ParseXRay(trace_text, &trace_id)) {
      return Fail("InvalidTraceId",
                  "trace_id is not of the form 1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx");
    }
    model::SpanId parent;
    std::string_view parent_text = GetString(doc, "parent_id");
    if (!parent_text.empty() && !model::SpanId::ParseHex(parent_text, &parent)) {
      return Fail("InvalidParentId", "parent_id is not 16 hex digits");
    }
    if (independent && parent.IsZero()) {
      return Fail("MissingParentId", "a subsegment sent on its own needs parent_id");
    }
    subsegment_doc_ = independent;
    const size_t first_span = batch_->spans.size();
    if (!DecodeEntity(doc, trace_id, parent, /*top=*/true, /*service=*/{}, 0)) {
      batch_->spans.resize(first_span);
      return false;
    }
    const model::Span& top = batch_->spans[first_span];
    model::Document d;
    d.trace_id = trace_id;
    d.id = top.span_id;
    d.parent_id = parent;
    d.in_progress = top.in_progress;
    d.subsegment = independent;
    d.environment.assign(environment_);
    d.json.assign(json);
    batch_->documents.push_back(std::move(d));
    return true;
  }

 private:
  bool Fail(std::string_view code, std::string_view cause) {
    error_->error_code = std::string(code);
    error_->message =
        std::string(in_subsegment_ || subsegment_doc_ ? "Invalid subsegment" : "Invalid segment");
    error_->message += ". ErrorCode: ";
    error_->message += code;
    error_->message += ", Cause: ";
    error_->message += cause;
    return false;
  }

  // The fields of a (sub)segment object, found in one pass over its keys.
  enum Field : int {
    kId,
    kName,
    kStartTime,
    kEndTime,
    kInProgress,
    kNamespace,
    kHttp,
    kError,
    kFault,
    kThrottle,
    kOrigin,
    kUser,
    kResourceArn,
    kTraced,
    kService,
    kAws,
    kSql,
    kAnnotations,
    kMetadata,
    kCause,
    kLinks,
    kSubsegments,
    kParentId,
    kFieldCount,
    kOther = -1
  };

  static int FieldOf(std::string_view k) {
    switch (k.size()) {
      case 2:
        return k == "id" ? kId : kOther;
      case 3:
        return k == "aws" ? kAws : k == "sql" ? kSql : kOther;
      case 4:
        return k == "name" ? kName : k == "http" ? kHttp : k == "user" ? kUser : kOther;
      case 5:
        return k == "error"   ? kError
               : k == "fault" ? kFault
               : k == "cause" ? kCause
               : k == "links" ? kLinks
                              : kOther;
      case 6:
        return k == "origin" ? kOrigin : k == "traced" ? kTraced : kOther;
      case 7:
        return k == "service" ? kService : kOther;
      case 8:
        return k == "end_time"   ? kEndTime
               : k == "throttle" ? kThrottle
               : k == "metadata" ? kMetadata
                                 : kOther;
      case 9:
        return k == "namespace" ? kNamespace : k == "parent_id" ? kParentId : kOther;
      case 10:
        return k == "start_time" ? kStartTime : kOther;
      case 11:
        return k == "in_progress"   ? kInProgress
               : k == "annotations" ? kAnnotations
               : k == "subsegments" ? kSubsegments
                                    : kOther;
      case 12:
        return k == "resource_arn" ? kResourceArn : kOther;
      default:
        return kOther;
    }
  }

  struct Fields {
    element at[kFieldCount];
    uint32_t present = 0;
    bool has(Field f) const { return present & (1u << f); }
    std::string_view str(Field f) const {
      std::string_view v;
      return has(f) && at[f].get(v) == simdjson::SUCCESS ? v : std::string_view();
    }
    bool flag(Field f) const {
      bool b = false;
      return has(f) && at[f].get(b) == simdjson::SUCCESS && b;
    }
  };

  // Decodes a segment or subsegment object into a span, then its embedded subsegments.
  bool DecodeEntity(const object& obj, const model::TraceId& trace_id, model::SpanId parent,
                    bool top, std::string_view service, int depth) {
    if (depth > kMaxDepth) return Fail("InvalidSegment", "subsegments nested too deeply");
    in_subsegment_ = !top || subsegment_doc_;
    Fields f;
    for (auto field : obj) {
      int i = FieldOf(field.key);
      if (i == kOther) continue;
      f.at[i] = field.value;
      f.present |= 1u << i;
    }

    model::SpanId span_id;
    std::string_view id_text;
    if (!f.has(kId) || f.at[kId].get(id_text) != simdjson::SUCCESS) {
      return Fail("MissingId", "id is missing");
    }
    if (!model::SpanId::ParseHex(id_text, &span_id) || span_id.IsZero()) {
      return Fail("InvalidId", "id is not 16 hex digits");
    }
    std::string_view name;
    if (!f.has(kName) || f.at[kName].get(name) != simdjson::SUCCESS) {
      return Fail("MissingName", "name is missing");
    }
    if (!IsValidSegmentName(name)) {
      return Fail("InvalidName",
                  "name is empty, longer than 200 characters or has a character "
                  "outside letters, digits, whitespace and _ . : / % & # = + \\ - @");
    }
    double start = 0;
    if (!f.has(kStartTime) || f.at[kStartTime].get(start) != simdjson::SUCCESS) {
      return Fail("MissingStartTime", "start_time is missing or not a number");
    }
    if (!(start >= kMinEpochSeconds && start < kMaxEpochSeconds)) {
      return Fail("InvalidStartTime", "start_time is not epoch seconds between 2000 and 2200");
    }
    const bool in_progress = f.flag(kInProgress);
    double end = 0;
    if (f.has(kEndTime)) {
      if (f.at[kEndTime].get(end) != simdjson::SUCCESS) {
        return Fail("InvalidEndTime", "end_time is not a number");
      }
      if (!(end >= kMinEpochSeconds && end < kMaxEpochSeconds)) {
        return Fail("InvalidEndTime", "end_time is not epoch seconds between 2000 and 2200");
      }
      if (end < start) return Fail("InvalidEndTime", "end_time is before start_time");
    } else if (!in_progress) {
      return Fail("MissingEndTime", "neither end_time nor in_progress:true is set");
    }

    // Validated: build the span in place (no reference to it is kept past the children).
    const size_t index = batch_->spans.size();
    model::Span& span = batch_->spans.emplace_back();
    span.from_xray_document = true;
    span.trace_id = trace_id;
    span.span_id = span_id;
    span.parent_span_id = parent;
    span.environment.assign(environment_);
    span.name.assign(name);
    span.start_ns = SecondsToNanos(start);
    span.in_progress = in_progress;
    if (f.has(kEndTime) && !in_progress) span.end_ns = SecondsToNanos(end);
    span.attributes.reserve(8);

    // A top-level segment names the service; subsegments inherit it. An independent
    // subsegment's service is found when its trace is assembled.
    span.service.assign(top && !subsegment_doc_ ? name : service);
    std::string_view ns = f.str(kNamespace);
    if (top && !subsegment_doc_) {
      span.kind = model::SpanKind::kServer;
    } else if (ns == "remote" || ns == "aws") {
      // Python also writes "local" for its own custom subsegments: those stay internal.
      span.kind = model::SpanKind::kClient;
      span.peer.assign(name);
    } else {
      span.kind = model::SpanKind::kInternal;
    }

    if (f.has(kHttp)) DecodeHttp(f.at[kHttp], &span);
    if (f.flag(kError)) span.status_flags |= model::kStatusError;
    if (f.flag(kFault)) span.status_flags |= model::kStatusFault;
    if (f.flag(kThrottle)) span.status_flags |= model::kStatusThrottle;
    if (span.status_flags == 0 && span.http_status > 0) {
      if (span.http_status >= 500)
        span.status_flags = model::kStatusFault;
      else if (span.http_status == 429)
        span.status_flags = model::kStatusThrottle | model::kStatusError;
      else if (span.http_status >= 400)
        span.status_flags = model::kStatusError;
    }
    if (span.kind == model::SpanKind::kInternal && !span.client_ip.empty()) {
      span.kind = model::SpanKind::kServer;
    }

    model::Attributes& attrs = span.attributes;
    AddString(&attrs, "aws.xray.namespace", ns);
    AddString(&attrs, "aws.xray.origin", f.str(kOrigin));
    AddString(&attrs, "enduser.id", f.str(kUser));
    AddString(&attrs, "aws.xray.resource_arn", f.str(kResourceArn));
    if (f.flag(kTraced)) {
      attrs.push_back({"aws.xray.traced", model::AttributeValue::Bool(true), {}});
    }
    object service_obj;
    if (f.has(kService) && f.at[kService].get(service_obj) == simdjson::SUCCESS) {
      AddString(&attrs, "service.version", GetString(service_obj, "version"));
    }
    if (f.has(kAws)) DecodeAws(f.at[kAws], &span);
    if (ns == "aws") span.peer = AwsPeer(span);
    if (f.has(kSql)) DecodeSql(f.at[kSql], &span);
    if (f.has(kAnnotations)) DecodeAnnotations(f.at[kAnnotations], &span);
    if (f.has(kMetadata)) DecodeMetadata(f.at[kMetadata], &span);
    if (f.has(kCause)) DecodeCause(f.at[kCause], &span);
    if (f.has(kLinks)) DecodeLinks(f.at[kLinks], &span);

    array children;
    if (!f.has(kSubsegments) || f.at[kSubsegments].get(children) != simdjson::SUCCESS) return true;
    const model::SpanId self = span_id;
    const std::string service_for_children(batch_->spans[index].service);
    for (element child : children) {
      object child_obj;
      if (child.get(child_obj) != simdjson::SUCCESS) {
        in_subsegment_ = true;
        return Fail("InvalidSegment", "an element of subsegments is not an object");
      }
      // Embedded subsegments (Python SDK) may repeat parent_id; it must name this entity.
      std::string_view child_parent = GetString(child_obj, "parent_id");
      model::SpanId p;
      if (!child_parent.empty() && (!model::SpanId::ParseHex(child_parent, &p) || p != self)) {
        in_subsegment_ = true;
        return Fail("InvalidParentId", "an embedded subsegment's parent_id is not its parent's id");
      }
      if (!DecodeEntity(child_obj, trace_id, self, /*top=*/false, service_for_children,
                        depth + 1)) {
        return false;
      }
    }
    return true;
  }

  void DecodeHttp(const element& e, model::Span* span) {
    object http;
    if (e.get(http) != simdjson::SUCCESS) return;
    object req;
    if (http["request"].get(req) == simdjson::SUCCESS) {
      span->http_method.assign(GetString(req, "method"));
      span->http_url.assign(GetString(req, "url"));
      span->user_agent.assign(GetString(req, "user_agent"));
      span->client_ip.assign(GetString(req, "client_ip"));
      if (GetBool(req, "x_forwarded_for")) {
        span->attributes.push_back(
            {"aws.xray.x_forwarded_for", model::AttributeValue::Bool(true), {}});
      }
      if (GetBool(req, "traced")) {
        span->attributes.push_back({"aws.xray.traced", model::AttributeValue::Bool(true), {}});
      }
    }
    object resp;
    if (http["response"].get(resp) == simdjson::SUCCESS) {
      int64_t status = 0;
      if (resp["status"].get(status) == simdjson::SUCCESS && status > 0 && status < 1000) {
        span->http_status = static_cast<int32_t>(status);
      }
      int64_t length = 0;
      if (resp["content_length"].get(length) == simdjson::SUCCESS) {
        span->attributes.push_back(
            {"http.response_content_length", model::AttributeValue::Int(length), {}});
      }
    }
  }

  void DecodeAws(const element& e, model::Span* span) {
    object aws;
    if (e.get(aws) != simdjson::SUCCESS) return;
    model::Attributes& attrs = span->attributes;
    AddString(&attrs, "cloud.account.id", GetString(aws, "account_id"));
    AddString(&attrs, "aws.operation", GetString(aws, "operation"));
    AddString(&attrs, "aws.region", GetString(aws, "region"));
    AddString(&attrs, "aws.request_id", GetString(aws, "request_id"));
    AddString(&attrs, "aws.queue_url", GetString(aws, "queue_url"));
    AddString(&attrs, "aws.table_name", GetString(aws, "table_name"));
    object ec2;
    if (aws["ec2"].get(ec2) == simdjson::SUCCESS) {
      AddString(&attrs, "host.id", GetString(ec2, "instance_id"));
      AddString(&attrs, "cloud.availability_zone", GetString(ec2, "availability_zone"));
    }
    object ecs;
    if (aws["ecs"].get(ecs) == simdjson::SUCCESS) {
      AddString(&attrs, "container.name", GetString(ecs, "container"));
      AddString(&attrs, "container.id", GetString(ecs, "container_id"));
      if (!model::FindAttribute(attrs, "cloud.availability_zone")) {
        AddString(&attrs, "cloud.availability_zone", GetString(ecs, "availability_zone"));
      }
    }
    object xray;
    if (aws["xray"].get(xray) == simdjson::SUCCESS) {
      AddString(&attrs, "telemetry.sdk.name", GetString(xray, "sdk"));
      AddString(&attrs, "telemetry.sdk.version", GetString(xray, "sdk_version"));
      AddString(&attrs, "aws.xray.sampling_rule_name", GetString(xray, "sampling_rule_name"));
    }
  }

  void DecodeSql(const element& e, model::Span* span) {
    object sql;
    if (e.get(sql) != simdjson::SUCCESS) return;
    span->db_system.assign(GetString(sql, "database_type"));
    model::Attributes& attrs = span->attributes;
    AddString(&attrs, "db.statement", GetString(sql, "sanitized_query"));
    AddString(&attrs, "db.user", GetString(sql, "user"));
    AddString(&attrs, "db.connection_string", GetString(sql, "url"));
  }

  void DecodeAnnotations(const element& e, model::Span* span) {
    object annotations;
    if (e.get(annotations) != simdjson::SUCCESS) return;
    for (auto field : annotations) {
      model::AttributeValue v;
      if (!ScalarValue(field.value, &v)) continue;  // only string/number/bool are annotations
      span->attributes.push_back(
          {std::string(field.key), std::move(v), model::AttributeRole::kAnnotation});
    }
  }

  void DecodeMetadata(const element& e, model::Span* span) {
    object metadata;
    if (e.get(metadata) != simdjson::SUCCESS) return;
    for (auto field : metadata) {
      std::string key = "aws.xray.metadata.";
      key += field.key;
      span->attributes.push_back({std::move(key),
                                  model::AttributeValue::Json(simdjson::minify(field.value)),
                                  model::AttributeRole::kMetadata});
    }
  }

  void DecodeCause(const element& cause, model::Span* span) {
    std::string_view cause_id;
    if (cause.get(cause_id) == simdjson::SUCCESS) {
      // The exception is recorded elsewhere in the trace under this id.
      span->status_message = "exception ";
      span->status_message += cause_id;
      return;
    }
    object cause_obj;
    if (cause.get(cause_obj) != simdjson::SUCCESS) return;
    array exceptions;
    if (cause_obj["exceptions"].get(exceptions) != simdjson::SUCCESS) return;
    for (element e : exceptions) {
      object ex;
      if (e.get(ex) != simdjson::SUCCESS) continue;
      model::SpanEvent event;
      event.time_ns = span->in_progress ? span->start_ns : span->end_ns;
      event.name = "exception";
      model::Attributes& a = event.attributes;
      AddString(&a, "exception.type", GetString(ex, "type"));
      AddString(&a, "exception.message", GetString(ex, "message"));
      AddString(&a, "aws.xray.exception.id", GetString(ex, "id"));
      if (GetBool(ex, "remote"))
        a.push_back({"aws.xray.exception.remote", model::AttributeValue::Bool(true), {}});
      array stack;
      if (ex["stack"].get(stack) == simdjson::SUCCESS) {
        std::string trace;
        trace.append(GetString(ex, "type")).append(": ").append(GetString(ex, "message"));
        for (element f : stack) {
          object frame;
          if (f.get(frame) != simdjson::SUCCESS) continue;
          int64_t line = 0;
          (void)frame["line"].get(line);
          trace.append("\n\tat ").append(GetString(frame, "label")).append("(");
          trace.append(GetString(frame, "path"))
              .append(": ")
              .append(std::to_string(line))
              .append(")");
        }
        a.push_back({"exception.stacktrace", model::AttributeValue::String(std::move(trace)), {}});
      }
      if (span->status_message.empty()) span->status_message.assign(GetString(ex, "message"));
      span->events.push_back(std::move(event));
    }
  }

  void DecodeLinks(const element& e, model::Span* span) {
    array links;
    if (e.get(links) != simdjson::SUCCESS) return;
    for (element e : links) {
      object l;
      if (e.get(l) != simdjson::SUCCESS) continue;
      model::SpanLink link;
      if (!model::TraceId::Parse(GetString(l, "trace_id"), &link.trace_id)) continue;
      if (!model::SpanId::ParseHex(GetString(l, "id"), &link.span_id)) continue;
      object attrs;
      if (l["attributes"].get(attrs) == simdjson::SUCCESS) {
        for (auto field : attrs) {
          model::AttributeValue v;
          if (ScalarValue(field.value, &v))
            link.attributes.push_back({std::string(field.key), std::move(v), {}});
        }
      }
      span->links.push_back(std::move(link));
    }
  }

  std::string_view environment_;
  model::SpanBatch* batch_;
  SegmentError* error_;
  bool subsegment_doc_ = false;
  bool in_subsegment_ = false;
};

}  // namespace

bool IsValidSegmentName(std::string_view name) {
  if (name.empty()) return false;
  size_t chars = 0;
  for (unsigned char c : name) {
    if (!IsNameByte(c)) return false;
    if ((c & 0xc0) != 0x80) ++chars;  // count code points, not continuation bytes
  }
  return chars <= 200;
}

struct SegmentParser::Impl {
  simdjson::dom::parser parser;
};

SegmentParser::SegmentParser() : impl_(std::make_unique<Impl>()) {}
SegmentParser::~SegmentParser() = default;

bool SegmentParser::Parse(std::string_view json, std::string_view environment,
                          model::SpanBatch* batch, SegmentError* error, uint64_t* text_repairs) {
  *error = SegmentError{};
  Decoder decoder(environment, batch, error);
  auto too_large = [&] {
    error->error_code = "InvalidSegment";
    error->message =
        "Invalid segment. ErrorCode: InvalidSegment, Cause: document larger than 64 KiB";
    return false;
  };
  if (json.size() > kMaxDocumentBytes) return too_large();
  if (batch->spans.empty() && batch->documents.empty()) batch->spans_from_documents = true;
  element root;
  std::string repaired;
  size_t repairs;
  const auto err = ParseRepairing(impl_->parser, json, &root, &repaired, &repairs);
  if (repairs > 0) {
    json = repaired;
    if (json.size() > kMaxDocumentBytes) return too_large();  // U+FFFD takes 3 bytes
  }
  if (err != simdjson::SUCCESS) {
    error->error_code = "InvalidSegment";
    error->message = "Invalid segment. ErrorCode: InvalidSegment, Cause: not valid JSON (";
    error->message += simdjson::error_message(err);
    error->message += ")";
    return false;
  }
  if (!decoder.DecodeDocument(root, json)) return false;
  if (text_repairs != nullptr) *text_repairs += repairs;
  return true;
}

}  // namespace waggle::codec::xray
