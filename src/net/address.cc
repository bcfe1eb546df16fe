#include "net/address.h"

#include <arpa/inet.h>

#include <charconv>

namespace waggle::net {

std::string HostPort::ToString() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port);
}

Result<HostPort> ParseHostPort(std::string_view text) {
  HostPort out;
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return Status::InvalidArgument("address '" + std::string(text) + "' is not host:port");
  }
  std::string_view host = text.substr(0, colon);
  std::string_view port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned value = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || p != port.data() + port.size() || value > 65535) {
    return Status::InvalidArgument("address '" + std::string(text) + "' has a bad port");
  }
  out.host = host.empty() ? "127.0.0.1" : std::string(host);
  if (out.host == "localhost") out.host = "127.0.0.1";
  in6_addr a6;
  in_addr a4;
  if (::inet_pton(AF_INET, out.host.c_str(), &a4) != 1 &&
      ::inet_pton(AF_INET6, out.host.c_str(), &a6) != 1) {
    return Status::InvalidArgument("address '" + std::string(text) +
                                   "' needs an IP address (or localhost) before the port");
  }
  out.port = static_cast<uint16_t>(value);
  return out;
}

bool IsLoopback(std::string_view host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr a4;
  std::string h(host);
  if (::inet_pton(AF_INET, h.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  return false;
}

}  // namespace waggle::net
