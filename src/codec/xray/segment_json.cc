#include "codec/xray/segment_json.h"

#include <algorithm>
#include <cmath>
#include <iterator>

#include "base/base64.h"

namespace waggle::codec::xray {

using model::AttributeValue;

void WriteSeconds(JsonWriter& w, int64_t ns) { w.Double(static_cast<double>(ns / 1000) / 1e6); }

void WriteAttributeValue(JsonWriter& w, const AttributeValue& v) {
  switch (v.type) {
    case AttributeValue::Type::kInt:
      w.Int64(v.int_value);
      break;
    case AttributeValue::Type::kBool:
      w.Bool(v.int_value != 0);
      break;
    case AttributeValue::Type::kDouble:
      if (std::isfinite(v.double_value)) {
        w.Double(v.double_value);
      } else {
        w.Null();
      }
      break;
    case AttributeValue::Type::kJson:
      w.RawValue(v.string_value.data(), v.string_value.size(), rapidjson::kObjectType);
      break;
    case AttributeValue::Type::kBytes: {
      std::string text;
      base64::Append(&text, v.string_value);
      WriteString(w, text);
      break;
    }
    case AttributeValue::Type::kString:
      WriteString(w, v.string_value);
      break;
  }
}

std::string EntityName(std::string_view name) {
  std::string out;
  bool cut = false;
  for (unsigned char c : name) {
    if (out.size() >= 200) {
      cut = true;
      break;
    }
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80 ||
        std::string_view(" _.:/%&#=+\\-@").find(static_cast<char>(c)) != std::string_view::npos;
    if (ok) out.push_back(static_cast<char>(c));
  }
  if (cut) {
    // Drop a code point the byte limit may have cut in two.
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xc0) == 0x80) out.pop_back();
    if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xc0) out.pop_back();
  }
  return out.empty() ? "span" : out;
}

bool IsSqlSystem(std::string_view db) {
  static constexpr std::string_view kSql[] = {"db2",    "derby",    "hive",     "mariadb",
                                              "mssql",  "mysql",    "oracle",   "postgresql",
                                              "sqlite", "teradata", "other_sql"};
  return std::find(std::begin(kSql), std::end(kSql), db) != std::end(kSql);
}

}  // namespace waggle::codec::xray
