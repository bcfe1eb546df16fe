#pragma once

#include "query/expr/filter_expression.h"
#include "query/trace_graph.h"
#include "query/trace_summary.h"
#include "storage/trace_data.h"

// Evaluates filter expressions over whole traces (spec/xray.md §6.2): trace-level keywords
// read the root segment or the whole trace, service() and edge() braces read that service's
// segments or that edge's calls, and rootcause braces read the trace's root causes.
namespace waggle::query::filter {

// A trace as filters see it: assembled (AssembleTrace), summarised, with its graph.
struct TraceFacts {
  explicit TraceFacts(const storage::TraceData& trace);

  const storage::TraceData& trace;
  SegmentIndex segments;
  TraceSummary summary;
  TraceGraph graph;
};

// Whether the trace satisfies `expr` (groups resolved: a kGroup without its child is false).
bool Matches(const Expr& expr, const TraceFacts& trace);

}  // namespace waggle::query::filter
