#pragma once

#include <simdjson.h>

#include <cstddef>
#include <string>
#include <string_view>

// JSON text that is not quite valid read as the services we stand in for read it (Go's
// encoding/json for Honeycomb): every string kept, with U+FFFD for what cannot be a character.
// Included only by .cc files that parse JSON with simdjson.
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

// Parses `text` into *root, or, when it does not parse, its repair (RepairJsonText), which is
// then left in *repaired: a caller that keeps the text must keep that one. *repairs is the
// repair's count when the repair parsed, else 0. Returns the error of the first parse when
// neither parses.
simdjson::error_code ParseRepairing(simdjson::dom::parser& parser, std::string_view text,
                                    simdjson::dom::element* root, std::string* repaired,
                                    size_t* repairs);

}  // namespace waggle::codec
