#include "query/trace_graph.h"

#include <algorithm>
#include <map>

#include "model/ids.h"

namespace waggle::query {
namespace {

// Whether a span calls out of its service: an X-Ray subsegment in the `remote` or `aws`
// namespace, or an OTel client or producer span.
bool IsCall(const model::Span& s) {
  return s.kind == model::SpanKind::kClient || s.kind == model::SpanKind::kProducer;
}

// The node a call to something uninstrumented makes.
ServiceId InferredNode(const model::Span& call) {
  auto attr = [&](GraphAttribute a) {
    return model::FindString(call.attributes, kGraphAttributeKeys[a]);
  };
  InferredCall c;
  c.target = call.peer.empty() ? std::string_view(call.name) : std::string_view(call.peer);
  c.aws_namespace = attr(kNamespaceAttribute);
  c.rpc_system = attr(kRpcSystemAttribute);
  c.account = attr(kAccountAttribute);
  c.has_aws_service = !attr(kAwsServiceAttribute).empty();
  c.has_table = !attr(kTableNameAttribute).empty();
  c.has_queue = !attr(kQueueUrlAttribute).empty();
  c.has_db_system = !call.db_system.empty();
  return InferredId(c);
}

}  // namespace

ServiceId InferredId(const InferredCall& call) {
  ServiceId id;
  id.name = std::string(call.target);
  const bool aws =
      call.aws_namespace == "aws" || call.has_aws_service || call.rpc_system == "aws-api";
  if (aws) {
    id.type = call.has_table   ? "AWS::DynamoDB::Table"
              : call.has_queue ? "AWS::SQS::Queue"
                               : "AWS::" + id.name;
    id.account_id = std::string(call.account);
  } else {
    id.type = call.has_db_system ? "Database::SQL" : "remote";
  }
  return id;
}

TraceGraph BuildTraceGraph(const storage::TraceData& trace, const SegmentIndex& segments) {
  TraceGraph g;
  const std::vector<model::Span>& spans = trace.spans;
  std::map<std::pair<ServiceId, bool>, size_t> node_of;  // (id, inferred) -> node
  auto node = [&](const ServiceId& id, bool inferred) {
    auto [it, added] = node_of.try_emplace({id, inferred}, g.nodes.size());
    if (added) g.nodes.push_back({id, inferred, false, {}});
    return it->second;
  };
  std::map<std::pair<size_t, size_t>, size_t> edge_of;
  // `again`: the call answered another segment before (a call that two segments of one node
  // answer counts once, wherever the two lie).
  auto edge = [&](size_t from, size_t to, size_t call, bool again) {
    auto [it, added] = edge_of.try_emplace({from, to}, g.edges.size());
    if (added) g.edges.push_back({from, to, {}});
    std::vector<size_t>& calls = g.edges[it->second].calls;
    if (!again || std::find(calls.begin(), calls.end(), call) == calls.end()) {
      calls.push_back(call);
    }
  };

  model::BySpanId<size_t> by_id;
  for (size_t i = 0; i < spans.size(); ++i) by_id.emplace(spans[i].span_id.value, i);

  // Nodes of the services that sent segments; the segment each span belongs to.
  std::vector<size_t> segment_node(spans.size(), TraceGraph::kNone);
  for (size_t i = 0; i < spans.size(); ++i) {
    if (!segments.is_segment[i]) continue;
    segment_node[i] = node(ServiceOf(spans[i]), false);
    g.nodes[segment_node[i]].spans.push_back(i);
  }
  if (segments.root != SIZE_MAX) {
    g.root_node = segment_node[segments.root];
    g.nodes[g.root_node].root = true;
  }

  // Edges: a segment whose parent is a span of another segment was called from there; a call
  // that no segment answers goes to an inferred node.
  std::vector<char> answered(spans.size(), 0);
  for (size_t i = 0; i < spans.size(); ++i) {
    if (!segments.is_segment[i]) continue;
    auto parent = by_id.find(spans[i].parent_span_id.value);
    if (parent == by_id.end() || parent->second == i) continue;
    const size_t caller = parent->second;
    const bool again = answered[caller] != 0;
    answered[caller] = 1;
    const model::Span& p = spans[caller];
    const size_t from =
        segments.is_segment[caller] ? segment_node[caller] : node(ServiceOf(p), false);
    if (from == segment_node[i] && !IsCall(p)) continue;  // a service's own nested segment
    edge(from, segment_node[i], caller, again);
  }
  for (size_t i = 0; i < spans.size(); ++i) {
    const model::Span& s = spans[i];
    if (answered[i] || segments.is_segment[i] || !IsCall(s)) continue;
    const size_t from = node(ServiceOf(s), false);
    const size_t to = node(InferredNode(s), true);
    g.nodes[to].spans.push_back(i);
    edge(from, to, i, false);
  }
  return g;
}

}  // namespace waggle::query
