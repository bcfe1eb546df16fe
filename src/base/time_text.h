#pragma once

#include <cstdint>
#include <string>
#include <string_view>

// Times as clients write them in text: the Events API's event times, the X-Ray API's
// timestamps.
namespace waggle {

// RFC 3339 (`2026-11-21T08:00:00.123Z`, any `+hh:mm` offset, fraction to the nanosecond) or
// Unix epoch seconds with an optional fraction, as nanoseconds since the epoch. False for
// anything else: a time without a zone, a field out of its range (2026-02-30 is not rolled over),
// or a time int64 nanoseconds cannot hold (before 1677-09-21 or after 2262-04-11).
bool ParseTimeText(std::string_view text, int64_t* ns);

// Epoch seconds as nanoseconds; false when not finite or 9.2e9 seconds or more either way
// (past 2261, where int64 nanoseconds end; milliseconds sent by mistake are far past it).
bool EpochSecondsToNanos(double seconds, int64_t* ns);

// Nanoseconds since the epoch as RFC 3339 in UTC, the fraction's trailing zeros cut
// (`2026-11-21T08:00:00.005Z`, `2026-11-21T08:00:00Z`): Go's RFC3339Nano, which ParseTimeText
// reads back exactly.
std::string TimeTextOf(int64_t ns);

}  // namespace waggle
