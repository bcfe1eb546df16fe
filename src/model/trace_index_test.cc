#include "model/trace_index.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace waggle::model {
namespace {

TraceId IdOf(uint64_t n) {
  TraceId id;
  for (int i = 0; i < 8; ++i) id.bytes[8 + i] = static_cast<uint8_t>(n >> (8 * i));
  return id;
}

// Ids of thousands of traces, repeated at random, are numbered in the order each first came,
// found again by that number, and absent ones are not found; Clear() forgets them all and
// numbers from 0 again.
TEST(TraceIndex, NumbersIdsInOrderOfFirstComing) {
  std::mt19937_64 rng(3);
  TraceIndex index;
  std::map<uint64_t, uint32_t> want;
  for (int round = 0; round < 2; ++round) {
    want.clear();
    for (int i = 0; i < 20000; ++i) {
      const uint64_t n = rng() % 3000;
      bool added;
      const uint32_t number = index.FindOrAdd(IdOf(n), &added);
      auto [it, is_new] = want.try_emplace(n, static_cast<uint32_t>(want.size()));
      ASSERT_EQ(added, is_new) << n;
      ASSERT_EQ(number, it->second) << n;
    }
    ASSERT_EQ(index.size(), want.size());
    for (const auto& [n, number] : want) {
      EXPECT_EQ(index.Find(IdOf(n)), number) << n;
      EXPECT_EQ(index.id(number), IdOf(n)) << n;
    }
    EXPECT_EQ(index.Find(IdOf(1'000'000)), TraceIndex::kAbsent);
    index.Clear();
    EXPECT_EQ(index.size(), 0u);
    EXPECT_EQ(index.Find(IdOf(want.begin()->first)), TraceIndex::kAbsent);
  }
  TraceIndex empty;
  EXPECT_EQ(empty.Find(IdOf(1)), TraceIndex::kAbsent);
  empty.Reserve(100);
  EXPECT_EQ(empty.FindOrAdd(IdOf(5)), 0u);
}

}  // namespace
}  // namespace waggle::model
