#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "ingest/otlp_ingest.h"
#include "net/grpc_server.h"
#include "net/http.h"

namespace waggle::server {

// The OTLP receivers and the Honeycomb Events API, on the OTLP/HTTP port (spec/otlp.md §2,
// spec/honeycomb.md §2.1) and the OTLP/gRPC port (§3): transport rules (methods, content
// types, encodings, size limits, status codes and error bodies) in front of an OtlpIngester.
// Thread-safe.
class OtlpApi {
 public:
  struct Options {
    size_t max_body_bytes = 64 << 20;  // after decompression
  };

  OtlpApi(const Options& options, ingest::OtlpIngester* ingester)
      : options_(options), ingester_(ingester) {}

  net::HttpResponse Handle(const net::HttpRequest& request);
  net::GrpcReply HandleGrpc(const net::GrpcCall& call);

  // The answer to a request the HTTP server refuses itself (413 over its body limit, 400):
  // a JSON google.rpc.Status.
  static net::HttpResponse TransportError(int status, std::string message);

 private:
  net::HttpResponse Otlp(const net::HttpRequest& request, codec::otlp::Signal signal);
  net::HttpResponse Events(const net::HttpRequest& request, bool batch, std::string dataset);
  // GET /1/auth: what the key in X-Honeycomb-Team may do and the environment it sends to
  // (spec/honeycomb.md §1.3), for tools that check a key before they use it.
  net::HttpResponse Auth(const net::HttpRequest& request);

  const Options options_;
  ingest::OtlpIngester* const ingester_;
};

}  // namespace waggle::server
