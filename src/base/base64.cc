#include "base/base64.h"

#include <array>

namespace waggle::base64 {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> MakeTable() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
  t['-'] = 62;  // URL-safe alphabet
  t['_'] = 63;
  return t;
}
constexpr std::array<int8_t, 256> kTable = MakeTable();

}  // namespace

void Append(std::string* dst, std::string_view bytes) {
  const auto* in = reinterpret_cast<const uint8_t*>(bytes.data());
  size_t n = bytes.size();
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = uint32_t{in[i]} << 16 | uint32_t{in[i + 1]} << 8 | in[i + 2];
    dst->push_back(kAlphabet[v >> 18]);
    dst->push_back(kAlphabet[(v >> 12) & 63]);
    dst->push_back(kAlphabet[(v >> 6) & 63]);
    dst->push_back(kAlphabet[v & 63]);
  }
  if (n - i == 1) {
    uint32_t v = uint32_t{in[i]} << 16;
    dst->push_back(kAlphabet[v >> 18]);
    dst->push_back(kAlphabet[(v >> 12) & 63]);
    dst->append("==");
  } else if (n - i == 2) {
    uint32_t v = uint32_t{in[i]} << 16 | uint32_t{in[i + 1]} << 8;
    dst->push_back(kAlphabet[v >> 18]);
    dst->push_back(kAlphabet[(v >> 12) & 63]);
    dst->push_back(kAlphabet[(v >> 6) & 63]);
    dst->push_back('=');
  }
}

bool Decode(std::string_view text, std::string* out) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return false;
  out->clear();
  out->reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = kTable[static_cast<uint8_t>(c)];
    if (v < 0) return false;
    acc = acc << 6 | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

}  // namespace waggle::base64
