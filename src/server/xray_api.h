#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "ingest/xray_ingest.h"
#include "net/http.h"
#include "query/trace_facts.h"
#include "sampling/sampling_service.h"
#include "server/config.h"
#include "server/xray_groups.h"
#include "storage/reader.h"

namespace waggle::server {

// The X-Ray API (rest-json, spec/xray.md §5) on the daemon's TCP port: PutTraceSegments,
// BatchGetTraces, GetTraceSummaries (with filter expressions), GetServiceGraph, GetTraceGraph,
// GetTimeSeriesServiceStatistics, the group and sampling rule operations,
// GetSamplingRules, GetSamplingTargets, PutTelemetryRecords. Thread-safe: Handle() runs on every
// HTTP thread.
class XRayApi {
 public:
  struct Options {
    std::string region;
    std::string account_id;
    std::vector<AwsCredential> credentials;  // empty: signatures are not checked
    size_t summaries_page_size = 100;
    size_t summaries_max_examined = 2000;      // traces a filtered page fetches at most
    size_t service_graph_max_traces = 100000;  // traces one GetServiceGraph adds up at most
    // Spans an unfiltered GetServiceGraph reads at most (its column scan holds about 80 bytes
    // a span).
    size_t service_graph_max_spans = 4'000'000;
  };

  struct Counters {
    std::atomic<uint64_t> requests{0};
    std::atomic<uint64_t> client_errors{0};      // 4xx answers
    std::atomic<uint64_t> server_errors{0};      // 5xx answers
    std::atomic<uint64_t> auth_failures{0};      // 403 answers
    std::atomic<uint64_t> unreadable_traces{0};  // left out: the store could not read them
  };

  XRayApi(Options options, storage::Reader* reader, ingest::XRayDocumentIngester* ingester,
          sampling::SamplingService* sampling, XRayGroups* groups, Clock* clock);

  net::HttpResponse Handle(const net::HttpRequest& request);
  // An error in AWS's rest-json form: `x-amzn-ErrorType` and {"__type", "message"}.
  static net::HttpResponse AwsError(int status, std::string_view code, std::string_view message);
  // For refusals the HTTP layer makes itself (malformed request, body too large).
  static net::HttpResponse TransportError(int status, std::string message);
  const Counters& counters() const { return counters_; }

  // The sampling rules as kept in the data dir (the API's SamplingRuleRecord shape).
  static std::string RenderSamplingRules(const std::vector<sampling::SamplingRuleRecord>& rules);
  static Result<std::vector<sampling::SamplingRuleRecord>> ParseSamplingRules(
      std::string_view text);

 private:
  struct Call;  // one request's parsed body and identity
  net::HttpResponse PutTraceSegments(Call& call);
  net::HttpResponse BatchGetTraces(Call& call);
  net::HttpResponse GetTraceSummaries(Call& call);
  net::HttpResponse GetServiceGraph(Call& call);
  net::HttpResponse GetTraceGraph(Call& call);
  net::HttpResponse GetTimeSeriesServiceStatistics(Call& call);
  net::HttpResponse CreateGroup(Call& call);
  net::HttpResponse GetGroup(Call& call);
  net::HttpResponse GetGroups(Call& call);
  net::HttpResponse UpdateGroup(Call& call);
  net::HttpResponse DeleteGroup(Call& call);
  net::HttpResponse GetSamplingRules(Call& call);
  net::HttpResponse CreateSamplingRule(Call& call);
  net::HttpResponse UpdateSamplingRule(Call& call);
  net::HttpResponse DeleteSamplingRule(Call& call);
  double NowSeconds() const;
  net::HttpResponse GetSamplingTargets(Call& call);
  net::HttpResponse PutTelemetryRecords(Call& call);
  net::HttpResponse Error(int status, std::string_view code, std::string_view message);
  // An error in AWS's form: 400 InvalidRequestException for a request at fault, 400
  // `limit_code` for a limit reached (a group or rule limit, or a time range too large to
  // read), 500 otherwise.
  net::HttpResponse StatusError(const Status& status,
                                std::string_view limit_code = "InvalidRequestException");
  // StartTime and EndTime as sent, and as nanoseconds widened to whole seconds.
  struct TimeRange {
    double start = 0, end = 0;
    int64_t start_ns = 0, end_ns = 0;
  };
  // The request's time range; an error answer when it is missing or out of order.
  std::optional<net::HttpResponse> ReadTimeRange(Call& call, TimeRange* range);
  // An error answer when the request carries a NextToken (operations whose answers are never
  // paged issue none).
  std::optional<net::HttpResponse> RefuseNextToken(Call& call);
  // GroupName or GroupARN, whichever the request names; an error answer when it names neither.
  std::optional<net::HttpResponse> RequireGroupKey(Call& call, std::string_view* name,
                                                   std::string_view* arn);
  // The TraceIds of BatchGetTraces and GetTraceGraph (1 to 5 strings), each fetched: `each`
  // gets the id as sent and the trace, or nullptr when the id is malformed, unknown or
  // unreadable (counted in unreadable_traces). An error answer for a bad list.
  using TraceIdFn = std::function<void(std::string_view id, const query::TraceFacts* trace)>;
  std::optional<net::HttpResponse> FetchTraceIds(Call& call, const TraceIdFn& each);
  // Every trace with a span in the range (X-Ray's "Event" time) that meets the group named by
  // GroupName/GroupARN (when given) and `also` (when given), each handed to `each` and then
  // dropped. An error answer for an unknown group, a failed read, or a range holding more
  // than service_graph_max_traces traces (never a partial answer).
  using TraceFn = std::function<void(const query::TraceFacts& trace)>;
  std::optional<net::HttpResponse> ForEachTraceInWindow(Call& call, const TimeRange& range,
                                                        const query::filter::Expr* also,
                                                        const TraceFn& each);

  const Options options_;
  storage::Reader* reader_;
  ingest::XRayDocumentIngester* ingester_;
  sampling::SamplingService* sampling_;
  XRayGroups* groups_;
  Clock* clock_;
  Counters counters_;
};

}  // namespace waggle::server
