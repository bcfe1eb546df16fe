#include "base/time_text.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <string>

namespace waggle {

bool EpochSecondsToNanos(double seconds, int64_t* ns) {
  if (!std::isfinite(seconds) || std::fabs(seconds) > 1e11) return false;
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
  // RFC 3339: YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
  std::tm tm{};
  int consumed = 0;
  std::string head(text.substr(0, 19));
  if (head.size() != 19 || (head[10] != 'T' && head[10] != 't' && head[10] != ' ')) return false;
  head[10] = 'T';
  if (std::sscanf(head.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
      consumed != 19) {
    return false;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  int64_t frac_ns = 0;
  size_t i = 19;
  if (i < text.size() && text[i] == '.') {
    int64_t scale = 100000000;
    for (++i; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      frac_ns += (text[i] - '0') * scale;
      scale /= 10;
    }
  }
  int64_t offset_s = 0;
  if (i < text.size() && (text[i] == 'Z' || text[i] == 'z')) {
    ++i;
  } else if (i + 6 == text.size() && (text[i] == '+' || text[i] == '-') && text[i + 3] == ':') {
    int hh, mm;
    if (std::sscanf(text.data() + i + 1, "%2d:%2d", &hh, &mm) != 2) return false;
    offset_s = (hh * 3600 + mm * 60) * (text[i] == '+' ? 1 : -1);
    i += 6;
  } else {
    return false;
  }
  if (i != text.size()) return false;
  const int64_t epoch = static_cast<int64_t>(timegm(&tm)) - offset_s;
  *ns = epoch * 1000000000 + frac_ns;
  return true;
}

}  // namespace waggle
