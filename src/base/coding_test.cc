#include "base/coding.h"

#include <gtest/gtest.h>

#include <limits>

#include "base/mix.h"

namespace waggle::coding {
namespace {

TEST(Coding, VarintRoundTripsBoundaryValues) {
  const uint64_t values[] = {0, 1, 127, 128, 300, 1ull << 32, std::numeric_limits<uint64_t>::max()};
  std::string buf;
  for (uint64_t v : values) {
    const size_t before = buf.size();
    PutVarint64(&buf, v);
    EXPECT_EQ(VarintLength(v), buf.size() - before) << v;
  }
  std::string_view in = buf;
  for (uint64_t v : values) {
    uint64_t got;
    ASSERT_TRUE(GetVarint64(&in, &got));
    EXPECT_EQ(got, v);
  }
  EXPECT_TRUE(in.empty());
  // Truncated, in the one-byte case and past it.
  uint64_t got;
  in = {};
  EXPECT_FALSE(GetVarint64(&in, &got));
  in = "\x80";
  EXPECT_FALSE(GetVarint64(&in, &got));
}

TEST(Coding, SignedVarintKeepsSmallNegativesShort) {
  std::string buf;
  PutVarsint64(&buf, -1);
  EXPECT_EQ(buf.size(), 1u);
  PutVarsint64(&buf, std::numeric_limits<int64_t>::min());
  std::string_view in = buf;
  int64_t v;
  ASSERT_TRUE(GetVarsint64(&in, &v));
  EXPECT_EQ(v, -1);
  ASSERT_TRUE(GetVarsint64(&in, &v));
  EXPECT_EQ(v, std::numeric_limits<int64_t>::min());
}

TEST(Coding, TruncatedInputIsRejected) {
  std::string buf;
  PutVarint64(&buf, 1ull << 40);
  std::string_view in(buf.data(), buf.size() - 1);
  uint64_t v;
  EXPECT_FALSE(GetVarint64(&in, &v));
  std::string lp;
  PutLengthPrefixed(&lp, "hello");
  std::string_view lpin(lp.data(), lp.size() - 1);
  std::string_view s;
  EXPECT_FALSE(GetLengthPrefixed(&lpin, &s));
}

}  // namespace
}  // namespace waggle::coding

namespace waggle {
namespace {

// SplitMix64's published first outputs for seed 0: the workload's seeds, Honeycomb event ids
// and the store's trace sampling all depend on these values staying put.
TEST(SplitMix64Next, GivesSplitMix64sOutputs) {
  uint64_t state = 0;
  EXPECT_EQ(SplitMix64Next(&state), 0xe220a8397b1dcdafull);
  EXPECT_EQ(SplitMix64Next(&state), 0x6e789e6aa1b965f4ull);
  EXPECT_EQ(state, 2 * kGoldenGamma);
  EXPECT_EQ(Mix64(kGoldenGamma), 0x6e789e6aa1b965f4ull);
}

}  // namespace
}  // namespace waggle
