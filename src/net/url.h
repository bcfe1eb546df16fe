#pragma once

#include <string>
#include <string_view>

// Percent-encoding of URL parts (RFC 3986 §2.1).
namespace waggle::net {

// Encodes every byte but the unreserved ones (and '/' when `keep_slash`) as %XX, upper case:
// the form SigV4's canonical request needs.
std::string UriEncode(std::string_view s, bool keep_slash);
// Decodes %XX escapes (a malformed one stays as it is), and '+' as a space when
// `plus_is_space` (query strings).
std::string PercentDecode(std::string_view s, bool plus_is_space);

}  // namespace waggle::net
