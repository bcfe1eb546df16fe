#include "base/hex.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace waggle::hex {
namespace {

// Every byte: the digits of either case have their values, every other byte is -1.
TEST(Hex, DigitValueOfEveryByte) {
  for (int c = 0; c < 256; ++c) {
    int want = -1;
    if (c >= '0' && c <= '9') want = c - '0';
    if (c >= 'a' && c <= 'f') want = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') want = c - 'A' + 10;
    EXPECT_EQ(DigitValue(static_cast<char>(c)), want) << c;
  }
}

TEST(Hex, DecodeTakesEitherCaseAndRefusesOtherBytes) {
  uint8_t out[4];
  ASSERT_TRUE(Decode("00fFa9Bc", out, 4));
  EXPECT_EQ(out[0], 0x00);
  EXPECT_EQ(out[1], 0xff);
  EXPECT_EQ(out[2], 0xa9);
  EXPECT_EQ(out[3], 0xbc);
  EXPECT_FALSE(Decode("00fg", out, 2));
  EXPECT_FALSE(Decode(std::string("0\x80", 2), out, 1));  // a byte past ASCII
  EXPECT_FALSE(Decode("0", out, 1));                      // not 2 * n digits
  std::string text;
  const uint8_t bytes[] = {0x01, 0xab, 0xfe};
  Append(&text, bytes, 3);
  EXPECT_EQ(text, "01abfe");
}

}  // namespace
}  // namespace waggle::hex
