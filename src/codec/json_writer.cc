#include "codec/json_writer.h"

#include <simdjson.h>

#include <string>

#include "base/utf8.h"

namespace waggle::codec {
namespace {

rapidjson::SizeType SizeOf(std::string_view s) {
  return static_cast<rapidjson::SizeType>(s.size());
}

}  // namespace

void WriteString(JsonWriter& w, std::string_view s) {
  if (simdjson::validate_utf8(s)) {
    w.String(s.data(), SizeOf(s));
  } else {
    const std::string valid = ValidUtf8(s);
    w.String(valid.data(), SizeOf(valid));
  }
}

void WriteKey(JsonWriter& w, std::string_view s) {
  if (simdjson::validate_utf8(s)) {
    w.Key(s.data(), SizeOf(s));
  } else {
    const std::string valid = ValidUtf8(s);
    w.Key(valid.data(), SizeOf(valid));
  }
}

}  // namespace waggle::codec
