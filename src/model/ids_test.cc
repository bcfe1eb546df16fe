#include "model/ids.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <unordered_set>
#include <vector>

namespace waggle::model {
namespace {

TEST(TraceIdHash, IdsMadeToCollideUnderAnUnkeyedHashSpreadOutUnderEverySeed) {
  // Every id here had the same hash under the unkeyed a * gamma ^ b of its two halves: b was
  // chosen as a * gamma ^ 42. A client could send a head full of them.
  constexpr uint64_t kIds = 10000;
  std::vector<TraceId> ids;
  for (uint64_t a = 1; a <= kIds; ++a) {
    const uint64_t b = a * kGoldenGamma ^ 42;
    TraceId& id = ids.emplace_back();
    std::memcpy(id.bytes.data(), &a, 8);
    std::memcpy(id.bytes.data() + 8, &b, 8);
  }
  for (const uint64_t seed : {uint64_t{0}, uint64_t{1}, ProcessHashSeed()}) {
    std::unordered_set<size_t> hashes;
    std::unordered_set<TraceId, TraceIdHash> set(0, TraceIdHash{seed});
    for (const TraceId& id : ids) {
      hashes.insert(TraceIdHash{seed}(id));
      set.insert(id);
    }
    EXPECT_GE(hashes.size(), kIds - 2) << seed;
    // Spread over the set's buckets as well: none holds more than a few.
    size_t fullest = 0;
    for (size_t i = 0; i < set.bucket_count(); ++i) fullest = std::max(fullest, set.bucket_size(i));
    EXPECT_LE(fullest, 12u) << seed;
  }
}

TEST(TraceIdHash, TheSeedKeysEveryHash) {
  // Keys worked out to collide under one seed say nothing of another: a hash that ignored its
  // seed (as the unkeyed one did) would give the same value under both.
  std::mt19937_64 rng(7);
  size_t same = 0;
  for (int i = 0; i < 1000; ++i) {
    TraceId id;
    for (auto& byte : id.bytes) byte = static_cast<uint8_t>(rng());
    same += TraceIdHash{1}(id) == TraceIdHash{2}(id);
  }
  EXPECT_EQ(same, 0u);
  EXPECT_EQ(TraceIdHash{}.seed, ProcessHashSeed());
}

TEST(TraceId, XRayAndW3cFormsAreTheSameBytes) {
  TraceId xray, w3c;
  ASSERT_TRUE(TraceId::ParseXRay("1-5759e988-bd862e3fe1be46a994272793", &xray));
  ASSERT_TRUE(TraceId::ParseHex("5759e988bd862e3fe1be46a994272793", &w3c));
  EXPECT_EQ(xray, w3c);
  EXPECT_EQ(xray.ToXRay(), "1-5759e988-bd862e3fe1be46a994272793");
  EXPECT_EQ(xray.ToHex(), "5759e988bd862e3fe1be46a994272793");
  EXPECT_EQ(xray.XRayEpochSeconds(), 0x5759e988u);
}

TEST(TraceId, AcceptsUppercaseAndRejectsWrongShapes) {
  TraceId id;
  EXPECT_TRUE(TraceId::Parse("1-5759E988-BD862E3FE1BE46A994272793", &id));
  EXPECT_EQ(id.ToXRay(), "1-5759e988-bd862e3fe1be46a994272793");
  EXPECT_FALSE(TraceId::Parse("2-5759e988-bd862e3fe1be46a994272793", &id));
  EXPECT_FALSE(TraceId::Parse("1-5759e988-bd862e3fe1be46a99427279", &id));
  EXPECT_FALSE(TraceId::Parse("1-5759e988xbd862e3fe1be46a994272793", &id));
  EXPECT_FALSE(TraceId::Parse("1-5759e98g-bd862e3fe1be46a994272793", &id));
  EXPECT_FALSE(TraceId::Parse("", &id));
}

// Ids compare as their bytes do, one by one: the order blocks sort traces in.
TEST(TraceId, OrdersAsItsBytes) {
  std::mt19937_64 rng(7);
  std::vector<TraceId> ids(300);
  for (TraceId& id : ids) {
    for (uint8_t& b : id.bytes) b = static_cast<uint8_t>(rng() % 4 == 0 ? 0xff : rng() % 3);
  }
  ids.push_back(TraceId{});
  ids.push_back(TraceId::Max());
  for (const TraceId& a : ids) {
    for (const TraceId& b : ids) {
      ASSERT_EQ(a == b, a.bytes == b.bytes);
      ASSERT_EQ(a < b, a.bytes < b.bytes);
      ASSERT_EQ(a > b, a.bytes > b.bytes);
    }
  }
}

TEST(SpanId, RoundTripsSixteenHexDigits) {
  SpanId id;
  ASSERT_TRUE(SpanId::ParseHex("53995c3f42cd8ad8", &id));
  EXPECT_EQ(id.value, 0x53995c3f42cd8ad8ull);
  EXPECT_EQ(id.ToHex(), "53995c3f42cd8ad8");
  EXPECT_FALSE(SpanId::ParseHex("53995c3f42cd8ad", &id));
  EXPECT_FALSE(SpanId::ParseHex("53995c3f42cd8adz", &id));
}

}  // namespace
}  // namespace waggle::model
