#include "codec/xray/datagram.h"

#include "base/ascii.h"

#include <simdjson.h>

namespace waggle::codec::xray {

std::string_view DatagramErrorName(DatagramError error) {
  switch (error) {
    case DatagramError::kNone:
      return "none";
    case DatagramError::kMissingNewline:
      return "missing_newline";
    case DatagramError::kBadHeader:
      return "bad_header";
    case DatagramError::kEmptyBody:
      return "empty_body";
  }
  return "unknown";
}

struct DatagramSplitter::Impl {
  simdjson::dom::parser parser;
};

DatagramSplitter::DatagramSplitter() : impl_(std::make_unique<Impl>()) {}
DatagramSplitter::~DatagramSplitter() = default;

namespace {

// The header every SDK sends, with or without spaces; anything else goes to the JSON parser.
bool IsCommonHeader(std::string_view h) {
  return h == R"({"format":"json","version":1})" || h == R"({"format": "json", "version": 1})";
}

}  // namespace

DatagramError DatagramSplitter::Split(std::string_view datagram, std::string_view* body) {
  size_t nl = datagram.find('\n');
  if (nl == std::string_view::npos) return DatagramError::kMissingNewline;
  std::string_view header = datagram.substr(0, nl);
  if (!header.empty() && header.back() == '\r') header.remove_suffix(1);
  if (!IsCommonHeader(header)) {
    simdjson::dom::object obj;
    if (impl_->parser.parse(header.data(), header.size()).get(obj) != simdjson::SUCCESS) {
      return DatagramError::kBadHeader;
    }
    std::string_view format;
    int64_t version = 0;
    if (obj["format"].get(format) != simdjson::SUCCESS || !EqualsIgnoreCase(format, "json") ||
        obj["version"].get(version) != simdjson::SUCCESS || version != 1) {
      return DatagramError::kBadHeader;
    }
  }
  std::string_view rest = datagram.substr(nl + 1);
  size_t first = rest.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return DatagramError::kEmptyBody;
  *body = rest;
  return DatagramError::kNone;
}

}  // namespace waggle::codec::xray
