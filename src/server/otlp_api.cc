#include "server/otlp_api.h"

#include <optional>

#include "base/ascii.h"
#include "codec/compression.h"
#include "codec/json_writer.h"
#include "codec/msgpack.h"
#include "net/url.h"

namespace waggle::server {
namespace {

using codec::otlp::Encoding;
using codec::otlp::Signal;

// gRPC status codes (grpc/status.h), named here to keep gRPC's headers out of this file.
enum GrpcCode {
  kOk = 0,
  kInvalidArgument = 3,
  kResourceExhausted = 8,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kUnauthenticated = 16,
};

int GrpcCodeOf(const Status& s) {
  switch (s.code()) {
    case Status::Code::kOk:
      return kOk;
    case Status::Code::kInvalidArgument:
      return kInvalidArgument;
    case Status::Code::kUnauthenticated:
      return kUnauthenticated;
    case Status::Code::kResourceExhausted:
      return kResourceExhausted;
    case Status::Code::kUnavailable:
      return kUnavailable;
    case Status::Code::kUnimplemented:
      return kUnimplemented;
    default:
      return kInternal;
  }
}

// The one HTTP status for each outcome (spec/otlp.md §2.6).
int HttpStatusOf(const Status& s) {
  switch (s.code()) {
    case Status::Code::kOk:
      return 200;
    case Status::Code::kInvalidArgument:
      return 400;
    case Status::Code::kUnauthenticated:
      return 401;
    case Status::Code::kResourceExhausted:
      return 413;
    case Status::Code::kUnavailable:
      return 503;
    case Status::Code::kUnimplemented:
      return 404;
    default:
      return 500;
  }
}

std::string_view MediaType(std::string_view content_type) {
  std::string_view t = content_type.substr(0, content_type.find(';'));
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  return t;
}

constexpr const char* kMsgpackType = "application/msgpack";

const char* ContentTypeOf(Encoding e) {
  return e == Encoding::kProtobuf ? "application/x-protobuf" : "application/json";
}

net::HttpResponse StatusResponse(Encoding encoding, const Status& s) {
  net::HttpResponse r;
  r.status = HttpStatusOf(s);
  r.content_type = ContentTypeOf(encoding);
  r.body = codec::otlp::EncodeStatus(encoding, GrpcCodeOf(s), s.message());
  if (r.status == 503 || r.status == 429) r.headers.emplace_back("Retry-After", "1");
  return r;
}

// Honeycomb's error form: {"error": "..."}, as a MessagePack map when the request was one.
net::HttpResponse HoneycombError(int status, std::string_view message, bool msgpack = false) {
  net::HttpResponse r;
  r.status = status;
  if (msgpack) {
    r.content_type = kMsgpackType;
    codec::msgpack::PutMapHeader(&r.body, 1);
    codec::msgpack::PutString(&r.body, "error");
    codec::msgpack::PutString(&r.body, message);
  } else {
    rapidjson::StringBuffer buf;
    codec::JsonWriter w(buf);
    w.StartObject();
    w.Key("error");
    codec::WriteString(w, message);
    w.EndObject();
    r.body.assign(buf.GetString(), buf.GetSize());
  }
  if (status == 503 || status == 429) r.headers.emplace_back("Retry-After", "1");
  return r;
}

// The Honeycomb API's answer to a missing or unknown key (on Honeycomb, both get this text).
net::HttpResponse UnknownKey(bool msgpack = false) {
  return HoneycombError(401, "unknown API key - check your credentials", msgpack);
}

// A request body, decompressed, holding its share of the memory budget while it is used.
struct Body {
  std::optional<ingest::OtlpIngester::Lease> lease;
  std::string inflated;
  std::string_view bytes;
};

// Unavailable over the memory budget; ResourceExhausted past `max_bytes` once decompressed;
// InvalidArgument for an unknown Content-Encoding or corrupt data (the last two counted).
Status ReadBody(ingest::OtlpIngester* ingester, size_t max_bytes, const net::HttpRequest& request,
                Body* body) {
  auto lease = ingester->Reserve(request.body.size());
  if (!lease.ok()) return lease.status();
  body->lease.emplace(std::move(*lease));
  Status s = codec::Decompress(request.Header("content-encoding"), request.body, max_bytes,
                               &body->inflated, &body->bytes);
  if (s.code() == Status::Code::kResourceExhausted) {
    ingester->counters().requests_too_large.fetch_add(1, std::memory_order_relaxed);
    return s;
  }
  if (!s.ok()) {
    ingester->counters().requests_malformed.fetch_add(1, std::memory_order_relaxed);
    return s;
  }
  if (!body->inflated.empty() && !body->lease->Grow(body->inflated.size())) {
    return Status::Unavailable("over the memory budget; retry later");
  }
  return Status::Ok();
}

void AddCors(const net::HttpRequest& request, net::HttpResponse* r) {
  std::string_view origin = request.Header("origin");
  if (origin.empty()) return;
  r->headers.emplace_back("Access-Control-Allow-Origin", std::string(origin));
  r->headers.emplace_back("Vary", "Origin");
}

}  // namespace

net::HttpResponse OtlpApi::TransportError(int status, std::string message) {
  net::HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  const int code = status == 413   ? kResourceExhausted
                   : status == 503 ? kUnavailable
                   : status >= 500 ? kInternal
                                   : kInvalidArgument;
  r.body = codec::otlp::EncodeStatus(Encoding::kJson, code, message);
  return r;
}

net::HttpResponse OtlpApi::Handle(const net::HttpRequest& request) {
  net::HttpResponse r;
  if (request.method == "OPTIONS") {
    // CORS preflight, for browser SDKs posting cross-origin.
    r.status = 204;
    r.content_type.clear();
    AddCors(request, &r);
    r.headers.emplace_back("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    r.headers.emplace_back("Access-Control-Allow-Headers",
                           "Content-Type, Content-Encoding, X-Honeycomb-Team, X-Honeycomb-Dataset, "
                           "X-Honeycomb-Event-Time, X-Honeycomb-Samplerate");
    r.headers.emplace_back("Access-Control-Max-Age", "7200");
    return r;
  }
  const std::string_view path = request.path;
  if (path == "/1/auth") {
    if (request.method == "GET") {
      r = Auth(request);
    } else {
      r = HoneycombError(405, "method not allowed, supported: [GET]");
      r.headers.emplace_back("Allow", "GET");
    }
    AddCors(request, &r);
    return r;
  }
  const bool events = path.starts_with("/1/events/");
  const bool batch = path.starts_with("/1/batch/");
  const bool known =
      path == "/v1/traces" || path == "/v1/logs" || path == "/v1/metrics" || events || batch;
  if (!known) {
    r = net::HttpResponse::Text(404, "404 page not found\n");
  } else if (request.method != "POST") {
    r = net::HttpResponse::Text(405, "405 method not allowed, supported: [POST]\n");
    r.headers.emplace_back("Allow", "POST");
  } else if (events || batch) {
    r = Events(request, batch, net::PercentDecode(path.substr(events ? 10 : 9), false));
  } else {
    r = Otlp(request, path == "/v1/traces" ? Signal::kTraces
                      : path == "/v1/logs" ? Signal::kLogs
                                           : Signal::kMetrics);
  }
  AddCors(request, &r);
  return r;
}

namespace {

// An environment's slug as Honeycomb forms one: lower case, with each run of other characters
// than letters and digits one '-', none at either end.
std::string SlugOf(std::string_view name) {
  std::string slug;
  for (char c : name) {
    if (IsAsciiAlnum(c)) {
      slug.push_back(AsciiLower(c));
    } else if (!slug.empty() && slug.back() != '-') {
      slug.push_back('-');
    }
  }
  if (!slug.empty() && slug.back() == '-') slug.pop_back();
  return slug;
}

}  // namespace

net::HttpResponse OtlpApi::Auth(const net::HttpRequest& request) {
  const std::string_view key = request.Header("x-honeycomb-team");
  auto environment = ingester_->Authenticate(key);
  if (!environment.ok()) return UnknownKey();
  // A classic key belongs to no environment (its spans still go to the one it is configured
  // with). A Waggle key only sends data: events, which may create datasets; the configuration
  // APIs a Honeycomb key may be granted (markers, triggers, boards, ...) are not served here.
  const bool classic = codec::otlp::IsClassicKey(key);
  const std::string name = classic ? std::string() : *environment;
  rapidjson::StringBuffer buf;
  codec::JsonWriter w(buf);
  w.StartObject();
  w.Key("type");
  w.String("ingest");
  w.Key("api_key_access");
  w.StartObject();
  for (const char* granted : {"events", "create_datasets"}) {
    w.Key(granted);
    w.Bool(true);
  }
  for (const char* refused :
       {"boards", "columns", "markers", "queries", "recipients", "slos", "triggers"}) {
    w.Key(refused);
    w.Bool(false);
  }
  w.EndObject();
  auto named = [&](const char* member, std::string_view value) {
    w.Key(member);
    w.StartObject();
    w.Key("name");
    codec::WriteString(w, value);
    w.Key("slug");
    codec::WriteString(w, SlugOf(value));
    w.EndObject();
  };
  named("environment", name);
  named("team", "waggle");
  w.EndObject();
  net::HttpResponse r;
  r.body.assign(buf.GetString(), buf.GetSize());
  return r;
}

net::HttpResponse OtlpApi::Otlp(const net::HttpRequest& request, Signal signal) {
  const std::string_view type = MediaType(request.Header("content-type"));
  Encoding encoding;
  if (EqualsIgnoreCase(type, "application/x-protobuf") ||
      EqualsIgnoreCase(type, "application/protobuf")) {
    encoding = Encoding::kProtobuf;
  } else if (EqualsIgnoreCase(type, "application/json")) {
    encoding = Encoding::kJson;
  } else {
    ingester_->counters().requests_malformed.fetch_add(1, std::memory_order_relaxed);
    return net::HttpResponse::Text(
        415,
        "unsupported content-type, valid types are: application/protobuf, "
        "application/x-protobuf, application/json\n");
  }
  const std::string_view api_key = request.Header("x-honeycomb-team");
  auto environment = ingester_->Authenticate(api_key);
  if (!environment.ok()) return StatusResponse(encoding, environment.status());

  Body body;
  if (Status s = ReadBody(ingester_, options_.max_body_bytes, request, &body); !s.ok()) {
    if (s.code() == Status::Code::kInvalidArgument) {
      s = Status::InvalidArgument("failed to parse OTLP request body: " + s.message());
    }
    return StatusResponse(encoding, s);
  }
  ingest::OtlpIngester::Request req;
  req.signal = signal;
  req.encoding = encoding;
  req.body = body.bytes;
  req.environment = std::move(*environment);
  req.api_key = api_key;
  req.dataset_header = request.Header("x-honeycomb-dataset");
  ingest::ExportOutcome outcome = ingester_->Export(req);
  if (!outcome.status.ok()) {
    if (outcome.status.code() == Status::Code::kInvalidArgument) {
      outcome.status =
          Status::InvalidArgument("failed to parse OTLP request body: " + outcome.status.message());
    }
    return StatusResponse(encoding, outcome.status);
  }
  net::HttpResponse r;
  r.content_type = ContentTypeOf(encoding);
  r.body = codec::otlp::EncodeExportResponse(encoding, signal, outcome.rejected, outcome.message);
  return r;
}

net::HttpResponse OtlpApi::Events(const net::HttpRequest& request, bool batch,
                                  std::string dataset) {
  // libhoney-go, and Refinery and the Lambda extension built on it, send MessagePack (then
  // answered in it, as libhoney-go reads an answer by its Content-Type); any other type is read
  // as JSON, as Honeycomb does.
  const std::string_view type = MediaType(request.Header("content-type"));
  const bool msgpack =
      EqualsIgnoreCase(type, kMsgpackType) || EqualsIgnoreCase(type, "application/x-msgpack");
  if (dataset.empty() || dataset.find('/') != std::string::npos) {
    return HoneycombError(404, "dataset not found", msgpack);
  }
  auto environment = ingester_->Authenticate(request.Header("x-honeycomb-team"));
  if (!environment.ok()) return UnknownKey(msgpack);
  Body body;
  if (Status s = ReadBody(ingester_, options_.max_body_bytes, request, &body); !s.ok()) {
    return HoneycombError(
        HttpStatusOf(s),
        s.code() == Status::Code::kResourceExhausted ? "Request body is too large."
        : s.code() == Status::Code::kInvalidArgument ? codec::honeycomb::kMalformedBody
                                                     : "Request dropped: over the memory budget.",
        msgpack);
  }
  ingest::OtlpIngester::EventsRequest req;
  req.batch = batch;
  req.encoding =
      msgpack ? codec::honeycomb::EventEncoding::kMsgpack : codec::honeycomb::EventEncoding::kJson;
  req.body = body.bytes;
  req.environment = std::move(*environment);
  req.dataset = dataset;
  req.event_time = request.Header("x-honeycomb-event-time");
  req.samplerate = request.Header("x-honeycomb-samplerate");
  std::vector<codec::honeycomb::EventStatus> statuses;
  ingest::ExportOutcome outcome = ingester_->IngestEvents(req, &statuses);
  if (!outcome.status.ok()) {
    return HoneycombError(HttpStatusOf(outcome.status), outcome.status.message(), msgpack);
  }
  net::HttpResponse r;
  if (!batch) {
    r.content_type.clear();
    return r;  // 200, empty, as Honeycomb answers single events
  }
  if (msgpack) {
    r.content_type = kMsgpackType;
    codec::msgpack::PutArrayHeader(&r.body, static_cast<uint32_t>(statuses.size()));
    for (const auto& st : statuses) {
      codec::msgpack::PutMapHeader(&r.body, st.error.empty() ? 1 : 2);
      codec::msgpack::PutString(&r.body, "status");
      codec::msgpack::PutInt(&r.body, st.status);
      if (!st.error.empty()) {
        codec::msgpack::PutString(&r.body, "error");
        codec::msgpack::PutString(&r.body, st.error);
      }
    }
    return r;
  }
  rapidjson::StringBuffer buf;
  codec::JsonWriter w(buf);
  w.StartArray();
  for (const auto& st : statuses) {
    w.StartObject();
    w.Key("status");
    w.Int(st.status);
    if (!st.error.empty()) {
      w.Key("error");
      codec::WriteString(w, st.error);
    }
    w.EndObject();
  }
  w.EndArray();
  r.body.assign(buf.GetString(), buf.GetSize());
  return r;
}

net::GrpcReply OtlpApi::HandleGrpc(const net::GrpcCall& call) {
  net::GrpcReply reply;
  Signal signal;
  if (call.method == "/opentelemetry.proto.collector.trace.v1.TraceService/Export") {
    signal = Signal::kTraces;
  } else if (call.method == "/opentelemetry.proto.collector.logs.v1.LogsService/Export") {
    signal = Signal::kLogs;
  } else {
    reply.code = kUnimplemented;
    reply.message = "unknown method " + std::string(call.method);
    return reply;
  }
  const std::string_view api_key = call.Metadata("x-honeycomb-team");
  auto environment = ingester_->Authenticate(api_key);
  if (!environment.ok()) {
    reply.code = kUnauthenticated;
    reply.message = environment.status().message();
    return reply;
  }
  auto lease = ingester_->Reserve(call.message.size());
  if (!lease.ok()) {
    reply.code = kUnavailable;
    reply.message = lease.status().message();
    return reply;
  }
  ingest::OtlpIngester::Request req;
  req.signal = signal;
  req.encoding = Encoding::kProtobuf;
  req.body = call.message;
  req.environment = std::move(*environment);
  req.api_key = api_key;
  req.dataset_header = call.Metadata("x-honeycomb-dataset");
  ingest::ExportOutcome outcome = ingester_->Export(req);
  if (!outcome.status.ok()) {
    reply.code = GrpcCodeOf(outcome.status);
    reply.message = outcome.status.message();
    return reply;
  }
  reply.body = codec::otlp::EncodeExportResponse(Encoding::kProtobuf, signal, outcome.rejected,
                                                 outcome.message);
  return reply;
}

}  // namespace waggle::server
