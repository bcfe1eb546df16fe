#include "workload/generator.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <initializer_list>
#include <span>
#include <string>
#include <utility>

#include "base/hex.h"

namespace waggle::workload {
namespace {

using model::AttributeRole;
using model::AttributeValue;
using model::Span;
using model::SpanKind;

// ---------------------------------------------------------------------------------------------
// The topology.

enum class Callee : uint8_t { kCognito, kPostgres, kDynamo, kUserService, kPayments };

// One call backend-flask makes while serving a route, in order.
struct Call {
  Callee callee;
  std::string_view operation;  // aws.operation or db.operation
  std::string_view target;     // the DynamoDB table or the SQL statement
  double median_ms;            // lognormal latency (user-service: its own work decides)
  double sigma;
};

enum class PathParam : uint8_t { kNone, kHandle, kUuid };

struct Route {
  std::string_view method;
  std::string_view route;        // http.route, in Flask's form
  std::string_view path_prefix;  // the path up to its parameter
  PathParam param;
  std::string_view handler;  // the Flask view, annotation "handler"
  std::string_view page;     // the frontend page the interaction happens on
  std::string_view action;   // the frontend interaction span's name
  double weight;
  double body_bytes;  // median response size
  std::span<const Call> calls;
};

constexpr std::string_view kHomeSql =
    "SELECT a.uuid, a.message, a.created_at, u.handle FROM activities a JOIN users u ON "
    "u.uuid = a.user_uuid ORDER BY a.created_at DESC LIMIT $1";
constexpr std::string_view kProfileSql =
    "SELECT u.handle, u.display_name, a.message, a.created_at FROM users u LEFT JOIN activities "
    "a ON a.user_uuid = u.uuid WHERE u.handle = $1 ORDER BY a.created_at DESC LIMIT $2";
constexpr std::string_view kCreateSql =
    "INSERT INTO activities (user_uuid, message, expires_at) VALUES ($1, $2, $3) RETURNING uuid";
constexpr std::string_view kOrderSql =
    "INSERT INTO orders (user_uuid, amount_cents, currency, payment_id) VALUES ($1, $2, $3, $4)";
constexpr std::string_view kReportSql =
    "SELECT date_trunc('day', o.created_at) AS day, u.segment, count(*), sum(o.amount_cents) "
    "FROM orders o JOIN users u ON u.uuid = o.user_uuid WHERE o.created_at > now() - interval "
    "'90 days' GROUP BY 1, 2 ORDER BY 1, 2";

constexpr Call kHomeCalls[] = {
    {Callee::kCognito, "GetUser", "", 24, 0.35},
    {Callee::kPostgres, "SELECT", kHomeSql, 4, 0.6},
    {Callee::kUserService, "", "", 0, 0},
    {Callee::kDynamo, "Query", "activity_likes", 8, 0.45},
};
constexpr Call kProfileCalls[] = {
    {Callee::kPostgres, "SELECT", kProfileSql, 5, 0.6},
    {Callee::kUserService, "", "", 0, 0},
};
constexpr Call kCreateCalls[] = {
    {Callee::kCognito, "GetUser", "", 24, 0.35},
    {Callee::kPostgres, "INSERT", kCreateSql, 6, 0.5},
    {Callee::kDynamo, "PutItem", "activity_feed", 7, 0.4},
};
constexpr Call kMessagesCalls[] = {
    {Callee::kCognito, "GetUser", "", 24, 0.35},
    {Callee::kDynamo, "Query", "cruddur-messages", 9, 0.45},
    {Callee::kUserService, "", "", 0, 0},
};
constexpr Call kCheckoutCalls[] = {
    {Callee::kCognito, "GetUser", "", 24, 0.35},
    {Callee::kUserService, "", "", 0, 0},
    {Callee::kPayments, "POST", "", 90, 0.45},
    {Callee::kPostgres, "INSERT", kOrderSql, 6, 0.5},
};
// The slow endpoint: a 90-day aggregate over orders and a table scan.
constexpr Call kReportsCalls[] = {
    {Callee::kCognito, "GetUser", "", 24, 0.35},
    {Callee::kPostgres, "SELECT", kReportSql, 1600, 0.35},
    {Callee::kDynamo, "Scan", "activity_stats", 200, 0.4},
};

constexpr Route kRoutes[] = {
    {"GET", "/api/activities/home", "/api/activities/home", PathParam::kNone, "data_home", "/",
     "load home feed", 32, 4800, kHomeCalls},
    {"GET", "/api/activities/@<handle>", "/api/activities/@", PathParam::kHandle, "data_handle",
     "/profile", "view profile", 15, 2600, kProfileCalls},
    {"POST", "/api/activities", "/api/activities", PathParam::kNone, "data_activities", "/",
     "post activity", 10, 350, kCreateCalls},
    {"GET", "/api/messages/<message_group_uuid>", "/api/messages/", PathParam::kUuid,
     "data_messages", "/messages", "open conversation", 18, 3100, kMessagesCalls},
    {"POST", "/api/checkout", "/api/checkout", PathParam::kNone, "data_checkout", "/checkout",
     "place order", 10, 520, kCheckoutCalls},
    {"GET", "/api/reports", "/api/reports", PathParam::kNone, "data_reports", "/reports",
     "load sales report", 8, 18000, kReportsCalls},
};

// Customer segments, per 10,000 users.
struct CustomerSegment {
  std::string_view name;
  int per_10000;
};
constexpr CustomerSegment kSegments[] = {
    {"consumer", 5600}, {"smb", 2600}, {"enterprise", 1400}, {"wholesale", 400}};
constexpr double kErrorProneShare = 0.04;  // wholesale's 400 of 10,000

struct Browser {
  std::string_view platform;
  bool mobile;
  std::string_view user_agent;
};
constexpr Browser kBrowsers[] = {
    {"Windows", false,
     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Safari/537.36"},
    {"macOS", false,
     "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.4 Safari/605.1.15"},
    {"macOS", false,
     "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Safari/537.36"},
    {"Linux", false, "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"},
    {"Android", true,
     "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Mobile Safari/537.36"},
    {"iOS", true,
     "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/17.4 Mobile/15E148 Safari/604.1"},
};

struct Host {
  std::string_view name;
  std::string_view ip;
};
constexpr Host kBackendHosts[] = {
    {"ip-10-0-1-23", "10.0.1.23"}, {"ip-10-0-2-41", "10.0.2.41"}, {"ip-10-0-3-17", "10.0.3.17"}};
constexpr std::string_view kUserServiceHosts[] = {"user-service-7d9f8b6c4-x2x7q",
                                                  "user-service-7d9f8b6c4-kq9wz"};

constexpr std::string_view kRegion = "us-east-1";
constexpr std::string_view kDeployment = "production";
constexpr std::string_view kApiHost = "api.cruddur.example";
constexpr std::string_view kUserServiceHost = "user-service.internal";
constexpr int64_t kUserServicePort = 8080;
constexpr std::string_view kPostgresPeer = "cruddur@postgres.internal";
constexpr std::string_view kPaymentsHost = "api.example-payments.com";
constexpr int64_t kStatementTimeoutMs = 3000;

// ---------------------------------------------------------------------------------------------
// Failures: at most one per trace, chosen among those the route can have.

enum class Failure : uint8_t {
  kNone,
  kThrottled,         // backend-flask's rate limiter answers 429 before any call
  kAuthExpired,       // Cognito rejects the access token: 401
  kDbTimeout,         // a Postgres statement hits statement_timeout: 500
  kUserServiceFault,  // user-service raises: 500 there and in backend-flask
  kPaymentsDown,      // the payments API answers 502: backend-flask answers 502
};

struct Frame {
  std::string_view path;
  int line;
  std::string_view label;
  std::string_view code;
};

constexpr Frame kFlaskFrames[] = {
    {"/usr/local/lib/python3.11/site-packages/flask/app.py", 1484, "full_dispatch_request",
     "rv = self.dispatch_request()"},
    {"/usr/local/lib/python3.11/site-packages/flask/app.py", 1469, "dispatch_request",
     "return self.ensure_sync(self.view_functions[rule.endpoint])(**view_args)"},
};
constexpr Frame kDbFrames[] = {
    {"/backend-flask/lib/db.py", 57, "query_array_json", "cur.execute(wrapped_sql, params)"},
    {"/usr/local/lib/python3.11/site-packages/psycopg/cursor.py", 723, "execute",
     "raise ex.with_traceback(None)"},
};
constexpr Frame kUserFetchFrames[] = {
    {"/backend-flask/lib/users.py", 31, "fetch_profile", "resp.raise_for_status()"},
    {"/usr/local/lib/python3.11/site-packages/requests/models.py", 1021, "raise_for_status",
     "raise HTTPError(http_error_msg, response=self)"},
};
constexpr Frame kPaymentsFrames[] = {
    {"/backend-flask/services/checkout.py", 64, "charge",
     "raise PaymentGatewayError(f'payment provider returned {resp.status_code}')"},
};
constexpr Frame kCognitoFrames[] = {
    {"/backend-flask/lib/cognito_jwt_token.py", 88, "verify",
     "resp = self.client.get_user(AccessToken=token)"},
    {"/usr/local/lib/python3.11/site-packages/botocore/client.py", 1009, "_make_api_call",
     "raise error_class(parsed_response, operation_name)"},
};
constexpr Frame kUserServiceFrames[] = {
    {"/usr/local/lib/python3.11/site-packages/starlette/routing.py", 74, "app",
     "response = await func(request)"},
    {"/srv/user_service/api.py", 48, "get_user", "return present(user, pricing.for_segment(user))"},
};
constexpr Frame kPricingFrame = {"/srv/user_service/pricing.py", 23, "for_segment",
                                 "discount = DISCOUNTS[user['segment'] + '_discount']"};
constexpr Frame kPresentFrame = {"/srv/user_service/present.py", 12, "present",
                                 "handle = record['profile']['handle']"};

// A Python traceback, most recent call last, as exception.stacktrace carries it.
std::string Traceback(std::initializer_list<std::span<const Frame>> parts, std::string_view type,
                      std::string_view message) {
  std::string out = "Traceback (most recent call last):\n";
  for (std::span<const Frame> frames : parts) {
    for (const Frame& f : frames) {
      out.append("  File \"").append(f.path).append("\", line ").append(std::to_string(f.line));
      out.append(", in ").append(f.label).append("\n    ").append(f.code).append("\n");
    }
  }
  out.append(type).append(": ").append(message);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Users: a fixed population, the same under every seed.

std::string Hex(uint64_t v, int digits) {
  std::string out(static_cast<size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i, v >>= 4) {
    out[static_cast<size_t>(i)] = hex::kLowerDigits[v & 15];
  }
  return out;
}

// 8-4-4-4-12 hex digits.
std::string Uuid(uint64_t hi, uint64_t lo) {
  std::string h = Hex(hi, 16), l = Hex(lo, 16);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + l.substr(0, 4) +
         "-" + l.substr(4, 12);
}

struct User {
  int64_t index = 0;
  std::string id;  // enduser.id: a Cognito-style uuid
  std::string_view segment;
  std::string ip;
  const Browser* browser = nullptr;
};

User UserAt(int64_t index) {
  const uint64_t i = static_cast<uint64_t>(index);
  User u;
  u.index = index;
  u.id = Uuid(Mix64(i ^ 0x75736572ull), Mix64(i + 0x6964ull));
  int bucket = static_cast<int>(Mix64(i ^ 0x7365676dull) % 10000);
  u.segment = kSegments[0].name;
  for (const CustomerSegment& s : kSegments) {
    if (bucket < s.per_10000) {
      u.segment = s.name;
      break;
    }
    bucket -= s.per_10000;
  }
  const uint64_t h = Mix64(i ^ 0x6970ull);
  uint64_t first = 24 + h % 199;  // 24..222, not loopback
  if (first == 127) first = 128;
  u.ip = std::to_string(first) + "." + std::to_string((h >> 8) & 255) + "." +
         std::to_string((h >> 16) & 255) + "." + std::to_string(1 + (h >> 24) % 254);
  u.browser = &kBrowsers[Mix64(i ^ 0x62726f77ull) % std::size(kBrowsers)];
  return u;
}

std::string HandleOf(int64_t index) { return "user" + std::to_string(index); }

// ---------------------------------------------------------------------------------------------
// Building one trace.

// What every span of one service (and instrumentation scope) in this trace starts with.
struct Origin {
  std::string_view service;
  const model::Attributes* resource;
  std::string_view scope_name;
  std::string_view scope_version;
  uint32_t flags;  // W3C trace flags for OTel services; 0 for X-Ray's
};

model::Attribute Resource(std::string_view key, std::string_view value) {
  return {key, AttributeValue::String(value), AttributeRole::kResource};
}

class TraceBuilder {
 public:
  TraceBuilder(Random* rng, const WorkloadOptions& options, std::vector<Span>* out)
      : rng_(*rng), options_(options), out_(*out) {}

  model::TraceId trace_id;

  // Appends a span that starts at `start_us`; returns its index in the output.
  size_t Begin(const Origin& origin, size_t parent, std::string name, SpanKind kind,
               int64_t start_us) {
    Span& s = out_.emplace_back();
    s.trace_id = trace_id;
    do {
      s.span_id.value = rng_.Next();
    } while (s.span_id.IsZero());
    if (parent != kNoParent) s.parent_span_id = out_[parent].span_id;
    s.environment = options_.environment;
    s.service = origin.service;
    s.name = std::move(name);
    s.kind = kind;
    s.start_ns = start_us * 1000;
    s.scope_name = origin.scope_name;
    s.scope_version = origin.scope_version;
    s.flags = origin.flags;
    s.attributes.reserve(20);
    s.attributes = *origin.resource;
    return out_.size() - 1;
  }
  void End(size_t i, int64_t end_us) { out_[i].end_ns = end_us * 1000; }
  Span& at(size_t i) { return out_[i]; }

  void Str(size_t i, std::string_view key, std::string_view value,
           AttributeRole role = AttributeRole::kPlain) {
    out_[i].attributes.push_back(
        {std::string(key), AttributeValue::String(std::string(value)), role});
  }
  void Int(size_t i, std::string_view key, int64_t value) {
    out_[i].attributes.push_back({std::string(key), AttributeValue::Int(value), {}});
  }

  // http.response.status_code and what it means for the span's status: 4xx is an error (429
  // also a throttle), 5xx a fault; OTel marks 5xx ERROR on servers and 4xx too on clients.
  void HttpStatus(size_t i, int status) {
    Span& s = out_[i];
    s.http_status = status;
    s.attributes.push_back({"http.response.status_code", AttributeValue::Int(status), {}});
    if (status >= 500) {
      s.status_flags |= model::kStatusFault;
      s.otel_status = 2;
    } else if (status >= 400) {
      s.status_flags |= model::kStatusError;
      if (status == 429) s.status_flags |= model::kStatusThrottle;
      if (s.kind == SpanKind::kClient) s.otel_status = 2;
    }
  }
  // A failure of a span without an HTTP status: OTel status ERROR, a fault.
  void Fault(size_t i, std::string_view message) {
    Span& s = out_[i];
    s.otel_status = 2;
    s.status_flags |= model::kStatusFault;
    s.status_message = message;
  }
  void Exception(size_t i, int64_t at_us, std::string_view type, std::string_view message,
                 std::string stacktrace) {
    Span& s = out_[i];
    model::SpanEvent& e = s.events.emplace_back();
    e.time_ns = at_us * 1000;
    e.name = "exception";
    e.attributes.push_back(
        {"exception.type", AttributeValue::String(std::string(type)), AttributeRole::kPlain});
    e.attributes.push_back(
        {"exception.message", AttributeValue::String(std::string(message)), AttributeRole::kPlain});
    e.attributes.push_back(
        {"exception.stacktrace", AttributeValue::String(std::move(stacktrace)), {}});
    if (s.status_message.empty()) s.status_message = message;
  }

  // A lognormal duration in whole microseconds, at least 1.
  int64_t Us(double median_ms, double sigma) {
    return std::max<int64_t>(1, std::llround(rng_.LogNormal(median_ms, sigma) * 1000));
  }
  std::string RandomUuid() { return Uuid(rng_.Next(), rng_.Next()); }
  Random& rng() { return rng_; }

  static constexpr size_t kNoParent = static_cast<size_t>(-1);

 private:
  Random& rng_;
  const WorkloadOptions& options_;
  std::vector<Span>& out_;
};

// The AWS SDK call attributes shared by X-Ray's and OTel's DynamoDB and Cognito spans.
void AwsCall(TraceBuilder& b, size_t i, std::string_view rpc_service, std::string_view operation,
             std::string_view peer) {
  b.Str(i, "rpc.system", "aws-api");
  b.Str(i, "rpc.service", rpc_service);
  b.Str(i, "rpc.method", operation);
  b.Str(i, "aws.operation", operation);
  b.Str(i, "aws.region", kRegion);
  b.Str(i, "aws.request_id", b.RandomUuid());
  b.Str(i, "peer.service", peer);
  b.at(i).peer = peer;
}

}  // namespace

Status WorkloadOptions::Validate() const {
  if (!(traces_per_second > 0) || !std::isfinite(traces_per_second)) {
    return Status::InvalidArgument("traces_per_second must be a positive number");
  }
  if (!(error_share >= 0 && error_share <= 1)) {
    return Status::InvalidArgument("error_share must be between 0 and 1");
  }
  if (user_count < 1000) return Status::InvalidArgument("user_count must be at least 1000");
  if (start_ns < 946684800LL * 1'000'000'000) {
    return Status::InvalidArgument("start_ns must be after 2000-01-01");
  }
  if (environment.empty()) return Status::InvalidArgument("environment must not be empty");
  return Status::Ok();
}

Generator::Generator(const WorkloadOptions& options)
    : options_(options), rng_(options.seed), next_start_us_(options.start_ns / 1000) {
  if (!(options_.traces_per_second > 0) || !std::isfinite(options_.traces_per_second)) {
    options_.traces_per_second = 1;
  }
  if (!(options_.error_share >= 0)) options_.error_share = 0;
  options_.error_share = std::min(options_.error_share, 1.0);
  options_.user_count = std::max<int64_t>(options_.user_count, 1000);
  if (options_.environment.empty()) options_.environment = "default";
  segment_error_rate_ = std::min(0.25, 12.5 * options_.error_share);
  other_error_rate_ = std::clamp(
      (options_.error_share - kErrorProneShare * segment_error_rate_) / (1 - kErrorProneShare), 0.0,
      1.0);
}

void Generator::NextTrace(std::vector<Span>* spans) {
  Random& rng = rng_;
  const int64_t t0 = next_start_us_;
  // The gap, at most a century (a tiny rate would overflow the conversion; llround of a value
  // past int64 is unspecified).
  constexpr double kMaxGapUs = 100.0 * 365 * 86400 * 1e6;
  next_start_us_ += std::max<int64_t>(
      1, std::llround(std::min(kMaxGapUs, rng.Exponential(1e6 / options_.traces_per_second))));
  ++traces_;

  // Who, what, and whether it fails.
  double pick = rng.Uniform() * [] {
    double total = 0;
    for (const Route& r : kRoutes) total += r.weight;
    return total;
  }();
  const Route* route = &kRoutes[std::size(kRoutes) - 1];
  for (const Route& r : kRoutes) {
    if (pick < r.weight) {
      route = &r;
      break;
    }
    pick -= r.weight;
  }
  // A fifth of requests come from the thousand most active users.
  const int64_t user_index = rng.Chance(0.2) ? static_cast<int64_t>(rng.Below(1000))
                                             : static_cast<int64_t>(rng.Below(options_.user_count));
  const User user = UserAt(user_index);
  const bool error_prone = user.segment == kErrorProneSegment;

  bool has[5] = {};
  for (const Call& c : route->calls) has[static_cast<int>(c.callee)] = true;
  Failure failure = Failure::kNone;
  if (rng.Chance(error_prone ? segment_error_rate_ : other_error_rate_)) {
    if (error_prone && has[static_cast<int>(Callee::kUserService)] && rng.Chance(0.75)) {
      failure = Failure::kUserServiceFault;
    } else {
      struct Option {
        Failure failure;
        double weight;
        bool possible;
      };
      const Option options[] = {
          {Failure::kThrottled, 15, true},
          {Failure::kAuthExpired, 20, has[static_cast<int>(Callee::kCognito)]},
          {Failure::kDbTimeout, 30, has[static_cast<int>(Callee::kPostgres)]},
          {Failure::kUserServiceFault, 20, has[static_cast<int>(Callee::kUserService)]},
          {Failure::kPaymentsDown, 15, has[static_cast<int>(Callee::kPayments)]},
      };
      double total = 0;
      for (const Option& o : options) total += o.possible ? o.weight : 0;
      double at = rng.Uniform() * total;
      failure = Failure::kThrottled;
      for (const Option& o : options) {
        if (!o.possible) continue;
        if (at < o.weight) {
          failure = o.failure;
          break;
        }
        at -= o.weight;
      }
    }
  }

  TraceBuilder b(&rng, options_, spans);
  const uint32_t epoch = static_cast<uint32_t>(t0 / 1'000'000);
  b.trace_id.bytes[0] = static_cast<uint8_t>(epoch >> 24);
  b.trace_id.bytes[1] = static_cast<uint8_t>(epoch >> 16);
  b.trace_id.bytes[2] = static_cast<uint8_t>(epoch >> 8);
  b.trace_id.bytes[3] = static_cast<uint8_t>(epoch);
  const uint64_t r1 = rng.Next(), r2 = rng.Next();
  for (int i = 0; i < 8; ++i) b.trace_id.bytes[4 + i] = static_cast<uint8_t>(r1 >> (8 * i));
  for (int i = 0; i < 4; ++i) b.trace_id.bytes[12 + i] = static_cast<uint8_t>(r2 >> (8 * i));

  // Resources: a frontend per browser, three backend-flask hosts, two user-service pods.
  const Host& backend_host = kBackendHosts[rng.Below(std::size(kBackendHosts))];
  const std::string_view user_host = kUserServiceHosts[rng.Below(std::size(kUserServiceHosts))];
  model::Attributes frontend_resource = {
      Resource("service.name", kFrontendService),
      Resource("service.version", "2.14.0"),
      Resource("deployment.environment", kDeployment),
      Resource("telemetry.sdk.name", "opentelemetry"),
      Resource("telemetry.sdk.language", "webjs"),
      Resource("telemetry.sdk.version", "1.25.1"),
      Resource("browser.platform", user.browser->platform),
      {"browser.mobile", AttributeValue::Bool(user.browser->mobile), AttributeRole::kResource},
  };
  const model::Attributes backend_resource = {
      Resource("service.name", kBackendService),
      Resource("service.version", "1.8.3"),
      Resource("deployment.environment", kDeployment),
      Resource("host.name", backend_host.name),
      Resource("cloud.provider", "aws"),
      Resource("cloud.platform", "aws_ec2"),
      Resource("cloud.region", kRegion),
      Resource("telemetry.sdk.name", "X-Ray for Python"),
  };
  const model::Attributes user_resource = {
      Resource("service.name", kUserService),
      Resource("service.version", "0.9.2"),
      Resource("deployment.environment", kDeployment),
      Resource("host.name", user_host),
      Resource("cloud.provider", "aws"),
      Resource("cloud.region", kRegion),
      Resource("telemetry.sdk.name", "opentelemetry"),
      Resource("telemetry.sdk.language", "python"),
  };
  const Origin interaction{kFrontendService, &frontend_resource,
                           "@opentelemetry/instrumentation-user-interaction", "0.39.0", 1};
  const Origin fetch_origin{kFrontendService, &frontend_resource,
                            "@opentelemetry/instrumentation-fetch", "0.52.1", 1};
  const Origin backend{kBackendService, &backend_resource, "", "", 0};
  const Origin user_server{kUserService, &user_resource, "opentelemetry.instrumentation.fastapi",
                           "0.46b0", 1};
  const Origin user_client{kUserService, &user_resource, "opentelemetry.instrumentation.botocore",
                           "0.46b0", 1};

  std::string path(route->path_prefix);
  if (route->param == PathParam::kHandle) {
    path += HandleOf(static_cast<int64_t>(rng.Below(options_.user_count)));
  } else if (route->param == PathParam::kUuid) {
    path += b.RandomUuid();
  }
  const std::string api_url = "https://" + std::string(kApiHost) + path;
  const int64_t session_window = t0 / (30LL * 60 * 1'000'000);  // sessions of 30 minutes
  const std::string session = Hex(Mix64(static_cast<uint64_t>(user.index) * 0x2545f4914f6cdd1dull ^
                                        static_cast<uint64_t>(session_window)),
                                  16);

  // frontend: the interaction, then its fetch.
  const size_t root = b.Begin(interaction, TraceBuilder::kNoParent, std::string(route->action),
                              SpanKind::kInternal, t0);
  b.Str(root, "event_type", "click");
  b.Str(root, "target_element", "BUTTON");
  b.Str(root, "app.page", route->page);
  b.Str(root, "enduser.id", user.id);
  b.Str(root, kSegmentKey, user.segment);
  b.Str(root, "session.id", session);
  b.Str(root, "user_agent.original", user.browser->user_agent);
  b.at(root).user_agent = user.browser->user_agent;

  const int64_t fetch_start = t0 + b.Us(2.5, 0.5);
  const size_t fetch = b.Begin(fetch_origin, root, "HTTP " + std::string(route->method),
                               SpanKind::kClient, fetch_start);
  b.Str(fetch, "http.request.method", route->method);
  b.Str(fetch, "url.full", api_url);
  b.Str(fetch, "server.address", kApiHost);
  b.Int(fetch, "server.port", 443);
  b.Str(fetch, "peer.service", kBackendService);
  b.Str(fetch, "user_agent.original", user.browser->user_agent);
  b.Str(fetch, "enduser.id", user.id);
  {
    Span& s = b.at(fetch);
    s.http_method = route->method;
    s.http_url = api_url;
    s.peer = kBackendService;
    s.user_agent = user.browser->user_agent;
  }

  // backend-flask: X-Ray's view of the request, then its calls in order.
  const int64_t backend_start = fetch_start + b.Us(14, 0.45);
  const size_t server =
      b.Begin(backend, fetch, std::string(kBackendService), SpanKind::kServer, backend_start);
  b.Str(server, "http.request.method", route->method);
  b.Str(server, "http.route", route->route);
  b.Str(server, "url.full", api_url);
  b.Str(server, "client.address", user.ip);
  b.Str(server, "user_agent.original", user.browser->user_agent);
  b.Str(server, "enduser.id", user.id);
  b.Str(server, "customer_segment", user.segment, AttributeRole::kAnnotation);
  b.Str(server, "handler", route->handler, AttributeRole::kAnnotation);
  {
    Span& s = b.at(server);
    s.http_method = route->method;
    s.http_route = route->route;
    s.http_url = api_url;
    s.client_ip = user.ip;
    s.user_agent = user.browser->user_agent;
  }

  int64_t t = backend_start + b.Us(1.5, 0.5);
  int status = route->method == "POST" ? 201 : 200;
  if (failure == Failure::kThrottled) status = 429;
  for (const Call& call : route->calls) {
    if (status >= 400) break;  // the request failed: nothing more is called
    int64_t end = t;
    switch (call.callee) {
      case Callee::kCognito: {
        const size_t c = b.Begin(backend, server, "Cognito", SpanKind::kClient, t);
        AwsCall(b, c, "CognitoIdentityProvider", call.operation, "Cognito");
        b.Str(c, "enduser.id", user.id);
        end = t + b.Us(call.median_ms, call.sigma);
        if (failure == Failure::kAuthExpired) {
          b.HttpStatus(c, 400);
          constexpr std::string_view kType = "botocore.errorfactory.NotAuthorizedException";
          constexpr std::string_view kMessage =
              "An error occurred (NotAuthorizedException) when calling the GetUser operation: "
              "Access Token has expired";
          b.Exception(c, end, kType, kMessage, Traceback({kCognitoFrames}, kType, kMessage));
          status = 401;
        } else {
          b.HttpStatus(c, 200);
        }
        b.End(c, end);
        break;
      }
      case Callee::kPostgres: {
        const size_t c = b.Begin(backend, server, std::string(kPostgresPeer), SpanKind::kClient, t);
        b.Str(c, "db.system", "postgresql");
        b.Str(c, "db.name", "cruddur");
        b.Str(c, "db.statement", call.target);
        b.Str(c, "db.operation", call.operation);
        b.Str(c, "db.user", "cruddur_app");
        b.Str(c, "server.address", "postgres.internal");
        b.Int(c, "server.port", 5432);
        b.Str(c, "peer.service", kPostgresPeer);
        b.Str(c, "enduser.id", user.id);
        b.at(c).db_system = "postgresql";
        b.at(c).peer = kPostgresPeer;
        if (failure == Failure::kDbTimeout) {
          end = t + kStatementTimeoutMs * 1000 + b.Us(1.5, 0.3);
          constexpr std::string_view kType = "psycopg.errors.QueryCanceled";
          constexpr std::string_view kMessage = "canceling statement due to statement timeout";
          b.Fault(c, kMessage);
          b.Exception(c, end, kType, kMessage, Traceback({kDbFrames}, kType, kMessage));
          b.Exception(server, end, kType, kMessage,
                      Traceback({kFlaskFrames, kDbFrames}, kType, kMessage));
          status = 500;
        } else {
          end = t + b.Us(call.median_ms, call.sigma);
        }
        b.End(c, end);
        break;
      }
      case Callee::kDynamo: {
        const size_t c = b.Begin(backend, server, "DynamoDB", SpanKind::kClient, t);
        AwsCall(b, c, "DynamoDB", call.operation, "DynamoDB");
        b.Str(c, "aws.table_name", call.target);
        b.Str(c, "db.system", "dynamodb");
        b.Str(c, "enduser.id", user.id);
        b.at(c).db_system = "dynamodb";
        end = t + b.Us(call.median_ms, call.sigma);
        b.HttpStatus(c, 200);
        b.End(c, end);
        break;
      }
      case Callee::kUserService: {
        const std::string user_path = "/users/" + user.id;
        const std::string user_url = "http://" + std::string(kUserServiceHost) + ":" +
                                     std::to_string(kUserServicePort) + user_path;
        const size_t c = b.Begin(backend, server, std::string(kUserService), SpanKind::kClient, t);
        b.Str(c, "http.request.method", "GET");
        b.Str(c, "url.full", user_url);
        b.Str(c, "server.address", kUserServiceHost);
        b.Int(c, "server.port", kUserServicePort);
        b.Str(c, "peer.service", kUserService);
        b.Str(c, "enduser.id", user.id);
        b.at(c).http_method = "GET";
        b.at(c).http_url = user_url;
        b.at(c).peer = kUserService;

        // user-service (OTel): its server span, and its DynamoDB read.
        const int64_t s_start = t + b.Us(0.8, 0.3);
        const size_t us =
            b.Begin(user_server, c, "GET /users/{user_id}", SpanKind::kServer, s_start);
        b.Str(us, "http.request.method", "GET");
        b.Str(us, "http.route", "/users/{user_id}");
        b.Str(us, "url.path", user_path);
        b.Str(us, "url.scheme", "http");
        b.Str(us, "net.host.name", kUserServiceHost);
        b.Int(us, "net.host.port", kUserServicePort);
        b.Str(us, "client.address", backend_host.ip);
        b.Str(us, "user_agent.original", "python-requests/2.31.0");
        b.Str(us, "enduser.id", user.id);
        b.Str(us, kSegmentKey, user.segment);
        {
          Span& s = b.at(us);
          s.http_method = "GET";
          s.http_route = "/users/{user_id}";
          s.http_url = user_url;
          s.client_ip = backend_host.ip;
          s.user_agent = "python-requests/2.31.0";
        }
        int64_t u = s_start + b.Us(0.6, 0.4);
        const size_t d = b.Begin(user_client, us, "DynamoDB.GetItem", SpanKind::kClient, u);
        AwsCall(b, d, "DynamoDB", "GetItem", "DynamoDB");
        b.Str(d, "aws.table_name", "users");
        b.Str(d, "db.system", "dynamodb");
        b.Str(d, "enduser.id", user.id);
        b.at(d).db_system = "dynamodb";
        u += b.Us(5, 0.4);
        b.HttpStatus(d, 200);
        b.End(d, u);
        u += b.Us(1.2, 0.4);
        if (failure == Failure::kUserServiceFault) {
          // The wholesale segment meets one bug; anyone else a bad record now and then.
          const bool wholesale = user.segment == kErrorProneSegment;
          const std::string_view type = wholesale ? "KeyError" : "TypeError";
          const std::string_view message =
              wholesale ? "'wholesale_discount'" : "'NoneType' object is not subscriptable";
          const Frame& last = wholesale ? kPricingFrame : kPresentFrame;
          b.Exception(us, u, type, message,
                      Traceback({kUserServiceFrames, std::span(&last, 1)}, type, message));
          b.HttpStatus(us, 500);
        } else {
          b.HttpStatus(us, 200);
        }
        b.End(us, u);

        end = u + b.Us(0.8, 0.3);
        if (failure == Failure::kUserServiceFault) {
          b.HttpStatus(c, 500);
          constexpr std::string_view kType = "requests.exceptions.HTTPError";
          const std::string message =
              "500 Server Error: Internal Server Error for url: " + user_url;
          b.Exception(server, end, kType, message,
                      Traceback({kFlaskFrames, kUserFetchFrames}, kType, message));
          status = 500;
        } else {
          b.HttpStatus(c, 200);
        }
        b.End(c, end);
        break;
      }
      case Callee::kPayments: {
        const size_t c = b.Begin(backend, server, std::string(kPaymentsHost), SpanKind::kClient, t);
        const std::string url = "https://" + std::string(kPaymentsHost) + "/v1/charges";
        b.Str(c, "http.request.method", "POST");
        b.Str(c, "url.full", url);
        b.Str(c, "server.address", kPaymentsHost);
        b.Int(c, "server.port", 443);
        b.Str(c, "enduser.id", user.id);
        b.Int(c, "payment.amount_cents", std::llround(b.rng().LogNormal(4500, 0.8)));
        b.Str(c, "payment.currency", "USD");
        b.at(c).http_method = "POST";
        b.at(c).http_url = url;
        b.at(c).peer = kPaymentsHost;
        if (failure == Failure::kPaymentsDown) {
          end = t + b.Us(60, 0.4);
          b.HttpStatus(c, 502);
          constexpr std::string_view kType = "services.checkout.PaymentGatewayError";
          constexpr std::string_view kMessage = "payment provider returned 502";
          b.Exception(server, end, kType, kMessage,
                      Traceback({kFlaskFrames, kPaymentsFrames}, kType, kMessage));
          status = 502;
        } else {
          end = t + b.Us(call.median_ms, call.sigma);
          b.HttpStatus(c, 200);
        }
        b.End(c, end);
        break;
      }
    }
    t = end + b.Us(0.3, 0.5);
  }
  const int64_t backend_end = t + b.Us(2, 0.5);
  const int64_t body = status < 400 ? std::llround(b.rng().LogNormal(route->body_bytes, 0.3))
                                    : std::llround(b.rng().LogNormal(120, 0.2));
  b.Int(server, "http.response.body.size", body);
  b.HttpStatus(server, status);
  b.End(server, backend_end);

  // Back in the browser.
  const int64_t fetch_end = backend_end + b.Us(14, 0.45);
  b.Int(fetch, "http.response.body.size", body);
  b.HttpStatus(fetch, status);
  b.End(fetch, fetch_end);
  if (status >= 500) b.Fault(root, "request failed with status " + std::to_string(status));
  b.End(root, fetch_end + b.Us(12, 0.5));
}

std::vector<Span> GenerateSpans(const WorkloadOptions& options, size_t min_spans) {
  std::vector<Span> spans;
  spans.reserve(min_spans + 16);
  Generator generator(options);
  while (spans.size() < min_spans) generator.NextTrace(&spans);
  return spans;
}

}  // namespace waggle::workload
