#include "model/text.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace waggle::model {
namespace {

TEST(Text, HoldsACopyOfWhatItIsAssigned) {
  std::string source = "http.request.method";
  Text t(source);
  source[0] = 'X';
  EXPECT_EQ(t, "http.request.method");
  EXPECT_FALSE(t.borrowed());
  t = "GET";
  EXPECT_EQ(t.view(), "GET");
  EXPECT_GE(t.capacity(), 19u);  // the memory stays for the next assign
  t.clear();
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t, "");
}

TEST(Text, BorrowsWithoutCopying) {
  const std::string body = "key=value";
  Text t;
  t.Borrow(std::string_view(body).substr(4));
  EXPECT_TRUE(t.borrowed());
  EXPECT_EQ(t.data(), body.data() + 4);
  EXPECT_EQ(t, "value");
  Text copy = t;  // a copy may outlive the borrowed bytes: it holds its own
  EXPECT_FALSE(copy.borrowed());
  EXPECT_NE(copy.data(), t.data());
  EXPECT_EQ(copy, t);
  Text moved = std::move(t);  // a move passes the borrow on
  EXPECT_TRUE(moved.borrowed());
  EXPECT_EQ(moved.data(), body.data() + 4);
  EXPECT_TRUE(t.empty());  // NOLINT(bugprone-use-after-move): a moved-from Text is empty
}

TEST(Text, TakesEmptyTextWhoseDataIsNull) {
  Text t("x");
  t = std::string_view();
  EXPECT_TRUE(t.empty());
  t.Borrow(std::string_view());
  EXPECT_TRUE(t.empty());
  EXPECT_FALSE(t.borrowed());
  EXPECT_NE(t.data(), nullptr);
}

TEST(Text, AssignsFromItsOwnBytes) {
  Text t("0123456789abcdefghij");
  t = t.view().substr(10);  // shorter, from inside its own memory
  EXPECT_EQ(t, "abcdefghij");
  t.append(t.view());  // grows, from its own memory
  EXPECT_EQ(t, "abcdefghijabcdefghij");
  t.append("!");
  EXPECT_EQ(t, "abcdefghijabcdefghij!");
}

TEST(Text, AppendsToBorrowedBytesByCopyingThem) {
  const std::string body = "abc";
  Text t;
  t.Borrow(body);
  t.append("def");
  EXPECT_FALSE(t.borrowed());
  EXPECT_EQ(t, "abcdef");
  EXPECT_EQ(body, "abc");
}

TEST(Text, HoldsShortTextInItself) {
  Text t("GET");
  EXPECT_EQ(t.capacity(), Text::kLocalBytes);
  EXPECT_GE(t.data(), reinterpret_cast<const char*>(&t));
  EXPECT_LT(t.data(), reinterpret_cast<const char*>(&t + 1));
  Text moved = std::move(t);  // the bytes move with it
  EXPECT_EQ(moved, "GET");
  EXPECT_GE(moved.data(), reinterpret_cast<const char*>(&moved));
  EXPECT_LT(moved.data(), reinterpret_cast<const char*>(&moved + 1));
  EXPECT_FALSE(moved.borrowed());
}

TEST(Text, ReleaseLetsTheMemoryGo) {
  Text t(std::string(200, 'x'));
  EXPECT_EQ(t.capacity(), 200u);
  t.Release();
  EXPECT_EQ(t.capacity(), Text::kLocalBytes);
  EXPECT_TRUE(t.empty());
}

TEST(Text, MovesWhatItHoldsAndWhatItBorrows) {
  const std::string body(100, 'b');
  Text t(std::string(40, 'h'));  // on the heap
  t.Borrow(body);
  Text moved = std::move(t);
  EXPECT_EQ(moved.data(), body.data());  // still borrowed
  EXPECT_EQ(moved.capacity(), 40u);      // and the heap buffer came along for reuse
  moved = "short";
  EXPECT_EQ(moved, "short");
  EXPECT_FALSE(moved.borrowed());
  std::vector<Text> v;
  for (int i = 0; i < 100; ++i) v.emplace_back(std::string(static_cast<size_t>(i), 'x'));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(v[static_cast<size_t>(i)].size(), static_cast<size_t>(i));
}

TEST(Text, ComparesAndOrdersByItsBytes) {
  std::vector<Text> v = {"b", "a", "c"};
  std::sort(v.begin(), v.end());
  EXPECT_EQ(v[0], "a");
  EXPECT_EQ(v[2], "c");
  EXPECT_TRUE(Text("a") < Text("b"));
  EXPECT_EQ(Text("x"), std::string("x"));
  EXPECT_EQ(Text("x"), std::string_view("x"));
}

}  // namespace
}  // namespace waggle::model
