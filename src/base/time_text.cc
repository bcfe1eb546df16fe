#include "base/time_text.h"

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace waggle {
namespace {

// The number the `n` digits at text[at] spell, or -1 when one of them is not a digit.
int Digits(std::string_view text, size_t at, size_t n) {
  int v = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    v = v * 10 + (text[i] - '0');
  }
  return v;
}

bool IsLeapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

}  // namespace

bool EpochSecondsToNanos(double seconds, int64_t* ns) {
  // 9.2e9 s is just short of int64 nanoseconds' limit (2262-04-11); llround past it is garbage.
  if (!std::isfinite(seconds) || std::fabs(seconds) >= 9.2e9) return false;
  *ns = static_cast<int64_t>(std::llround(seconds * 1e9));
  return true;
}

bool ParseTimeText(std::string_view text, int64_t* ns) {
  if (text.empty()) return false;
  // Epoch seconds, with an optional fraction.
  double seconds;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (ec == std::errc() && p == text.data() + text.size()) {
    return EpochSecondsToNanos(seconds, ns);
  }
  // RFC 3339: YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM), each field its exact digits
  // and in its range (a date that does not exist is refused, not rolled over).
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' || text[13] != ':' || text[16] != ':' ||
      (text[10] != 'T' && text[10] != 't' && text[10] != ' ')) {
    return false;
  }
  const int year = Digits(text, 0, 4), month = Digits(text, 5, 2), day = Digits(text, 8, 2);
  const int hour = Digits(text, 11, 2), minute = Digits(text, 14, 2), second = Digits(text, 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) ||
      hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60) {
    return false;  // 60: a leap second, read as the next minute's first
  }
  int64_t frac_ns = 0;
  size_t i = 19;
  if (text[i] == '.') {
    const size_t first = ++i;
    for (int64_t scale = 100000000; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      frac_ns += (text[i] - '0') * scale;  // digits past the nanosecond are ignored
      scale /= 10;
    }
    if (i == first) return false;
  }
  int64_t offset_s = 0;
  if (i + 1 == text.size() && (text[i] == 'Z' || text[i] == 'z')) {
    // UTC
  } else if (i + 6 == text.size() && (text[i] == '+' || text[i] == '-') && text[i + 3] == ':') {
    const int hh = Digits(text, i + 1, 2), mm = Digits(text, i + 4, 2);
    if (hh < 0 || hh > 23 || mm < 0 || mm > 59) return false;
    offset_s = (hh * 3600 + mm * 60) * (text[i] == '+' ? 1 : -1);
  } else {
    return false;
  }
  std::tm tm{};  // every field in range: timegm only counts the seconds
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const int64_t epoch = static_cast<int64_t>(timegm(&tm)) - offset_s;
  // Years past 2262 (or before 1677) do not fit in int64 nanoseconds.
  const __int128 v = static_cast<__int128>(epoch) * 1000000000 + frac_ns;
  if (v < INT64_MIN || v > INT64_MAX) return false;
  *ns = static_cast<int64_t>(v);
  return true;
}

std::string TimeTextOf(int64_t ns) {
  using namespace std::chrono;
  // Whole seconds (floored) and the nanoseconds past them, in int64 throughout: whole days of
  // nanoseconds would pass int64 near its ends.
  int64_t secs = ns / 1'000'000'000, frac = ns % 1'000'000'000;
  if (frac < 0) frac += 1'000'000'000, --secs;
  const sys_seconds t{seconds(secs)};
  const sys_days day = floor<days>(t);
  const year_month_day ymd(day);
  const hh_mm_ss<seconds> hms(t - day);
  char buf[64];
  int n =
      std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(ymd.year()),
                    static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                    static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                    static_cast<int>(hms.seconds().count()));
  if (frac != 0) {
    n += std::snprintf(buf + n, sizeof buf - n, ".%09lld", static_cast<long long>(frac));
    while (buf[n - 1] == '0') --n;
  }
  buf[n++] = 'Z';
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace waggle
