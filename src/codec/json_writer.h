#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <string_view>

// The one JSON writer for all output (DESIGN.md §5), and its string calls taking string_view.
// Included only by .cc files that write JSON.
namespace waggle::codec {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// Write `s` as a string or a key. Text that is not UTF-8 has each bad byte replaced by U+FFFD
// (base/utf8.h): what goes out may echo a client's bytes (an error message quoting a filter) or
// hold strings a store kept from before ingest repaired them, and one bad byte makes the whole
// answer unreadable to the client. Valid text costs one check (AsValidUtf8: ASCII a word at a
// time). The replacements are added to *repairs unless that is null.
void WriteString(JsonWriter& w, std::string_view s, uint64_t* repairs = nullptr);
void WriteKey(JsonWriter& w, std::string_view s, uint64_t* repairs = nullptr);

}  // namespace waggle::codec
