#include "base/status.h"

#include <gtest/gtest.h>

#include "base/result.h"

namespace waggle {
namespace {

Result<int> Half(int v) {
  if (v % 2 != 0) return Status::InvalidArgument("odd");
  return v / 2;
}

Status Quarter(int v, int* out) {
  WAGGLE_ASSIGN_OR_RETURN(int h, Half(v));
  WAGGLE_ASSIGN_OR_RETURN(*out, Half(h));
  return Status::Ok();
}

TEST(Status, CarriesCodeAndMessage) {
  Status s = Status::NotFound("trace 1-abc");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.ToString(), "NotFound: trace 1-abc");
  EXPECT_EQ(s.Annotate("fetch").message(), "fetch: trace 1-abc");
  EXPECT_TRUE(Status::Ok().ok());
}

TEST(Result, PropagatesErrorsThroughAssignOrReturn) {
  int out = 0;
  EXPECT_TRUE(Quarter(8, &out).ok());
  EXPECT_EQ(out, 2);
  Status s = Quarter(6, &out);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace waggle
