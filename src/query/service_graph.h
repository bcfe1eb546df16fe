#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string_view>
#include <tuple>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "query/expr/filter_expression.h"
#include "query/trace_facts.h"
#include "storage/reader.h"

// X-Ray's service graph (spec/xray.md §7): the per-trace graphs of many traces added up into
// nodes and edges with request counts, error and fault counts, response times and histograms.
namespace waggle::query {

// Requests by outcome (X-Ray's ServiceStatistics / EdgeStatistics).
struct RequestStats {
  int64_t ok = 0;
  int64_t error_throttle = 0;  // 429
  int64_t error_other = 0;     // other 4xx
  int64_t fault = 0;           // 5xx
  // The durations' sum, in integers: exact, and the same whatever order requests come in
  // (it stops at INT64_MAX rather than overflow).
  int64_t total_response_ns = 0;
  int64_t total() const { return ok + error_throttle + error_other + fault; }
  double total_response_time() const { return NanosToSeconds(total_response_ns); }  // seconds
  // Counts one request by its outcome: fault, else throttle, else error, else ok. The duration
  // is an ElapsedNs: never negative.
  void Add(uint8_t status_flags, int64_t duration_ns) {
    AddResponse(duration_ns);
    if (status_flags & model::kStatusFault) {
      ++fault;
    } else if (status_flags & model::kStatusThrottle) {
      ++error_throttle;
    } else if (status_flags & model::kStatusError) {
      ++error_other;
    } else {
      ++ok;
    }
  }
  // Adds another's counts.
  void Add(const RequestStats& other);

 private:
  void AddResponse(int64_t ns) {
    if (__builtin_add_overflow(total_response_ns, ns, &total_response_ns)) {
      total_response_ns = INT64_MAX;
    }
  }
};

// Seconds, at millisecond resolution, -> how many.
using Histogram = std::map<double, int64_t>;

// A duration as a histogram's bucket: whole milliseconds (the bucket's value is this / 1000),
// rounded half away from zero, in integers (exact where the double arithmetic is not). The
// quotient is truncated toward zero and the remainder has the duration's sign.
inline int64_t HistogramMillis(int64_t duration_ns) {
  constexpr int64_t kHalf = 500'000, kMilli = 1'000'000;
  const int64_t rest = duration_ns % kMilli;
  return duration_ns / kMilli + (rest >= kHalf) - (rest <= -kHalf);
}

inline constexpr size_t kMaxEdgeAliases = 10;

// Offers `name` to an edge's aliases, which keep the kMaxEdgeAliases smallest names offered (by
// operator<), each once: what both graph builders keep, whatever the order of calls.
template <class T>
void KeepSmallestAliases(std::vector<T>* aliases, const T& name) {
  if (std::find(aliases->begin(), aliases->end(), name) != aliases->end()) return;
  if (aliases->size() < kMaxEdgeAliases) {
    aliases->push_back(name);
    return;
  }
  auto largest = std::max_element(aliases->begin(), aliases->end());
  if (name < *largest) *largest = name;
}

struct ServiceGraphEdge {
  size_t to = 0;  // node index
  int64_t start_ns = INT64_MAX;
  int64_t end_ns = INT64_MIN;
  RequestStats stats;
  Histogram response_times;
  // Names callers used for the callee, when not its own: the kMaxEdgeAliases smallest, so
  // that which are kept does not depend on the order calls are met in.
  std::vector<std::string> aliases;
};

struct ServiceGraphNode {
  ServiceId id;           // for a client node, type "client" and the root service's name
  bool client = false;    // the callers of a root service
  bool inferred = false;  // made from calls to something that sent nothing itself
  bool root = false;
  int64_t start_ns = INT64_MAX;
  int64_t end_ns = INT64_MIN;
  RequestStats stats;  // none for client nodes
  Histogram durations;
  Histogram response_times;
  std::vector<ServiceGraphEdge> edges;
};

// Adds traces up. Not thread-safe.
class ServiceGraphBuilder {
 public:
  // A trace's requests (those still in progress are left out).
  void Add(const TraceFacts& trace);
  // The nodes, in order of first appearance (a node's index is its ReferenceId).
  std::vector<ServiceGraphNode> Finish() &&;

 private:
  using Key = std::tuple<ServiceId, bool, bool>;  // id, client, inferred
  size_t NodeIndex(const ServiceId& id, bool client, bool inferred);
  ServiceGraphEdge& EdgeTo(size_t from, size_t to);

  std::vector<ServiceGraphNode> nodes_;
  std::map<Key, size_t> index_;
  std::map<std::pair<size_t, size_t>, size_t> edge_index_;  // (from, to) -> position in edges
};

// How far outside the requested range ScanServiceGraph reads spans, so that traces crossing
// its edges come whole (up to this much beyond it).
inline constexpr int64_t kGraphSlackNs = int64_t{5} * 60 * 1'000'000'000;

// The service graph of every trace with a span in [start_ns, end_ns), from column scans of the
// spans starting within kGraphSlackNs of the range rather than from fetched traces: the same
// nodes and edges as ServiceGraphBuilder::Add over those traces, since the scans read every
// column the graph uses. Runs two threads, each over half the range. The X-Ray documents are
// not read: an X-Ray span is taken for a segment when it is a server span. Spans written while
// it runs may be left out. ResourceExhausted when the spans read would pass `max_spans` (at
// most 2^31); Unimplemented when the store cannot scan.
Result<std::vector<ServiceGraphNode>> ScanServiceGraph(storage::Reader* reader, int64_t start_ns,
                                                       int64_t end_ns, size_t max_spans);

// What GetTimeSeriesServiceStatistics reports on (its EntitySelectorExpression): one service,
// `service("name")` or `service(id(name: ..., type: ...))`; one edge, `edge("a", "b")`; or,
// with no selector, the requests clients made to root services.
struct EntitySelector {
  enum class Kind : uint8_t { kRootEdges, kService, kEdge };
  Kind kind = Kind::kRootEdges;
  filter::ServiceRef service;  // kService; kEdge: the caller
  filter::ServiceRef to;       // kEdge: the callee

  // The selector as a filter expression that keeps the traces it can count (none: all).
  std::optional<filter::Expr> expr;
};

// An empty text selects the root edges. InvalidArgument, naming the position, for text that
// does not parse or is not one bare service() or edge().
Result<EntitySelector> ParseEntitySelector(std::string_view text);

// One period of a series: the requests to the selected service (kService) or along the selected
// edges (kEdge, kRootEdges), as service and edge statistics.
struct StatisticsPeriod {
  RequestStats service;
  RequestStats edge;
  Histogram response_times;
};

// The selected entity's requests added up per period, by when each request started (spec
// §7.2). Requests outside [start_ns, end_ns) are left out. Not thread-safe.
class StatisticsSeries {
 public:
  StatisticsSeries(EntitySelector selector, int64_t start_ns, int64_t end_ns, int64_t period_ns);

  void Add(const TraceFacts& trace);
  // Periods with requests, by their start.
  std::map<int64_t, StatisticsPeriod> Finish() && { return std::move(periods_); }

 private:
  StatisticsPeriod* PeriodOf(const model::Span& request);

  EntitySelector selector_;
  int64_t start_ns_, end_ns_, period_ns_;
  std::map<int64_t, StatisticsPeriod> periods_;
};

}  // namespace waggle::query
