#include "base/crc32c.h"

#include <gtest/gtest.h>

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

TEST(Crc32c, MaskRoundTrips) {
  uint32_t crc = Value("foo");
  EXPECT_NE(Mask(crc), crc);
  EXPECT_EQ(Unmask(Mask(crc)), crc);
}

}  // namespace
}  // namespace waggle::crc32c
