#include "base/same_bytes.h"

#include <gtest/gtest.h>

#include <string>

namespace waggle {
namespace {

// Every length up to past the inline ones, with a difference at every position: SameBytes
// answers as == does. The strings sit at odd offsets in a larger buffer, as views do.
TEST(SameBytes, AnswersAsEqualityDoesAtEveryLengthAndPosition) {
  for (size_t n = 0; n <= 40; ++n) {
    std::string a(n + 3, 'x'), b(n + 5, 'x');
    for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<char>('a' + i % 26);
    for (size_t i = 0; i < n; ++i) b[2 + i] = a[1 + i];
    const std::string_view va(a.data() + 1, n), vb(b.data() + 2, n);
    ASSERT_TRUE(SameBytes(va, vb)) << n;
    for (size_t at = 0; at < n; ++at) {
      b[2 + at] ^= 0x40;
      ASSERT_FALSE(SameBytes(va, vb)) << n << " " << at;
      b[2 + at] ^= 0x40;
    }
    if (n > 0) {
      EXPECT_FALSE(SameBytes(va, vb.substr(0, n - 1))) << n;
      EXPECT_FALSE(SameBytes(va.substr(0, n - 1), vb)) << n;
    }
  }
}

}  // namespace
}  // namespace waggle
