#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace waggle::net {

struct HostPort {
  std::string host;  // an IPv4 or IPv6 literal, or "localhost"
  uint16_t port = 0;
  std::string ToString() const;
};

// Parses "host:port", "[v6]:port" or ":port" (loopback). Port 0 picks a free port.
Result<HostPort> ParseHostPort(std::string_view text);

// True for 127.0.0.0/8, ::1 and "localhost".
bool IsLoopback(std::string_view host);

}  // namespace waggle::net
