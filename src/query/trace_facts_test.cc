#include "query/trace_facts.h"

#include <gtest/gtest.h>

#include <random>

#include "query/expr/filter_eval.h"
#include "query/expr/filter_expression.h"
#include "storage/testing/random_spans.h"

namespace waggle::query {
namespace {

using model::AttributeRole;
using model::AttributeValue;

// A random trace whose spans carry, in random roles, the attributes summaries and graphs read
// (and a few they do not), so that leaving any of the former out would change something.
storage::TraceData RandomTraceWithKeys(std::mt19937_64& rng) {
  storage::TraceData t;
  t.spans = storage::testing::RandomTrace(rng, 1 + rng() % 12);
  t.id = t.spans[0].trace_id;
  // Written out here, not taken from FactsFetchOptions(), so that a key missing there shows.
  static const char* const keys[] = {"aws.xray.origin",
                                     "cloud.account.id",
                                     "aws.xray.namespace",
                                     "aws.service",
                                     "rpc.system",
                                     "aws.table_name",
                                     "aws.queue_url",
                                     "enduser.id",
                                     "aws.xray.resource_arn",
                                     "host.id",
                                     "cloud.availability_zone",
                                     "url.full",
                                     "session.id",
                                     "k1"};  // and three nothing reads
  for (model::Span& s : t.spans) {
    for (std::string_view key : keys) {
      if (rng() % 3 == 0) continue;
      const auto role = static_cast<AttributeRole>(rng() % 5);
      std::string value = key == "aws.xray.namespace" ? (rng() % 2 ? "aws" : "remote")
                          : key == "rpc.system"       ? "aws-api"
                                                      : "v" + std::to_string(rng() % 3);
      s.attributes.push_back({std::string(key), AttributeValue::String(std::move(value)), role});
    }
  }
  return t;
}

void ExpectSameGraph(const TraceGraph& a, const TraceGraph& b) {
  ASSERT_EQ(a.nodes.size(), b.nodes.size());
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    EXPECT_EQ(a.nodes[i].id, b.nodes[i].id);
    EXPECT_EQ(a.nodes[i].inferred, b.nodes[i].inferred);
    EXPECT_EQ(a.nodes[i].spans, b.nodes[i].spans);
  }
  ASSERT_EQ(a.edges.size(), b.edges.size());
  for (size_t i = 0; i < a.edges.size(); ++i) {
    EXPECT_EQ(a.edges[i].from, b.edges[i].from);
    EXPECT_EQ(a.edges[i].to, b.edges[i].to);
    EXPECT_EQ(a.edges[i].calls, b.edges[i].calls);
  }
  EXPECT_EQ(a.root_node, b.root_node);
}

// A trace fetched with FactsFetchOptions has the summary, graph and filter results of the whole
// trace: the projection keeps every attribute they read.
TEST(FactsFetchOptions, KeepWhatSummariesGraphsAndFiltersRead) {
  std::mt19937_64 rng(5);
  const storage::FetchOptions facts = FactsFetchOptions();
  const char* filters[] = {
      R"(user = "v1")",          R"(instance.id = "v2")",      R"(availabilityzone = "v0")",
      R"(resource.arn = "v1")",  R"(service(id(type: "v1")))", R"(service("DynamoDB") { fault })",
      R"(annotation.k1 = "v2")",
  };
  size_t removed = 0, matched = 0;
  for (int n = 0; n < 300; ++n) {
    storage::TraceData whole = RandomTraceWithKeys(rng);
    storage::TraceData projected = whole;
    facts.Apply(&projected);
    for (size_t i = 0; i < whole.spans.size(); ++i) {
      removed += whole.spans[i].attributes.size() - projected.spans[i].attributes.size();
    }
    const TraceFacts a(std::move(whole)), b(std::move(projected));
    EXPECT_TRUE(a.summary() == b.summary()) << n;
    ExpectSameGraph(a.graph(), b.graph());
    for (const char* text : filters) {
      auto e = filter::Parse(text);
      ASSERT_TRUE(e.ok()) << text << ": " << e.status().message();
      const bool m = filter::Matches(*e, a);
      EXPECT_EQ(m, filter::Matches(*e, b)) << text;
      matched += m;
    }
  }
  EXPECT_GT(removed, 0u);  // the projection did leave attributes out
  EXPECT_GT(matched, 0u);
}

}  // namespace
}  // namespace waggle::query
