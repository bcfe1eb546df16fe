#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

// Hex runs packed as nibbles (docs/block-format.md, "Hex runs"): request ids, user ids, session
// ids and the UUIDs inside URLs are hexadecimal text, whose characters carry 4 bits each but
// take 8, and which zstd's entropy coder brings to about 4.5. A chunk with enough of them is
// stored as zstd over this packed form (compression code 3).
namespace waggle::storage::columnar::block {

// Runs of hex digits shorter than this stay as they are.
inline constexpr size_t kMinHexRun = 8;

// The packed form of `raw`: text with each run of kMinHexRun or more hex digits replaced by a
// mark (`escape` followed by the run's case and length; `escape` itself followed by 0), and
// the runs' digits, two to a byte. Returns how many characters are in runs; fills `out` only
// when that is at least `min_packed`, since packing only pays with enough runs.
struct HexPacked {
  uint8_t escape = 0;
  std::string text;
  std::string nibbles;
};
size_t PackHexRuns(std::string_view raw, size_t min_packed, HexPacked* out);

// Puts `text` and `nibbles` back together into `out` (replaced), which must come to exactly
// `raw_length` bytes, all of `nibbles` used; Corruption otherwise.
Status UnpackHexRuns(uint8_t escape, std::string_view text, std::string_view nibbles,
                     size_t raw_length, std::string* out);

}  // namespace waggle::storage::columnar::block
