#include "query/service_graph.h"

#include <algorithm>

#include "query/expr/filter_eval.h"

namespace waggle::query {
namespace {

void Count(const model::Span& s, RequestStats* stats) {
  stats->Add(s.status_flags, s.duration_ns());
}

void AddTo(Histogram* h, const model::Span& s) {
  (*h)[static_cast<double>(HistogramMillis(s.duration_ns())) / 1000] += 1;
}

void Widen(int64_t* start, int64_t* end, const model::Span& s) {
  *start = std::min(*start, s.start_ns);
  *end = std::max(*end, s.end_ns);
}

}  // namespace

void RequestStats::Add(const RequestStats& other) {
  ok += other.ok;
  error_throttle += other.error_throttle;
  error_other += other.error_other;
  fault += other.fault;
  AddResponse(other.total_response_ns);
}

size_t ServiceGraphBuilder::NodeIndex(const ServiceId& id, bool client, bool inferred) {
  auto [it, added] = index_.try_emplace(Key{id, client, inferred}, nodes_.size());
  if (added) {
    ServiceGraphNode n;
    n.id = id;
    n.client = client;
    n.inferred = inferred;
    nodes_.push_back(std::move(n));
  }
  return it->second;
}

ServiceGraphEdge& ServiceGraphBuilder::EdgeTo(size_t from, size_t to) {
  auto [it, added] = edge_index_.try_emplace({from, to}, nodes_[from].edges.size());
  if (added) {
    ServiceGraphEdge e;
    e.to = to;
    nodes_[from].edges.push_back(std::move(e));
  }
  return nodes_[from].edges[it->second];
}

void ServiceGraphBuilder::Add(const TraceFacts& trace) {
  const std::vector<model::Span>& spans = trace.trace().spans;
  const SegmentIndex& segments = trace.segments();
  const TraceGraph& graph = trace.graph();
  std::vector<size_t> node_of(graph.nodes.size());
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const GraphNode& g = graph.nodes[i];
    node_of[i] = NodeIndex(g.id, false, g.inferred);
    ServiceGraphNode& n = nodes_[node_of[i]];
    n.root |= g.root;
    // A node's requests: its segments, or for an inferred node the calls made to it.
    for (size_t s : g.spans) {
      if (spans[s].in_progress) continue;
      Count(spans[s], &n.stats);
      AddTo(&n.durations, spans[s]);
      AddTo(&n.response_times, spans[s]);
      Widen(&n.start_ns, &n.end_ns, spans[s]);
    }
  }
  // Clients of the root service: an edge carrying the root segment's request.
  if (graph.root_node != TraceGraph::kNone && segments.root != SIZE_MAX &&
      !spans[segments.root].in_progress) {
    const model::Span& root = spans[segments.root];
    ServiceId client_id;
    client_id.name = graph.nodes[graph.root_node].id.name;
    client_id.type = "client";
    const size_t client = NodeIndex(client_id, true, false);
    Widen(&nodes_[client].start_ns, &nodes_[client].end_ns, root);
    ServiceGraphEdge& e = EdgeTo(client, node_of[graph.root_node]);
    Count(root, &e.stats);
    AddTo(&e.response_times, root);
    Widen(&e.start_ns, &e.end_ns, root);
  }
  // Calls: the caller's subsegments time and judge the edge.
  for (const GraphEdge& g : graph.edges) {
    ServiceGraphEdge& e = EdgeTo(node_of[g.from], node_of[g.to]);
    const std::string& callee = graph.nodes[g.to].id.name;
    for (size_t c : g.calls) {
      const model::Span& call = spans[c];
      if (call.name != callee) KeepSmallestAliases(&e.aliases, call.name);
      if (call.in_progress) continue;
      Count(call, &e.stats);
      AddTo(&e.response_times, call);
      Widen(&e.start_ns, &e.end_ns, call);
    }
  }
}

std::vector<ServiceGraphNode> ServiceGraphBuilder::Finish() && { return std::move(nodes_); }

Result<EntitySelector> ParseEntitySelector(std::string_view text) {
  EntitySelector out;
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return out;
  WAGGLE_ASSIGN_OR_RETURN(filter::Expr e, filter::ParseSelector(text));
  out.kind = e.kind == filter::Expr::Kind::kEdge ? EntitySelector::Kind::kEdge
                                                 : EntitySelector::Kind::kService;
  out.service = e.service;
  out.to = e.to;
  out.expr = std::move(e);
  return out;
}

StatisticsSeries::StatisticsSeries(EntitySelector selector, int64_t start_ns, int64_t end_ns,
                                   int64_t period_ns)
    : selector_(std::move(selector)),
      start_ns_(start_ns),
      end_ns_(end_ns),
      period_ns_(std::max<int64_t>(1, period_ns)) {}

StatisticsPeriod* StatisticsSeries::PeriodOf(const model::Span& request) {
  if (request.in_progress || request.start_ns < start_ns_ || request.start_ns >= end_ns_) {
    return nullptr;
  }
  const int64_t period = start_ns_ + (request.start_ns - start_ns_) / period_ns_ * period_ns_;
  return &periods_[period];
}

void StatisticsSeries::Add(const TraceFacts& trace) {
  const std::vector<model::Span>& spans = trace.trace().spans;
  const TraceGraph& graph = trace.graph();
  switch (selector_.kind) {
    case EntitySelector::Kind::kRootEdges: {
      const size_t root = trace.segments().root;
      if (graph.root_node == TraceGraph::kNone || root == SIZE_MAX) return;
      if (StatisticsPeriod* p = PeriodOf(spans[root])) {
        Count(spans[root], &p->edge);
        AddTo(&p->response_times, spans[root]);
      }
      return;
    }
    case EntitySelector::Kind::kService:
      for (const GraphNode& n : graph.nodes) {
        if (!filter::RefMatches(selector_.service, n.id)) continue;
        for (size_t s : n.spans) {
          if (StatisticsPeriod* p = PeriodOf(spans[s])) {
            Count(spans[s], &p->service);
            AddTo(&p->response_times, spans[s]);
          }
        }
      }
      return;
    case EntitySelector::Kind::kEdge:
      for (const GraphEdge& e : graph.edges) {
        if (!filter::RefMatches(selector_.service, graph.nodes[e.from].id) ||
            !filter::RefMatches(selector_.to, graph.nodes[e.to].id)) {
          continue;
        }
        for (size_t c : e.calls) {
          if (StatisticsPeriod* p = PeriodOf(spans[c])) {
            Count(spans[c], &p->edge);
            AddTo(&p->response_times, spans[c]);
          }
        }
      }
      return;
  }
}

}  // namespace waggle::query
