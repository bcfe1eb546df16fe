#include "model/ids.h"

#include "base/hex.h"

namespace waggle::model {

bool TraceId::ParseXRay(std::string_view text, TraceId* out) {
  if (text.size() != 35 || text[0] != '1' || text[1] != '-' || text[10] != '-') return false;
  TraceId id;
  if (!hex::Decode(text.substr(2, 8), id.bytes.data(), 4)) return false;
  if (!hex::Decode(text.substr(11, 24), id.bytes.data() + 4, 12)) return false;
  *out = id;
  return true;
}

bool TraceId::ParseHex(std::string_view text, TraceId* out) {
  TraceId id;
  if (!hex::Decode(text, id.bytes.data(), 16)) return false;
  *out = id;
  return true;
}

bool TraceId::Parse(std::string_view text, TraceId* out) {
  return text.size() == 35 ? ParseXRay(text, out) : ParseHex(text, out);
}

std::string TraceId::ToXRay() const {
  std::string out = "1-";
  out.reserve(35);
  hex::Append(&out, bytes.data(), 4);
  out += '-';
  hex::Append(&out, bytes.data() + 4, 12);
  return out;
}

std::string TraceId::ToHex() const {
  std::string out;
  hex::Append(&out, bytes.data(), 16);
  return out;
}

bool SpanId::ParseHex(std::string_view text, SpanId* out) {
  if (text.size() != 16) return false;
  return hex::ParseU64(text, &out->value);
}

std::string SpanId::ToHex() const {
  uint8_t b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(value >> (56 - 8 * i));
  std::string out;
  hex::Append(&out, b, 8);
  return out;
}

}  // namespace waggle::model
