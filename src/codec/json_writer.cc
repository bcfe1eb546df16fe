#include "codec/json_writer.h"

#include <simdjson.h>

#include <string>

#include "base/utf8.h"

namespace waggle::codec {
namespace {

// Calls write(data, size) with `s`, or with a UTF-8 copy of it when it is not UTF-8.
template <typename Write>
void AsUtf8(std::string_view s, Write write) {
  std::string valid;
  if (!simdjson::validate_utf8(s)) s = valid = ValidUtf8(s);
  write(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

}  // namespace

void WriteString(JsonWriter& w, std::string_view s) {
  AsUtf8(s, [&](const char* data, rapidjson::SizeType n) { w.String(data, n); });
}

void WriteKey(JsonWriter& w, std::string_view s) {
  AsUtf8(s, [&](const char* data, rapidjson::SizeType n) { w.Key(data, n); });
}

}  // namespace waggle::codec
