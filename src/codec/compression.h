#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/status.h"

// Request bodies as HTTP's Content-Encoding and gRPC's grpc-encoding name them.
namespace waggle::codec {

// Decodes `in`, compressed with `encoding` ("", "identity", "gzip", "x-gzip", "deflate" (zlib),
// "zstd"), into `out`, never producing more than `max_out` bytes (zip bombs stop there).
// InvalidArgument for an unknown encoding or corrupt data; ResourceExhausted past `max_out`.
// For "" and "identity", `out` is left alone and *view points at `in`.
Status Decompress(std::string_view encoding, std::string_view in, size_t max_out, std::string* out,
                  std::string_view* view);

// Whether Decompress knows `encoding`.
bool KnownEncoding(std::string_view encoding);

}  // namespace waggle::codec
