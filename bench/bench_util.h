#pragma once

// What the whole-system benchmarks share: free ports, a `waggle serve` child process, HTTP/1.1
// keep-alive exchanges, and reading /metrics and peak RSS.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace waggle::bench {

using Clock = std::chrono::steady_clock;

inline double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Binds `fd` to a free loopback port and returns the port.
uint16_t BindLoopback(int fd);
uint16_t FreePort();

// A `waggle serve` in a temp dir, every port on a free loopback port.
struct WaggleProcess {
  pid_t pid = -1;
  uint16_t xray = 0, http = 0, otlp_http = 0, otlp_grpc = 0;
  std::string dir;
  // The store's directory; set before Start to serve one made beforehand (else dir/data).
  std::string data_dir;

  // Starts `binary serve` with `extra` flags and waits for /healthz.
  bool Start(const std::string& binary, const std::vector<std::string>& extra = {});
  std::string Get(const std::string& path) const;
  // The value of a series, or the sum over all its labelled series.
  uint64_t Metric(const std::string& name) const;
  uint64_t PeakRssKiB() const;
  // SIGTERM, wait, remove the dir; returns the exit code.
  int Stop();
};

// A field of /proc/PID/status in KiB ("VmHWM", "RssAnon", "RssFile"; 0 when missing).
uint64_t StatusKiB(pid_t pid, std::string_view field);
// The peak RSS of any process, in KiB (VmHWM). Pages of memory-mapped blocks count in it.
uint64_t PeakRssKiB(pid_t pid);
// CPU seconds a clock has counted: CLOCK_THREAD_CPUTIME_ID (the calling thread),
// CLOCK_PROCESS_CPUTIME_ID, or another process's clock.
double CpuSeconds(clockid_t clock);
// The CPU time another process (all its threads) has used so far, in seconds (0 when it is
// gone).
double ProcessCpuSeconds(pid_t pid);
// Waits (at most 30 s, saying so on stderr when that is not enough) until the process has
// used under 2% of a core for a quarter second, so that work it put off (a store's flushes, a
// database's merges) counts in the phase that caused it; returns its CPU seconds then.
double ProcessCpuSecondsWhenIdle(pid_t pid);
// "N MiB anonymous, M MiB mapped from files": the RSS now, split.
std::string RssSplit(pid_t pid);

// A keep-alive HTTP/1.1 connection to a loopback port.
class HttpConnection {
 public:
  explicit HttpConnection(uint16_t port);
  ~HttpConnection();
  bool ok() const { return fd_ >= 0; }
  // Sends a whole request and reads one response; returns its status (0 on a broken
  // connection) and leaves its body in *body when given.
  int Exchange(const std::string& request, std::string* body = nullptr);

 private:
  int fd_ = -1;
  std::string in_;
};

// A clickhouse-server child process in a temp dir on free loopback ports, with zstd at its
// default level (1) as its compression method, for the side-by-side references.
struct ClickHouse {
  pid_t pid = -1;
  uint16_t http = 0;
  std::string dir;

  // Starts `binary` and waits (up to 30 s) for its HTTP interface.
  bool Start(const std::string& binary);
  // Restarts the server with zstd at `level` and rewrites `table` into one part at that level
  // (OPTIMIZE FINAL), for its best compression; returns false when that failed.
  bool Recompress(int level, const std::string& table);
  // Stops the server and starts it again on its data: the seconds from the start until it has
  // answered `sql`, or 0 when it did not.
  double Restart(const std::string& sql);
  // An HTTP request running `sql` with `body` as its data.
  static std::string Query(const std::string& sql, const std::string& body = "");
  // SIGTERM, wait, remove the dir.
  void Stop();

 private:
  // Writes the config with zstd at `level`, starts the server and waits for it.
  bool Launch(int level);
  // SIGTERM and wait.
  void Shutdown();

  std::string binary_;
  uint16_t tcp_ = 0;
  int level_ = 1;  // zstd level of the running server
};

}  // namespace waggle::bench
