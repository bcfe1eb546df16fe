#include "base/utf8.h"

#include <gtest/gtest.h>

namespace waggle {
namespace {

TEST(ValidUtf8, KeepsWellFormedTextAndReplacesEachBadByte) {
  // ASCII, 2-, 3- and 4-byte characters stay as they are.
  EXPECT_EQ(ValidUtf8("plain"), "plain");
  EXPECT_EQ(ValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x9d"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x9d");
  EXPECT_EQ(ValidUtf8(std::string_view("a\0b", 3)), std::string("a\0b", 3));
  const std::string bad = "\xef\xbf\xbd";
  // A lone lead byte, a lone continuation byte, a sequence cut short at the end.
  EXPECT_EQ(ValidUtf8("x\xdfy"), "x" + bad + "y");
  EXPECT_EQ(ValidUtf8("\x80"), bad);
  EXPECT_EQ(ValidUtf8("\xe2\x82"), bad + bad);
  // Overlong forms, a surrogate, past U+10FFFF, bytes that never occur.
  EXPECT_EQ(ValidUtf8("\xc0\xaf"), bad + bad);
  EXPECT_EQ(ValidUtf8("\xe0\x80\xaf"), bad + bad + bad);
  EXPECT_EQ(ValidUtf8("\xed\xa0\x80"), bad + bad + bad);
  EXPECT_EQ(ValidUtf8("\xf4\x90\x80\x80"), bad + bad + bad + bad);
  EXPECT_EQ(ValidUtf8("\xff\xfe"), bad + bad);
  // The edges that are allowed.
  EXPECT_EQ(ValidUtf8("\xed\x9f\xbf"), "\xed\x9f\xbf");          // U+D7FF
  EXPECT_EQ(ValidUtf8("\xf4\x8f\xbf\xbf"), "\xf4\x8f\xbf\xbf");  // U+10FFFF
}

TEST(Utf8SequenceAt, GivesTheLengthOfTheCharacterOrZero) {
  const std::string_view text = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x90\x9d\xdf";
  EXPECT_EQ(Utf8SequenceAt(text, 0), 1u);
  EXPECT_EQ(Utf8SequenceAt(text, 1), 2u);
  EXPECT_EQ(Utf8SequenceAt(text, 2), 0u);  // a continuation byte begins nothing
  EXPECT_EQ(Utf8SequenceAt(text, 3), 3u);
  EXPECT_EQ(Utf8SequenceAt(text, 6), 4u);
  EXPECT_EQ(Utf8SequenceAt(text, 10), 0u);  // cut short at the end
}

}  // namespace
}  // namespace waggle
