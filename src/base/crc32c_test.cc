#include "base/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace waggle::crc32c {
namespace {

TEST(Crc32c, MatchesPublishedCheckValues) {
  // RFC 3720 B.4 test vectors.
  EXPECT_EQ(Value(std::string(32, '\0')), 0x8a9136aau);
  EXPECT_EQ(Value(std::string(32, '\xff')), 0x62a8ab43u);
  EXPECT_EQ(Value("123456789"), 0xe3069283u);
}

TEST(Crc32c, ExtendEqualsWholeValue) {
  std::string s = "hello world, this is more than eight bytes";
  EXPECT_EQ(Extend(Value(s.substr(0, 7)), s.data() + 7, s.size() - 7), Value(s));
}

// Bit by bit, as the definition says: the reference for every length the fast paths split.
uint32_t Reference(const std::string& s) {
  uint32_t c = ~0u;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
  }
  return ~c;
}

TEST(Crc32c, LongInputsMatchTheBitwiseDefinition) {
  std::mt19937 rng(3);
  for (size_t n : {0, 7, 8, 3071, 3072, 3073, 6144, 6151, 10000, 40000}) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    EXPECT_EQ(Value(s), Reference(s)) << n;
    // And when the CRC is extended from a point inside the input.
    const size_t cut = n / 3;
    EXPECT_EQ(Extend(Value(s.substr(0, cut)), s.data() + cut, n - cut), Reference(s)) << n;
  }
}

TEST(Crc32c, MaskRoundTrips) {
  uint32_t crc = Value("foo");
  EXPECT_NE(Mask(crc), crc);
  EXPECT_EQ(Unmask(Mask(crc)), crc);
}

}  // namespace
}  // namespace waggle::crc32c
