#include "server/xray_api.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <type_traits>

#include <simdjson.h>

#include "base/mix.h"
#include "base/time_text.h"
#include "codec/json_writer.h"
#include "codec/xray/document_merge.h"
#include "codec/xray/segment_writer.h"
#include "net/sigv4.h"
#include "query/expr/filter_eval.h"
#include "query/service_graph.h"
#include "query/trace_search.h"
#include "query/trace_summary.h"

namespace waggle::server {
namespace {

using codec::JsonWriter;
using codec::WriteKey;
using codec::WriteString;

constexpr size_t kMaxTraceIdsPerBatch = 5;
// GetTimeSeriesServiceStatistics: the selector's length limit (the API model's), the period
// when none is given, and the most periods one answer holds (a week of minutes).
constexpr size_t kMaxSelectorLength = 500;
constexpr int64_t kDefaultPeriodSeconds = 60;
constexpr int64_t kMaxPeriods = 7 * 24 * 60;
constexpr size_t kMaxStatisticsDocuments = 25;
// The share of traces GetTraceSummaries keeps with `Sampling` and no strategy.
constexpr double kDefaultSummariesSampleRate = 0.1;

std::string RequestId() {
  thread_local std::mt19937_64 rng{RandomSeed()};
  uint64_t a = rng(), b = rng();
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>(a >> 16) & 0xffff, static_cast<unsigned>(a) & 0xffff,
                static_cast<unsigned>(b >> 48),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

bool ParseTimestampUnchecked(const simdjson::dom::element& e, double* out);

// Epoch seconds from a JSON number or a string ParseTimeText reads; false for
// anything not finite or outside [0, 2^32) seconds (NaN, inf, milliseconds by mistake).
bool ParseTimestamp(const simdjson::dom::element& e, double* out) {
  double t;
  if (!ParseTimestampUnchecked(e, &t) || !std::isfinite(t) || t < 0 || t >= 4294967296.0) {
    return false;
  }
  *out = t;
  return true;
}

bool ParseTimestampUnchecked(const simdjson::dom::element& e, double* out) {
  double d;
  if (e.get(d) == simdjson::SUCCESS) {
    *out = d;
    return true;
  }
  std::string_view s;
  int64_t ns;
  if (e.get(s) != simdjson::SUCCESS || !ParseTimeText(s, &ns)) return false;
  *out = NanosToSeconds(ns);
  return true;
}

// Name, Names, AccountId and Type: the fields of a ServiceId, also leading the services of
// root causes.
void WriteServiceIdFields(JsonWriter& w, const query::ServiceId& id) {
  WriteKey(w, "Name");
  WriteString(w, id.name);
  WriteKey(w, "Names");
  w.StartArray();
  WriteString(w, id.name);
  w.EndArray();
  if (!id.account_id.empty()) {
    WriteKey(w, "AccountId");
    WriteString(w, id.account_id);
  }
  if (!id.type.empty()) {
    WriteKey(w, "Type");
    WriteString(w, id.type);
  }
}

void WriteServiceId(JsonWriter& w, const query::ServiceId& id) {
  w.StartObject();
  WriteServiceIdFields(w, id);
  w.EndObject();
}

void WriteServiceIds(JsonWriter& w, const std::vector<query::ServiceId>& ids) {
  w.StartArray();
  for (const auto& id : ids) WriteServiceId(w, id);
  w.EndArray();
}

// FaultRootCauses / ErrorRootCauses / ResponseTimeRootCauses share one shape, except that
// response-time entities carry Coverage and fault/error entities carry Exceptions.
void WriteRootCauses(JsonWriter& w, std::string_view key,
                     const std::vector<query::RootCause>& causes, bool coverage) {
  WriteKey(w, key);
  w.StartArray();
  for (const query::RootCause& cause : causes) {
    w.StartObject();
    WriteKey(w, "Services");
    w.StartArray();
    for (const query::RootCauseService& svc : cause.services) {
      w.StartObject();
      WriteServiceIdFields(w, svc.id);
      WriteKey(w, "EntityPath");
      w.StartArray();
      for (const query::RootCauseEntity& e : svc.entity_path) {
        w.StartObject();
        WriteKey(w, "Name");
        WriteString(w, e.name);
        if (coverage) {
          WriteKey(w, "Coverage");
          w.Double(e.coverage);
        } else {
          WriteKey(w, "Exceptions");
          w.StartArray();
          for (const auto& [type, message] : e.exceptions) {
            w.StartObject();
            WriteKey(w, "Name");
            WriteString(w, type);
            WriteKey(w, "Message");
            WriteString(w, message);
            w.EndObject();
          }
          w.EndArray();
        }
        WriteKey(w, "Remote");
        w.Bool(e.remote);
        w.EndObject();
      }
      w.EndArray();
      WriteKey(w, "Inferred");
      w.Bool(svc.inferred);
      w.EndObject();
    }
    w.EndArray();
    WriteKey(w, "ClientImpacting");
    w.Bool(cause.client_impacting);
    w.EndObject();
  }
  w.EndArray();
}

void WriteSummary(JsonWriter& w, const query::TraceSummary& s) {
  w.StartObject();
  WriteKey(w, "Id");
  WriteString(w, s.id.ToXRay());
  WriteKey(w, "StartTime");
  w.Double(s.start_time);
  WriteKey(w, "Duration");
  w.Double(s.duration);
  WriteKey(w, "ResponseTime");
  w.Double(s.response_time);
  WriteKey(w, "HasFault");
  w.Bool(s.has_fault);
  WriteKey(w, "HasError");
  w.Bool(s.has_error);
  WriteKey(w, "HasThrottle");
  w.Bool(s.has_throttle);
  WriteKey(w, "IsPartial");
  w.Bool(s.is_partial);
  WriteKey(w, "Http");
  w.StartObject();
  if (!s.http.url.empty()) {
    WriteKey(w, "HttpURL");
    WriteString(w, s.http.url);
  }
  if (s.http.status != 0) {
    WriteKey(w, "HttpStatus");
    w.Int(s.http.status);
  }
  if (!s.http.method.empty()) {
    WriteKey(w, "HttpMethod");
    WriteString(w, s.http.method);
  }
  if (!s.http.user_agent.empty()) {
    WriteKey(w, "UserAgent");
    WriteString(w, s.http.user_agent);
  }
  if (!s.http.client_ip.empty()) {
    WriteKey(w, "ClientIp");
    WriteString(w, s.http.client_ip);
  }
  w.EndObject();
  WriteKey(w, "Annotations");
  w.StartObject();
  for (const auto& [key, values] : s.annotations) {
    WriteKey(w, key);
    w.StartArray();
    for (const auto& v : values) {
      w.StartObject();
      WriteKey(w, "AnnotationValue");
      w.StartObject();
      switch (v.value.type) {
        case model::AttributeValue::Type::kInt:
          WriteKey(w, "NumberValue");
          w.Double(static_cast<double>(v.value.int_value));
          break;
        case model::AttributeValue::Type::kDouble:
          WriteKey(w, "NumberValue");
          w.Double(v.value.double_value);
          break;
        case model::AttributeValue::Type::kBool:
          WriteKey(w, "BooleanValue");
          w.Bool(v.value.int_value != 0);
          break;
        default:
          WriteKey(w, "StringValue");
          WriteString(w, v.value.string_value);
      }
      w.EndObject();
      WriteKey(w, "ServiceIds");
      WriteServiceIds(w, v.service_ids);
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  WriteKey(w, "Users");
  w.StartArray();
  for (const auto& [name, ids] : s.users) {
    w.StartObject();
    WriteKey(w, "UserName");
    WriteString(w, name);
    WriteKey(w, "ServiceIds");
    WriteServiceIds(w, ids);
    w.EndObject();
  }
  w.EndArray();
  WriteKey(w, "ServiceIds");
  WriteServiceIds(w, s.service_ids);
  WriteKey(w, "ResourceARNs");
  w.StartArray();
  for (const auto& arn : s.resource_arns) {
    w.StartObject();
    WriteKey(w, "ARN");
    WriteString(w, arn);
    w.EndObject();
  }
  w.EndArray();
  WriteKey(w, "InstanceIds");
  w.StartArray();
  for (const auto& id : s.instance_ids) {
    w.StartObject();
    WriteKey(w, "Id");
    WriteString(w, id);
    w.EndObject();
  }
  w.EndArray();
  WriteKey(w, "AvailabilityZones");
  w.StartArray();
  for (const auto& az : s.availability_zones) {
    w.StartObject();
    WriteKey(w, "Name");
    WriteString(w, az);
    w.EndObject();
  }
  w.EndArray();
  if (s.entry_point) {
    WriteKey(w, "EntryPoint");
    WriteServiceId(w, *s.entry_point);
  }
  WriteRootCauses(w, "FaultRootCauses", s.fault_root_causes, false);
  WriteRootCauses(w, "ErrorRootCauses", s.error_root_causes, false);
  WriteRootCauses(w, "ResponseTimeRootCauses", s.response_time_root_causes, true);
  WriteKey(w, "Revision");
  w.Int64(s.revision);
  WriteKey(w, "MatchedEventTime");
  w.Double(s.start_time);
  w.EndObject();
}

net::HttpResponse Json(rapidjson::StringBuffer& buf) {
  net::HttpResponse r;
  r.body.assign(buf.GetString(), buf.GetSize());
  r.headers.emplace_back("x-amzn-RequestId", RequestId());
  return r;
}

// GroupName or GroupARN, whichever the request names.
bool GroupKey(const simdjson::dom::object& body, std::string_view* name, std::string_view* arn) {
  (void)body["GroupName"].get(*name);
  (void)body["GroupARN"].get(*arn);
  return !name->empty() || !arn->empty();
}

// {"<key>": what `write` writes}: the answer of most operations.
template <typename Write>
net::HttpResponse JsonWith(std::string_view key, Write write) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteKey(w, key);
  write(w);
  w.EndObject();
  return Json(buf);
}

// {}: the answer of operations with no output.
net::HttpResponse EmptyJson() {
  rapidjson::StringBuffer buf;
  buf.Put('{');
  buf.Put('}');
  return Json(buf);
}

}  // namespace

struct XRayApi::Call {
  explicit Call(const net::HttpRequest& r) : request(r) {}
  const net::HttpRequest& request;
  simdjson::dom::object body;
  std::string environment = "default";
};

XRayApi::XRayApi(Options options, storage::Reader* reader, ingest::XRayDocumentIngester* ingester,
                 sampling::SamplingService* sampling, XRayGroups* groups, Clock* clock)
    : options_(std::move(options)),
      reader_(reader),
      ingester_(ingester),
      sampling_(sampling),
      groups_(groups),
      clock_(clock) {}

net::HttpResponse XRayApi::AwsError(int status, std::string_view code, std::string_view message) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteKey(w, "__type");
  WriteString(w, code);
  WriteKey(w, "message");
  WriteString(w, message);  // UTF-8 whatever the client sent (a filter's bad character)
  w.EndObject();
  net::HttpResponse r = Json(buf);
  r.status = status;
  r.headers.emplace_back("x-amzn-ErrorType", std::string(code));
  return r;
}

net::HttpResponse XRayApi::TransportError(int status, std::string message) {
  std::string_view code = status == 413   ? "RequestEntityTooLargeException"
                          : status >= 500 ? "InternalFailure"
                                          : "InvalidRequestException";
  return AwsError(status, code, message);
}

net::HttpResponse XRayApi::Error(int status, std::string_view code, std::string_view message) {
  if (status == 403) counters_.auth_failures.fetch_add(1, std::memory_order_relaxed);
  (status >= 500 ? counters_.server_errors : counters_.client_errors)
      .fetch_add(1, std::memory_order_relaxed);
  return AwsError(status, code, message);
}

net::HttpResponse XRayApi::Handle(const net::HttpRequest& request) {
  counters_.requests.fetch_add(1, std::memory_order_relaxed);
  using Method = net::HttpResponse (XRayApi::*)(Call&);
  struct Route {
    std::string_view path;
    Method method;
    bool sampling;  // an SDK's unsigned call through the daemon port
  };
  static constexpr Route kRoutes[] = {
      {"/TraceSegments", &XRayApi::PutTraceSegments, false},
      {"/Traces", &XRayApi::BatchGetTraces, false},
      {"/TraceSummaries", &XRayApi::GetTraceSummaries, false},
      {"/ServiceGraph", &XRayApi::GetServiceGraph, false},
      {"/TraceGraph", &XRayApi::GetTraceGraph, false},
      {"/TimeSeriesServiceStatistics", &XRayApi::GetTimeSeriesServiceStatistics, false},
      {"/CreateGroup", &XRayApi::CreateGroup, false},
      {"/GetGroup", &XRayApi::GetGroup, false},
      {"/Groups", &XRayApi::GetGroups, false},
      {"/UpdateGroup", &XRayApi::UpdateGroup, false},
      {"/DeleteGroup", &XRayApi::DeleteGroup, false},
      {"/GetSamplingRules", &XRayApi::GetSamplingRules, true},
      {"/CreateSamplingRule", &XRayApi::CreateSamplingRule, false},
      {"/UpdateSamplingRule", &XRayApi::UpdateSamplingRule, false},
      {"/DeleteSamplingRule", &XRayApi::DeleteSamplingRule, false},
      {"/SamplingTargets", &XRayApi::GetSamplingTargets, true},
      {"/TelemetryRecords", &XRayApi::PutTelemetryRecords, false},
  };
  const Route* route = nullptr;
  for (const Route& r : kRoutes) {
    if (request.path == r.path) route = &r;
  }
  if (route == nullptr) {
    return Error(404, "UnknownOperationException",
                 "No X-Ray operation at " + request.path + " in this version of waggle");
  }
  if (request.method != "POST")
    return Error(405, "InvalidRequestException", "X-Ray operations are POST");

  Call call(request);
  if (!options_.credentials.empty()) {
    const bool signed_request = !request.Header("authorization").empty();
    if (signed_request || !route->sampling) {
      auto lookup = [this](std::string_view akid) -> std::optional<std::string> {
        for (const auto& c : options_.credentials) {
          if (c.access_key_id == akid) return c.secret_access_key;
        }
        return std::nullopt;
      };
      auto id = net::sigv4::Verify(request, "xray", lookup, clock_->NowNanos() / kNanosPerSecond);
      if (!id.ok()) {
        std::string_view code =
            id.status().code() == Status::Code::kUnauthenticated
                ? "MissingAuthenticationTokenException"
                : (id.status().message().find("security token") != std::string::npos
                       ? "UnrecognizedClientException"
                       : "InvalidSignatureException");
        return Error(403, code, id.status().message());
      }
      for (const auto& c : options_.credentials) {
        if (c.access_key_id == id->access_key_id) call.environment = c.environment;
      }
    }
  }

  std::string_view body = request.body;
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) body = "{}";
  // One parser per thread, reused: `call.body` points into it until this handler returns.
  thread_local simdjson::dom::parser parser;
  if (parser.parse(body.data(), body.size()).get(call.body) != simdjson::SUCCESS) {
    return Error(400, "InvalidRequestException", "The request body is not a JSON object");
  }
  return (this->*(route->method))(call);
}

net::HttpResponse XRayApi::PutTraceSegments(Call& call) {
  simdjson::dom::array docs;
  if (call.body["TraceSegmentDocuments"].get(docs) != simdjson::SUCCESS) {
    return Error(400, "InvalidRequestException",
                 "TraceSegmentDocuments is required and must be a list");
  }
  std::vector<std::string_view> documents;
  for (simdjson::dom::element d : docs) {
    std::string_view s;
    if (d.get(s) != simdjson::SUCCESS) {
      return Error(400, "InvalidRequestException", "TraceSegmentDocuments must hold JSON strings");
    }
    documents.push_back(s);
  }
  std::vector<codec::xray::SegmentError> rejected;
  Status s = ingester_->Ingest(documents, call.environment, &rejected);
  if (!s.ok()) {
    if (s.code() == Status::Code::kResourceExhausted)
      return Error(429, "ThrottledException", s.message());
    return Error(500, "InternalFailure", "could not store the segments: " + s.message());
  }
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteKey(w, "UnprocessedTraceSegments");
  w.StartArray();
  for (const auto& e : rejected) {
    w.StartObject();
    if (!e.id.empty()) {
      WriteKey(w, "Id");
      WriteString(w, e.id);
    }
    WriteKey(w, "ErrorCode");
    WriteString(w, e.error_code);
    WriteKey(w, "Message");
    WriteString(w, e.message);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return Json(buf);
}

std::optional<net::HttpResponse> XRayApi::ReadTimeRange(Call& call, TimeRange* range) {
  simdjson::dom::element e;
  if (call.body["StartTime"].get(e) != simdjson::SUCCESS || !ParseTimestamp(e, &range->start) ||
      call.body["EndTime"].get(e) != simdjson::SUCCESS || !ParseTimestamp(e, &range->end)) {
    return Error(400, "InvalidRequestException", "StartTime and EndTime are required timestamps");
  }
  if (range->end < range->start) {
    return Error(400, "InvalidRequestException", "EndTime is before StartTime");
  }
  range->start_ns = static_cast<int64_t>(std::floor(range->start)) * kNanosPerSecond;
  range->end_ns = static_cast<int64_t>(std::ceil(range->end)) * kNanosPerSecond;
  return std::nullopt;
}

std::optional<net::HttpResponse> XRayApi::RequireGroupKey(Call& call, std::string_view* name,
                                                          std::string_view* arn) {
  if (GroupKey(call.body, name, arn)) return std::nullopt;
  return Error(400, "InvalidRequestException", "GroupName or GroupARN is required");
}

std::optional<net::HttpResponse> XRayApi::RefuseNextToken(Call& call) {
  std::string_view token;
  if (call.body["NextToken"].get(token) == simdjson::SUCCESS && !token.empty()) {
    return Error(400, "InvalidRequestException", "NextToken is not one this server issued");
  }
  return std::nullopt;
}

std::optional<net::HttpResponse> XRayApi::FetchTraceIds(Call& call, const TraceIdFn& each) {
  simdjson::dom::array ids;
  if (call.body["TraceIds"].get(ids) != simdjson::SUCCESS || ids.size() == 0) {
    return Error(400, "InvalidRequestException",
                 "TraceIds is required and must be a non-empty list");
  }
  if (ids.size() > kMaxTraceIdsPerBatch) {
    return Error(400, "InvalidRequestException", "TraceIds may hold at most 5 trace ids");
  }
  std::vector<std::string_view> texts;
  for (simdjson::dom::element e : ids) {
    if (e.get(texts.emplace_back()) != simdjson::SUCCESS) {
      return Error(400, "InvalidRequestException", "TraceIds must hold strings");
    }
  }
  for (std::string_view text : texts) {
    model::TraceId id;
    if (!model::TraceId::Parse(text, &id)) {
      each(text, nullptr);
      continue;
    }
    auto data = reader_->FetchTrace(id);
    if (!data.ok()) {
      // Unknown, or damaged on disk (counted): this id goes unanswered, the others do not.
      if (data.status().code() != Status::Code::kNotFound) {
        counters_.unreadable_traces.fetch_add(1, std::memory_order_relaxed);
      }
      each(text, nullptr);
      continue;
    }
    const query::TraceFacts facts(std::move(*data));
    each(text, &facts);
  }
  return std::nullopt;
}

net::HttpResponse XRayApi::BatchGetTraces(Call& call) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  std::vector<std::string_view> unprocessed;
  w.StartObject();
  WriteKey(w, "Traces");
  w.StartArray();
  auto bad = FetchTraceIds(call, [&](std::string_view text, const query::TraceFacts* t) {
    if (t == nullptr) {
      unprocessed.push_back(text);
      return;
    }
    const storage::TraceData& data = t->trace();
    w.StartObject();
    WriteKey(w, "Id");
    WriteString(w, text);
    WriteKey(w, "Duration");
    w.Double(t->summary().duration);
    WriteKey(w, "LimitExceeded");
    w.Bool(data.limit_exceeded);
    WriteKey(w, "Segments");
    w.StartArray();
    for (const auto& doc : codec::xray::MergeTraceDocuments(data.documents)) {
      w.StartObject();
      WriteKey(w, "Id");
      WriteString(w, doc.id.ToHex());
      WriteKey(w, "Document");
      WriteString(w, doc.json);
      w.EndObject();
    }
    // Spans that did not arrive as X-Ray documents (OTLP, Honeycomb events): one document
    // each, as the OpenTelemetry X-Ray exporter would have sent them.
    for (const model::Span& span : data.spans) {
      if (span.from_xray_document) continue;
      w.StartObject();
      WriteKey(w, "Id");
      WriteString(w, span.span_id.ToHex());
      WriteKey(w, "Document");
      WriteString(w, codec::xray::RenderSegment(span));
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  });
  if (bad) return std::move(*bad);
  w.EndArray();
  WriteKey(w, "UnprocessedTraceIds");
  w.StartArray();
  for (std::string_view u : unprocessed) WriteString(w, u);
  w.EndArray();
  w.EndObject();
  return Json(buf);
}

net::HttpResponse XRayApi::GetTraceSummaries(Call& call) {
  TimeRange range;
  if (auto bad = ReadTimeRange(call, &range)) return std::move(*bad);
  query::TraceSearchRequest search;
  storage::FindTracesRequest& req = search.find;
  req.start_ns = range.start_ns;
  req.end_ns = range.end_ns;
  std::string_view range_type = "TraceId";
  (void)call.body["TimeRangeType"].get(range_type);
  if (range_type == "Event" || range_type == "Service") {
    req.key = storage::TraceTimeKey::kEventTime;
  } else if (range_type != "TraceId") {
    return Error(400, "InvalidRequestException", "TimeRangeType must be TraceId, Event or Service");
  }
  // Sampling: with `Sampling` true, FixedRate v keeps the share v of the traces, picked by a
  // hash of their ids (the same ones on every page and every call); PartialScan v looks at
  // the newest share v of the time range only. No strategy: FixedRate 0.1.
  bool sampling = false;
  (void)call.body["Sampling"].get(sampling);
  std::string_view strategy_name = "FixedRate";
  double strategy_value = kDefaultSummariesSampleRate;
  simdjson::dom::object strategy;
  if (call.body["SamplingStrategy"].get(strategy) == simdjson::SUCCESS) {
    if (strategy["Name"].get(strategy_name) == simdjson::SUCCESS &&
        strategy_name != "PartialScan" && strategy_name != "FixedRate") {
      return Error(400, "InvalidRequestException",
                   "SamplingStrategy.Name must be PartialScan or FixedRate");
    }
    simdjson::dom::element value;
    if (strategy["Value"].get(value) == simdjson::SUCCESS &&
        (value.get(strategy_value) != simdjson::SUCCESS ||
         !(strategy_value >= 0 && strategy_value <= 1))) {
      return Error(400, "InvalidRequestException",
                   "SamplingStrategy.Value must be a number from 0 to 1");
    }
  }
  if (sampling && strategy_name == "FixedRate") {
    req.sample_rate = strategy_value;
  } else if (sampling) {
    const auto span = static_cast<double>(req.end_ns - req.start_ns);
    req.start_ns = req.end_ns - static_cast<int64_t>(std::ceil(span * strategy_value));
  }
  std::string_view filter_text;
  std::optional<query::filter::Expr> filter;
  if (call.body["FilterExpression"].get(filter_text) == simdjson::SUCCESS &&
      filter_text.find_first_not_of(" \t\r\n") != std::string_view::npos) {
    auto compiled = query::filter::Compile(filter_text, groups_->Lookup());
    if (!compiled.ok()) return Error(400, "InvalidRequestException", compiled.status().message());
    filter = std::move(*compiled);
    search.filter = &*filter;
  }
  std::string_view token;
  if (call.body["NextToken"].get(token) == simdjson::SUCCESS) req.page_token = std::string(token);
  search.page_size = options_.summaries_page_size;
  search.max_examined = options_.summaries_max_examined;
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteKey(w, "TraceSummaries");
  w.StartArray();
  std::optional<double> approximate_time;  // the newest trace's time
  auto page = query::SearchTraces(reader_, search, [&](query::TraceFacts&& t, int64_t time_ns) {
    if (!approximate_time) approximate_time = NanosToSeconds(time_ns);
    WriteSummary(w, t.summary());
  });
  if (!page.ok()) {
    if (page.status().code() == Status::Code::kInvalidArgument) {
      return Error(400, "InvalidRequestException", "NextToken is not one this server issued");
    }
    return Error(500, "InternalFailure", page.status().message());
  }
  counters_.unreadable_traces.fetch_add(page->unreadable, std::memory_order_relaxed);
  w.EndArray();
  WriteKey(w, "ApproximateTime");
  w.Double(approximate_time.value_or(range.end));
  WriteKey(w, "TracesProcessedCount");
  w.Uint64(page->traces_processed);
  if (!page->next_page_token.empty()) {
    WriteKey(w, "NextToken");
    WriteString(w, page->next_page_token);
  }
  w.EndObject();
  return Json(buf);
}

namespace {

void WriteRequestStats(JsonWriter& w, const query::RequestStats& s) {
  w.StartObject();
  WriteKey(w, "OkCount");
  w.Int64(s.ok);
  WriteKey(w, "ErrorStatistics");
  w.StartObject();
  WriteKey(w, "ThrottleCount");
  w.Int64(s.error_throttle);
  WriteKey(w, "OtherCount");
  w.Int64(s.error_other);
  WriteKey(w, "TotalCount");
  w.Int64(s.error_throttle + s.error_other);
  w.EndObject();
  WriteKey(w, "FaultStatistics");
  w.StartObject();
  WriteKey(w, "OtherCount");
  w.Int64(s.fault);
  WriteKey(w, "TotalCount");
  w.Int64(s.fault);
  w.EndObject();
  WriteKey(w, "TotalCount");
  w.Int64(s.total());
  WriteKey(w, "TotalResponseTime");
  w.Double(s.total_response_time());
  w.EndObject();
}

void WriteHistogram(JsonWriter& w, std::string_view key, const query::Histogram& h) {
  WriteKey(w, key);
  w.StartArray();
  for (const auto& [value, count] : h) {
    w.StartObject();
    WriteKey(w, "Value");
    w.Double(value);
    WriteKey(w, "Count");
    w.Int64(count);
    w.EndObject();
  }
  w.EndArray();
}

void WriteTimes(JsonWriter& w, int64_t start_ns, int64_t end_ns) {
  if (start_ns > end_ns) return;  // nothing finished
  WriteKey(w, "StartTime");
  w.Double(std::floor(NanosToSeconds(start_ns)));
  WriteKey(w, "EndTime");
  w.Double(std::ceil(NanosToSeconds(end_ns)));
}

// The Services list of GetServiceGraph and GetTraceGraph (spec/xray.md §5.4, §7).
void WriteServices(JsonWriter& w, const std::vector<query::ServiceGraphNode>& nodes) {
  w.StartArray();
  for (size_t i = 0; i < nodes.size(); ++i) {
    const query::ServiceGraphNode& n = nodes[i];
    w.StartObject();
    WriteKey(w, "ReferenceId");
    w.Int64(static_cast<int64_t>(i));
    WriteServiceIdFields(w, n.id);
    WriteKey(w, "Root");
    w.Bool(n.root);
    WriteKey(w, "State");
    WriteString(w, n.client || n.inferred ? "unknown" : "active");
    WriteTimes(w, n.start_ns, n.end_ns);
    WriteKey(w, "Edges");
    w.StartArray();
    for (const query::ServiceGraphEdge& e : n.edges) {
      w.StartObject();
      WriteKey(w, "ReferenceId");
      w.Int64(static_cast<int64_t>(e.to));
      WriteTimes(w, e.start_ns, e.end_ns);
      WriteKey(w, "SummaryStatistics");
      WriteRequestStats(w, e.stats);
      WriteHistogram(w, "ResponseTimeHistogram", e.response_times);
      WriteKey(w, "Aliases");
      w.StartArray();
      for (const std::string& alias : e.aliases) {
        w.StartObject();
        WriteKey(w, "Name");
        WriteString(w, alias);
        WriteKey(w, "Names");
        w.StartArray();
        WriteString(w, alias);
        w.EndArray();
        if (!nodes[e.to].id.type.empty()) {
          WriteKey(w, "Type");
          WriteString(w, nodes[e.to].id.type);
        }
        w.EndObject();
      }
      w.EndArray();
      w.EndObject();
    }
    w.EndArray();
    if (!n.client) {
      WriteKey(w, "SummaryStatistics");
      WriteRequestStats(w, n.stats);
      WriteHistogram(w, "DurationHistogram", n.durations);
      WriteHistogram(w, "ResponseTimeHistogram", n.response_times);
    }
    w.EndObject();
  }
  w.EndArray();
}

}  // namespace

std::optional<net::HttpResponse> XRayApi::ForEachTraceInWindow(Call& call, const TimeRange& range,
                                                               const query::filter::Expr* also,
                                                               const TraceFn& each) {
  std::string_view group_name, group_arn;
  query::filter::Expr filter;  // an AND of the group's filter and `also`; none: every trace
  filter.kind = query::filter::Expr::Kind::kAnd;
  if (GroupKey(call.body, &group_name, &group_arn)) {
    auto compiled = groups_->CompiledFilter(group_name, group_arn);
    if (!compiled.ok()) return StatusError(compiled.status());
    filter.children.push_back(std::move(*compiled));
  }
  if (also != nullptr) filter.children.push_back(*also);
  query::TraceSearchRequest search;
  if (!filter.children.empty()) search.filter = &filter;
  search.find.key = storage::TraceTimeKey::kEventTime;
  search.find.start_ns = range.start_ns;
  search.find.end_ns = range.end_ns;
  // One page holding the whole window (up to service_graph_max_traces), so the filter's
  // candidate scans run once; more traces than that are refused before any is fetched.
  search.max_examined = options_.service_graph_max_traces;
  search.whole_range = true;
  auto page =
      query::SearchTraces(reader_, search, [&](query::TraceFacts&& t, int64_t) { each(t); });
  if (!page.ok()) return StatusError(page.status());
  counters_.unreadable_traces.fetch_add(page->unreadable, std::memory_order_relaxed);
  return std::nullopt;
}

net::HttpResponse XRayApi::GetServiceGraph(Call& call) {
  TimeRange range;
  if (auto bad = ReadTimeRange(call, &range)) return std::move(*bad);
  if (auto bad = RefuseNextToken(call)) return std::move(*bad);
  std::string_view group_name, group_arn;
  std::vector<query::ServiceGraphNode> nodes;
  bool built = false;
  if (!GroupKey(call.body, &group_name, &group_arn) || groups_->IsDefault(group_name, group_arn)) {
    // Every trace: one column scan, no trace fetched.
    auto scanned = query::ScanServiceGraph(reader_, range.start_ns, range.end_ns,
                                           options_.service_graph_max_spans);
    if (scanned.ok()) {
      nodes = std::move(*scanned);
      built = true;
    } else if (scanned.status().code() != Status::Code::kUnimplemented) {
      return StatusError(scanned.status());
    }
  }
  if (!built) {
    query::ServiceGraphBuilder graph;
    if (auto bad = ForEachTraceInWindow(call, range, nullptr,
                                        [&](const query::TraceFacts& t) { graph.Add(t); })) {
      return std::move(*bad);
    }
    nodes = std::move(graph).Finish();
  }
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteKey(w, "StartTime");
  w.Double(range.start);
  WriteKey(w, "EndTime");
  w.Double(range.end);
  WriteKey(w, "Services");
  WriteServices(w, nodes);
  WriteKey(w, "ContainsOldGroupVersions");
  w.Bool(false);
  w.EndObject();
  return Json(buf);
}

net::HttpResponse XRayApi::GetTimeSeriesServiceStatistics(Call& call) {
  TimeRange range;
  if (auto bad = ReadTimeRange(call, &range)) return std::move(*bad);
  if (auto bad = RefuseNextToken(call)) return std::move(*bad);
  std::string_view selector_text;
  (void)call.body["EntitySelectorExpression"].get(selector_text);
  if (selector_text.size() > kMaxSelectorLength) {
    return Error(400, "InvalidRequestException",
                 "EntitySelectorExpression is longer than 500 characters");
  }
  auto selector = query::ParseEntitySelector(selector_text);
  if (!selector.ok()) {
    return Error(400, "InvalidRequestException", selector.status().message());
  }
  int64_t period = kDefaultPeriodSeconds;
  simdjson::dom::element e;
  if (call.body["Period"].get(e) == simdjson::SUCCESS && !e.is_null()) {
    if (e.get(period) != simdjson::SUCCESS || period < 60 || period % 60 != 0) {
      return Error(400, "InvalidRequestException", "Period must be a multiple of 60 seconds");
    }
  }
  if ((range.end_ns - range.start_ns) / (period * kNanosPerSecond) > kMaxPeriods) {
    return Error(400, "InvalidRequestException",
                 "the time range holds more than " + std::to_string(kMaxPeriods) +
                     " periods; choose a longer Period");
  }
  query::StatisticsSeries series(*selector, range.start_ns, range.end_ns, period * kNanosPerSecond);
  const query::filter::Expr* also = selector->expr ? &*selector->expr : nullptr;
  if (auto bad = ForEachTraceInWindow(call, range, also,
                                      [&](const query::TraceFacts& t) { series.Add(t); })) {
    return std::move(*bad);
  }
  const bool service = selector->kind == query::EntitySelector::Kind::kService;
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteKey(w, "TimeSeriesServiceStatistics");
  w.StartArray();
  for (const auto& [at, p] : std::move(series).Finish()) {
    w.StartObject();
    WriteKey(w, "Timestamp");
    w.Double(static_cast<double>(at / kNanosPerSecond));
    WriteKey(w, service ? "ServiceSummaryStatistics" : "EdgeSummaryStatistics");
    WriteRequestStats(w, service ? p.service : p.edge);
    WriteHistogram(w, "ResponseTimeHistogram", p.response_times);
    w.EndObject();
  }
  w.EndArray();
  WriteKey(w, "ContainsOldGroupVersions");
  w.Bool(false);
  w.EndObject();
  return Json(buf);
}

net::HttpResponse XRayApi::GetTraceGraph(Call& call) {
  query::ServiceGraphBuilder graph;
  // Ids that are malformed, unknown or unreadable add nothing: the operation has no list of
  // unprocessed ids.
  if (auto bad = FetchTraceIds(call, [&](std::string_view, const query::TraceFacts* t) {
        if (t != nullptr) graph.Add(*t);
      })) {
    return std::move(*bad);
  }
  return JsonWith("Services", [&](JsonWriter& w) { WriteServices(w, std::move(graph).Finish()); });
}

namespace {

void WriteGroup(JsonWriter& w, const XRayGroup& g) {
  w.StartObject();
  WriteKey(w, "GroupName");
  WriteString(w, g.name);
  WriteKey(w, "GroupARN");
  WriteString(w, g.arn);
  if (!g.filter_expression.empty()) {
    WriteKey(w, "FilterExpression");
    WriteString(w, g.filter_expression);
  }
  WriteKey(w, "InsightsConfiguration");
  w.StartObject();
  WriteKey(w, "InsightsEnabled");
  w.Bool(g.insights_enabled);
  WriteKey(w, "NotificationsEnabled");
  w.Bool(g.notifications_enabled);
  w.EndObject();
  w.EndObject();
}

// InsightsConfiguration's two flags, each only when given.
void ReadInsights(const simdjson::dom::object& body, std::optional<bool>* insights,
                  std::optional<bool>* notifications) {
  simdjson::dom::object config;
  if (body["InsightsConfiguration"].get(config) != simdjson::SUCCESS) return;
  bool b;
  if (config["InsightsEnabled"].get(b) == simdjson::SUCCESS) *insights = b;
  if (config["NotificationsEnabled"].get(b) == simdjson::SUCCESS) *notifications = b;
}

}  // namespace

net::HttpResponse XRayApi::StatusError(const Status& status, std::string_view limit_code) {
  switch (status.code()) {
    case Status::Code::kResourceExhausted:
      return Error(400, limit_code, status.message());
    case Status::Code::kNotFound:
    case Status::Code::kInvalidArgument:
    case Status::Code::kAlreadyExists:
      return Error(400, "InvalidRequestException", status.message());
    default:
      return Error(500, "InternalFailure", status.message());
  }
}

net::HttpResponse XRayApi::CreateGroup(Call& call) {
  XRayGroup group;
  std::string_view name, filter;
  if (call.body["GroupName"].get(name) != simdjson::SUCCESS) {
    return Error(400, "InvalidRequestException", "GroupName is required");
  }
  group.name = std::string(name);
  if (call.body["FilterExpression"].get(filter) == simdjson::SUCCESS) {
    group.filter_expression = std::string(filter);
  }
  std::optional<bool> insights, notifications;
  ReadInsights(call.body, &insights, &notifications);
  group.insights_enabled = insights.value_or(false);
  group.notifications_enabled = notifications.value_or(false);
  auto created = groups_->Create(std::move(group));
  if (!created.ok()) return StatusError(created.status());
  return JsonWith("Group", [&](JsonWriter& w) { WriteGroup(w, *created); });
}

net::HttpResponse XRayApi::GetGroup(Call& call) {
  std::string_view name, arn;
  if (auto bad = RequireGroupKey(call, &name, &arn)) return std::move(*bad);
  auto group = groups_->Get(name, arn);
  if (!group.ok()) return StatusError(group.status());
  return JsonWith("Group", [&](JsonWriter& w) { WriteGroup(w, *group); });
}

net::HttpResponse XRayApi::GetGroups(Call& call) {
  // Every group fits one page (there are at most XRayGroups::kMaxGroups + 1), so NextToken is
  // never returned; a token sent anyway is one we did not issue.
  if (auto bad = RefuseNextToken(call)) return std::move(*bad);
  return JsonWith("Groups", [&](JsonWriter& w) {
    w.StartArray();
    for (const XRayGroup& g : groups_->List()) WriteGroup(w, g);
    w.EndArray();
  });
}

net::HttpResponse XRayApi::UpdateGroup(Call& call) {
  std::string_view name, arn;
  if (auto bad = RequireGroupKey(call, &name, &arn)) return std::move(*bad);
  XRayGroups::Update update;
  std::string_view filter;
  if (call.body["FilterExpression"].get(filter) == simdjson::SUCCESS) {
    update.filter_expression = std::string(filter);
  }
  ReadInsights(call.body, &update.insights_enabled, &update.notifications_enabled);
  auto group = groups_->Change(name, arn, update);
  if (!group.ok()) return StatusError(group.status());
  return JsonWith("Group", [&](JsonWriter& w) { WriteGroup(w, *group); });
}

net::HttpResponse XRayApi::DeleteGroup(Call& call) {
  std::string_view name, arn;
  if (auto bad = RequireGroupKey(call, &name, &arn)) return std::move(*bad);
  if (Status s = groups_->Delete(name, arn); !s.ok()) return StatusError(s);
  return EmptyJson();
}

namespace {

void WriteRuleRecord(JsonWriter& w, const sampling::SamplingRuleRecord& rec) {
  const sampling::SamplingRule& r = rec.rule;
  w.StartObject();
  WriteKey(w, "SamplingRule");
  w.StartObject();
  WriteKey(w, "RuleName");
  WriteString(w, r.rule_name);
  WriteKey(w, "RuleARN");
  WriteString(w, r.rule_arn);
  WriteKey(w, "ResourceARN");
  WriteString(w, r.resource_arn);
  WriteKey(w, "Priority");
  w.Int(r.priority);
  WriteKey(w, "FixedRate");
  w.Double(r.fixed_rate);
  WriteKey(w, "ReservoirSize");
  w.Int64(r.reservoir_size);
  WriteKey(w, "ServiceName");
  WriteString(w, r.service_name);
  WriteKey(w, "ServiceType");
  WriteString(w, r.service_type);
  WriteKey(w, "Host");
  WriteString(w, r.host);
  WriteKey(w, "HTTPMethod");
  WriteString(w, r.http_method);
  WriteKey(w, "URLPath");
  WriteString(w, r.url_path);
  WriteKey(w, "Version");
  w.Int(r.version);
  WriteKey(w, "Attributes");  // always present: the Node SDK drops rules without it
  w.StartObject();
  for (const auto& [k, v] : r.attributes) {
    WriteKey(w, k);
    WriteString(w, v);
  }
  w.EndObject();
  w.EndObject();
  WriteKey(w, "CreatedAt");
  w.Double(rec.created_at);
  WriteKey(w, "ModifiedAt");
  w.Double(rec.modified_at);
  w.EndObject();
}

// The members of a SamplingRule (or SamplingRuleUpdate) that are present, each checked for its
// JSON type. `required`: every member Create needs.
Status ReadRule(const simdjson::dom::object& o, bool required, sampling::SamplingRuleUpdate* u,
                std::optional<int32_t>* version) {
  // Member `key` into *e; false when it is absent or null (an error if `required`).
  auto member = [&](const char* key, simdjson::dom::element* e, Status* absent) {
    if (o[key].get(*e) == simdjson::SUCCESS && !e->is_null()) return true;
    *absent = required ? Status::InvalidArgument(std::string(key) + " is required") : Status::Ok();
    return false;
  };
  auto str = [&](const char* key, std::optional<std::string>* out) -> Status {
    simdjson::dom::element e;
    if (Status absent; !member(key, &e, &absent)) return absent;
    std::string_view v;
    if (e.get(v) != simdjson::SUCCESS) {
      return Status::InvalidArgument(std::string(key) + " must be a string");
    }
    *out = std::string(v);
    return Status::Ok();
  };
  auto num = [&](const char* key, auto* out) -> Status {
    simdjson::dom::element e;
    if (Status absent; !member(key, &e, &absent)) return absent;
    double d;
    if (e.get(d) != simdjson::SUCCESS || !std::isfinite(d)) {
      return Status::InvalidArgument(std::string(key) + " must be a number");
    }
    using T = typename std::remove_reference_t<decltype(*out)>::value_type;
    if constexpr (std::is_integral_v<T>) {
      if (d != std::floor(d) || std::fabs(d) > 1e15) {
        return Status::InvalidArgument(std::string(key) + " must be a whole number");
      }
      if (d > static_cast<double>(std::numeric_limits<T>::max()) ||
          d < static_cast<double>(std::numeric_limits<T>::min())) {
        return Status::InvalidArgument(std::string(key) + " is out of range");
      }
    }
    *out = static_cast<T>(d);
    return Status::Ok();
  };
  std::string_view name, arn;
  (void)o["RuleName"].get(name);
  (void)o["RuleARN"].get(arn);
  u->rule_name = std::string(name);
  u->rule_arn = std::string(arn);
  WAGGLE_RETURN_IF_ERROR(str("ResourceARN", &u->resource_arn));
  WAGGLE_RETURN_IF_ERROR(num("Priority", &u->priority));
  WAGGLE_RETURN_IF_ERROR(num("FixedRate", &u->fixed_rate));
  WAGGLE_RETURN_IF_ERROR(num("ReservoirSize", &u->reservoir_size));
  WAGGLE_RETURN_IF_ERROR(str("ServiceName", &u->service_name));
  WAGGLE_RETURN_IF_ERROR(str("ServiceType", &u->service_type));
  WAGGLE_RETURN_IF_ERROR(str("Host", &u->host));
  WAGGLE_RETURN_IF_ERROR(str("HTTPMethod", &u->http_method));
  WAGGLE_RETURN_IF_ERROR(str("URLPath", &u->url_path));
  if (version != nullptr) WAGGLE_RETURN_IF_ERROR(num("Version", version));
  simdjson::dom::object attrs;
  if (o["Attributes"].get(attrs) == simdjson::SUCCESS) {
    std::map<std::string, std::string> m;
    for (auto field : attrs) {
      std::string_view v;
      if (field.value.get(v) != simdjson::SUCCESS) {
        return Status::InvalidArgument("Attributes values must be strings");
      }
      m.emplace(std::string(field.key), std::string(v));
    }
    u->attributes = std::move(m);
  }
  return Status::Ok();
}

sampling::SamplingRule RuleOf(const sampling::SamplingRuleUpdate& u, int32_t version) {
  sampling::SamplingRule r;
  r.rule_name = u.rule_name;
  r.resource_arn = u.resource_arn.value_or("*");
  r.priority = u.priority.value_or(0);
  r.fixed_rate = u.fixed_rate.value_or(0);
  r.reservoir_size = u.reservoir_size.value_or(0);
  r.service_name = u.service_name.value_or("*");
  r.service_type = u.service_type.value_or("*");
  r.host = u.host.value_or("*");
  r.http_method = u.http_method.value_or("*");
  r.url_path = u.url_path.value_or("*");
  r.version = version;
  if (u.attributes) r.attributes = *u.attributes;
  return r;
}

}  // namespace

std::string XRayApi::RenderSamplingRules(const std::vector<sampling::SamplingRuleRecord>& rules) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteKey(w, "format");
  w.Int(1);
  WriteKey(w, "SamplingRuleRecords");
  w.StartArray();
  for (const auto& rec : rules) WriteRuleRecord(w, rec);
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

Result<std::vector<sampling::SamplingRuleRecord>> XRayApi::ParseSamplingRules(
    std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::object root;
  simdjson::dom::array records;
  int64_t format = 0;
  if (parser.parse(text.data(), text.size()).get(root) != simdjson::SUCCESS ||
      root["format"].get(format) != simdjson::SUCCESS ||
      root["SamplingRuleRecords"].get(records) != simdjson::SUCCESS) {
    return Status::Corruption("does not parse");
  }
  if (format > 1) return Status::Unimplemented("written by a newer waggle");
  std::vector<sampling::SamplingRuleRecord> out;
  for (simdjson::dom::element e : records) {
    simdjson::dom::object rule;
    sampling::SamplingRuleRecord rec;
    sampling::SamplingRuleUpdate u;
    std::optional<int32_t> version;
    std::string_view arn;
    if (e["SamplingRule"].get(rule) != simdjson::SUCCESS ||
        !ReadRule(rule, true, &u, &version).ok() || u.rule_name.empty() ||
        rule["RuleARN"].get(arn) != simdjson::SUCCESS ||
        e["CreatedAt"].get(rec.created_at) != simdjson::SUCCESS ||
        e["ModifiedAt"].get(rec.modified_at) != simdjson::SUCCESS) {
      return Status::Corruption("a rule lacks a member");
    }
    rec.rule = RuleOf(u, *version);
    rec.rule.rule_arn = std::string(arn);
    out.push_back(std::move(rec));
  }
  return out;
}

net::HttpResponse XRayApi::GetSamplingRules(Call& call) {
  return JsonWith("SamplingRuleRecords", [&](JsonWriter& w) {
    w.StartArray();
    for (const sampling::SamplingRuleRecord& rec : sampling_->Rules()) WriteRuleRecord(w, rec);
    w.EndArray();
  });
}

net::HttpResponse XRayApi::CreateSamplingRule(Call& call) {
  simdjson::dom::object rule;
  if (call.body["SamplingRule"].get(rule) != simdjson::SUCCESS) {
    return Error(400, "InvalidRequestException", "SamplingRule is required");
  }
  sampling::SamplingRuleUpdate u;
  std::optional<int32_t> version;
  if (Status s = ReadRule(rule, true, &u, &version); !s.ok()) {
    return Error(400, "InvalidRequestException", s.message());
  }
  if (u.rule_name.empty()) return Error(400, "InvalidRequestException", "RuleName is required");
  auto rec = sampling_->Create(RuleOf(u, *version), NowSeconds());
  if (!rec.ok()) return StatusError(rec.status(), "RuleLimitExceededException");
  return JsonWith("SamplingRuleRecord", [&](JsonWriter& w) { WriteRuleRecord(w, *rec); });
}

net::HttpResponse XRayApi::UpdateSamplingRule(Call& call) {
  simdjson::dom::object rule;
  if (call.body["SamplingRuleUpdate"].get(rule) != simdjson::SUCCESS) {
    return Error(400, "InvalidRequestException", "SamplingRuleUpdate is required");
  }
  sampling::SamplingRuleUpdate u;
  if (Status s = ReadRule(rule, false, &u, nullptr); !s.ok()) {
    return Error(400, "InvalidRequestException", s.message());
  }
  if (u.rule_name.empty() && u.rule_arn.empty()) {
    return Error(400, "InvalidRequestException", "RuleName or RuleARN is required");
  }
  auto rec = sampling_->Update(u, NowSeconds());
  if (!rec.ok()) return StatusError(rec.status(), "RuleLimitExceededException");
  return JsonWith("SamplingRuleRecord", [&](JsonWriter& w) { WriteRuleRecord(w, *rec); });
}

net::HttpResponse XRayApi::DeleteSamplingRule(Call& call) {
  std::string_view name, arn;
  (void)call.body["RuleName"].get(name);
  (void)call.body["RuleARN"].get(arn);
  if (name.empty() && arn.empty()) {
    return Error(400, "InvalidRequestException", "RuleName or RuleARN is required");
  }
  auto rec = sampling_->Delete(name, arn, NowSeconds());
  if (!rec.ok()) return StatusError(rec.status(), "RuleLimitExceededException");
  return JsonWith("SamplingRuleRecord", [&](JsonWriter& w) { WriteRuleRecord(w, *rec); });
}

double XRayApi::NowSeconds() const {
  // Whole milliseconds: what the CLI shows and what a client compares stays exact.
  return std::floor(static_cast<double>(clock_->NowNanos()) / 1e6) / 1e3;
}

net::HttpResponse XRayApi::GetSamplingTargets(Call& call) {
  simdjson::dom::array docs;
  if (call.body["SamplingStatisticsDocuments"].get(docs) != simdjson::SUCCESS) {
    return Error(400, "InvalidRequestException", "SamplingStatisticsDocuments is required");
  }
  if (docs.size() > kMaxStatisticsDocuments) {
    return Error(400, "InvalidRequestException",
                 "SamplingStatisticsDocuments may hold at most 25 documents");
  }
  std::vector<sampling::StatisticsDocument> stats;
  for (simdjson::dom::element e : docs) {
    simdjson::dom::object o;
    std::string_view rule, client;
    if (e.get(o) != simdjson::SUCCESS || o["RuleName"].get(rule) != simdjson::SUCCESS ||
        o["ClientID"].get(client) != simdjson::SUCCESS) {
      return Error(400, "InvalidRequestException",
                   "each statistics document needs RuleName and ClientID");
    }
    sampling::StatisticsDocument d;
    d.rule_name = std::string(rule);
    d.client_id = std::string(client);
    if (d.client_id.size() != 24) {
      return Error(400, "InvalidRequestException", "ClientID must be 24 characters");
    }
    simdjson::dom::element ts;
    double t = 0;
    if (o["Timestamp"].get(ts) == simdjson::SUCCESS && ParseTimestampUnchecked(ts, &t) &&
        std::isfinite(t) && t >= 0) {
      d.timestamp = t > 1e11 ? t / 1000 : t;  // Java and OTel Java send milliseconds
    }
    // Missing counts are zero (Jackson NON_EMPTY clients leave them out).
    (void)o["RequestCount"].get(d.request_count);
    (void)o["SampledCount"].get(d.sampled_count);
    (void)o["BorrowCount"].get(d.borrow_count);
    stats.push_back(std::move(d));
  }
  sampling::TargetsResult result = sampling_->Targets(stats, NanosToSeconds(clock_->NowNanos()));
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteKey(w, "SamplingTargetDocuments");
  w.StartArray();
  for (const auto& t : result.targets) {
    w.StartObject();
    WriteKey(w, "RuleName");
    WriteString(w, t.rule_name);
    WriteKey(w, "FixedRate");
    w.Double(t.fixed_rate);
    WriteKey(w, "ReservoirQuota");
    w.Int64(t.reservoir_quota);
    WriteKey(w, "ReservoirQuotaTTL");
    w.Double(t.reservoir_quota_ttl);
    WriteKey(w, "Interval");
    w.Int(t.interval);
    w.EndObject();
  }
  w.EndArray();
  WriteKey(w, "LastRuleModification");
  w.Double(result.last_rule_modification);
  WriteKey(w, "UnprocessedStatistics");
  w.StartArray();
  for (const auto& u : result.unprocessed) {
    w.StartObject();
    WriteKey(w, "RuleName");
    WriteString(w, u.rule_name);
    WriteKey(w, "ErrorCode");
    WriteString(w, u.error_code);
    WriteKey(w, "Message");
    WriteString(w, u.message);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return Json(buf);
}

net::HttpResponse XRayApi::PutTelemetryRecords(Call& call) {
  simdjson::dom::array records;
  if (call.body["TelemetryRecords"].get(records) != simdjson::SUCCESS) {
    return Error(400, "InvalidRequestException", "TelemetryRecords is required");
  }
  return EmptyJson();
}

}  // namespace waggle::server
