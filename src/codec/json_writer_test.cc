#include "codec/json_writer.h"

#include <gtest/gtest.h>

#include <string>

namespace waggle::codec {
namespace {

std::string Object(std::string_view key, std::string_view value) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteKey(w, key);
  WriteString(w, value);
  w.EndObject();
  return buf.GetString();
}

// Keys and strings go out as UTF-8 whatever they hold: valid text as it is, each byte that does
// not begin a well-formed sequence as U+FFFD.
TEST(JsonWriter, WritesUtf8Always) {
  EXPECT_EQ(Object("k\xc3\xa9y", "caf\xc3\xa9 \xf0\x9f\x90\x9d"),
            "{\"k\xc3\xa9y\":\"caf\xc3\xa9 \xf0\x9f\x90\x9d\"}");
  EXPECT_EQ(Object("k\xdf", "unexpected character '\xdf'"),
            "{\"k\xef\xbf\xbd\":\"unexpected character '\xef\xbf\xbd'\"}");
  EXPECT_EQ(Object("", std::string_view("a\0\xff", 3)), "{\"\":\"a\\u0000\xef\xbf\xbd\"}");
}

}  // namespace
}  // namespace waggle::codec
