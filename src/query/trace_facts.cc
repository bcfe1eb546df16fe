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
  options.keys = {// ServiceOf: a service's type and account.
                  "aws.xray.origin", "cloud.account.id",
                  // InferredNode: what a call reaches.
                  "aws.xray.namespace", "aws.service", "rpc.system", "aws.table_name",
                  "aws.queue_url",
                  // The summary's lists, and the filter keywords that read them.
                  "enduser.id", "aws.xray.resource_arn", "host.id", "cloud.availability_zone"};
  return options;
}

}  // namespace waggle::query
