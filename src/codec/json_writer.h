#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string_view>

// The one JSON writer for all output (DESIGN.md §5), and its string calls taking string_view.
// Included only by .cc files that write JSON.
namespace waggle::codec {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// Write `s` as a string or a key. Text that is not UTF-8 has each bad byte replaced by U+FFFD
// (base/utf8.h): what goes out may echo a client's bytes (an error message quoting a filter) or
// hold strings a protobuf request carried unchecked, and one bad byte makes the whole answer
// unreadable to the client. Valid text, nearly all of it, costs one vectorized check.
void WriteString(JsonWriter& w, std::string_view s);
void WriteKey(JsonWriter& w, std::string_view s);

}  // namespace waggle::codec
