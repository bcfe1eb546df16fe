#pragma once

#include <string>
#include <string_view>

// UTF-8 for text that goes back to clients inside JSON: a message that echoes what a client
// sent must stay valid UTF-8, or the client fails to read the answer at all.
namespace waggle {

// The length (1 to 4) of the well-formed UTF-8 sequence that begins at in[at], or 0 when none
// does (`at` < in.size()).
size_t Utf8SequenceAt(std::string_view in, size_t at);

// `in` with every byte that does not begin a well-formed UTF-8 sequence (RFC 3629: no
// overlong forms, no surrogates, nothing past U+10FFFF) replaced by U+FFFD.
std::string ValidUtf8(std::string_view in);

}  // namespace waggle
