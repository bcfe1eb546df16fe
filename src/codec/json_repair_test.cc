#include "codec/json_repair.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>

namespace waggle::codec {
namespace {

const std::string kFffd = "\xef\xbf\xbd";

// What `in` repairs to, or "(none)" when it needs no repair.
std::string Repaired(std::string_view in, size_t* repairs = nullptr) {
  std::string out = "(none)";
  const size_t n = RepairJsonText(in, &out);
  if (repairs != nullptr) *repairs = n;
  return out;
}

TEST(RepairJsonText, LoneSurrogateEscapesBecomeTheReplacementCharacter) {
  size_t n = 0;
  EXPECT_EQ(Repaired(R"(["a\ud83d"])", &n), R"(["a\ufffd"])");
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(Repaired(R"(["\uDC4Dz"])", &n), R"(["\ufffdz"])");  // upper-case hex too
  EXPECT_EQ(n, 1u);
  // The halves the wrong way round, and a high one followed by another high one.
  EXPECT_EQ(Repaired(R"(["\udc4d\ud83d", "\ud83d\ud83d\udc4d"])", &n),
            R"(["\ufffd\ufffd", "\ufffd\ud83d\udc4d"])");
  EXPECT_EQ(n, 3u);
  // A high one cut short by the end of the text.
  EXPECT_EQ(Repaired(R"("\ud83d)", &n), R"("\ufffd)");
  EXPECT_EQ(n, 1u);
}

TEST(RepairJsonText, ValidTextNeedsNoRepair) {
  EXPECT_EQ(Repaired(R"({"a":"\ud83d\udc4d \u00e9 \\ud83d \" \\"})"), "(none)");
  EXPECT_EQ(Repaired("\"caf\xc3\xa9 \xf0\x9f\x90\x9d\""), "(none)");
  EXPECT_EQ(Repaired(""), "(none)");
  // Malformed escapes are the parser's to refuse.
  EXPECT_EQ(Repaired(R"(["\u12", "\x", "\)"), "(none)");
}

TEST(RepairJsonText, BytesThatAreNotUtf8BecomeTheReplacementCharacter) {
  size_t n = 0;
  EXPECT_EQ(Repaired("[\"a\xff\xfe\"]", &n), "[\"a" + kFffd + kFffd + "\"]");
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(Repaired("\"\xed\xa0\x80\"", &n), "\"" + kFffd + kFffd + kFffd + "\"");
  EXPECT_EQ(n, 3u);
  EXPECT_EQ(Repaired("\"\xe2\x82\"", &n), "\"" + kFffd + kFffd + "\"");  // cut short
  EXPECT_EQ(n, 2u);
  // After a backslash too: the escape is malformed, but the text comes out UTF-8.
  EXPECT_EQ(Repaired("\"\\\xff\"", &n), "\"\\" + kFffd + "\"");
  EXPECT_EQ(n, 1u);
}

TEST(RepairJsonText, TextWithTooManyBadBytesIsLeftUnrepaired) {
  // 2 bytes of growth a bad byte: the limit for 40,000 bytes is 5,000 + 4,096 bytes of growth.
  const size_t at_limit = (40000 / 8 + 4096) / 2;
  std::string text(40000, 'a');
  text.replace(0, at_limit, at_limit, '\xff');
  std::string out = "(none)";
  EXPECT_EQ(RepairJsonText(text, &out), at_limit);
  EXPECT_EQ(out.size(), 40000 + 2 * at_limit);
  text[at_limit] = '\xff';
  out = "(none)";
  EXPECT_EQ(RepairJsonText(text, &out), 0u);
  EXPECT_TRUE(out == "(none)");  // (not printed: 40 KB)
  // Lone surrogate escapes do not grow the text: any number of them is repaired.
  std::string escapes;
  for (int i = 0; i < 10000; ++i) escapes += "\\ud83d";
  EXPECT_EQ(RepairJsonText(escapes, &out), 10000u);
}

TEST(RepairJsonText, WhatJavaScriptWritesParsesOnceRepaired) {
  // JSON.stringify({"k\udc00": "v\ud83d"}) in Node 12 and later.
  const std::string body = R"({"k\udc00":"v\ud83d","ok":"\ud83d\udc4d"})";
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_NE(parser.parse(body).get(root), simdjson::SUCCESS);
  std::string repaired;
  ASSERT_EQ(RepairJsonText(body, &repaired), 2u);
  ASSERT_EQ(parser.parse(repaired).get(root), simdjson::SUCCESS);
  std::string_view v;
  ASSERT_EQ(root["k" + kFffd].get(v), simdjson::SUCCESS);
  EXPECT_EQ(v, "v" + kFffd);
  ASSERT_EQ(root["ok"].get(v), simdjson::SUCCESS);
  EXPECT_EQ(v, "\xf0\x9f\x91\x8d");
}

}  // namespace
}  // namespace waggle::codec
