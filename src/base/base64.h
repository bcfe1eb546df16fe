#pragma once

#include <cstdint>
#include <string>
#include <string_view>

// Standard base64 (RFC 4648 §4, with padding): how protobuf JSON writes bytes.
namespace waggle::base64 {

void Append(std::string* dst, std::string_view bytes);
// Decodes `text` (padded or not; the URL-safe alphabet is accepted too); false on any other
// character or a bad length.
bool Decode(std::string_view text, std::string* out);

}  // namespace waggle::base64
