#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "base/result.h"
#include "query/expr/filter_expression.h"
#include "query/expr/filter_pushdown.h"
#include "query/trace_facts.h"
#include "storage/reader.h"

// Trace search: the traces of a time range that a filter expression selects, newest first, a
// page at a time (GetTraceSummaries). What the filter requires of single spans is pushed into
// storage scans; the traces that pass are fetched and the filter evaluated on each whole.
namespace waggle::query {

using TraceIdSet = std::unordered_set<model::TraceId, model::TraceIdHash>;

// How far a trace's spans may start from the time that places the trace in a range, when
// that is event time: a candidate scan covers [start - kSpanLead, end + kSpanLag). (By
// trace-id time the scan names the traces by their ids instead.)
inline constexpr int64_t kSpanLeadNs = int64_t{5} * 60 * 1'000'000'000;
inline constexpr int64_t kSpanLagNs = int64_t{60} * 60 * 1'000'000'000;

// The traces with spans in `range` (its time range and trace id bounds; its columns and
// conditions are not read) that meet every requirement, each by some span. nullopt when there
// are no requirements, or the store cannot scan: then every trace is a candidate.
Result<std::optional<TraceIdSet>> FindCandidates(storage::Reader* reader,
                                                 const std::vector<filter::SpanRequirement>& reqs,
                                                 const storage::ScanRequest& range);

// The spans a search of `find` may select: by trace-id time, the traces whose ids carry a
// second in the range; by event time, the spans starting in the range widened by the lead and
// lag above. nullopt when no trace can lie in the range.
std::optional<storage::ScanRequest> CandidateRange(const storage::FindTracesRequest& find);

struct TraceSearchRequest {
  storage::FindTracesRequest find;       // range, time key, page token; limit is ignored
  const filter::Expr* filter = nullptr;  // null: every trace
  size_t page_size = 100;                // traces selected at most per page
  size_t max_examined = 2000;            // traces fetched at most per page
  // The range's traces all in one page (page_size is then max_examined) or none:
  // ResourceExhausted, before any is fetched, when the store has more than max_examined of
  // them (an answer from part of them would look whole).
  bool whole_range = false;
  // What each fetched trace carries: what its summary, graph and the filter read (the
  // TraceFacts handed over is all a consumer gets).
  storage::FetchOptions fetch = FactsFetchOptions();
};

struct TraceSearchResult {
  std::string next_page_token;    // empty on the last page
  uint64_t traces_processed = 0;  // candidates in the range, matching or not
  uint64_t unreadable = 0;        // left out: the store could not read them
  uint64_t examined = 0;          // fetched and evaluated for this page
  uint64_t selected = 0;          // handed to the consumer
};

// Receives each trace the page selects, newest first, with where the time key placed it.
using FoundTraceFn = std::function<void(TraceFacts&& trace, int64_t time_ns)>;

// One page, handed to `found` trace by trace (so a large page is never held whole).
// InvalidArgument for a page token the store did not issue.
Result<TraceSearchResult> SearchTraces(storage::Reader* reader, const TraceSearchRequest& request,
                                       const FoundTraceFn& found);

}  // namespace waggle::query
