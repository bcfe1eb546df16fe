#pragma once

#include <cstddef>
#include <string>
#include <string_view>

// JSON text that is not quite valid read as the services we stand in for read it (Go's
// encoding/json for Honeycomb): every string kept, with U+FFFD for what cannot be a character.
namespace waggle::codec {

// Copies `in` to `*out` with two repairs, and returns how many it made (0 leaves `*out` as it
// was):
//  - a \u escape of a lone surrogate becomes \ufffd. JavaScript's JSON.stringify writes one for
//    a string cut through a surrogate pair, as attribute length limits cut them; simdjson
//    refuses the whole document for it.
//  - each byte that does not begin a well-formed UTF-8 sequence becomes U+FFFD.
// Meant for a document the parser refused: a valid one comes out unchanged. A text with so many
// bad bytes that the repair would grow it by more than an eighth plus 4 KiB (each bad byte
// grows it by 2: U+FFFD takes 3) is no client's slip: it is left unrepaired (0), and so
// refused, rather than held again at up to three times its size.
size_t RepairJsonText(std::string_view in, std::string* out);

}  // namespace waggle::codec
