#include "base/threads.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace waggle {
namespace {

TEST(RunHalves, RunsEachHalfOnceAndReturnsWhenBothAreDone) {
  for (bool split : {true, false}) {
    std::atomic<int> runs[2] = {0, 0};
    std::thread::id on[2];
    RunHalves(
        [&](int h) {
          ++runs[h];
          on[h] = std::this_thread::get_id();
        },
        split);
    EXPECT_EQ(runs[0], 1);
    EXPECT_EQ(runs[1], 1);
    EXPECT_EQ(on[0], std::this_thread::get_id());  // the first half runs here
    if (!split) EXPECT_EQ(on[1], std::this_thread::get_id());
  }
}

}  // namespace
}  // namespace waggle
