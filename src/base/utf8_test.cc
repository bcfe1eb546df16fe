#include "base/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace waggle {
namespace {

std::string ValidUtf8(std::string_view in) {
  std::string storage;
  return std::string(AsValidUtf8(in, &storage));
}

TEST(AsValidUtf8, KeepsWellFormedTextAndReplacesEachBadByte) {
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

TEST(IsUtf8, AsciiWordAtATimeAndEveryOtherWellFormedText) {
  EXPECT_TRUE(IsAscii(""));
  EXPECT_TRUE(IsAscii("0123456789abcdefX"));  // two words and a tail
  EXPECT_FALSE(IsAscii("01234567\xc3\xa9"));  // in the tail
  EXPECT_FALSE(
      IsAscii("0123\xc3\xa9"
              "6789abcdef"));  // in a word
  EXPECT_TRUE(
      IsUtf8("0123\xc3\xa9"
             "6789abcdef \xf0\x9f\x90\x9d"));
  EXPECT_FALSE(IsUtf8("0123456789abcdef\xff"));
  EXPECT_FALSE(IsUtf8("\xed\xa0\x80"));  // a surrogate
  EXPECT_FALSE(IsUtf8("\xe2\x82"));      // cut short
}

TEST(AsValidUtf8, CopiesNothingForValidTextAndCountsItsRepairs) {
  std::string storage = "untouched";
  uint64_t repairs = 0;
  const std::string_view valid = "caf\xc3\xa9";
  EXPECT_EQ(AsValidUtf8(valid, &storage, &repairs).data(), valid.data());
  EXPECT_EQ(storage, "untouched");
  EXPECT_EQ(repairs, 0u);
  const std::string_view repaired = AsValidUtf8("a\xff\xfe", &storage, &repairs);
  EXPECT_EQ(repaired.data(), storage.data());
  EXPECT_EQ(repaired, "a\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(repairs, 2u);
}

TEST(AppendValidUtf8, AppendsAndCountsTheReplacements) {
  std::string out = "x";
  EXPECT_EQ(AppendValidUtf8(&out, "a\xff\xc3\xa9\xed\xa0\x80"), 4u);
  EXPECT_EQ(out, "xa\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(AppendValidUtf8(&out, "ok"), 0u);
  EXPECT_TRUE(out.ends_with("ok"));
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
