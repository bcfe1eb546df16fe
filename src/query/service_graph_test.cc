#include "query/service_graph.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "base/clock.h"
#include "query/testing/spans.h"

namespace waggle::query {
namespace {

using K = model::SpanKind;

model::Span Span(uint64_t id, uint64_t parent, std::string service, std::string name, K kind,
                 double start, double end, uint8_t flags = 0) {
  model::Span s = testing::MakeSpan(id, parent, std::move(service), std::move(name), start, end);
  s.kind = kind;
  s.status_flags = flags;
  return s;
}

TEST(HistogramMillis, RoundsHalfAwayFromZeroExactly) {
  EXPECT_EQ(HistogramMillis(0), 0);
  EXPECT_EQ(HistogramMillis(499'999), 0);
  EXPECT_EQ(HistogramMillis(500'000), 1);
  EXPECT_EQ(HistogramMillis(2'003'500'000), 2004);  // 2.0035 s: a double may land either side
  EXPECT_EQ(HistogramMillis(2'003'499'999), 2003);
  EXPECT_EQ(HistogramMillis(-499'999), 0);
  EXPECT_EQ(HistogramMillis(-500'000), -1);
  EXPECT_EQ(HistogramMillis(-1'500'000), -2);
  EXPECT_EQ(HistogramMillis(INT64_MAX), 9'223'372'036'855);
  EXPECT_EQ(HistogramMillis(INT64_MIN), -9'223'372'036'855);
}

// front -> back (instrumented), front -> "DynamoDB" call on table "t" (inferred).
storage::TraceData Trace(uint64_t base, double start, uint8_t back_flags, double back_seconds) {
  storage::TraceData t;
  model::Span dynamo =
      Span(base + 3, base + 1, "front", "DynamoDB", K::kClient, start + 0.1, start + 0.2);
  dynamo.peer = "t";
  dynamo.attributes.push_back({"aws.table_name", model::AttributeValue::String("t"), {}});
  dynamo.attributes.push_back({"aws.xray.namespace", model::AttributeValue::String("aws"), {}});
  t.spans = {
      Span(base + 1, 0, "front", "front", K::kServer, start, start + 1, back_flags),
      Span(base + 2, base + 1, "front", "back", K::kClient, start + 0.3, start + 0.3 + back_seconds,
           back_flags),
      dynamo,
      Span(base + 4, base + 2, "back", "back", K::kServer, start + 0.31,
           start + 0.29 + back_seconds, back_flags),
  };
  return t;
}

const ServiceGraphNode* Find(const std::vector<ServiceGraphNode>& nodes, std::string_view name,
                             bool client = false) {
  for (const ServiceGraphNode& n : nodes) {
    if (n.id.name == name && n.client == client) return &n;
  }
  return nullptr;
}

TEST(ServiceGraph, AddsUpNodesEdgesAndClients) {
  ServiceGraphBuilder builder;
  struct Case {
    uint64_t base;
    int flags;
    double seconds;
  };
  for (const Case& c : {Case{10, 0, 0.5}, Case{20, model::kStatusFault, 0.25},
                        Case{30, model::kStatusError | model::kStatusThrottle, 0.5}}) {
    storage::TraceData t = Trace(c.base, 100.0 + static_cast<double>(c.base),
                                 static_cast<uint8_t>(c.flags), c.seconds);
    builder.Add(TraceFacts(std::move(t)));
  }
  std::vector<ServiceGraphNode> nodes = std::move(builder).Finish();
  ASSERT_EQ(nodes.size(), 4u);  // front, back, table t, and front's clients
  const ServiceGraphNode* front = Find(nodes, "front");
  const ServiceGraphNode* back = Find(nodes, "back");
  const ServiceGraphNode* table = Find(nodes, "t");
  const ServiceGraphNode* client = Find(nodes, "front", true);
  ASSERT_TRUE(front && back && table && client);
  EXPECT_TRUE(front->root);
  EXPECT_EQ(client->id.type, "client");
  EXPECT_EQ(table->id.type, "AWS::DynamoDB::Table");
  EXPECT_TRUE(table->inferred);

  EXPECT_EQ(front->stats.ok, 1);
  EXPECT_EQ(front->stats.fault, 1);
  EXPECT_EQ(front->stats.error_throttle, 1);
  EXPECT_EQ(front->stats.total(), 3);
  EXPECT_DOUBLE_EQ(front->stats.total_response_time(), 3.0);
  EXPECT_EQ(front->durations, (Histogram{{1.0, 3}}));
  EXPECT_EQ(back->stats.total(), 3);
  EXPECT_EQ(back->durations, (Histogram{{0.23, 1}, {0.48, 2}}));
  EXPECT_EQ(table->stats.ok, 3);

  auto index = [&](const ServiceGraphNode* n) { return static_cast<size_t>(n - nodes.data()); };
  ASSERT_EQ(client->edges.size(), 1u);
  EXPECT_EQ(client->edges[0].to, index(front));
  EXPECT_EQ(client->edges[0].stats.total(), 3);
  ASSERT_EQ(front->edges.size(), 2u);
  const ServiceGraphEdge& to_back =
      front->edges[0].to == index(back) ? front->edges[0] : front->edges[1];
  const ServiceGraphEdge& to_table =
      front->edges[0].to == index(back) ? front->edges[1] : front->edges[0];
  EXPECT_EQ(to_back.to, index(back));
  // The caller's subsegments time the edge: 0.5, 0.25 and 0.5 s.
  EXPECT_EQ(to_back.response_times, (Histogram{{0.25, 1}, {0.5, 2}}));
  EXPECT_EQ(to_back.stats.fault, 1);
  EXPECT_EQ(to_back.stats.error_throttle, 1);
  EXPECT_TRUE(to_back.aliases.empty());
  EXPECT_EQ(to_table.to, index(table));
  EXPECT_EQ(to_table.aliases, std::vector<std::string>{"DynamoDB"});
  EXPECT_EQ(front->start_ns, 110'000'000'000);
  EXPECT_EQ(front->end_ns, 131'000'000'000);
}

TEST(ServiceGraph, RequestsInProgressAreLeftOut) {
  storage::TraceData t = Trace(1, 100, 0, 0.5);
  t.spans[3].in_progress = true;
  t.spans[3].end_ns = 0;
  ServiceGraphBuilder builder;
  builder.Add(TraceFacts(std::move(t)));
  std::vector<ServiceGraphNode> nodes = std::move(builder).Finish();
  const ServiceGraphNode* back = Find(nodes, "back");
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(back->stats.total(), 0);
  EXPECT_TRUE(back->durations.empty());
}

// Span times come from clients: an end before the start, or times far apart, count as 0 or
// at most INT64_MAX, and sums stop at INT64_MAX (signed overflow was undefined behaviour).
TEST(ServiceGraph, TimesAClientGotWrongNeitherOverflowNorGoNegative) {
  EXPECT_EQ(ElapsedNs(-5, 5), 10);
  EXPECT_EQ(ElapsedNs(5, 3), 0);
  EXPECT_EQ(ElapsedNs(INT64_MIN, INT64_MAX), INT64_MAX);
  RequestStats r;
  r.Add(0, INT64_MAX);
  r.Add(model::kStatusFault, INT64_MAX);
  EXPECT_EQ(r.total_response_ns, INT64_MAX);
  RequestStats sum;
  sum.Add(r);
  sum.Add(r);
  EXPECT_EQ(sum.total_response_ns, INT64_MAX);
  EXPECT_EQ(sum.total(), 4);
  EXPECT_EQ(sum.fault, 2);

  ServiceGraphBuilder builder;
  for (uint64_t i = 0; i < 8; ++i) {
    storage::TraceData t = Trace(10 * (i + 1), 100, 0, 0.5);
    t.spans[3].end_ns = 0;  // an OTLP span that never said when it ended: not in progress
    if (i % 2 == 1) t.spans[3].start_ns = INT64_MIN + 1, t.spans[3].end_ns = INT64_MAX;
    builder.Add(TraceFacts(std::move(t)));
  }
  std::vector<ServiceGraphNode> nodes = std::move(builder).Finish();
  const ServiceGraphNode* back = Find(nodes, "back");
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(back->stats.total(), 8);
  EXPECT_EQ(back->stats.total_response_ns, INT64_MAX);
  for (const auto& [seconds, count] : back->durations) EXPECT_GE(seconds, 0);
}

TEST(ServiceGraph, ACallAnsweredTwiceCountsOnceWhereverTheAnswersLie) {
  // front's calls 2 and 3 go to back; back's segments answer call 2, then 3, then 2 again (in
  // id order), and the second answer to call 2 must not count it twice.
  storage::TraceData t;
  t.spans = {
      Span(1, 0, "front", "front", K::kServer, 100, 101),
      Span(2, 1, "front", "back", K::kClient, 100.1, 100.2),
      Span(3, 1, "front", "back", K::kClient, 100.3, 100.4),
      Span(4, 2, "back", "back", K::kServer, 100.11, 100.19),
      Span(5, 3, "back", "back", K::kServer, 100.31, 100.39),
      Span(6, 2, "back", "back", K::kServer, 100.12, 100.18),
  };
  ServiceGraphBuilder builder;
  builder.Add(TraceFacts(std::move(t)));
  std::vector<ServiceGraphNode> nodes = std::move(builder).Finish();
  const ServiceGraphNode* front = Find(nodes, "front");
  const ServiceGraphNode* back = Find(nodes, "back");
  ASSERT_TRUE(front && back);
  ASSERT_EQ(front->edges.size(), 1u);
  EXPECT_EQ(front->edges[0].stats.total(), 2);  // calls 2 and 3
  EXPECT_EQ(front->edges[0].stats.total_response_ns, 200'000'000);
  EXPECT_EQ(back->stats.total(), 3);  // back's own segments all count
}

TEST(ServiceGraph, AnEdgeKeepsItsSmallestAliasesWhateverTheOrderOfCalls) {
  // front calls back under 12 names other than "back"; the edge keeps the 10 smallest.
  auto graph = [](bool reversed) {
    ServiceGraphBuilder builder;
    for (int i = 0; i < 12; ++i) {
      const int n = reversed ? 11 - i : i;
      const uint64_t base = 100 * static_cast<uint64_t>(i + 1);
      const double start = 100 + i;
      storage::TraceData t;
      t.spans = {Span(base + 1, 0, "front", "front", K::kServer, start, start + 1),
                 Span(base + 2, base + 1, "front", "alias-" + std::to_string(10 + n), K::kClient,
                      start + 0.1, start + 0.2),
                 Span(base + 3, base + 2, "back", "back", K::kServer, start + 0.11, start + 0.19)};
      builder.Add(TraceFacts(std::move(t)));
    }
    std::vector<ServiceGraphNode> nodes = std::move(builder).Finish();
    const ServiceGraphNode* front = Find(nodes, "front");
    EXPECT_NE(front, nullptr);
    if (front == nullptr || front->edges.size() != 1) return std::vector<std::string>();
    std::vector<std::string> aliases = front->edges[0].aliases;
    std::sort(aliases.begin(), aliases.end());
    return aliases;
  };
  std::vector<std::string> want;
  for (int n = 10; n < 20; ++n) want.push_back("alias-" + std::to_string(n));
  EXPECT_EQ(graph(false), want);
  EXPECT_EQ(graph(true), want);
}

// Traces at 110, 120 (a fault) and 130 s, as above, in 60-second periods from 60 s: the first
// in the period at 60, the other two in the one at 120.
std::map<int64_t, StatisticsPeriod> Series(std::string_view selector_text, int64_t start_s = 60,
                                           int64_t end_s = 300) {
  auto selector = ParseEntitySelector(selector_text);
  EXPECT_TRUE(selector.ok()) << selector.status().ToString();
  StatisticsSeries series(*selector, start_s * kNanosPerSecond, end_s * kNanosPerSecond,
                          60 * kNanosPerSecond);
  for (uint64_t base : {10, 20, 30}) {
    const uint8_t flags = base == 20 ? model::kStatusFault : 0;
    series.Add(TraceFacts(Trace(base, 100.0 + static_cast<double>(base), flags, 0.5)));
  }
  return std::move(series).Finish();
}

TEST(StatisticsSeries, RootEdgesPerPeriod) {
  auto periods = Series("");
  ASSERT_EQ(periods.size(), 2u);
  EXPECT_EQ(periods.at(60 * kNanosPerSecond).edge.ok, 1);
  const StatisticsPeriod& second = periods.at(120 * kNanosPerSecond);
  EXPECT_EQ(second.edge.ok, 1);
  EXPECT_EQ(second.edge.fault, 1);
  EXPECT_DOUBLE_EQ(second.edge.total_response_time(), 2.0);
  EXPECT_EQ(second.response_times, (Histogram{{1.0, 2}}));
  EXPECT_EQ(second.service.total(), 0);
}

TEST(StatisticsSeries, OneServiceByNameOrId) {
  for (std::string_view text :
       {"service(\"back\")", "id(name: \"back\")", "service(id(name: \"back\"))"}) {
    SCOPED_TRACE(text);
    auto periods = Series(text);
    ASSERT_EQ(periods.size(), 2u);
    const StatisticsPeriod& second = periods.at(120 * kNanosPerSecond);
    EXPECT_EQ(second.service.ok, 1);
    EXPECT_EQ(second.service.fault, 1);
    EXPECT_EQ(second.edge.total(), 0);
    // back's own segments: 0.5 - 0.02 s.
    EXPECT_EQ(second.response_times, (Histogram{{0.48, 2}}));
  }
  // An inferred node is a service too.
  auto table = Series("id(name: \"t\", type: \"AWS::DynamoDB::Table\")");
  EXPECT_EQ(table.at(120 * kNanosPerSecond).service.ok, 2);
  EXPECT_TRUE(Series("service(\"nobody\")").empty());
}

TEST(StatisticsSeries, OneEdgeTimedByTheCaller) {
  auto periods = Series("edge(\"front\", \"back\")");
  ASSERT_EQ(periods.size(), 2u);
  const StatisticsPeriod& second = periods.at(120 * kNanosPerSecond);
  EXPECT_EQ(second.edge.ok, 1);
  EXPECT_EQ(second.edge.fault, 1);
  EXPECT_EQ(second.response_times, (Histogram{{0.5, 2}}));
  EXPECT_TRUE(Series("edge(\"back\", \"front\")").empty());
}

TEST(StatisticsSeries, RequestsOutsideTheRangeAreLeftOut) {
  // From 115 s: the trace at 110 s is out, the one at 120 s is in the period at 115 s.
  auto periods = Series("", 115, 125);
  ASSERT_EQ(periods.size(), 1u);
  EXPECT_EQ(periods.at(115 * kNanosPerSecond).edge.total(), 1);
}

TEST(EntitySelector, RefusesWhatIsNotOneServiceOrEdge) {
  struct Bad {
    std::string_view text;
    std::string_view position;
  };
  for (const Bad& b : {Bad{"ok", "position 1"}, Bad{"service(\"a\") { ok }", "position 16"},
                       Bad{"service(\"a\") AND ok", "position 14"},
                       Bad{"edge(\"a\")", "position 9"}, Bad{"id(\"a\")", "position 4"}}) {
    SCOPED_TRACE(b.text);
    auto s = ParseEntitySelector(b.text);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(s.status().message().find(b.position), std::string::npos) << s.status().message();
  }
}

}  // namespace
}  // namespace waggle::query
