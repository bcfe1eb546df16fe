#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

// `waggle demo`: live traffic of the workload's shape (workload/generator.h) sent to a running
// server the way its clients would send it, so a new user sees traces at once.
namespace waggle::server {

struct DemoOptions {
  // Where backend-flask's X-Ray segments go, as the X-Ray SDK sends them (UDP datagrams).
  std::string xray_udp = "127.0.0.1:2000";
  // Where the OTel services' spans (frontend, user-service) go: POST /v1/traces, protobuf.
  std::string otlp_http = "127.0.0.1:4318";
  // Traces started per second, on average. Greater than 0 and at most 10,000.
  double rate = 20;
  // How long to send for, in seconds; 0 sends until SIGINT (Ctrl-C) or SIGTERM.
  double duration_seconds = 0;
  // The workload's seed; 0 takes one from the clock, so runs differ.
  uint64_t seed = 0;
  // Sent as x-honeycomb-team on OTLP requests when not empty (a server with --api-keys).
  std::string api_key;

  Status Validate() const;
};

// Sends traffic until the duration ends or SIGINT/SIGTERM arrives, printing a line with counts
// every few seconds to stdout. Each trace is sent once its last span has ended: its X-Ray
// segments as datagrams at once, its OTLP spans batched into one request a second. A failed
// send is counted and reported, never retried. Returns the exit code: 0, or 1 when the options
// or addresses are unusable or nothing could be delivered.
//
// Call from the main thread of a process with no other threads: it blocks SIGINT and SIGTERM
// in the calling thread while it runs (waiting for them with sigtimedwait) and restores the
// signal mask before it returns.
int RunDemo(const DemoOptions& options);

}  // namespace waggle::server
