#include "server/demo.h"

#include <netdb.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "net/address.h"
#include "workload/emit.h"
#include "workload/generator.h"

namespace waggle::server {
namespace {

constexpr int64_t kNanosPerMilli = 1'000'000;
constexpr int64_t kReportEvery = 5 * kNanosPerSecond;
constexpr int64_t kFlushEvery = kNanosPerSecond;
constexpr size_t kMaxBatchSpans = 2000;

// A socket closed when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string authority;  // host:port, for the Host header and messages
};

Result<Endpoint> Resolve(const std::string& text, int socktype) {
  auto hp = net::ParseHostPort(text);
  if (!hp.ok()) return hp.status();
  if (hp->port == 0) return Status::InvalidArgument(text + ": a port is needed");
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = socktype;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(hp->host.c_str(), std::to_string(hp->port).c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    return Status::InvalidArgument(text + ": " + gai_strerror(rc));
  }
  Endpoint e;
  std::memcpy(&e.addr, found->ai_addr, found->ai_addrlen);
  e.len = found->ai_addrlen;
  e.authority = hp->ToString();
  freeaddrinfo(found);
  return e;
}

// POSTs an OTLP protobuf body to /v1/traces on a fresh connection; OK on a 2xx answer.
Status PostTraces(const Endpoint& to, const std::string& body, const std::string& api_key) {
  Fd fd(socket(to.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Status::FromErrno("socket", errno);
  timeval timeout{5, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&to.addr), to.len) != 0) {
    return Status::FromErrno("connect to " + to.authority, errno);
  }
  std::string request =
      "POST /v1/traces HTTP/1.1\r\nHost: " + to.authority +
      "\r\nContent-Type: application/x-protobuf\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n";
  if (!api_key.empty()) request += "x-honeycomb-team: " + api_key + "\r\n";
  request += "\r\n";
  request += body;
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::FromErrno("send to " + to.authority, errno);
    sent += static_cast<size_t>(n);
  }
  // The status line is all we need: "HTTP/1.1 200 OK".
  std::string head;
  char buf[1024];
  while (head.find('\n') == std::string::npos && head.size() < 8192) {
    const ssize_t n = recv(fd.get(), buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("read from " + to.authority, errno);
    if (n == 0) break;
    head.append(buf, static_cast<size_t>(n));
  }
  const std::string line = head.substr(0, head.find_first_of("\r\n"));
  const size_t space = line.find(' ');
  if (!line.starts_with("HTTP/1.") || space == std::string::npos || line.size() < space + 4) {
    return Status::Unavailable(to.authority + " did not answer with an HTTP status line");
  }
  if (line[space + 1] != '2') return Status::Unavailable(to.authority + " answered " + line);
  return Status::Ok();
}

struct Counts {
  uint64_t traces = 0;
  uint64_t datagrams = 0;
  uint64_t otlp_spans = 0;
  uint64_t otlp_requests = 0;
  uint64_t failures = 0;
  std::string last_error;
};

void Report(const Counts& c, const char* prefix) {
  std::printf("%s%llu traces: %llu X-Ray segments sent, %llu OTLP spans in %llu requests", prefix,
              static_cast<unsigned long long>(c.traces),
              static_cast<unsigned long long>(c.datagrams),
              static_cast<unsigned long long>(c.otlp_spans),
              static_cast<unsigned long long>(c.otlp_requests));
  if (c.failures > 0) {
    std::printf(", %llu failed (last: %s)", static_cast<unsigned long long>(c.failures),
                c.last_error.c_str());
  }
  std::printf("\n");
  std::fflush(stdout);
}

}  // namespace

Status DemoOptions::Validate() const {
  if (!(rate > 0 && rate <= 10'000)) {
    return Status::InvalidArgument("--rate must be above 0 and at most 10000 traces/s");
  }
  if (!(duration_seconds >= 0) || !std::isfinite(duration_seconds)) {
    return Status::InvalidArgument("--duration must be 0 (until Ctrl-C) or a number of seconds");
  }
  if (api_key.find_first_of("\r\n") != std::string::npos) {
    return Status::InvalidArgument("--api-key must be one line");
  }
  return Status::Ok();
}

int RunDemo(const DemoOptions& options) {
  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "waggle demo: %s\n", message.c_str());
    return 1;
  };
  if (Status s = options.Validate(); !s.ok()) return fail(s.message());
  auto xray = Resolve(options.xray_udp, SOCK_DGRAM);
  if (!xray.ok()) return fail("--xray-udp " + xray.status().message());
  auto otlp = Resolve(options.otlp_http, SOCK_STREAM);
  if (!otlp.ok()) return fail("--otlp-http " + otlp.status().message());
  Fd udp(socket(xray->addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (udp.get() < 0) return fail(Status::FromErrno("socket", errno).message());

  // Ctrl-C ends the run between sends: wait for it with sigtimedwait instead of sleeping.
  sigset_t stop_signals, old_mask;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, &old_mask);

  Clock* clock = Clock::Real();
  const int64_t started = clock->NowNanos();
  workload::WorkloadOptions wopts;
  wopts.seed = options.seed != 0 ? options.seed : static_cast<uint64_t>(started);
  wopts.start_ns = started;
  wopts.traces_per_second = options.rate;
  workload::Generator generator(wopts);
  // A duration past what int64 nanoseconds can reach is as good as "until Ctrl-C".
  const double duration_ns = options.duration_seconds * kNanosPerSecond;
  const int64_t deadline =
      options.duration_seconds > 0 &&
              duration_ns < static_cast<double>(std::numeric_limits<int64_t>::max() - started)
          ? started + static_cast<int64_t>(duration_ns)
          : std::numeric_limits<int64_t>::max();

  std::printf(
      "waggle demo: about %g traces/s of a React frontend, backend-flask (X-Ray, udp %s) and "
      "user-service (OTLP, http://%s/v1/traces); %s\n",
      options.rate, xray->authority.c_str(), otlp->authority.c_str(),
      options.duration_seconds > 0 ? "stops after --duration" : "Ctrl-C stops");
  std::fflush(stdout);

  Counts counts;
  std::multimap<int64_t, std::vector<model::Span>> pending;  // by when the trace's last span ends
  std::vector<model::Span> otlp_batch, xray_spans;
  int64_t next_report = started + kReportEvery;
  int64_t next_flush = started + kFlushEvery;
  bool stopping = false;

  auto send_trace = [&](const std::vector<model::Span>& trace) {
    ++counts.traces;
    xray_spans.clear();
    for (const model::Span& s : trace) {
      if (s.service == workload::kBackendService) {
        xray_spans.push_back(s);
      } else {
        otlp_batch.push_back(s);
      }
    }
    for (const std::string& d : workload::ToXRayDatagrams(xray_spans)) {
      if (sendto(udp.get(), d.data(), d.size(), 0, reinterpret_cast<const sockaddr*>(&xray->addr),
                 xray->len) < 0) {
        ++counts.failures;
        counts.last_error = Status::FromErrno("udp " + xray->authority, errno).message();
      } else {
        ++counts.datagrams;
      }
    }
  };
  auto flush = [&] {
    if (otlp_batch.empty()) return;
    Status s = PostTraces(*otlp, workload::ToOtlpProtobuf(otlp_batch), options.api_key);
    if (s.ok()) {
      ++counts.otlp_requests;
      counts.otlp_spans += otlp_batch.size();
    } else {
      ++counts.failures;
      counts.last_error = s.message();
    }
    otlp_batch.clear();
  };

  while (true) {
    const int64_t now = clock->NowNanos();
    if (now >= deadline) stopping = true;
    if (!stopping) {
      while (generator.next_start_ns() <= now) {
        std::vector<model::Span> trace;
        generator.NextTrace(&trace);
        int64_t end = 0;
        for (const model::Span& s : trace) end = std::max(end, s.end_ns);
        pending.emplace(end, std::move(trace));
      }
    }
    // Traces go out once they are over; on the way out, whatever is left goes at once.
    while (!pending.empty() && (stopping || pending.begin()->first <= now)) {
      send_trace(pending.begin()->second);
      pending.erase(pending.begin());
    }
    if (stopping || now >= next_flush || otlp_batch.size() >= kMaxBatchSpans) {
      flush();
      next_flush = now + kFlushEvery;
    }
    if (stopping) break;
    if (now >= next_report) {
      Report(counts, "waggle demo: ");
      next_report += kReportEvery;
    }

    int64_t wake = std::min({generator.next_start_ns(), next_flush, next_report, deadline});
    if (!pending.empty()) wake = std::min(wake, pending.begin()->first);
    const int64_t wait = std::clamp<int64_t>(wake - now, kNanosPerMilli, 200 * kNanosPerMilli);
    const timespec ts{0, static_cast<long>(wait)};
    const int sig = sigtimedwait(&stop_signals, nullptr, &ts);
    if (sig == SIGINT || sig == SIGTERM) stopping = true;
  }

  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  Report(counts, "waggle demo: done: ");
  const bool delivered = counts.datagrams > 0 || counts.otlp_requests > 0;
  return counts.failures > 0 && !delivered ? 1 : 0;
}

}  // namespace waggle::server
