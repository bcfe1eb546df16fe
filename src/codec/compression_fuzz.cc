// Fuzzes request body decompression as the OTLP/HTTP and Events API receivers run it: the
// first byte picks the Content-Encoding, the rest is the body. Checks that the output limit
// holds whatever the input, and that an accepted body decodes the same way again with the
// limit set to its exact size (and is refused one byte under it).
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <string>
#include <string_view>

#include "codec/compression.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using waggle::Status;
  static constexpr std::string_view kEncodings[] = {"gzip",     "zstd",   "deflate",
                                                    "identity", "x-gzip", ""};
  constexpr size_t kLimit = 1 << 20;
  if (size == 0) return 0;
  const std::string_view encoding = kEncodings[data[0] % std::size(kEncodings)];
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);

  std::string out;
  std::string_view view;
  const Status s = waggle::codec::Decompress(encoding, in, kLimit, &out, &view);
  if (out.size() > kLimit) std::abort();
  if (!s.ok()) {
    if (s.code() != Status::Code::kInvalidArgument &&
        s.code() != Status::Code::kResourceExhausted) {
      std::abort();
    }
    return 0;
  }
  if (view.size() > kLimit) std::abort();
  const bool identity = encoding.empty() || encoding == "identity";
  if (identity) {
    if (view.data() != in.data() || view.size() != in.size()) std::abort();
    return 0;
  }
  if (view.data() != out.data() || view.size() != out.size()) std::abort();

  // The same body against a limit of exactly its decoded size, then one byte less.
  const std::string first = out;
  std::string again;
  std::string_view again_view;
  if (!waggle::codec::Decompress(encoding, in, first.size(), &again, &again_view).ok()) {
    std::abort();
  }
  if (again_view != first) std::abort();
  if (!first.empty()) {
    const Status under =
        waggle::codec::Decompress(encoding, in, first.size() - 1, &again, &again_view);
    if (under.code() != Status::Code::kResourceExhausted) std::abort();
    if (again.size() > first.size() - 1) std::abort();
  }
  return 0;
}
