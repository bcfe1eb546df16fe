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

}  // namespace waggle::query
