#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "model/span.h"
#include "workload/random.h"

// A deterministic workload: whole traces through a small microservice topology, the same
// spans for the same seed on every machine and standard library. Tests, benchmarks and
// `waggle demo` share it.
//
// The topology (DESIGN.md §1 clients, both protocols in one trace):
//
//   frontend (React, OTel)      an interaction span (internal) and its fetch (client)
//     -> backend-flask (X-Ray)  one server span per request, named for the service as the
//                               X-Ray SDK names segments, and a client span per call:
//        -> Cognito             GetUser (aws-api)
//        -> cruddur@postgres.internal   SQL (postgresql)
//        -> DynamoDB            Query / PutItem / Scan (aws-api, db.system dynamodb)
//        -> user-service (OTel) server span, which calls DynamoDB GetItem
//        -> api.example-payments.com    the external payments API
//
// What analysis can find in it: latencies are lognormal; `GET /api/reports` is about ten
// times slower than any other route (one Postgres aggregate); about 2% of traces have an
// error (5xx faults with exception events, 4xx errors, 429 throttles); customers in the
// `wholesale` segment (attribute app.customer_segment, X-Ray annotation customer_segment)
// fail about a quarter of the time, mostly with one user-service exception; enduser.id comes
// from about 100,000 users and is the same on every span of a trace; every span carries 10 to
// 20 attributes (resource attributes first, role kResource).
namespace waggle::workload {

// Names the generator plants, for tests and analyses that look for them.
inline constexpr std::string_view kFrontendService = "frontend";
inline constexpr std::string_view kBackendService = "backend-flask";
inline constexpr std::string_view kUserService = "user-service";
inline constexpr std::string_view kSlowRoute = "/api/reports";  // backend-flask's http.route
inline constexpr std::string_view kSegmentKey = "app.customer_segment";
inline constexpr std::string_view kErrorProneSegment = "wholesale";

struct WorkloadOptions {
  // Same seed, same spans (ids, times, attributes). The user population does not depend on
  // it: user N has the same id, segment and address under every seed.
  uint64_t seed = 1;
  // When the first trace starts, in nanoseconds since the epoch (default 2023-11-14T22:13:20Z).
  // Trace ids carry its epoch seconds in their first four bytes, as X-Ray ids do.
  int64_t start_ns = 1'700'000'000'000'000'000;
  // Mean rate at which traces start (Poisson arrivals), per second. Greater than 0.
  double traces_per_second = 100;
  // Share of traces with an error (any span with a status flag), in [0, 1]. The wholesale
  // segment fails at 12.5 times this (at most 25%), the others make up the rest.
  double error_share = 0.02;
  // Distinct end users to draw from. At least 1000.
  int64_t user_count = 100'000;
  // Stamped on every span (model::Span::environment).
  std::string environment = "default";

  Status Validate() const;
};

// Produces traces one at a time in start order. Thread-compatible: one per thread.
class Generator {
 public:
  // `options` should be valid (Validate()); out-of-range values are clamped into range.
  explicit Generator(const WorkloadOptions& options);

  // Appends one whole trace to `spans`: parents before their children, every child's
  // [start, end] inside its parent's, times in whole microseconds (as X-Ray sends them).
  void NextTrace(std::vector<model::Span>* spans);

  // When the trace NextTrace() makes next starts, in nanoseconds since the epoch.
  int64_t next_start_ns() const { return next_start_us_ * 1000; }
  // Traces made so far.
  uint64_t traces() const { return traces_; }

 private:
  WorkloadOptions options_;
  Random rng_;
  int64_t next_start_us_;
  uint64_t traces_ = 0;
  double segment_error_rate_;  // the wholesale segment's
  double other_error_rate_;    // everyone else's
};

// Whole traces from a fresh Generator until at least `min_spans` spans are made.
std::vector<model::Span> GenerateSpans(const WorkloadOptions& options, size_t min_spans);

}  // namespace waggle::workload
