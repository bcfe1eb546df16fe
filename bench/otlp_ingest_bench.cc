// OTLP ingest benchmark (make bench).
//
// Realistic spans (three services, traces of 8 spans, 10-20 attributes each, mixed kinds, an
// exception event on some) are encoded as OTLP/protobuf requests of 512 spans and POSTed to a
// real `waggle serve` over several keep-alive connections; a span counts once its request was
// answered 200, which waggle does only after the spans are fsync'd. The same requests then go
// over OTLP/gRPC. Reference, in the same run: the same spans inserted into a local
// clickhouse-server over its HTTP interface as RowBinary (MergeTree ordered by service, name,
// start time), in batches of 65,536 rows on the same number of connections.
// Reported: spans/s for each, spans per CPU second of each server (the load generator runs on
// the same cores, so wall time alone undercounts a core's work), the ratios, and waggle's peak
// RSS.
//
// A second reference, also in the same run, is the machine's floor for a durable OTLP/HTTP
// receiver: a child process that only takes the same requests over the same connections,
// writes each body to a log file and fdatasyncs it (one write and one fdatasync a request, as
// waggle makes; the file's 64 MiB are written once beforehand and then overwritten round, as
// waggle reuses its log segments) and answers 200. It decodes and stores nothing, so its CPU
// a span is what the kernel and the network take before any of waggle's work.
#include <fcntl.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/mix.h"
#include "bench_util.h"
#include "codec/otlp/proto_wire.h"

namespace {

using waggle::bench::Clock;
using waggle::bench::Seconds;

constexpr int kSpansPerRequest = 512;
constexpr int kConnections = 4;
constexpr int kSpansPerTrace = 8;

// --- the spans ---------------------------------------------------------------------------------

struct Attr {
  std::string key;
  std::string str;
  int64_t num = 0;
  bool is_num = false;
};

struct GenSpan {
  uint8_t trace[16];
  uint64_t span = 0, parent = 0;
  int service = 0;
  std::string name;
  int kind = 1;
  uint64_t start = 0, end = 0;
  int status = 0;
  std::vector<Attr> attrs;
  bool exception = false;
};

const char* const kServices[] = {"frontend", "backend-flask", "user-service"};
const char* const kRoutes[] = {"/api/users/{id}", "/api/orders",   "/api/cart",
                               "/api/search",     "/api/checkout", "/healthz"};

// One trace: a frontend server span, its client call, the backend's server span, a user
// service call, database and cache calls, and internal work.
void MakeTrace(std::mt19937_64& rng, uint64_t now_ns, std::vector<GenSpan>* out) {
  uint8_t trace[16];
  const uint32_t epoch = static_cast<uint32_t>(now_ns / 1000000000);
  trace[0] = epoch >> 24, trace[1] = epoch >> 16, trace[2] = epoch >> 8, trace[3] = epoch;
  for (int i = 4; i < 16; ++i) trace[i] = static_cast<uint8_t>(rng());
  std::lognormal_distribution<double> latency(2.5, 0.8);  // ms
  const char* route = kRoutes[rng() % 6];
  const bool error = rng() % 50 == 0;
  const std::string user = "user-" + std::to_string(rng() % 100000);
  uint64_t ids[kSpansPerTrace];
  for (auto& id : ids) id = rng() | 1;
  // (service, kind, parent index, name)
  struct Shape {
    int service, kind, parent;
    const char* name;
  };
  static const Shape kShape[kSpansPerTrace] = {
      {0, 2, -1, "GET"},    {0, 3, 0, "GET"}, {1, 2, 1, "GET"}, {1, 3, 2, "SELECT"},
      {1, 3, 2, "GetItem"}, {1, 3, 2, "GET"}, {2, 2, 5, "GET"}, {2, 1, 6, "load_profile"}};
  const uint64_t t0 = now_ns - static_cast<uint64_t>(rng() % 1000000000);
  for (int i = 0; i < kSpansPerTrace; ++i) {
    GenSpan s;
    std::memcpy(s.trace, trace, 16);
    s.span = ids[i];
    s.parent = kShape[i].parent < 0 ? 0 : ids[kShape[i].parent];
    s.service = kShape[i].service;
    s.kind = kShape[i].kind;
    s.name = std::string(kShape[i].name) + (s.kind == 2 ? std::string(" ") + route : "");
    s.start = t0 + static_cast<uint64_t>(i) * 100000;
    s.end = s.start + static_cast<uint64_t>(latency(rng) * 1e6);
    const int http = error && i == 0 ? 500 : 200;
    s.status = error && (i == 0 || i == 2) ? 2 : 0;
    auto str = [&](const char* k, std::string v) {
      s.attrs.push_back({k, std::move(v), 0, false});
    };
    auto num = [&](const char* k, int64_t v) { s.attrs.push_back({k, {}, v, true}); };
    if (s.kind == 2 || (s.kind == 3 && (i == 1 || i == 5))) {
      str("http.request.method", "GET");
      str("http.route", route);
      str("url.full", std::string("http://") + kServices[s.service] + ".internal" + route);
      num("http.response.status_code", http);
      str("server.address", std::string(kServices[s.service]) + ".internal");
      num("server.port", 8080);
      str("network.protocol.version", "1.1");
      str("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0");
      str("client.address", "10.0.3." + std::to_string(rng() % 250));
    } else if (i == 3) {
      str("db.system", "postgresql");
      str("db.name", "orders");
      str("db.statement", "SELECT id, total FROM orders WHERE user_id = $1 LIMIT 50");
      str("db.operation", "SELECT");
      str("server.address", "postgres.internal");
      num("server.port", 5432);
    } else if (i == 4) {
      str("rpc.system", "aws-api");
      str("rpc.service", "DynamoDB");
      str("rpc.method", "GetItem");
      str("aws.dynamodb.table_names", "carts");
      str("aws.region", "us-east-1");
      str("aws.request_id", std::to_string(rng()));
    } else {
      str("code.function", "load_profile");
      str("code.namespace", "users.profile");
      num("profile.fields", static_cast<int64_t>(rng() % 40));
    }
    str("user.id", user);
    str("customer.tier", rng() % 5 == 0 ? "enterprise" : "free");
    str("deployment.region", "us-east-1");
    num("app.items", static_cast<int64_t>(rng() % 20));
    if (rng() % 2) str("feature.flag", "new-checkout");
    s.exception = s.status == 2;
    out->push_back(std::move(s));
  }
}

// --- OTLP protobuf ---------------------------------------------------------------------------

using waggle::codec::otlp::wire::kFixed64;
using waggle::codec::otlp::wire::kVarint;
using waggle::codec::otlp::wire::PutBytes;
using waggle::codec::otlp::wire::PutFixed64;
using waggle::codec::otlp::wire::PutTag;
using waggle::codec::otlp::wire::PutVarint;

void Fixed64(std::string* o, uint32_t field, uint64_t v) {
  PutTag(o, field, kFixed64);
  PutFixed64(o, v);
}

std::string KeyValue(const std::string& k, const Attr& a) {
  std::string value, kv;
  if (a.is_num) {
    PutTag(&value, 3, kVarint);
    PutVarint(&value, static_cast<uint64_t>(a.num));
  } else {
    PutBytes(&value, 1, a.str);
  }
  PutBytes(&kv, 1, k);
  PutBytes(&kv, 2, value);
  return kv;
}

// An encoded request and where its ids sit, so each send can make them unique.
struct Request {
  std::string bytes;
  // Where the 8 bytes that each send changes are: each trace id's second half, each span and
  // parent id.
  std::vector<size_t> xor_at;
};

Request EncodeRequest(const std::vector<GenSpan>& spans) {
  Request r;
  for (int svc = 0; svc < 3; ++svc) {
    std::string resource, scope, scope_spans, resource_spans;
    for (const Attr& a :
         {Attr{"service.name", kServices[svc]}, Attr{"host.name", "ip-10-0-3-17"},
          Attr{"telemetry.sdk.language", "python"}, Attr{"telemetry.sdk.name", "opentelemetry"},
          Attr{"telemetry.sdk.version", "1.27.0"}}) {
      PutBytes(&resource, 1, KeyValue(a.key, a));
    }
    PutBytes(&scope, 1, "opentelemetry.instrumentation.flask");
    PutBytes(&scope, 2, "0.48b0");
    PutBytes(&scope_spans, 1, scope);
    // Spans are encoded into scope_spans; their id offsets are found after assembly.
    for (const GenSpan& s : spans) {
      if (s.service != svc) continue;
      std::string span;
      PutBytes(&span, 1, std::string(reinterpret_cast<const char*>(s.trace), 16));
      uint64_t be = __builtin_bswap64(s.span);
      PutBytes(&span, 2, std::string(reinterpret_cast<const char*>(&be), 8));
      if (s.parent) {
        uint64_t pbe = __builtin_bswap64(s.parent);
        PutBytes(&span, 4, std::string(reinterpret_cast<const char*>(&pbe), 8));
      }
      PutBytes(&span, 5, s.name);
      PutTag(&span, 6, kVarint);
      PutVarint(&span, static_cast<uint64_t>(s.kind));
      Fixed64(&span, 7, s.start);
      Fixed64(&span, 8, s.end);
      for (const Attr& a : s.attrs) PutBytes(&span, 9, KeyValue(a.key, a));
      if (s.exception) {
        std::string ev;
        Fixed64(&ev, 1, s.end);
        PutBytes(&ev, 2, "exception");
        PutBytes(&ev, 3, KeyValue("exception.type", Attr{"", "TimeoutError"}));
        PutBytes(&ev, 3, KeyValue("exception.message", Attr{"", "upstream timed out after 5s"}));
        PutBytes(&span, 11, ev);
      }
      if (s.status) {
        std::string st;
        PutTag(&st, 3, kVarint);
        PutVarint(&st, static_cast<uint64_t>(s.status));
        PutBytes(&span, 15, st);
      }
      PutBytes(&scope_spans, 2, span);
    }
    PutBytes(&resource_spans, 1, resource);
    PutBytes(&resource_spans, 2, scope_spans);
    PutBytes(&r.bytes, 1, resource_spans);
  }
  // Find the ids by value (each is unique random bytes), every place each is written: a
  // trace's id in each of its spans, a span's id also where its children name their parent.
  // Each place once, since two xors of the same mix cancel.
  auto add_every = [&](const std::string& id, size_t offset) {
    for (size_t at = r.bytes.find(id); at != std::string::npos; at = r.bytes.find(id, at + 1)) {
      r.xor_at.push_back(at + offset);
    }
  };
  std::set<std::string> traces;
  for (const GenSpan& s : spans) {
    std::string id(reinterpret_cast<const char*>(s.trace), 16);
    if (traces.insert(id).second) add_every(id, 8);
  }
  for (const GenSpan& s : spans) {
    uint64_t be = __builtin_bswap64(s.span);
    add_every(std::string(reinterpret_cast<const char*>(&be), 8), 0);
  }
  return r;
}

// What send number `n` xors into every id, so that each send's ids are new.
uint64_t IdMix(uint64_t n) { return (n + 1) * waggle::kGoldenGamma; }

// Makes every id in `bytes` new for send number `n`: xors IdMix(n) into the 8 bytes at each
// of `at` (the same xor everywhere, so parent links stay consistent).
void Patch(std::string* bytes, const std::vector<size_t>& at, uint64_t n) {
  const uint64_t mix = IdMix(n);
  for (size_t a : at) {
    uint64_t v;
    std::memcpy(&v, bytes->data() + a, 8);
    v ^= mix;
    std::memcpy(bytes->data() + a, &v, 8);
  }
}

// --- ClickHouse RowBinary ----------------------------------------------------------------------

void RbString(std::string* o, const std::string& s) {
  PutVarint(o, s.size());
  o->append(s);
}
template <typename T>
void RbFixed(std::string* o, T v) {
  o->append(reinterpret_cast<const char*>(&v), sizeof v);
}

void RowBinary(const GenSpan& s, std::string* o) {
  o->append(reinterpret_cast<const char*>(s.trace), 16);
  RbFixed<uint64_t>(o, s.span);
  RbFixed<uint64_t>(o, s.parent);
  RbString(o, kServices[s.service]);
  RbString(o, s.name);
  RbFixed<uint8_t>(o, static_cast<uint8_t>(s.kind));
  RbFixed<uint64_t>(o, s.start);
  RbFixed<uint64_t>(o, s.end);
  RbFixed<uint8_t>(o, static_cast<uint8_t>(s.status));
  PutVarint(o, s.attrs.size());
  for (const Attr& a : s.attrs) RbString(o, a.key);
  PutVarint(o, s.attrs.size());
  for (const Attr& a : s.attrs) RbString(o, a.is_num ? std::to_string(a.num) : a.str);
  PutVarint(o, s.exception ? 1 : 0);
  if (s.exception) RbString(o, "exception");
}

constexpr const char* kTable =
    "CREATE TABLE spans (trace_id FixedString(16), span_id UInt64, parent_span_id UInt64, "
    "service String, name String, kind UInt8, start_ns UInt64, end_ns UInt64, status UInt8, "
    "attr_keys Array(String), attr_values Array(String), event_names Array(String)) "
    "ENGINE = MergeTree() ORDER BY (service, name, start_ns)";

// Runs `fn(connection)` on kConnections threads; returns seconds, or -1 if any failed.
template <typename Fn>
double Parallel(Fn fn) {
  std::atomic<bool> ok{true};
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int c = 0; c < kConnections; ++c) {
    threads.emplace_back([&, c] {
      if (!fn(c)) ok = false;
    });
  }
  for (auto& t : threads) t.join();
  return ok ? Seconds(Clock::now() - start) : -1;
}

// --- the floor: receive, write, fdatasync, answer --------------------------------------------

constexpr size_t kFloorLogBytes = size_t{64} << 20;

// One connection of the floor server: reads requests (a head, then Content-Length bytes of
// body), writes each body at the log's cursor and syncs it, and answers 200 with no body.
void FloorConnection(int fd, int log, std::mutex* mu, size_t* cursor) {
  std::string in;
  std::vector<char> buf(size_t{1} << 18);
  static constexpr std::string_view kOk = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  for (;;) {
    size_t header_end;
    while ((header_end = in.find("\r\n\r\n")) == std::string::npos) {
      const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
      if (n <= 0) return;
      in.append(buf.data(), static_cast<size_t>(n));
    }
    const size_t cl = in.find("Content-Length: ");
    if (cl == std::string::npos || cl > header_end) return;
    const size_t length = std::strtoull(in.c_str() + cl + 16, nullptr, 10);
    const size_t body = header_end + 4;
    while (in.size() < body + length) {
      const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
      if (n <= 0) return;
      in.append(buf.data(), static_cast<size_t>(n));
    }
    {
      std::lock_guard<std::mutex> lock(*mu);
      if (*cursor + length > kFloorLogBytes) *cursor = 0;
      if (::pwrite(log, in.data() + body, length, static_cast<off_t>(*cursor)) !=
              static_cast<ssize_t>(length) ||
          ::fdatasync(log) != 0) {
        return;
      }
      *cursor += length;
    }
    in.erase(0, body + length);
    if (::send(fd, kOk.data(), kOk.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(kOk.size())) {
      return;
    }
  }
}

// The floor server, in a child forked before the process has other threads: serves
// `listener` with a thread a connection until SIGTERM, logging to a file in `dir`.
[[noreturn]] void FloorServe(int listener, const std::string& dir) {
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // ends with the benchmark, however that ends
  const int log = ::open((dir + "/floor.log").c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (log < 0) _exit(1);
  const std::vector<char> zeros(size_t{1} << 20, 0);
  for (size_t at = 0; at < kFloorLogBytes; at += zeros.size()) {
    if (::write(log, zeros.data(), zeros.size()) != static_cast<ssize_t>(zeros.size())) _exit(1);
  }
  if (::fsync(log) != 0) _exit(1);
  std::mutex mu;
  size_t cursor = 0;
  std::vector<std::thread> connections;  // until SIGTERM ends the process
  for (;;) {
    const int fd = ::accept(listener, nullptr, nullptr);
    if (fd >= 0) connections.emplace_back(FloorConnection, fd, log, &mu, &cursor);
  }
}

// The floor server's child process and its port.
struct Floor {
  pid_t pid = -1;
  uint16_t port = 0;
  std::string dir;

  // Forks the server; call before the process starts any thread.
  bool Start() {
    char tmpl[] = "/tmp/waggle-bench-floor-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return false;
    dir = tmpl;
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    if (listener < 0) return false;
    port = waggle::bench::BindLoopback(listener);
    if (::listen(listener, 16) != 0) return false;
    pid = ::fork();
    if (pid == 0) FloorServe(listener, dir);
    ::close(listener);
    return pid > 0;
  }
  void Stop() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
      pid = -1;
    }
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string waggle = "build/waggle", clickhouse = "/usr/sbin/clickhouse-server";
  uint64_t requests_per_connection = 500;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--waggle" && i + 1 < argc) waggle = argv[++i];
    if (a == "--clickhouse" && i + 1 < argc) clickhouse = argv[++i];
    if (a == "--requests" && i + 1 < argc)
      requests_per_connection = std::strtoull(argv[++i], nullptr, 10);
  }
  signal(SIGPIPE, SIG_IGN);
  Floor floor;  // forked first, while this process has one thread
  if (!floor.Start()) {
    std::fprintf(stderr, "otlp_ingest_bench: the floor server did not start\n");
    floor.Stop();
    return 1;
  }
  const uint64_t now =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  // Eight distinct requests per connection, sent round-robin with fresh ids each time.
  std::mt19937_64 rng(42);
  std::vector<std::vector<GenSpan>> batches;
  std::vector<std::vector<Request>> requests(kConnections);
  for (int c = 0; c < kConnections; ++c) {
    for (int i = 0; i < 8; ++i) {
      std::vector<GenSpan> spans;
      while (spans.size() < kSpansPerRequest) MakeTrace(rng, now, &spans);
      requests[c].push_back(EncodeRequest(spans));
      batches.push_back(std::move(spans));
    }
  }
  size_t attrs = 0, bytes = 0;
  for (const auto& b : batches) {
    for (const auto& s : b) attrs += s.attrs.size();
  }
  for (const auto& r : requests[0]) bytes += r.bytes.size();
  const double protobuf_per_span = static_cast<double>(bytes) / (8.0 * kSpansPerRequest);
  const uint64_t total_spans = kConnections * requests_per_connection * kSpansPerRequest;
  std::printf("otlp_ingest_bench: %" PRIu64
              " spans in requests of %d (%.1f attributes a span, %.0f protobuf bytes a span), "
              "%d connections\n",
              total_spans, kSpansPerRequest,
              static_cast<double>(attrs) / static_cast<double>(batches.size() * kSpansPerRequest),
              protobuf_per_span, kConnections);

  waggle::bench::WaggleProcess w;
  if (!w.Start(waggle)) {
    std::fprintf(stderr, "otlp_ingest_bench: waggle serve did not start (%s)\n", waggle.c_str());
    floor.Stop();
    return 1;
  }
  // Sends connection c's share of the requests to `port`, from send number `first` on.
  auto http_send_to = [&](uint16_t port, int c, uint64_t first) {
    waggle::bench::HttpConnection conn(port);
    std::vector<Request> mine = requests[c];
    for (uint64_t i = 0; i < requests_per_connection; ++i) {
      Request& r = mine[i % mine.size()];
      Patch(&r.bytes, r.xor_at, (static_cast<uint64_t>(c) << 32) + first + i);
      const std::string req =
          "POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
          "Content-Length: " +
          std::to_string(r.bytes.size()) + "\r\n\r\n" + r.bytes;
      if (conn.Exchange(req) != 200) return false;
    }
    return true;
  };
  // CPU per span counts only the server's CPU: the load generator shares the machine.
  const double http_cpu0 = waggle::bench::ProcessCpuSeconds(w.pid);
  const double http_s = Parallel([&](int c) { return http_send_to(w.otlp_http, c, 0); });
  const double http_cpu = waggle::bench::ProcessCpuSecondsWhenIdle(w.pid) - http_cpu0;
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(w.otlp_grpc),
                                     grpc::InsecureChannelCredentials());
  auto grpc_send = [&](int c) {
    grpc::GenericStub stub(channel);
    grpc::CompletionQueue cq;
    std::vector<Request> mine = requests[c];
    for (uint64_t i = 0; i < requests_per_connection; ++i) {
      Request& r = mine[i % mine.size()];
      Patch(&r.bytes, r.xor_at, (static_cast<uint64_t>(c + kConnections) << 32) + i);
      grpc::Slice slice(r.bytes);
      grpc::ByteBuffer request(&slice, 1), response;
      grpc::ClientContext ctx;
      grpc::Status status;
      auto call = stub.PrepareUnaryCall(
          &ctx, "/opentelemetry.proto.collector.trace.v1.TraceService/Export", request, &cq);
      call->StartCall();
      call->Finish(&response, &status, reinterpret_cast<void*>(1));
      void* tag;
      bool ok;
      if (!cq.Next(&tag, &ok) || !ok || !status.ok()) return false;
    }
    return true;
  };
  const double grpc_cpu0 = waggle::bench::ProcessCpuSeconds(w.pid);
  const double grpc_s = Parallel(grpc_send);
  const double grpc_cpu = waggle::bench::ProcessCpuSecondsWhenIdle(w.pid) - grpc_cpu0;
  const uint64_t stored = w.Metric("waggle_otlp_spans_accepted_total");
  const uint64_t wal_bytes = w.Metric("waggle_store_wal_bytes_total");
  const double rss_mib = static_cast<double>(w.PeakRssKiB()) / 1024;
  const int exit_code = w.Stop();

  // Reference: the floor, on the same requests (the ids of sends past waggle's).
  const double floor_cpu0 = waggle::bench::ProcessCpuSeconds(floor.pid);
  const double floor_s =
      Parallel([&](int c) { return http_send_to(floor.port, c, uint64_t{1} << 31); });
  const double floor_cpu = waggle::bench::ProcessCpuSecondsWhenIdle(floor.pid) - floor_cpu0;
  floor.Stop();

  // Reference: the same spans into ClickHouse, 65,536 rows an insert.
  waggle::bench::ClickHouse ch;
  double ch_s = -1, ch_cpu = 0, ch_rss_mib = 0;
  uint64_t ch_rows = 0;
  if (ch.Start(clickhouse)) {
    waggle::bench::HttpConnection setup(ch.http);
    setup.Exchange(waggle::bench::ClickHouse::Query(kTable));
    // One body of rows_per_insert rows, going round the generated spans as waggle's requests
    // go round their batches; every insert gets new ids, as every waggle request does (the
    // same Patch, on the ids each row starts with: trace, span and parent), and the
    // inserts hold at least as many rows as waggle was sent. A body holds the generated
    // spans several times over: each copy past the first gets new ids, so no insert repeats one.
    const size_t rows_per_insert = 65536;
    const size_t rows_per_copy = batches.size() * kSpansPerRequest;
    std::string base;
    std::vector<size_t> xor_at;  // each row starts with its trace id, span id and parent id
    for (size_t r = 0; r < rows_per_insert; ++r) {
      const size_t at = base.size();
      const auto& b = batches[(r / kSpansPerRequest) % batches.size()];
      RowBinary(b[r % kSpansPerRequest], &base);
      std::vector<size_t> row_at = {at + 8, at + 16};
      uint64_t parent;
      std::memcpy(&parent, base.data() + at + 24, 8);
      if (parent != 0) row_at.push_back(at + 24);  // no parent stays none
      // Sends number from 0 up with a connection in the high half: the top bit is none's.
      if (const uint64_t copy = r / rows_per_copy; copy > 0) {
        Patch(&base, row_at, (uint64_t{1} << 63) + copy);
      }
      xor_at.insert(xor_at.end(), row_at.begin(), row_at.end());
    }
    const uint64_t per_round = rows_per_insert * kConnections;
    const uint64_t inserts_per_connection = (total_spans + per_round - 1) / per_round;
    ch_rows = inserts_per_connection * per_round;
    const double ch_cpu0 = waggle::bench::ProcessCpuSeconds(ch.pid);
    ch_s = Parallel([&](int c) {
      waggle::bench::HttpConnection conn(ch.http);
      std::string body = base;  // each connection's own, patched again for every insert
      for (uint64_t i = 0; i < inserts_per_connection; ++i) {
        Patch(&body, xor_at, (static_cast<uint64_t>(c) << 32) + i);
        if (conn.Exchange(waggle::bench::ClickHouse::Query("INSERT INTO spans FORMAT RowBinary",
                                                           body)) != 200) {
          return false;
        }
      }
      return true;
    });
    ch_cpu = waggle::bench::ProcessCpuSecondsWhenIdle(ch.pid) - ch_cpu0;
    ch_rss_mib = static_cast<double>(waggle::bench::PeakRssKiB(ch.pid)) / 1024;
    ch.Stop();
  } else {
    std::fprintf(stderr, "otlp_ingest_bench: clickhouse-server did not start (%s)\n",
                 clickhouse.c_str());
    ch.Stop();
  }

  const double http_rate = static_cast<double>(total_spans) / http_s;
  const double grpc_rate = static_cast<double>(total_spans) / grpc_s;
  const double ch_rate = static_cast<double>(ch_rows) / ch_s;
  auto per_cpu = [](uint64_t n, double cpu) { return cpu > 0 ? static_cast<double>(n) / cpu : 0; };
  std::printf("  waggle OTLP/HTTP protobuf: %10.0f spans/s durable (%.2f s)\n", http_rate, http_s);
  std::printf(
      "  waggle OTLP/HTTP per core: %10.0f spans per CPU second of waggle serve (%.2f CPU s; "
      "target 1,000,000)\n",
      per_cpu(total_spans, http_cpu), http_cpu);
  std::printf(
      "  waggle OTLP/gRPC:          %10.0f spans/s durable (%.2f s); gRPC/HTTP %.2f "
      "(target >= 0.80); %.0f spans per CPU second\n",
      grpc_rate, grpc_s, grpc_rate / http_rate, per_cpu(total_spans, grpc_cpu));
  std::printf("  waggle stored:             %10" PRIu64 " of %" PRIu64 " spans sent\n", stored,
              2 * total_spans);
  const double wal_per_span =
      static_cast<double>(wal_bytes) / static_cast<double>(std::max<uint64_t>(1, stored));
  std::printf("  waggle write-ahead log:    %10.0f bytes a span, %.2f x the OTLP protobuf's\n",
              wal_per_span, wal_per_span / protobuf_per_span);
  std::printf("  waggle peak RSS:           %10.1f MiB (target <= 512)\n", rss_mib);
  if (floor_s > 0) {
    const double floor_per_cpu = per_cpu(total_spans, floor_cpu);
    std::printf(
        "  reference floor:           %10.0f spans per CPU second (%.0f ns a span; receive, "
        "write and fdatasync, answer: nothing decoded or stored)\n",
        floor_per_cpu, 1e9 * floor_cpu / static_cast<double>(total_spans));
    std::printf(
        "  ratio waggle HTTP / floor: %.2f per CPU second (waggle %.0f ns a span, of which %.0f "
        "above the floor)\n",
        floor_per_cpu > 0 ? per_cpu(total_spans, http_cpu) / floor_per_cpu : 0,
        1e9 * http_cpu / static_cast<double>(total_spans),
        1e9 * (http_cpu - floor_cpu) / static_cast<double>(total_spans));
  } else {
    std::printf("  no floor reference: the floor server did not take the requests\n");
  }
  if (ch_s > 0) {
    const double ch_per_cpu = per_cpu(ch_rows, ch_cpu);
    auto ratio = [&](double waggle_per_cpu) {
      return ch_per_cpu > 0 ? waggle_per_cpu / ch_per_cpu : 0;
    };
    std::printf("  reference ClickHouse:      %10.0f rows/s (RowBinary over HTTP, %" PRIu64
                " rows, inserts of 65536, not fsync'd)\n",
                ch_rate, ch_rows);
    std::printf("  reference ClickHouse per core: %6.0f rows per CPU second of clickhouse-server\n",
                ch_per_cpu);
    std::printf("  ratio waggle HTTP / ClickHouse: %.2f by wall time, %.2f per CPU second\n",
                http_rate / ch_rate, ratio(per_cpu(total_spans, http_cpu)));
    std::printf("  ratio waggle gRPC / ClickHouse: %.2f by wall time, %.2f per CPU second\n",
                grpc_rate / ch_rate, ratio(per_cpu(total_spans, grpc_cpu)));
    std::printf(
        "  reference ClickHouse peak RSS: %6.1f MiB for one load of the spans; ratio "
        "waggle/ClickHouse %.2f (waggle's peak covers both its loads, HTTP then gRPC)\n",
        ch_rss_mib, ch_rss_mib > 0 ? rss_mib / ch_rss_mib : 0);
  }
  std::printf("  waggle serve exit code on SIGTERM: %d\n", exit_code);
  if (ch_s <= 0) std::printf("  no reference: ClickHouse did not load the spans\n");
  return http_s > 0 && grpc_s > 0 && floor_s > 0 && ch_s > 0 && stored == 2 * total_spans &&
                 exit_code == 0
             ? 0
             : 1;
}
