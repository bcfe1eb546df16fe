#pragma once

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>
#include <string_view>

// Compressing request bodies in tests (the codec itself only decompresses).
namespace waggle::codec::testing {

// `data` deflated in one call, framed by `window_bits`: 31 gzip, 15 zlib, -15 raw deflate.
inline std::string Deflate(std::string_view data, int window_bits,
                           int level = Z_DEFAULT_COMPRESSION) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  const size_t n = z.total_out;
  deflateEnd(&z);
  return out.substr(0, n);  // not the bound's capacity: bombs are compressed from 64 MiB
}

inline std::string Gzip(std::string_view data) { return Deflate(data, 31); }

}  // namespace waggle::codec::testing
