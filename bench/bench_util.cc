#include "bench_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
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
  if (data_dir.empty()) data_dir = dir + "/data";
  xray = FreePort();
  http = FreePort();
  otlp_http = FreePort();
  otlp_grpc = FreePort();
  auto addr = [](uint16_t p) { return "127.0.0.1:" + std::to_string(p); };
  std::vector<std::string> args = {binary,        "serve",        "--data-dir",  data_dir,
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

uint64_t StatusKiB(pid_t pid, std::string_view field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > field.size() && line.compare(0, field.size(), field) == 0 &&
        line[field.size()] == ':') {
      return std::strtoull(line.c_str() + field.size() + 1, nullptr, 10);
    }
  }
  return 0;
}

uint64_t PeakRssKiB(pid_t pid) { return StatusKiB(pid, "VmHWM"); }

double CpuSeconds(clockid_t clock) {
  timespec t{};
  if (clock_gettime(clock, &t) != 0) return 0;
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

double ProcessCpuSeconds(pid_t pid) {
  clockid_t clock;
  return clock_getcpuclockid(pid, &clock) == 0 ? CpuSeconds(clock) : 0;
}

double ProcessCpuSecondsWhenIdle(pid_t pid) {
  constexpr auto kInterval = std::chrono::milliseconds(250);
  double cpu = ProcessCpuSeconds(pid);
  for (int i = 0; i < 120; ++i) {
    std::this_thread::sleep_for(kInterval);
    const double now = ProcessCpuSeconds(pid);
    if (now - cpu < 0.02 * 0.25) return now;
    cpu = now;
  }
  // Not idle after 30 s: what it does later is left out, so say so.
  std::fprintf(stderr, "bench: process %d still busy after 30 s; its CPU is counted up to now\n",
               static_cast<int>(pid));
  return cpu;
}

std::string RssSplit(pid_t pid) {
  return std::to_string(StatusKiB(pid, "RssAnon") / 1024) + " MiB anonymous, " +
         std::to_string(StatusKiB(pid, "RssFile") / 1024) + " MiB mapped from files";
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
  auto recv_more = [&] {
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n > 0) in_.append(buf, static_cast<size_t>(n));
    return n > 0;
  };
  const std::string head = in_.substr(0, header_end);
  if (head.find("Transfer-Encoding: chunked") != std::string::npos ||
      head.find("transfer-encoding: chunked") != std::string::npos) {
    // Chunked (ClickHouse answers queries so): size line, data, CRLF; a zero size ends it.
    std::string out;
    size_t at = header_end + 4;
    for (;;) {
      size_t eol;
      while ((eol = in_.find("\r\n", at)) == std::string::npos) {
        if (!recv_more()) return 0;
      }
      const size_t size = std::strtoull(in_.c_str() + at, nullptr, 16);
      while (in_.size() < eol + 2 + size + 2) {
        if (!recv_more()) return 0;
      }
      out.append(in_, eol + 2, size);
      at = eol + 2 + size + 2;
      if (size == 0) break;
    }
    if (body) *body = std::move(out);
    in_.erase(0, at);
    return status;
  }
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

bool ClickHouse::Start(const std::string& binary) {
  char tmpl[] = "/tmp/waggle-bench-ch-XXXXXX";
  dir = ::mkdtemp(tmpl);
  binary_ = binary;
  http = FreePort();
  tcp_ = FreePort();
  return Launch(1);
}

bool ClickHouse::Recompress(int level, const std::string& table) {
  Shutdown();
  if (!Launch(level)) return false;
  std::string body;
  // FINAL merges even a table already in one part, so every column is compressed anew.
  const int status =
      HttpConnection(http).Exchange(Query("OPTIMIZE TABLE " + table + " FINAL"), &body);
  if (status != 200) std::fprintf(stderr, "clickhouse: OPTIMIZE: %.300s\n", body.c_str());
  return status == 200;
}

double ClickHouse::Restart(const std::string& sql) {
  Shutdown();
  const auto t0 = Clock::now();
  if (!Launch(level_)) return 0;
  if (HttpConnection(http).Exchange(Query(sql)) != 200) return 0;
  return Seconds(Clock::now() - t0);
}

bool ClickHouse::Launch(int level) {
  level_ = level;
  FILE* f = std::fopen((dir + "/config.xml").c_str(), "w");
  std::fprintf(f,
               "<yandex><logger><level>warning</level><console>1</console></logger>"
               "<listen_host>127.0.0.1</listen_host><http_port>%u</http_port>"
               "<tcp_port>%u</tcp_port><path>%s/data/</path><tmp_path>%s/tmp/</tmp_path>"
               "<user_files_path>%s/files/</user_files_path>"
               "<format_schema_path>%s/schemas/</format_schema_path>"
               "<mark_cache_size>268435456</mark_cache_size><users_config>users.xml"
               "</users_config><default_profile>default</default_profile>"
               "<default_database>default</default_database>"
               "<compression><case><method>zstd</method><level>%d</level></case></compression>"
               "</yandex>\n",
               http, tcp_, dir.c_str(), dir.c_str(), dir.c_str(), dir.c_str(), level);
  std::fclose(f);
  f = std::fopen((dir + "/users.xml").c_str(), "w");
  std::fprintf(f,
               "<yandex><profiles><default></default></profiles><users><default><password>"
               "</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile>"
               "<quota>default</quota></default></users><quotas><default></default></quotas>"
               "</yandex>\n");
  std::fclose(f);
  std::fflush(nullptr);
  pid = ::fork();
  if (pid == 0) {
    FILE* log = std::freopen((dir + "/log").c_str(), "a", stderr);
    (void)log;
    (void)!std::freopen((dir + "/log").c_str(), "a", stdout);
    ::execl(binary_.c_str(), binary_.c_str(), ("--config-file=" + dir + "/config.xml").c_str(),
            nullptr);
    _exit(127);
  }
  // Polled every 10 ms, up to 30 s: Restart's figure is as fine as that.
  for (int i = 0; i < 3000; ++i) {
    HttpConnection c(http);
    if (c.ok() && c.Exchange(Query("SELECT 1")) == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::string ClickHouse::Query(const std::string& sql, const std::string& body) {
  std::string target = "/?query=";
  for (char c : sql) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      target += c;
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", static_cast<unsigned char>(c));
      target += hex;
    }
  }
  return "POST " + target +
         " HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
         body;
}

void ClickHouse::Shutdown() {
  if (pid > 0) {
    ::kill(pid, SIGTERM);
    ::waitpid(pid, nullptr, 0);
    pid = -1;
  }
}

void ClickHouse::Stop() {
  Shutdown();
  (void)!std::system(("rm -rf " + dir).c_str());
}

}  // namespace waggle::bench
