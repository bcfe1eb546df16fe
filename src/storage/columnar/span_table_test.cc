#include "storage/columnar/span_table.h"

#include <gtest/gtest.h>

#include "storage/testing/random_spans.h"

namespace waggle::storage::columnar {
namespace {

using storage::testing::Canonical;
using storage::testing::RandomTrace;

TEST(SpanTable, EveryFieldOfEverySpanComesBack) {
  std::mt19937_64 rng(3);
  SpanTable table;
  std::vector<model::Span> all;
  for (int t = 0; t < 200; ++t) {
    for (model::Span& s : RandomTrace(rng, 1 + rng() % 12)) {
      table.Append(s);
      all.push_back(std::move(s));
    }
  }
  ASSERT_EQ(table.size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    ASSERT_EQ(Canonical(table.Row(static_cast<uint32_t>(i))), Canonical(all[i])) << "row " << i;
  }
  EXPECT_GT(table.memory_bytes(), 0u);
}

TEST(SpanTable, EndTimesSurviveEveryCase) {
  SpanTable table;
  model::Span s;
  s.start_ns = 100;
  for (int64_t end : {int64_t{0}, int64_t{100}, int64_t{99}, int64_t{101}, INT64_MAX, INT64_MIN}) {
    s.end_ns = end;
    table.Append(s);
  }
  EXPECT_EQ(table.Row(0).end_ns, 0);
  EXPECT_EQ(table.Row(1).end_ns, 100);
  EXPECT_EQ(table.Row(2).end_ns, 99);
  EXPECT_EQ(table.Row(3).end_ns, 101);
  EXPECT_EQ(table.Row(4).end_ns, INT64_MAX);
  EXPECT_EQ(table.Row(5).end_ns, INT64_MIN);
}

TEST(SpanTable, ARepeatedKeyKeepsBothValues) {
  SpanTable table;
  model::Span s;
  s.attributes.push_back({"k", model::AttributeValue::String("a")});
  s.attributes.push_back({"k", model::AttributeValue::String("b")});
  table.Append(s);
  table.Append(model::Span{});
  EXPECT_EQ(table.Row(0).attributes, s.attributes);
  EXPECT_TRUE(table.Row(1).attributes.empty());
}

}  // namespace
}  // namespace waggle::storage::columnar
