#include "model/ids.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace waggle::model {
namespace {

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
