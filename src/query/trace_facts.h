#pragma once

#include <optional>

#include "query/trace_graph.h"
#include "query/trace_summary.h"
#include "storage/reader.h"
#include "storage/trace_data.h"

namespace waggle::query {

// A fetched trace, assembled (AssembleTrace), with what readers derive from it: its segments,
// its summary and its graph, each worked out the first time it is asked for, so a reader pays
// only for what it uses (GetServiceGraph never summarises; an unfiltered trace search never
// builds a graph). Not thread-safe.
class TraceFacts {
 public:
  explicit TraceFacts(storage::TraceData trace);

  const storage::TraceData& trace() const { return trace_; }
  const SegmentIndex& segments() const;
  const TraceSummary& summary() const;
  const TraceGraph& graph() const;

 private:
  storage::TraceData trace_;
  mutable std::optional<SegmentIndex> segments_;
  mutable std::optional<TraceSummary> summary_;
  mutable std::optional<TraceGraph> graph_;
};

// What a fetch must return of a trace for TraceFacts (its segments, summary and graph) and the
// filter evaluation over it: annotations and the attribute keys they read (besides the
// well-known fields, events and links, which always come). Code there that reads another
// attribute adds its key to this list.
storage::FetchOptions FactsFetchOptions();

}  // namespace waggle::query
