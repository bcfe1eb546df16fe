#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "query/trace_summary.h"
#include "storage/trace_data.h"

// The service graph of one trace (spec/xray.md §7): a node for every service that sent
// segments and an inferred node for every call to something uninstrumented, with edges from
// callers to callees. Filter expressions evaluate service() and edge() on it; GetServiceGraph
// adds the graphs of many traces up.
namespace waggle::query {

struct GraphNode {
  ServiceId id;
  bool inferred = false;  // made from the caller's subsegments: nothing of its own was sent
  bool root = false;      // the trace's entry point
  // Indexes into the trace's spans: the node's segments, or for an inferred node the calls
  // made to it.
  std::vector<size_t> spans;
};

struct GraphEdge {
  size_t from = 0;  // node indexes
  size_t to = 0;
  // The caller's subsegments (client spans) that made the calls, as span indexes.
  std::vector<size_t> calls;
};

struct TraceGraph {
  std::vector<GraphNode> nodes;
  std::vector<GraphEdge> edges;
  size_t root_node = kNone;
  static constexpr size_t kNone = SIZE_MAX;
};

// The attributes the graph reads: a service's type and account (ServiceOf), then what a call
// reaches (InferredId); kGraphAttributeKeys[a] is the key of GraphAttribute a.
enum GraphAttribute : size_t {
  kOriginAttribute,
  kAccountAttribute,
  kNamespaceAttribute,
  kAwsServiceAttribute,
  kRpcSystemAttribute,
  kTableNameAttribute,
  kQueueUrlAttribute,
  kGraphAttributeCount,
};
inline constexpr std::array<std::string_view, kGraphAttributeCount> kGraphAttributeKeys = {
    kOriginKey,   kAccountKey,      "aws.xray.namespace", "aws.service",
    "rpc.system", "aws.table_name", "aws.queue_url",
};

// What names and types the node a call to something uninstrumented makes.
struct InferredCall {
  std::string_view target;  // the span's peer (table, queue, AWS service, host), else its name
  std::string_view aws_namespace, rpc_system, account;  // the attributes of those keys
  bool has_aws_service = false, has_table = false, has_queue = false, has_db_system = false;
};
// That node's id (spec/xray.md §7.3). Both graph builders call it.
ServiceId InferredId(const InferredCall& call);

// Builds the graph of an assembled trace (AssembleTrace).
TraceGraph BuildTraceGraph(const storage::TraceData& trace, const SegmentIndex& segments);

}  // namespace waggle::query
