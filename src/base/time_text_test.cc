#include "base/time_text.h"

#include <gtest/gtest.h>

#include <cmath>

namespace waggle {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t k0800 = 1795248000LL * kSecond;  // 2026-11-21T08:00:00Z

TEST(ParseTimeText, ReadsRfc3339AndEpochSeconds) {
  struct Case {
    const char* text;
    int64_t want;
  };
  const Case cases[] = {
      {"2026-11-21T08:00:00Z", k0800},
      {"2026-11-21T08:00:00z", k0800},
      {"2026-11-21T10:00:00+02:00", k0800},
      {"2026-11-21T03:30:00-04:30", k0800},
      {"2026-11-21T08:00:00.123Z", k0800 + 123'000'000},
      {"2026-11-21T08:00:00.123456789Z", k0800 + 123'456'789},
      {"2026-11-21T08:00:00.1+00:00", k0800 + 100'000'000},
      {"2026-11-21T08:00:00.999999999999Z", k0800 + 999'999'999},  // digits past ns ignored
      {"1970-01-01T00:00:00Z", 0},
      {"1969-12-31T23:59:59Z", -kSecond},
      {"2024-02-29T00:00:00Z", 1709164800LL * kSecond},  // a leap day
      {"2016-12-31T23:59:60Z", 1483228800LL * kSecond},  // a leap second: the next
      {"2026-11-21 08:00:00Z", k0800},                   // RFC 3339's space
      {"2262-04-11T23:47:16.854775807Z", INT64_MAX},     // the last time that fits
      {"1677-09-21T00:12:43.145224192Z", INT64_MIN},     // the first
      {"1795248000", k0800},
      {"1795248000.5", k0800 + kSecond / 2},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    int64_t ns = -1;
    ASSERT_TRUE(ParseTimeText(c.text, &ns));
    EXPECT_EQ(ns, c.want);
  }
  // A fraction that is not exact in binary is within a microsecond.
  int64_t ns = 0;
  ASSERT_TRUE(ParseTimeText("1795248000.123", &ns));
  EXPECT_NEAR(static_cast<double>(ns - k0800), 123'000'000.0, 1000.0);
}

TEST(ParseTimeText, RefusesWhatIsNeither) {
  for (const char* text :
       {"", "garbage", "yesterday", "2026-11-21", "2026-11-21T08:00:00", "2026-11-21T08:00:00+0200",
        "2026-11-21T08:00:00Zjunk", "2026-11-21X08:00:00Z", "nan", "inf", "1795248000abc",
        "2026-11-21T08:00:00+02:00:00",
        // Fields out of range are refused, not rolled over into another date.
        "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z", "2026-11-00T00:00:00Z", "2026-11-21T24:00:00Z",
        "2026-11-21T08:60:00Z", "2026-11-21T08:00:61Z", "2026-11-21T08:00:00+24:00",
        "2026-11-21T08:00:00+02:60", "9999-99-99T99:99:99Z",
        // Fields that are not all digits, and a fraction with none.
        "2026-1a-21T08:00:00Z", "2026-11-21T-8:00:00Z", "2026-11-21T 8:00:00Z",
        "+026-11-21T08:00:00Z", "2026-11-21T08:00:00+-2:00", "2026-11-21T08:00:00.Z",
        // Past the int64 nanoseconds' range (2262-04-11T23:47:16.854775807Z) either way.
        "2262-04-11T23:47:16.854775808Z", "2262-04-12T00:00:00Z", "9999-12-31T23:59:59Z",
        "1677-09-21T00:12:43.145224191Z", "0000-01-01T00:00:00Z"}) {
    SCOPED_TRACE(text);
    int64_t ns = 0;
    EXPECT_FALSE(ParseTimeText(text, &ns));
  }
}

TEST(EpochSecondsToNanos, RefusesWhatIsNotATime) {
  int64_t ns = 0;
  EXPECT_TRUE(EpochSecondsToNanos(1795248000.5, &ns));
  EXPECT_EQ(ns, k0800 + kSecond / 2);
  EXPECT_FALSE(EpochSecondsToNanos(1795248000000.0, &ns));  // milliseconds
  EXPECT_FALSE(EpochSecondsToNanos(9.3e9, &ns));            // past int64 nanoseconds
  EXPECT_FALSE(EpochSecondsToNanos(-9.3e9, &ns));
  EXPECT_FALSE(EpochSecondsToNanos(5e10, &ns));
  EXPECT_TRUE(EpochSecondsToNanos(-1.5, &ns));
  EXPECT_EQ(ns, -kSecond - kSecond / 2);
  EXPECT_FALSE(EpochSecondsToNanos(std::nan(""), &ns));
}

TEST(TimeTextOf, WritesRfc3339InUtcThatParsesBackExactly) {
  EXPECT_EQ(TimeTextOf(k0800), "2026-11-21T08:00:00Z");
  EXPECT_EQ(TimeTextOf(k0800 + 5'000'000), "2026-11-21T08:00:00.005Z");
  EXPECT_EQ(TimeTextOf(k0800 + 1), "2026-11-21T08:00:00.000000001Z");
  EXPECT_EQ(TimeTextOf(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(TimeTextOf(-kSecond / 2), "1969-12-31T23:59:59.5Z");
  EXPECT_EQ(TimeTextOf(INT64_MAX), "2262-04-11T23:47:16.854775807Z");
  EXPECT_EQ(TimeTextOf(INT64_MIN), "1677-09-21T00:12:43.145224192Z");
  for (int64_t ns : {k0800, k0800 + 123'456'789, int64_t{-1}, INT64_MAX, INT64_MIN + 1}) {
    int64_t back = 0;
    ASSERT_TRUE(ParseTimeText(TimeTextOf(ns), &back)) << TimeTextOf(ns);
    EXPECT_EQ(back, ns);
  }
}

}  // namespace
}  // namespace waggle
