#include "codec/xray/datagram.h"

#include <gtest/gtest.h>

namespace waggle::codec::xray {
namespace {

TEST(DatagramSplitter, AcceptsHeaderWithAndWithoutSpaces) {
  DatagramSplitter s;
  std::string_view body;
  EXPECT_EQ(s.Split("{\"format\":\"json\",\"version\":1}\n{\"a\":1}", &body), DatagramError::kNone);
  EXPECT_EQ(body, "{\"a\":1}");
  EXPECT_EQ(s.Split("{\"format\": \"json\", \"version\": 1}\n{}\n", &body), DatagramError::kNone);
  EXPECT_EQ(body, "{}\n");
  EXPECT_EQ(s.Split("{ \"version\" : 1 , \"format\":\"JSON\", \"extra\": true }\n{}", &body),
            DatagramError::kNone);
}

TEST(DatagramSplitter, SplitsAtFirstNewlineOnly) {
  DatagramSplitter s;
  std::string_view body;
  ASSERT_EQ(s.Split("{\"format\":\"json\",\"version\":1}\n{\"a\":\n1}", &body),
            DatagramError::kNone);
  EXPECT_EQ(body, "{\"a\":\n1}");
}

TEST(DatagramSplitter, RejectsBadHeadersAndEmptyBodies) {
  DatagramSplitter s;
  std::string_view body;
  EXPECT_EQ(s.Split("{\"format\":\"json\",\"version\":1}", &body), DatagramError::kMissingNewline);
  EXPECT_EQ(s.Split("{\"format\":\"json\",\"version\":2}\n{}", &body), DatagramError::kBadHeader);
  EXPECT_EQ(s.Split("{\"format\":\"xml\",\"version\":1}\n{}", &body), DatagramError::kBadHeader);
  EXPECT_EQ(s.Split("garbage\n{}", &body), DatagramError::kBadHeader);
  EXPECT_EQ(s.Split("\n{}", &body), DatagramError::kBadHeader);
  EXPECT_EQ(s.Split("{\"format\":\"json\",\"version\":1}\n  \n", &body), DatagramError::kEmptyBody);
}

}  // namespace
}  // namespace waggle::codec::xray
