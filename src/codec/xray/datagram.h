#pragma once

#include <memory>
#include <string_view>

// The X-Ray daemon datagram: `<header JSON>\n<segment document>` (spec/xray.md §1.2).
namespace waggle::codec::xray {

enum class DatagramError {
  kNone = 0,
  kMissingNewline,  // no '\n': header only, no document
  kBadHeader,       // header is not JSON, or format != "json", or version != 1
  kEmptyBody,       // nothing after the newline
};

std::string_view DatagramErrorName(DatagramError error);

// Splits datagrams and checks their header. Thread-compatible: one per thread.
class DatagramSplitter {
 public:
  DatagramSplitter();
  ~DatagramSplitter();
  DatagramSplitter(const DatagramSplitter&) = delete;
  DatagramSplitter& operator=(const DatagramSplitter&) = delete;

  // Splits at the first newline. The header is parsed as JSON (with or without spaces): an
  // object whose "format" is "json" (any case) and "version" is 1; other keys are ignored.
  // On success `body` views the document inside `datagram`.
  DatagramError Split(std::string_view datagram, std::string_view* body);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace waggle::codec::xray
