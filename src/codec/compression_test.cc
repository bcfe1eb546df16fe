#include "codec/compression.h"

#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "codec/testing/deflate.h"

namespace waggle::codec {
namespace {

using testing::Deflate;
using testing::Gzip;

// zlib through the one-call API.
std::string Zlib(std::string_view data) {
  uLongf n = compressBound(data.size());
  std::string out(n, '\0');
  EXPECT_EQ(compress2(reinterpret_cast<Bytef*>(out.data()), &n,
                      reinterpret_cast<const Bytef*>(data.data()), data.size(), 6),
            Z_OK);
  return out.substr(0, n);
}

std::string Zstd(std::string_view data, int level = 3) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  const size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), level);
  EXPECT_FALSE(ZSTD_isError(n)) << ZSTD_getErrorName(n);
  return out.substr(0, ZSTD_isError(n) ? 0 : n);
}

// Compressible but not trivial text, the same for a given size (fixed seed).
std::string Payload(size_t size) {
  std::string out;
  out.reserve(size);
  uint64_t state = 0x2545f4914f6cdd1dull;
  static constexpr std::string_view kWords[] = {
      "span", "trace", "\"service.name\":", "{", "}", "12345", "http.route", ",", "GET /", "\n"};
  while (out.size() < size) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    out.append(kWords[state % 10]);
    if (state % 7 == 0) out.push_back(static_cast<char>('a' + (state >> 8) % 26));
  }
  out.resize(size);
  return out;
}

struct Codec {
  const char* encoding;
  std::string (*compress)(std::string_view);
};

const Codec kCodecs[] = {
    {"gzip", [](std::string_view d) { return Gzip(d); }},
    {"x-gzip", [](std::string_view d) { return Gzip(d); }},
    {"deflate", [](std::string_view d) { return Zlib(d); }},
    {"zstd", [](std::string_view d) { return Zstd(d); }},
};

TEST(Decompress, RoundTripsEveryEncoding) {
  for (const Codec& c : kCodecs) {
    for (size_t size : {size_t{0}, size_t{1}, size_t{1000}, size_t{64 << 10}, size_t{300000}}) {
      SCOPED_TRACE(std::string(c.encoding) + " size " + std::to_string(size));
      const std::string data = Payload(size);
      const std::string compressed = c.compress(data);
      std::string out;
      std::string_view view;
      Status s = Decompress(c.encoding, compressed, 1 << 20, &out, &view);
      ASSERT_TRUE(s.ok()) << s.ToString();
      EXPECT_EQ(out, data);
      EXPECT_EQ(view, data);
      EXPECT_EQ(view.data(), out.data());  // the view is of `out`
    }
  }
}

TEST(Decompress, GzipMadeByCompressAtBestLevelToo) {
  const std::string data = Payload(100000);
  std::string out;
  std::string_view view;
  ASSERT_TRUE(Decompress("gzip", Deflate(data, 31, 9), 1 << 20, &out, &view).ok());
  EXPECT_EQ(view, data);
  ASSERT_TRUE(Decompress("deflate", Deflate(data, 15, 1), 1 << 20, &out, &view).ok());
  EXPECT_EQ(view, data);
}

TEST(Decompress, ReadsConcatenatedGzipMembersAsGunzipDoes) {
  const std::string a = Payload(70000), b = "second member", c = Payload(10);
  const std::string body = Gzip(a) + Gzip("") + Gzip(b) + Gzip(c);
  const std::string want = a + b + c;
  std::string out;
  std::string_view view;
  Status s = Decompress("gzip", body, 1 << 20, &out, &view);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(view, want);
  // The limit counts the members together.
  EXPECT_TRUE(Decompress("gzip", body, want.size(), &out, &view).ok());
  EXPECT_EQ(view, want);
  EXPECT_EQ(Decompress("gzip", body, want.size() - 1, &out, &view).code(),
            Status::Code::kResourceExhausted);
  EXPECT_LE(out.size(), want.size() - 1);
}

TEST(Decompress, ReadsConcatenatedZstdFrames) {
  const std::string a = Payload(5000), b = Payload(100000);
  std::string out;
  std::string_view view;
  Status s = Decompress("zstd", Zstd(a) + Zstd(b), 1 << 20, &out, &view);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(view, a + b);
}

TEST(Decompress, IdentityIsAViewOfTheInput) {
  const std::string in = "plain body";
  std::string out = "untouched";
  std::string_view view;
  for (const char* encoding : {"", "identity"}) {
    ASSERT_TRUE(Decompress(encoding, in, in.size(), &out, &view).ok());
    EXPECT_EQ(view.data(), in.data());
    EXPECT_EQ(view.size(), in.size());
    EXPECT_EQ(out, "untouched");
  }
  EXPECT_TRUE(Decompress("identity", "", 0, &out, &view).ok());
  EXPECT_TRUE(view.empty());
}

TEST(Decompress, IdentityOverTheLimitIsResourceExhaustedExactlyAtTheBoundary) {
  const std::string in(1000, 'x');
  std::string out;
  std::string_view view;
  EXPECT_TRUE(Decompress("", in, 1000, &out, &view).ok());
  EXPECT_EQ(Decompress("", in, 999, &out, &view).code(), Status::Code::kResourceExhausted);
  EXPECT_EQ(Decompress("identity", in, 999, &out, &view).code(), Status::Code::kResourceExhausted);
}

TEST(Decompress, OutputOverTheLimitIsResourceExhaustedExactlyAtTheBoundary) {
  // Sizes around the decoder's 64 KiB step, and ones well inside and beyond it.
  for (const Codec& c : kCodecs) {
    for (size_t size : {size_t{1}, size_t{100}, size_t{(64 << 10) - 1}, size_t{64 << 10},
                        size_t{(64 << 10) + 1}, size_t{128 << 10}, size_t{250001}}) {
      SCOPED_TRACE(std::string(c.encoding) + " size " + std::to_string(size));
      const std::string data = Payload(size);
      const std::string compressed = c.compress(data);
      std::string out;
      std::string_view view;
      Status at = Decompress(c.encoding, compressed, size, &out, &view);
      ASSERT_TRUE(at.ok()) << "limit == size: " << at.ToString();
      EXPECT_EQ(view, data);
      out.clear();
      Status under = Decompress(c.encoding, compressed, size - 1, &out, &view);
      EXPECT_EQ(under.code(), Status::Code::kResourceExhausted) << under.ToString();
      EXPECT_LE(out.size(), size - 1);
    }
  }
}

TEST(Decompress, ZipBombStopsAtTheLimit) {
  const std::string zeros(64 << 20, '\0');
  constexpr size_t kLimit = 1 << 20;
  for (const auto& [encoding, compressed] :
       std::vector<std::pair<const char*, std::string>>{{"gzip", Deflate(zeros, 31, 9)},
                                                        {"deflate", Deflate(zeros, 15, 9)},
                                                        {"zstd", Zstd(zeros)}}) {
    SCOPED_TRACE(encoding);
    ASSERT_LT(compressed.size(), size_t{1} << 20);  // really a bomb: > 64x expansion
    std::string out;
    std::string_view view;
    EXPECT_EQ(Decompress(encoding, compressed, kLimit, &out, &view).code(),
              Status::Code::kResourceExhausted);
    EXPECT_LE(out.size(), kLimit);
  }
}

TEST(Decompress, TruncatedInputIsInvalidArgument) {
  const std::string data = Payload(200000);
  for (const Codec& c : kCodecs) {
    const std::string compressed = c.compress(data);
    for (size_t keep :
         {size_t{0}, size_t{1}, size_t{5}, compressed.size() / 2, compressed.size() - 1}) {
      SCOPED_TRACE(std::string(c.encoding) + " keeping " + std::to_string(keep) + " of " +
                   std::to_string(compressed.size()));
      std::string out;
      std::string_view view;
      Status s = Decompress(c.encoding, std::string_view(compressed).substr(0, keep), 1 << 20, &out,
                            &view);
      EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
    }
  }
}

TEST(Decompress, TruncatedInputAtTheLimitIsStillInvalidArgument) {
  // The output so far fits the limit exactly, but the stream has not ended.
  const std::string data = Payload(100000);
  const std::string gz = Gzip(data);
  std::string out;
  std::string_view view;
  Status s =
      Decompress("gzip", std::string_view(gz).substr(0, gz.size() - 4), data.size(), &out, &view);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
}

TEST(Decompress, CorruptInputIsInvalidArgument) {
  const std::string data = Payload(50000);
  std::string out;
  std::string_view view;
  auto expect_invalid = [&](const char* encoding, const std::string& body, const char* what) {
    Status s = Decompress(encoding, body, 1 << 20, &out, &view);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument)
        << encoding << " " << what << ": " << s.ToString();
  };
  // Bad magic / header.
  std::string gz = Gzip(data);
  gz[0] = 0;
  expect_invalid("gzip", gz, "bad magic");
  std::string zl = Zlib(data);
  zl[0] = 0;
  expect_invalid("deflate", zl, "bad header");
  std::string zs = Zstd(data);
  zs[0] = 0;
  expect_invalid("zstd", zs, "bad magic");
  // Bad checksum trailers.
  gz = Gzip(data);
  gz[gz.size() - 6] ^= 0x55;  // inside the CRC-32
  expect_invalid("gzip", gz, "bad crc");
  zl = Zlib(data);
  zl.back() ^= 0x55;  // inside the Adler-32
  expect_invalid("deflate", zl, "bad adler");
  // Not compressed at all.
  expect_invalid("gzip", "this is not gzip at all", "text");
  expect_invalid("deflate", "this is not zlib at all", "text");
  expect_invalid("zstd", "this is not zstd at all", "text");
  // A good stream followed by garbage.
  expect_invalid("gzip", Gzip(data) + "trailing", "trailing garbage");
  expect_invalid("deflate", Zlib(data) + "trailing", "trailing garbage");
  expect_invalid("zstd", Zstd(data) + "trailing garbage", "trailing garbage");
  // Raw deflate is not what "deflate" means in HTTP (RFC 9110 §8.4.1.2: the zlib format).
  const std::string raw = Deflate(data, -15);
  expect_invalid("deflate", raw, "raw deflate");
}

TEST(Decompress, UnknownEncodingIsInvalidArgument) {
  std::string out;
  std::string_view view;
  for (const char* encoding : {"br", "snappy", "lz4", "compress", "gzip, zstd"}) {
    Status s = Decompress(encoding, "abc", 1 << 20, &out, &view);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << encoding;
    EXPECT_NE(s.message().find(encoding), std::string::npos) << s.message();
    EXPECT_FALSE(KnownEncoding(encoding)) << encoding;
  }
  for (const char* encoding : {"", "identity", "gzip", "x-gzip", "deflate", "zstd"}) {
    EXPECT_TRUE(KnownEncoding(encoding)) << encoding;
  }
}

// RFC 9110 §8.4.1: "All content codings are case-insensitive". A client sending
// "Content-Encoding: GZIP" is within the standard.
TEST(Decompress, EncodingNamesAreCaseInsensitive) {
  const std::string data = Payload(1000);
  std::string out;
  std::string_view view;
  Status s = Decompress("GZIP", Gzip(data), 1 << 20, &out, &view);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(view, data);
  s = Decompress("Zstd", Zstd(data), 1 << 20, &out, &view);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(view, data);
  EXPECT_TRUE(KnownEncoding("Identity"));
}

}  // namespace
}  // namespace waggle::codec
