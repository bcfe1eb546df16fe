#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/result.h"
#include "net/address.h"
#include "net/http.h"

namespace waggle::net {

struct HttpServerOptions {
  std::string address = "127.0.0.1:8080";
  int threads = 2;                   // event-loop threads; handlers run on them
  size_t max_body_bytes = 16 << 20;  // larger bodies get 413
  size_t max_header_bytes = 64 << 10;
  int idle_timeout_seconds = 60;  // a connection silent this long is closed
  size_t max_connections = 1024;  // more are closed as soon as they are accepted
  // The declared sizes of request bodies being read or handled at once; a request that would
  // pass it gets 503 with Retry-After (0: no limit). A body may take at most
  // idle_timeout_seconds from its first header byte, so slow senders are cut off too.
  size_t max_body_bytes_in_flight = 0;
  std::string server_name = "waggle";
  // Builds the answer to a request the server itself refuses (400, 413, 431, 500), in the
  // protocol's own error form; plain text when unset.
  std::function<HttpResponse(int status, std::string message)> error_response;

  Status Validate() const;
};

// HTTP/1.1 server (keep-alive, chunked and Content-Length bodies). Bind() then Start() and
// Stop() from one controlling thread. The handler is called on the server's threads,
// concurrently: it must be thread-safe. It may block (a durable write); use enough threads.
class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  struct Counters {
    std::atomic<uint64_t> requests{0};
    std::atomic<uint64_t> bad_requests{0};         // unparsable HTTP, answered 400
    std::atomic<uint64_t> too_large{0};            // answered 413
    std::atomic<uint64_t> refused_connections{0};  // over max_connections
    std::atomic<uint64_t> accept_errors{0};        // e.g. out of file descriptors
    std::atomic<uint64_t> shed{0};  // refused with 503: over max_body_bytes_in_flight
  };

  // Binds and listens now, so a port in use is reported before anything starts.
  static Result<std::unique_ptr<HttpServer>> Bind(const HttpServerOptions& options,
                                                  Handler handler);
  ~HttpServer();

  void Start();
  // Stops accepting, lets requests in flight finish (up to a few seconds), and joins.
  void Stop();

  const HostPort& local_address() const;
  const Counters& counters() const;

  struct Impl;  // opaque: Boost.Beast stays inside http_server.cc

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace waggle::net
