// X-Ray ingest benchmark (make bench).
//
// 1. UDP: a sendmmsg sender pushes realistic segment datagrams (about 500 B and 1.5 KB, every
//    one with its own trace and segment ids) at a real `waggle serve`, and, as the reference,
//    at a bare recvmmsg sink in this process. The sender never lets the receiving socket's
//    queue pass half its buffer (read from /proc/net/udp), and the run checks that the kernel
//    dropped nothing and that waggle stored every segment, so the rates are zero-loss rates.
//    Reported: segments/s stored, the ratio to the bare sink, and waggle's peak RSS.
// 2. PutTraceSegments: keep-alive connections POST batches of 50 documents (as the X-Ray
//    daemon does); reference: GET /healthz round trips on the same server and connections.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/hex.h"
#include "base/mix.h"
#include "bench_util.h"

namespace {

using waggle::bench::BindLoopback;
using waggle::bench::Clock;
using waggle::bench::Seconds;

// --- datagrams -----------------------------------------------------------------------------

// A datagram template with fixed-width places for the ids, patched per datagram.
struct Template {
  std::string bytes;
  std::vector<size_t> trace_at;  // 24 hex digits each
  std::vector<size_t> id_at;     // 16 hex digits each
};

std::string Hex(uint64_t v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%0*" PRIx64, digits, v);
  return std::string(buf).substr(0, static_cast<size_t>(digits));
}

Template MakeTemplate(int subsegments, bool rich) {
  const double now = static_cast<double>(::time(nullptr));
  const std::string trace = "1-" + Hex(static_cast<uint64_t>(now), 8) + "-TTTTTTTTTTTTTTTTTTTTTTTT";
  char start[32];
  std::snprintf(start, sizeof(start), "%.6f", now);
  std::string doc = R"({"format":"json","version":1})"
                    "\n";
  doc += R"({"id":"IIIIIIIIIIIIIIII","name":"backend-flask","start_time":)" + std::string(start) +
         R"(,"in_progress":false,"trace_id":")" + trace + R"(",)" +
         R"("http":{"request":{"url":"http://api.example.com/api/activities/home","method":"GET",)"
         R"("user_agent":"Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0","client_ip":"10.0.3.17"},)"
         R"("response":{"status":200,"content_length":1834}},)"
         R"("annotations":{"user_id":"user-4821","tenant":"acme"},)";
  if (rich) {
    doc += R"("aws":{"xray":{"sdk":"X-Ray for Python","sdk_version":"2.12.0"},)"
           R"("ec2":{"instance_id":"i-0b5a4678fc325bg98","availability_zone":"us-east-1a"}},)"
           R"("service":{"runtime":"CPython","runtime_version":"3.11.4"},)"
           R"("metadata":{"default":{"request":{"path":"/api/activities/home","page":1}}},)";
  }
  doc += R"("subsegments":[)";
  for (int i = 0; i < subsegments; ++i) {
    if (i) doc += ",";
    doc += R"({"id":"IIIIIIIIIIIIIIII","name":")" +
           std::string(i % 2 ? "dynamodb" : "postgres@db") + R"(","start_time":)" + start +
           R"(,"end_time":)" + start + R"(,"namespace":")" + (i % 2 ? "aws" : "remote") + R"(")";
    if (rich) {
      doc +=
          i % 2
              ? R"(,"aws":{"operation":"Query","region":"us-east-1","table_name":"activities","request_id":"V4NO3GQ8M7FLKPT7I4AD8Q4SG7VV4KQNSO5AEMVJF66Q9ASUAAJG"})"
              : R"(,"sql":{"url":"postgresql://db:5432/cruddur","database_type":"PostgreSQL","sanitized_query":"SELECT * FROM activities WHERE user_id = $1"})";
      doc += R"(,"http":{"response":{"status":200}})";
    }
    doc += "}";
  }
  doc += R"(],"end_time":)" + std::string(start) + "}";
  Template t;
  t.bytes = doc;
  for (size_t at = doc.find("TTTTTTTTTTTTTTTTTTTTTTTT"); at != std::string::npos;
       at = doc.find("TTTTTTTTTTTTTTTTTTTTTTTT", at + 1)) {
    t.trace_at.push_back(at);
  }
  for (size_t at = doc.find("IIIIIIIIIIIIIIII"); at != std::string::npos;
       at = doc.find("IIIIIIIIIIIIIIII", at + 1)) {
    t.id_at.push_back(at);
  }
  return t;
}

// Writes unique ids for datagram number `n` into `buf` (a copy of the template).
void PutHex(char* out, uint64_t v, int digits) {
  for (int i = digits - 1; i >= 0; --i, v >>= 4) out[i] = waggle::hex::kLowerDigits[v & 0xf];
}

void Patch(const Template& t, uint64_t n, char* buf) {
  for (size_t at : t.trace_at) {
    PutHex(buf + at, n * waggle::kGoldenGamma, 16);
    PutHex(buf + at + 16, n, 8);
  }
  for (size_t i = 0; i < t.id_at.size(); ++i) PutHex(buf + t.id_at[i], (n << 8) + i + 1, 16);
}

// --- /proc/net/udp -------------------------------------------------------------------------

struct UdpQueue {
  uint64_t rx_queue = 0;
  uint64_t drops = 0;
};

UdpQueue ReadUdpQueue(uint16_t port) {
  std::ifstream in("/proc/net/udp");
  std::string line;
  std::getline(in, line);
  char want[8];
  std::snprintf(want, sizeof(want), ":%04X", port);
  UdpQueue q;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::string sl, local, remote, st, queues;
    ss >> sl >> local >> remote >> st >> queues;
    if (local.size() < 5 || local.substr(local.size() - 5) != want) continue;
    q.rx_queue = std::strtoull(queues.substr(queues.find(':') + 1).c_str(), nullptr, 16);
    std::string field;
    std::vector<std::string> rest;
    while (ss >> field) rest.push_back(field);
    if (!rest.empty()) q.drops = std::strtoull(rest.back().c_str(), nullptr, 10);
  }
  return q;
}

// The receive buffer both receivers get: 32 MiB (SO_RCVBUFFORCE) as root, else rmem_max.
uint64_t ReceiveBuffer() {
  if (::geteuid() == 0) return 32u << 20;
  std::ifstream in("/proc/sys/net/core/rmem_max");
  uint64_t v = 212992;
  in >> v;
  return v;
}

// --- sender ----------------------------------------------------------------------------------

struct SendResult {
  uint64_t sent = 0;
  double seconds = 0;
};

// Sends `count` datagrams, alternating the two templates, keeping the receiver's queue
// under `max_queue` bytes. `done()` says how many the receiver has fully handled.
template <typename Done>
SendResult Send(uint16_t port, const Template& small, const Template& large, uint64_t count,
                uint64_t id_base, uint64_t max_queue, Done done) {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  int sndbuf = 8 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to));
  constexpr int kBatch = 64;
  std::vector<std::string> bufs(kBatch);
  std::vector<mmsghdr> msgs(kBatch);
  std::vector<iovec> iov(kBatch);
  const auto start = Clock::now();
  uint64_t sent = 0;
  while (sent < count) {
    int n = static_cast<int>(std::min<uint64_t>(kBatch, count - sent));
    for (int i = 0; i < n; ++i) {
      const Template& t = (sent + i) % 2 ? large : small;
      bufs[i].assign(t.bytes);
      Patch(t, id_base + sent + i, bufs[i].data());
      iov[i] = {bufs[i].data(), bufs[i].size()};
      std::memset(&msgs[i], 0, sizeof(mmsghdr));
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int k = ::sendmmsg(fd, msgs.data(), static_cast<unsigned>(n), 0);
    if (k > 0) sent += static_cast<uint64_t>(k);
    // Reading /proc/net/udp walks the kernel's whole UDP table: do it rarely, and sleep
    // rather than spin while the receiver catches up (a spin would steal its CPU).
    if (sent % 4096 < kBatch) {
      while (ReadUdpQueue(port).rx_queue > max_queue) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    }
  }
  // Wait for the receiver to finish, but not forever: a datagram it never accounts for (a
  // kernel drop) must end the run, which then reports the loss.
  uint64_t last = done();
  auto last_progress = Clock::now();
  while (last < sent && Clock::now() - last_progress < std::chrono::seconds(10)) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    uint64_t now_done = done();
    if (now_done != last) last_progress = Clock::now();
    last = now_done;
  }
  ::close(fd);
  return {sent, Seconds(last_progress - start)};
}

// --- the bare sink (reference) ---------------------------------------------------------------

struct Sink {
  int fd = -1;
  uint16_t port = 0;
  std::atomic<uint64_t> received{0};
  std::atomic<bool> stop{false};
  std::thread thread;

  void Start() {
    fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    int rcv = 32 << 20;
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) != 0) {
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
    }
    timeval tv{0, 100000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    port = BindLoopback(fd);
    thread = std::thread([this] {
      constexpr int kBatch = 64;
      std::vector<char> buf(kBatch * 65536);
      std::vector<mmsghdr> msgs(kBatch);
      std::vector<iovec> iov(kBatch);
      for (int i = 0; i < kBatch; ++i) {
        iov[i] = {buf.data() + i * 65536, 65536};
        std::memset(&msgs[i], 0, sizeof(mmsghdr));
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      while (!stop.load()) {
        int n = ::recvmmsg(fd, msgs.data(), kBatch, MSG_WAITFORONE, nullptr);
        if (n > 0) received.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
      }
    });
  }
  void Stop() {
    stop.store(true);
    thread.join();
    ::close(fd);
  }
};

// --- PutTraceSegments over keep-alive connections --------------------------------------------

// Sends `requests` requests on one connection; false unless every answer has `status`.
bool Exchange(uint16_t port, const std::string& request, int requests, int status) {
  waggle::bench::HttpConnection c(port);
  for (int i = 0; i < requests; ++i) {
    if (c.Exchange(request) != status) return false;
  }
  return true;
}

std::string JsonQuote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

}  // namespace

int main(int argc, char** argv) {
  std::string binary = "build/waggle";
  uint64_t count = 1'000'000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--waggle" && i + 1 < argc)
      binary = argv[++i];
    else if (a == "--datagrams" && i + 1 < argc)
      count = std::strtoull(argv[++i], nullptr, 10);
  }
  signal(SIGPIPE, SIG_IGN);
  const Template small = MakeTemplate(1, false);
  const Template large = MakeTemplate(3, true);
  std::printf("xray_ingest_bench: datagrams of %zu and %zu bytes, %" PRIu64 " of them per run\n",
              small.bytes.size(), large.bytes.size(), count);
  // The queue is counted in kernel buffer bytes (about twice the payload): stay at a quarter
  // of the buffer, far from where the kernel would drop.
  const uint64_t max_queue = ReceiveBuffer() / 4;

  // Reference: the bare recvmmsg sink.
  Sink sink;
  sink.Start();
  SendResult ref =
      Send(sink.port, small, large, count, 0, max_queue, [&] { return sink.received.load(); });
  UdpQueue sink_q = ReadUdpQueue(sink.port);
  sink.Stop();
  const double ref_rate = static_cast<double>(ref.sent) / ref.seconds;
  std::printf("  bare recvmmsg sink:      %10.0f datagrams/s (%" PRIu64
              " in %.2f s, kernel drops %" PRIu64 ")\n",
              ref_rate, ref.sent, ref.seconds, sink_q.drops);

  waggle::bench::WaggleProcess w;
  if (!w.Start(binary)) {
    std::fprintf(stderr, "xray_ingest_bench: waggle serve did not start (%s)\n", binary.c_str());
    return 1;
  }
  SendResult got = Send(w.xray, small, large, count, 1ull << 40, max_queue, [&] {
    return w.Metric("waggle_xray_udp_segments_accepted_total") +
           w.Metric("waggle_xray_udp_rejected_total");
  });
  UdpQueue q = ReadUdpQueue(w.xray);
  const uint64_t stored = w.Metric("waggle_xray_udp_segments_accepted_total");
  const double rate = static_cast<double>(stored) / got.seconds;
  const double rss_mib = static_cast<double>(w.PeakRssKiB()) / 1024;
  std::printf("  waggle serve UDP ingest: %10.0f segments/s stored (%" PRIu64 " of %" PRIu64
              " sent, kernel drops %" PRIu64 ", %.2f s)\n",
              rate, stored, got.sent, q.drops, got.seconds);
  std::printf("  ratio to bare sink:      %10.2f  (target >= 0.60)\n", rate / ref_rate);
  std::printf("  waggle peak RSS:         %10.1f MiB (target <= 200)\n", rss_mib);
  const bool zero_loss = stored == got.sent && q.drops == 0;
  std::printf("  zero loss:               %10s\n", zero_loss ? "yes" : "NO");

  // PutTraceSegments: batches of 50 documents, 4 connections.
  constexpr int kConnections = 4, kRequests = 400, kDocs = 50;
  std::vector<std::string> requests(kConnections);
  for (int c = 0; c < kConnections; ++c) {
    std::string body = "{\"TraceSegmentDocuments\":[";
    for (int d = 0; d < kDocs; ++d) {
      const Template& t = d % 2 ? large : small;
      std::string doc = t.bytes;
      Patch(t, (2ull << 40) + static_cast<uint64_t>(c * kDocs + d), doc.data());
      doc = doc.substr(doc.find('\n') + 1);
      if (d) body += ",";
      body += JsonQuote(doc);
    }
    body += "]}";
    requests[c] =
        "POST /TraceSegments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body;
  }
  auto run = [&](auto make_request, uint16_t port) {
    std::vector<std::thread> threads;
    std::atomic<bool> ok{true};
    auto start = Clock::now();
    for (int c = 0; c < kConnections; ++c) {
      threads.emplace_back([&, c] {
        if (!Exchange(port, make_request(c), kRequests, 200)) ok = false;
      });
    }
    for (auto& t : threads) t.join();
    return ok ? Seconds(Clock::now() - start) : -1.0;
  };
  double put_s = run([&](int c) { return requests[c]; }, w.xray);
  double ref_s =
      run([](int) { return std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); }, w.http);
  const double docs_per_s = kConnections * kRequests * kDocs / put_s;
  const double req_per_s = kConnections * kRequests / put_s;
  const double healthz_per_s = kConnections * kRequests / ref_s;
  std::printf(
      "  PutTraceSegments:        %10.0f documents/s (%.0f requests/s of 50, fsync'd, %d "
      "connections)\n",
      docs_per_s, req_per_s, kConnections);
  std::printf(
      "  reference GET /healthz:  %10.0f requests/s; PutTraceSegments requests at %.2f of that\n",
      healthz_per_s, req_per_s / healthz_per_s);
  int exit_code = w.Stop();
  std::printf("  waggle serve exit code on SIGTERM: %d\n", exit_code);
  return zero_loss && put_s > 0 && exit_code == 0 ? 0 : 1;
}
