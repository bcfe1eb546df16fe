#include "query/trace_graph.h"

#include <gtest/gtest.h>

#include "query/testing/spans.h"

namespace waggle::query {
namespace {

model::Span Span(uint64_t id, uint64_t parent, std::string service, std::string name,
                 model::SpanKind kind) {
  model::Span s = testing::MakeSpan(id, parent, std::move(service), std::move(name), 1, 2);
  s.kind = kind;
  return s;
}

const GraphNode* Find(const TraceGraph& g, std::string_view name) {
  for (const GraphNode& n : g.nodes) {
    if (n.id.name == name) return &n;
  }
  return nullptr;
}

// An OTel trace: frontend (server) -> fetch (client) -> backend (server) -> postgres (client,
// uninstrumented) and -> an internal span; backend also calls an SQS queue via X-Ray naming.
TEST(TraceGraph, NodesEdgesAndInferredNodes) {
  using K = model::SpanKind;
  storage::TraceData t;
  model::Span fe = Span(1, 0, "frontend", "GET /", K::kServer);
  model::Span fetch = Span(2, 1, "frontend", "fetch", K::kClient);
  model::Span be = Span(3, 2, "backend", "GET /api", K::kServer);
  model::Span db = Span(4, 3, "backend", "SELECT", K::kClient);
  db.db_system = "postgresql";
  db.peer = "postgres@db";
  model::Span internal = Span(5, 3, "backend", "render", K::kInternal);
  model::Span sqs = Span(6, 3, "backend", "SQS", K::kClient);
  sqs.peer = "orders";
  sqs.attributes.push_back(
      {"aws.xray.namespace", model::AttributeValue::String("aws"), model::AttributeRole::kPlain});
  sqs.attributes.push_back({"aws.queue_url", model::AttributeValue::String("https://sqs/1/orders"),
                            model::AttributeRole::kPlain});
  t.spans = {fe, fetch, be, db, internal, sqs};
  SegmentIndex segments = IndexSegments(t);
  TraceGraph g = BuildTraceGraph(t, segments);

  ASSERT_EQ(g.nodes.size(), 4u);
  const GraphNode* frontend = Find(g, "frontend");
  const GraphNode* backend = Find(g, "backend");
  const GraphNode* postgres = Find(g, "postgres@db");
  const GraphNode* orders = Find(g, "orders");
  ASSERT_TRUE(frontend && backend && postgres && orders);
  EXPECT_TRUE(frontend->root);
  EXPECT_FALSE(backend->root);
  EXPECT_FALSE(backend->inferred);
  EXPECT_EQ(backend->spans, std::vector<size_t>{2});
  EXPECT_TRUE(postgres->inferred);
  EXPECT_EQ(postgres->id.type, "Database::SQL");
  EXPECT_EQ(postgres->spans, std::vector<size_t>{3});
  EXPECT_EQ(orders->id.type, "AWS::SQS::Queue");
  ASSERT_EQ(g.edges.size(), 3u);
  auto node_index = [&](const GraphNode* n) { return static_cast<size_t>(n - g.nodes.data()); };
  EXPECT_EQ(g.edges[0].from, node_index(frontend));
  EXPECT_EQ(g.edges[0].to, node_index(backend));
  EXPECT_EQ(g.edges[0].calls, std::vector<size_t>{1});
  EXPECT_EQ(g.edges[1].to, node_index(postgres));
  EXPECT_EQ(g.edges[2].to, node_index(orders));
  EXPECT_EQ(g.root_node, node_index(frontend));
}

TEST(TraceGraph, UnansweredRemoteCallIsARemoteNode) {
  storage::TraceData t;
  model::Span root = Span(1, 0, "svc", "svc", model::SpanKind::kServer);
  model::Span call = Span(2, 1, "svc", "api.github.com", model::SpanKind::kClient);
  t.spans = {root, call};
  TraceGraph g = BuildTraceGraph(t, IndexSegments(t));
  const GraphNode* gh = Find(g, "api.github.com");
  ASSERT_NE(gh, nullptr);
  EXPECT_EQ(gh->id.type, "remote");
  EXPECT_TRUE(gh->inferred);
}

}  // namespace
}  // namespace waggle::query
