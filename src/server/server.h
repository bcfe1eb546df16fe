#pragma once

#include <memory>

#include "base/result.h"
#include "server/config.h"

namespace waggle::server {

// A running `waggle serve`: the store, the X-Ray UDP receiver, the X-Ray API on the daemon's
// TCP port, and the HTTP port (health, metrics). Start() and Stop() from one thread.
class Server {
 public:
  // Opens the store and binds every listener (failing with a message that names the setting
  // at fault), then starts them; the HTTP port, which answers /healthz, starts last.
  static Result<std::unique_ptr<Server>> Start(const ServerConfig& config);
  ~Server();

  // Drains: stops taking datagrams and requests, stores what was received, then returns.
  void Stop();

  // The addresses bound (useful with port 0).
  std::string xray_udp_address() const;
  std::string xray_tcp_address() const;
  std::string http_address() const;
  std::string otlp_http_address() const;
  std::string otlp_grpc_address() const;

 private:
  struct Parts;
  explicit Server(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

// The `waggle` command line: subcommands, flags, help. Returns the process exit code.
int RunCli(int argc, char** argv);

}  // namespace waggle::server
