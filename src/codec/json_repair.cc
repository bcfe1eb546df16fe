#include "codec/json_repair.h"

#include <cstdint>

#include "base/utf8.h"

namespace waggle::codec {
namespace {

// The code unit of the \uXXXX escape at in[at], or -1 when there is none.
int32_t EscapeAt(std::string_view in, size_t at) {
  if (at + 6 > in.size() || in[at] != '\\' || in[at + 1] != 'u') return -1;
  int32_t v = 0;
  for (size_t k = at + 2; k < at + 6; ++k) {
    const char c = in[k];
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return -1;
    }
    v = v * 16 + d;
  }
  return v;
}

bool IsHigh(int32_t u) { return u >= 0xd800 && u <= 0xdbff; }
bool IsLow(int32_t u) { return u >= 0xdc00 && u <= 0xdfff; }

}  // namespace

simdjson::error_code ParseRepairing(simdjson::dom::parser& parser, std::string_view text,
                                    simdjson::dom::element* root, std::string* repaired,
                                    size_t* repairs) {
  *repairs = 0;
  const simdjson::error_code err = parser.parse(text.data(), text.size()).get(*root);
  if (err == simdjson::SUCCESS) return err;
  const size_t made = RepairJsonText(text, repaired);
  if (made == 0 || parser.parse(*repaired).get(*root) != simdjson::SUCCESS) return err;
  *repairs = made;
  return simdjson::SUCCESS;
}

size_t RepairJsonText(std::string_view in, std::string* out) {
  const size_t max_growth = in.size() / 8 + 4096;
  std::string fixed;
  fixed.reserve(in.size() + 16);
  size_t repairs = 0;
  for (size_t i = 0; i < in.size();) {
    const auto b = static_cast<uint8_t>(in[i]);
    if (b == '\\') {  // only inside strings in valid JSON: an escape, copied whole
      const int32_t u = EscapeAt(in, i);
      if (u < 0) {  // \" \\ \n ... (or a malformed escape, left for the parser to refuse)
        const bool pair = i + 1 < in.size() && static_cast<uint8_t>(in[i + 1]) < 0x80;
        fixed.append(in, i, pair ? 2 : 1);  // a byte past 0x7f is checked as UTF-8 next
        i += pair ? 2 : 1;
      } else if (IsHigh(u) && IsLow(EscapeAt(in, i + 6))) {
        fixed.append(in, i, 12);
        i += 12;
      } else if (IsHigh(u) || IsLow(u)) {
        fixed += "\\ufffd";
        ++repairs;
        i += 6;
      } else {
        fixed.append(in, i, 6);
        i += 6;
      }
    } else if (b < 0x80) {
      fixed.push_back(static_cast<char>(b));
      ++i;
    } else if (const size_t n = Utf8SequenceAt(in, i); n > 0) {
      fixed.append(in, i, n);
      i += n;
    } else {
      fixed += "\xef\xbf\xbd";  // U+FFFD
      ++repairs;
      ++i;
      if (fixed.size() - i > max_growth) return 0;  // `fixed` holds i bytes' repair
    }
  }
  if (repairs > 0) *out = std::move(fixed);
  return repairs;
}

}  // namespace waggle::codec
