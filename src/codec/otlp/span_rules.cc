#include "codec/otlp/span_rules.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <string>

#include "codec/otlp/decoders.h"
#include "codec/otlp/otlp.h"

namespace waggle::codec::otlp {
namespace {

using model::Attribute;
using model::AttributeRole;
using model::AttributeValue;

// The attributes FinishSpan reads. Later names in a group only fill what earlier ones left.
enum class Key : uint8_t {
  kNone,
  kMethod,
  kMethodOld,
  kRoute,
  kUrl,
  kUrlOld,
  kStatus,
  kStatusOld,
  kClientIp,
  kClientIpOld,
  kUserAgent,
  kUserAgentOld,
  kDbSystem,
  kDbSystemOld,
  kPeerService,
  kServicePeerName,
  kServerAddress,
  kNetPeerName,
  kSampleRate,
};

Key Classify(std::string_view k) {
  if (k.size() < 7) return Key::kNone;
  switch (k[0]) {
    case 'h':
      if (k == "http.request.method") return Key::kMethod;
      if (k == "http.method") return Key::kMethodOld;
      if (k == "http.route") return Key::kRoute;
      if (k == "http.url") return Key::kUrlOld;
      if (k == "http.response.status_code") return Key::kStatus;
      if (k == "http.status_code") return Key::kStatusOld;
      if (k == "http.client_ip") return Key::kClientIpOld;
      if (k == "http.user_agent") return Key::kUserAgentOld;
      return Key::kNone;
    case 'u':
      if (k == "url.full") return Key::kUrl;
      if (k == "user_agent.original") return Key::kUserAgent;
      return Key::kNone;
    case 'c':
      if (k == "client.address") return Key::kClientIp;
      return Key::kNone;
    case 'd':
      if (k == "db.system.name") return Key::kDbSystem;
      if (k == "db.system") return Key::kDbSystemOld;
      return Key::kNone;
    case 'p':
      if (k == "peer.service") return Key::kPeerService;
      return Key::kNone;
    case 's':
      if (k == "sampleRate") return Key::kSampleRate;
      if (k == "service.peer.name") return Key::kServicePeerName;
      if (k == "server.address") return Key::kServerAddress;
      return Key::kNone;
    case 'S':
      if (k == "SampleRate") return Key::kSampleRate;
      return Key::kNone;
    case 'n':
      if (k == "net.peer.name") return Key::kNetPeerName;
      return Key::kNone;
    default:
      return Key::kNone;
  }
}

bool AsInt(const AttributeValue& v, int64_t* out) {
  switch (v.type) {
    case AttributeValue::Type::kInt:
      *out = v.int_value;
      return true;
    case AttributeValue::Type::kDouble:
      if (!std::isfinite(v.double_value) || std::fabs(v.double_value) > 1e15) return false;
      *out = static_cast<int64_t>(v.double_value);
      return true;
    case AttributeValue::Type::kString: {
      const std::string_view s = v.string_value;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
      return ec == std::errc() && p == s.data() + s.size();
    }
    default:
      return false;
  }
}

const model::Text* AsString(const AttributeValue& v) {
  return v.type == AttributeValue::Type::kString ? &v.string_value : nullptr;
}

// The first string or integer attribute among `keys` in `context` then `own`, as text.
std::string FirstOf(const model::Attributes* context, const model::Attributes& own,
                    std::initializer_list<std::string_view> keys) {
  for (std::string_view key : keys) {
    const Attribute* a = context ? model::FindAttribute(*context, key) : nullptr;
    if (a == nullptr) a = model::FindAttribute(own, key);
    if (a == nullptr) continue;
    if (a->value.type == AttributeValue::Type::kString) return a->value.string_value.str();
    if (a->value.type == AttributeValue::Type::kInt) return std::to_string(a->value.int_value);
  }
  return {};
}

// A server span's URL from its parts, when no attribute holds it whole (spec/otlp.md §9.3):
// scheme://host[:port]{path[?query] | target}, the port left out when it is the scheme's.
std::string RebuildUrl(const model::Attributes* context, const model::Attributes& own) {
  auto first_of = [&](std::initializer_list<std::string_view> keys) {
    return FirstOf(context, own, keys);
  };
  std::string host = first_of({"server.address", "http.host", "net.host.name"});
  std::string path = first_of({"url.path"});
  std::string target = first_of({"http.target"});
  if (host.empty() || (path.empty() && target.empty())) return {};
  std::string scheme = first_of({"url.scheme", "http.scheme"});
  if (scheme.empty()) scheme = "http";
  std::string port = first_of({"server.port", "net.host.port"});
  std::string url = scheme + "://" + host;
  if (host.find(':') == std::string::npos && !port.empty() && !(scheme == "http" && port == "80") &&
      !(scheme == "https" && port == "443")) {
    url += ":" + port;
  }
  if (!path.empty()) {
    url += path;
    if (std::string query = first_of({"url.query"}); !query.empty()) url += "?" + query;
  } else {
    url += target;
  }
  return url;
}

bool IsSampleRateKey(std::string_view key) { return key == "sampleRate" || key == "SampleRate"; }

}  // namespace

uint32_t SampleRateOf(const AttributeValue& value) {
  double rate = 0;
  switch (value.type) {
    case AttributeValue::Type::kInt:
      rate = static_cast<double>(value.int_value);
      break;
    case AttributeValue::Type::kDouble:
      rate = value.double_value;
      break;
    case AttributeValue::Type::kString: {
      const std::string_view s = value.string_value;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), rate);
      if (ec != std::errc() || p != s.data() + s.size()) rate = 0;
      break;
    }
    default:
      break;
  }
  if (!(rate >= 1)) return 1;  // also NaN
  if (rate >= static_cast<double>(std::numeric_limits<int32_t>::max())) {
    return std::numeric_limits<int32_t>::max();
  }
  return static_cast<uint32_t>(std::llround(rate));
}

void GatherFacts(const model::Attributes& list, SpanFacts* f) {
  for (const Attribute& a : list) {
    const Key key = Classify(a.key);
    if (key == Key::kNone) continue;
    const model::Text* s = AsString(a.value);
    switch (key) {
      case Key::kMethod:
        if (s) f->method = s, f->method_new = true;
        break;
      case Key::kMethodOld:
        if (s && !f->method_new) f->method = s;
        break;
      case Key::kRoute:
        if (s) f->route = s;
        break;
      case Key::kUrl:
        if (s) f->url = s, f->url_new = true;
        break;
      case Key::kUrlOld:
        if (s && !f->url_new) f->url = s;
        break;
      case Key::kStatus: {
        int64_t v;
        if (AsInt(a.value, &v)) f->status = v, f->status_new = true;
        break;
      }
      case Key::kStatusOld: {
        int64_t v;
        if (!f->status_new && AsInt(a.value, &v)) f->status = v;
        break;
      }
      case Key::kClientIp:
        if (s) f->client_ip = s, f->client_ip_new = true;
        break;
      case Key::kClientIpOld:
        if (s && !f->client_ip_new) f->client_ip = s;
        break;
      case Key::kUserAgent:
        if (s) f->user_agent = s, f->user_agent_new = true;
        break;
      case Key::kUserAgentOld:
        if (s && !f->user_agent_new) f->user_agent = s;
        break;
      case Key::kDbSystem:
        if (s) f->db_system = s, f->db_system_new = true;
        break;
      case Key::kDbSystemOld:
        if (s && !f->db_system_new) f->db_system = s;
        break;
      case Key::kPeerService:
      case Key::kServicePeerName:
      case Key::kServerAddress:
      case Key::kNetPeerName: {
        // Only span attributes name the peer (a resource's server.address is not a callee).
        if (!s || a.role != AttributeRole::kPlain) break;
        const int rank = static_cast<int>(key) - static_cast<int>(Key::kPeerService) + 1;
        if (f->peer_rank == 0 || rank < f->peer_rank) f->peer = s, f->peer_rank = rank;
        break;
      }
      case Key::kSampleRate: {
        // The most specific level wins; within a level, sampleRate wins over SampleRate.
        const int level = a.role == AttributeRole::kResource ? 1
                          : a.role == AttributeRole::kScope  ? 2
                                                             : 3;
        const int rank = level * 2 + (a.key[0] == 's' ? 1 : 0);
        f->has_rate = true;
        if (rank >= f->rate_rank) f->sample_rate = SampleRateOf(a.value), f->rate_rank = rank;
        break;
      }
      case Key::kNone:
        break;
    }
  }
}

namespace {

// FinishSpan, with `context_facts` gathered from the lists `context` was made from (without
// their sample rate attributes), for a span with a shared context; both null for one without.
void Finish(model::Span* span, const model::Attributes* context, const SpanFacts* context_facts) {
  SpanFacts f = context_facts != nullptr ? *context_facts : SpanFacts{};
  GatherFacts(span->attributes, &f);
  for (auto [from, to] : {std::pair{f.method, &span->http_method},
                          {f.route, &span->http_route},
                          {f.url, &span->http_url},
                          {f.client_ip, &span->client_ip},
                          {f.user_agent, &span->user_agent},
                          {f.db_system, &span->db_system},
                          {f.peer, &span->peer}}) {
    if (from != nullptr) *to = *from;
  }
  if (f.has_rate) span->sample_rate = f.sample_rate;
  if (span->http_url.empty() && !span->http_method.empty()) {
    span->http_url = RebuildUrl(context, span->attributes);
  }
  if (f.has_rate) {
    std::erase_if(span->attributes, [](const Attribute& a) { return IsSampleRateKey(a.key); });
  }
  const int64_t status = f.status;
  span->status_flags = 0;
  if (status > 0 && status < 1000) {
    span->http_status = static_cast<int32_t>(status);
    if (status >= 400 && status < 500) {
      span->status_flags |= model::kStatusError;
      if (status == 429) span->status_flags |= model::kStatusThrottle;
    } else if (status >= 500 && status < 600) {
      span->status_flags |= model::kStatusFault;
    }
  }
  if (span->status_flags == 0 && span->otel_status == 2) span->status_flags = model::kStatusFault;
}

}  // namespace

void FinishSpan(model::Span* span) { Finish(span, nullptr, nullptr); }

std::string_view ServiceNameOf(const model::Attributes& resource) {
  for (const Attribute& a : resource) {
    if (a.key == "service.name" && a.value.type == AttributeValue::Type::kString) {
      return a.value.string_value;
    }
  }
  return {};
}

bool ValidTraceIdBytes(std::string_view b) {
  return b.size() == 16 && b.find_first_not_of('\0') != std::string_view::npos;
}
bool ValidSpanIdBytes(std::string_view b) {
  return b.size() == 8 && b.find_first_not_of('\0') != std::string_view::npos;
}

void ResolveService(Signal signal, const DecodeOptions& options, ResourceContext* resource) {
  const std::string_view name = ServiceNameOf(resource->attributes);
  resource->service = signal == Signal::kLogs ? LogsServiceFor(name, options.dataset_header)
                                              : DatasetForService(name);
}

size_t ContextBytes(const DecodeOptions& options, const ResourceContext& resource,
                    const Scope& scope) {
  size_t bytes = options.environment.size() + resource.service.size() + scope.name.size() +
                 scope.version.size() + (options.classic_key ? options.dataset_header.size() : 0);
  for (const model::Attributes* list : {&resource.attributes, &scope.attributes}) {
    for (const model::Attribute& a : *list) {
      bytes += sizeof(model::Attribute) + a.key.size() + a.value.string_value.size();
    }
  }
  return bytes;
}

Status ContextLimitError(const DecodeOptions& options) {
  return Status::ResourceExhausted(
      "the body's resource and scope attributes, copied into each of its records, come to more "
      "than " +
      std::to_string(options.max_context_bytes) + " bytes");
}

model::Span& BeginSpan(const DecodeOptions& options, const ResourceContext& resource,
                       const Scope& scope, model::SpanBatch* out,
                       model::AttributeFiller* attributes, SharedContext* shared) {
  if (options.shared_context && !shared->ready) {
    shared->ready = true;
    shared->index = model::kNoContext;
    shared->facts = {};
    if (!resource.attributes.empty() || !scope.attributes.empty()) {
      // The facts are gathered before the sample rates leave the shared list: like a span's
      // own, they count for every span, and are not kept as attributes.
      GatherFacts(resource.attributes, &shared->facts);
      GatherFacts(scope.attributes, &shared->facts);
      shared->index = static_cast<uint32_t>(out->contexts.size());
      model::Attributes& c = out->contexts.emplace_back();
      c.reserve(resource.attributes.size() + scope.attributes.size());
      for (const model::Attributes* list : {&resource.attributes, &scope.attributes}) {
        for (const model::Attribute& a : *list) {
          if (!IsSampleRateKey(a.key)) c.push_back(a);
        }
      }
    }
  }
  model::Span& span = out->AddSpan(/*keep_attributes=*/true);
  span.environment.assign(options.environment);
  span.service.assign(resource.service);
  if (options.classic_key) span.dataset.assign(options.dataset_header);
  span.scope_name.assign(scope.name);
  span.scope_version.assign(scope.version);
  *attributes = model::AttributeFiller(&span.attributes);
  if (options.shared_context) {
    span.context = shared->index;
    return span;
  }
  span.attributes.reserve(resource.attributes.size() + scope.attributes.size() + 16);
  for (const model::Attribute& a : resource.attributes) attributes->Add() = a;
  for (const model::Attribute& a : scope.attributes) attributes->Add() = a;
  return span;
}

void FinishSpan(model::Span* span, const model::SpanBatch& batch, const SharedContext& shared) {
  const model::Attributes* context = batch.ContextOf(*span);
  Finish(span, context, context != nullptr ? &shared.facts : nullptr);
}

model::LogRecord& BeginLogRecord(const DecodeOptions& options, const ResourceContext& resource,
                                 const Scope& scope, model::LogBatch* out) {
  model::LogRecord& rec = out->records.emplace_back();
  rec.environment.assign(options.environment);
  rec.service = resource.service;
  rec.scope_name.assign(scope.name);
  rec.attributes.reserve(resource.attributes.size() + scope.attributes.size() + 8);
  rec.attributes.assign(resource.attributes.begin(), resource.attributes.end());
  rec.attributes.insert(rec.attributes.end(), scope.attributes.begin(), scope.attributes.end());
  return rec;
}

void Rejections::Add(std::string_view reason) {
  if (count++ == 0) message.assign(reason);
}

}  // namespace waggle::codec::otlp
