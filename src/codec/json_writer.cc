#include "codec/json_writer.h"

#include <string>

#include "base/utf8.h"

namespace waggle::codec {

void WriteString(JsonWriter& w, std::string_view s, uint64_t* repairs) {
  std::string storage;
  s = AsValidUtf8(s, &storage, repairs);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void WriteKey(JsonWriter& w, std::string_view s, uint64_t* repairs) {
  std::string storage;
  s = AsValidUtf8(s, &storage, repairs);
  w.Key(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

}  // namespace waggle::codec
