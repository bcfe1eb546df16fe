#pragma once

#include <cstdint>
#include <string_view>

// Times as clients write them in text: the Events API's event times, the X-Ray API's
// timestamps.
namespace waggle {

// RFC 3339 (`2026-11-21T08:00:00.123Z`, any `+hh:mm` offset, fraction to the nanosecond) or
// Unix epoch seconds with an optional fraction, as nanoseconds since the epoch. False for
// anything else, a time without a zone included.
bool ParseTimeText(std::string_view text, int64_t* ns);

// Epoch seconds as nanoseconds; false when not finite or beyond 1e11 seconds (milliseconds
// sent by mistake).
bool EpochSecondsToNanos(double seconds, int64_t* ns);

}  // namespace waggle
