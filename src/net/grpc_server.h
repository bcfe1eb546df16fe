#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "net/address.h"

namespace waggle::net {

struct GrpcServerOptions {
  std::string address = "127.0.0.1:4317";
  // Larger messages get RESOURCE_EXHAUSTED from gRPC C++, which applies the limit after
  // decompression (grpc_server_test shows it).
  size_t max_message_bytes = 64 << 20;

  Status Validate() const;
};

// One unary call, as the handler sees it: raw message bytes (already decompressed), never
// generated message objects.
struct GrpcCall {
  std::string_view method;                                    // "/package.Service/Method"
  std::vector<std::pair<std::string, std::string>> metadata;  // keys lowercase
  std::string_view message;

  // The first metadata value named `key` (lowercase), or empty.
  std::string_view Metadata(std::string_view key) const;
};

struct GrpcReply {
  int code = 0;  // a gRPC status code; 0 is OK
  std::string message;
  std::string body;  // the response message, when code is 0
};

// A gRPC server for unary methods of any name, over gRPC C++'s generic callback API (which
// stays inside grpc_server.cc). Start() binds and serves at once; Stop() from the thread that
// started it. The handler runs on gRPC's threads, concurrently: it must be thread-safe.
class GrpcServer {
 public:
  using Handler = std::function<GrpcReply(const GrpcCall&)>;

  struct Counters {
    std::atomic<uint64_t> calls{0};
    std::atomic<uint64_t> failed_calls{0};  // answered with a non-OK status
  };

  static Result<std::unique_ptr<GrpcServer>> Start(const GrpcServerOptions& options,
                                                   Handler handler);
  ~GrpcServer();

  // Stops taking calls, lets calls in flight finish (up to a few seconds), and returns.
  void Stop();

  const HostPort& local_address() const;
  const Counters& counters() const;

  struct Impl;

 private:
  explicit GrpcServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace waggle::net
