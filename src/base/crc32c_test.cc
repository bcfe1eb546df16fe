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

TEST(Crc32c, StretchCrcOfEveryKindOfStretchEqualsItsValue) {
  std::mt19937 rng(7);
  std::string s(3 * 65536 + 123, '\0');  // past three of its 64 KiB power steps
  for (char& c : s) c = static_cast<char>(rng());
  StretchCrc stretches(s);
  // Short and long, on and off the prefix boundaries, empty, and up to the end.
  const size_t points[] = {0,     1,     511,    512,    513,          1500,    65535,
                           65536, 65549, 131072, 140000, s.size() - 1, s.size()};
  for (size_t begin : points) {
    for (size_t end : points) {
      if (begin > end) continue;
      EXPECT_EQ(stretches.Of(begin, end), Value(std::string_view(s).substr(begin, end - begin)))
          << begin << ".." << end;
    }
  }
  for (int i = 0; i < 200; ++i) {
    const size_t begin = rng() % s.size(), end = begin + rng() % (s.size() - begin + 1);
    ASSERT_EQ(stretches.Of(begin, end), Value(std::string_view(s).substr(begin, end - begin)))
        << begin << ".." << end;
  }
  // A search's way: the same length sliding a byte at a time (past the count where the
  // multiplication becomes lookups), then lengths that change.
  for (size_t begin = 0; begin < 300; ++begin) {
    ASSERT_EQ(stretches.Of(begin, begin + 70000), Value(std::string_view(s).substr(begin, 70000)))
        << begin;
  }
  for (size_t begin = 0; begin < 100; ++begin) {
    const size_t end = s.size() - 7 * begin;
    ASSERT_EQ(stretches.Of(begin, end), Value(std::string_view(s).substr(begin, end - begin)))
        << begin;
  }
  EXPECT_EQ(StretchCrc(std::string_view()).Of(0, 0), Value(""));
}

TEST(Crc32c, MaskRoundTrips) {
  uint32_t crc = Value("foo");
  EXPECT_NE(Mask(crc), crc);
  EXPECT_EQ(Unmask(Mask(crc)), crc);
}

}  // namespace
}  // namespace waggle::crc32c
