#include "codec/compression.h"

#include <zlib.h>
#include <zstd.h>

#include "base/ascii.h"

#include <algorithm>
#include <memory>

namespace waggle::codec {
namespace {

constexpr size_t kChunk = 64 << 10;

// gzip (window bits 15 + 16) or zlib (15). Concatenated gzip members are read one after
// another, as gunzip does.
Status Inflate(std::string_view in, bool gzip, size_t max_out, std::string* out) {
  z_stream z{};
  if (inflateInit2(&z, gzip ? 15 + 16 : 15) != Z_OK) return Status::Internal("inflateInit2");
  std::unique_ptr<z_stream, decltype(&inflateEnd)> guard(&z, &inflateEnd);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(std::min<size_t>(in.size(), UINT32_MAX));
  out->clear();
  for (;;) {
    const size_t at = out->size();
    if (at >= max_out) {
      // Full: anything more to come is over the limit.
      unsigned char probe;
      z.next_out = &probe;
      z.avail_out = 1;
      int rc = inflate(&z, Z_NO_FLUSH);
      if (z.avail_out == 0) return Status::ResourceExhausted("decompressed body is too large");
      if (rc == Z_STREAM_END && z.avail_in == 0) return Status::Ok();
      if (rc != Z_STREAM_END && rc != Z_OK && rc != Z_BUF_ERROR) break;
      if (rc == Z_STREAM_END) {
        if (!gzip || inflateReset(&z) != Z_OK) break;
        continue;
      }
      return Status::InvalidArgument("compressed body is truncated");
    }
    out->resize(std::min(max_out, at + kChunk));
    z.next_out = reinterpret_cast<Bytef*>(out->data() + at);
    z.avail_out = static_cast<uInt>(out->size() - at);
    const int rc = inflate(&z, Z_NO_FLUSH);
    out->resize(out->size() - z.avail_out);
    if (rc == Z_STREAM_END) {
      if (z.avail_in == 0) return Status::Ok();
      if (!gzip || inflateReset(&z) != Z_OK) break;  // another gzip member follows
      continue;
    }
    if (rc == Z_BUF_ERROR && z.avail_in == 0) {
      return Status::InvalidArgument("compressed body is truncated");
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) break;
  }
  return Status::InvalidArgument(gzip ? "body is not valid gzip" : "body is not valid deflate");
}

Status Unzstd(std::string_view in, size_t max_out, std::string* out) {
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> ctx(ZSTD_createDCtx(), &ZSTD_freeDCtx);
  if (!ctx) return Status::Internal("ZSTD_createDCtx");
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  out->clear();
  size_t last = 1;
  while (input.pos < input.size || last != 0) {
    const size_t at = out->size();
    if (at >= max_out) {
      char probe;
      ZSTD_outBuffer o{&probe, 1, 0};
      last = ZSTD_decompressStream(ctx.get(), &o, &input);
      if (ZSTD_isError(last)) return Status::InvalidArgument("body is not valid zstd");
      if (o.pos != 0) return Status::ResourceExhausted("decompressed body is too large");
      if (input.pos == input.size && last != 0) {
        return Status::InvalidArgument("compressed body is truncated");
      }
      continue;
    }
    out->resize(std::min(max_out, at + kChunk));
    ZSTD_outBuffer o{out->data() + at, out->size() - at, 0};
    last = ZSTD_decompressStream(ctx.get(), &o, &input);
    out->resize(at + o.pos);
    if (ZSTD_isError(last)) return Status::InvalidArgument("body is not valid zstd");
    if (input.pos == input.size && last != 0 && o.pos == 0) {
      return Status::InvalidArgument("compressed body is truncated");
    }
  }
  return Status::Ok();
}

}  // namespace

bool KnownEncoding(std::string_view name) {
  const std::string e = AsciiLower(name);
  return e.empty() || e == "identity" || e == "gzip" || e == "x-gzip" || e == "deflate" ||
         e == "zstd";
}

Status Decompress(std::string_view name, std::string_view in, size_t max_out, std::string* out,
                  std::string_view* view) {
  const std::string encoding = AsciiLower(name);  // content codings are case-insensitive
  if (encoding.empty() || encoding == "identity") {
    if (in.size() > max_out) return Status::ResourceExhausted("body is too large");
    *view = in;
    return Status::Ok();
  }
  Status s;
  if (encoding == "gzip" || encoding == "x-gzip") {
    s = Inflate(in, true, max_out, out);
  } else if (encoding == "deflate") {
    s = Inflate(in, false, max_out, out);
  } else if (encoding == "zstd") {
    s = Unzstd(in, max_out, out);
  } else {
    return Status::InvalidArgument("unsupported Content-Encoding: " + std::string(name));
  }
  if (s.ok()) *view = *out;
  return s;
}

}  // namespace waggle::codec
