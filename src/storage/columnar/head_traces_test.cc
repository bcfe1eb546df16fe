#include "storage/columnar/head_traces.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <random>

namespace waggle::storage::columnar {
namespace {

model::TraceId IdOf(uint64_t n) {
  model::TraceId id;
  for (int i = 0; i < 8; ++i) id.bytes[8 + i] = static_cast<uint8_t>(n >> (8 * i));
  return id;
}

std::vector<uint32_t> RowsOf(const HeadTraces& traces, const HeadTraces::Trace& t) {
  std::vector<uint32_t> rows;
  for (uint32_t r = t.first_row; r != HeadTraces::kNone; r = traces.NextRow(r)) rows.push_back(r);
  return rows;
}

// Rows of thousands of traces, interleaved at random, come back by trace in the order they
// were added; traces keep the order of their first row.
TEST(HeadTraces, EachTraceKeepsItsRowsInOrder) {
  std::mt19937_64 rng(7);
  HeadTraces traces;
  std::map<uint64_t, std::vector<uint32_t>> want;
  std::vector<uint64_t> first_seen;
  for (uint32_t row = 0; row < 50000; ++row) {
    const uint64_t n = rng() % 5000;
    HeadTraces::Trace& t = traces.FindOrAdd(IdOf(n));
    if (want[n].empty()) first_seen.push_back(n);
    traces.AddRow(&t, row);
    want[n].push_back(row);
  }
  ASSERT_EQ(traces.size(), want.size());
  for (const auto& [n, rows] : want) {
    const HeadTraces::Trace* t = traces.Find(IdOf(n));
    ASSERT_NE(t, nullptr) << n;
    EXPECT_EQ(traces.id(static_cast<size_t>(t - traces.all().data())), IdOf(n));
    EXPECT_EQ(RowsOf(traces, *t), rows) << n;
  }
  ASSERT_EQ(traces.all().size(), first_seen.size());
  size_t rows = 0;
  for (size_t g = 0; g < traces.all().size(); ++g) {
    EXPECT_EQ(traces.id(g), IdOf(first_seen[g]));
    EXPECT_EQ(RowsOf(traces, traces.all()[g]), want[first_seen[g]]) << g;
    rows += RowsOf(traces, traces.all()[g]).size();
  }
  EXPECT_EQ(rows, 50000u);
  EXPECT_EQ(traces.Find(IdOf(5000)), nullptr);
}

TEST(HeadTraces, ATraceWithNoRowsIsFoundWithNoRows) {
  HeadTraces traces;
  EXPECT_TRUE(traces.empty());
  EXPECT_EQ(traces.Find(IdOf(1)), nullptr);
  HeadTraces::Trace& logs_only = traces.FindOrAdd(IdOf(1));
  logs_only.logs.push_back("group");
  traces.AddRow(&traces.FindOrAdd(IdOf(2)), 0);
  ASSERT_NE(traces.Find(IdOf(1)), nullptr);
  EXPECT_EQ(traces.Find(IdOf(1))->logs.size(), 1u);
  EXPECT_TRUE(RowsOf(traces, *traces.Find(IdOf(1))).empty());
  ASSERT_EQ(traces.size(), 2u);
  EXPECT_TRUE(RowsOf(traces, traces.all()[0]).empty());
  EXPECT_EQ(RowsOf(traces, traces.all()[1]), (std::vector<uint32_t>{0}));
}

// AddRows adds a table's rows under their trace ids, and again only the rows added since.
TEST(HeadTraces, AddRowsTakesTheRowsNotAddedYet) {
  HeadTraces traces;
  std::vector<model::TraceId> ids = {IdOf(1), IdOf(2), IdOf(1)};
  traces.AddRows(ids);
  ids.push_back(IdOf(2));
  ids.push_back(IdOf(3));
  traces.AddRows(ids);
  ASSERT_EQ(traces.size(), 3u);
  EXPECT_EQ(RowsOf(traces, *traces.Find(IdOf(1))), (std::vector<uint32_t>{0, 2}));
  EXPECT_EQ(RowsOf(traces, *traces.Find(IdOf(2))), (std::vector<uint32_t>{1, 3}));
  EXPECT_EQ(RowsOf(traces, *traces.Find(IdOf(3))), (std::vector<uint32_t>{4}));
}

// Reserving, before or after traces are added, keeps every trace findable.
TEST(HeadTraces, ReserveKeepsTracesFindable) {
  HeadTraces traces;
  traces.Reserve(10, 10);
  for (uint32_t i = 0; i < 100; ++i) traces.AddRow(&traces.FindOrAdd(IdOf(i)), i);
  traces.Reserve(100000, 100000);
  for (uint32_t i = 0; i < 100; ++i) {
    const HeadTraces::Trace* t = traces.Find(IdOf(i));
    ASSERT_NE(t, nullptr) << i;
    EXPECT_EQ(RowsOf(traces, *t), std::vector<uint32_t>{i});
  }
  EXPECT_EQ(traces.Find(IdOf(100)), nullptr);
}

// The rows in block order are those of a stable sort of every row by (trace id, start), the
// dropped ones left out: for traces of one row to 200 (past the 32 sorted by insertion), rows
// interleaved, starts that tie and arrive out of order.
TEST(HeadTraces, RowsByTraceAndStartIsAStableSortByTraceThenStart) {
  std::mt19937_64 rng(11);
  for (const int traces_n : {1, 7, 300}) {
    HeadTraces traces;
    std::vector<model::TraceId> ids;
    std::vector<int64_t> starts;
    std::vector<bool> dropped;
    std::vector<size_t> left(static_cast<size_t>(traces_n));
    for (size_t t = 0; t < left.size(); ++t) left[t] = t % 3 == 0 ? 200 : 1 + rng() % 12;
    std::vector<size_t> open(left.size());
    std::iota(open.begin(), open.end(), size_t{0});
    for (uint32_t row = 0; !open.empty(); ++row) {
      const size_t pick = rng() % open.size();
      const size_t t = open[pick];
      if (--left[t] == 0) open.erase(open.begin() + static_cast<ptrdiff_t>(pick));
      ids.push_back(IdOf(t * 2654435761u));  // ids in another order than the traces'
      traces.AddRow(&traces.FindOrAdd(ids.back()), row);
      starts.push_back(static_cast<int64_t>(rng() % 8));  // ties, in no order
      dropped.push_back(rng() % 10 == 0);
    }
    for (const std::vector<bool>* drop : {static_cast<const std::vector<bool>*>(nullptr),
                                          static_cast<const std::vector<bool>*>(&dropped)}) {
      std::vector<uint32_t> want;
      for (uint32_t r = 0; r < starts.size(); ++r) {
        if (drop == nullptr || !(*drop)[r]) want.push_back(r);
      }
      std::stable_sort(want.begin(), want.end(), [&](uint32_t a, uint32_t b) {
        if (ids[a] != ids[b]) return ids[a] < ids[b];
        return starts[a] < starts[b];
      });
      EXPECT_EQ(traces.RowsByTraceAndStart(starts, drop), want)
          << traces_n << " traces, dropped: " << (drop != nullptr);
    }
  }
}

}  // namespace
}  // namespace waggle::storage::columnar
