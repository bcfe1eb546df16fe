#include "query/trace_facts.h"

namespace waggle::query {

TraceFacts::TraceFacts(storage::TraceData trace) : trace_(std::move(trace)) {
  AssembleTrace(&trace_);
}

const SegmentIndex& TraceFacts::segments() const {
  if (!segments_) segments_ = IndexSegments(trace_);
  return *segments_;
}

const TraceSummary& TraceFacts::summary() const {
  if (!summary_) summary_ = SummarizeTrace(trace_, segments());
  return *summary_;
}

const TraceGraph& TraceFacts::graph() const {
  if (!graph_) graph_ = BuildTraceGraph(trace_, segments());
  return *graph_;
}

storage::FetchOptions FactsFetchOptions() {
  storage::FetchOptions options;
  options.all_attributes = false;
  // The graph's, then the summary's lists (and the filter keywords that read them).
  options.keys.assign(kGraphAttributeKeys.begin(), kGraphAttributeKeys.end());
  for (std::string_view key : {kUserKey, kResourceArnKey, kInstanceIdKey, kAvailabilityZoneKey}) {
    options.keys.emplace_back(key);
  }
  return options;
}

}  // namespace waggle::query
