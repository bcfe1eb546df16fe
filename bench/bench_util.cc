#include "bench_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace waggle::bench {

uint16_t BindLoopback(int fd) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  uint16_t port = BindLoopback(fd);
  ::close(fd);
  return port;
}

bool WaggleProcess::Start(const std::string& binary, const std::vector<std::string>& extra) {
  char tmpl[] = "/tmp/waggle-bench-XXXXXX";
  dir = ::mkdtemp(tmpl);
  xray = FreePort();
  http = FreePort();
  otlp_http = FreePort();
  otlp_grpc = FreePort();
  auto addr = [](uint16_t p) { return "127.0.0.1:" + std::to_string(p); };
  std::vector<std::string> args = {binary,        "serve",        "--data-dir",  dir + "/data",
                                   "--xray-udp",  addr(xray),     "--xray-tcp",  addr(xray),
                                   "--http",      addr(http),     "--otlp-http", addr(otlp_http),
                                   "--otlp-grpc", addr(otlp_grpc)};
  args.insert(args.end(), extra.begin(), extra.end());
  std::fflush(nullptr);  // the child must not write this process's buffered output again
  pid = ::fork();
  if (pid == 0) {
    std::string log = dir + "/log";
    FILE* f = std::freopen(log.c_str(), "w", stderr);
    (void)f;
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(binary.c_str(), argv.data());
    _exit(127);
  }
  for (int i = 0; i < 200; ++i) {
    if (Get("/healthz").find("200 OK") != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Stop();  // do not leave the process or its data dir behind
  return false;
}

std::string WaggleProcess::Get(const std::string& path) const {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(http);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return "";
  }
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  ::send(fd, req.data(), req.size(), 0);
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

uint64_t WaggleProcess::Metric(const std::string& name) const {
  std::istringstream m(Get("/metrics"));
  std::string line;
  uint64_t sum = 0;
  while (std::getline(m, line)) {
    if (line.rfind(name, 0) != 0 || line.size() <= name.size()) continue;
    char next = line[name.size()];
    if (next != ' ' && next != '{') continue;
    sum += std::strtoull(line.c_str() + line.rfind(' ') + 1, nullptr, 10);
  }
  return sum;
}

uint64_t PeakRssKiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

uint64_t WaggleProcess::PeakRssKiB() const { return bench::PeakRssKiB(pid); }

int WaggleProcess::Stop() {
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::string cmd = "rm -rf " + dir;
  (void)!std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

HttpConnection::HttpConnection(uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

HttpConnection::~HttpConnection() {
  if (fd_ >= 0) ::close(fd_);
}

int HttpConnection::Exchange(const std::string& request, std::string* body) {
  if (fd_ < 0) return 0;
  for (size_t sent = 0; sent < request.size();) {
    ssize_t n = ::send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return 0;
    sent += static_cast<size_t>(n);
  }
  char buf[65536];
  size_t header_end;
  while ((header_end = in_.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return 0;
    in_.append(buf, static_cast<size_t>(n));
  }
  const int status = std::atoi(in_.c_str() + 9);
  size_t cl = in_.find("Content-Length: ");
  if (cl == std::string::npos || cl > header_end) cl = in_.find("content-length: ");
  size_t len = cl < header_end ? std::strtoull(in_.c_str() + cl + 16, nullptr, 10) : 0;
  while (in_.size() < header_end + 4 + len) {
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return 0;
    in_.append(buf, static_cast<size_t>(n));
  }
  if (body) body->assign(in_, header_end + 4, len);
  in_.erase(0, header_end + 4 + len);
  return status;
}

}  // namespace waggle::bench
