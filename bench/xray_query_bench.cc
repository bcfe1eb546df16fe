// X-Ray queries of a real `waggle serve` over a store of the generated workload, against the
// same questions asked in SQL of clickhouse-server holding the same spans, in the same run:
//
//   - GetTraceSummaries over one hour with a three-condition filter (the first page: the 100
//     newest matching traces with their summaries); ClickHouse: the trace ids each condition
//     selects, intersected, then those traces' spans grouped into summaries, newest 100.
//   - GetServiceGraph over one hour; ClickHouse: the parent/child self-join grouped by caller
//     and callee service, plus the per-service request counts.
//
//   build/bench/xray_query_bench --waggle build/waggle [--spans N] [--hours H]
//       [--clickhouse /usr/sbin/clickhouse-server] [--keep DIR] [--no-clickhouse]
//
// The spans are spread over H hours (default 10), so one hour holds about N / H of them.
// --keep writes the store into DIR and leaves it there, or reuses the store DIR already holds
// (written by an earlier --keep run with the same --spans and --hours), to time a change to the
// queries without generating the workload again; --no-clickhouse leaves the reference out.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "bench_util.h"
#include "span_workload.h"
#include "storage/columnar/engine.h"

namespace {

using waggle::bench::Clock;
using waggle::bench::Seconds;
using waggle::model::Span;
namespace columnar = waggle::storage::columnar;
using Q = waggle::bench::ClickHouse;

constexpr int kWriters = 2;
constexpr int kRepeats = 5;
constexpr int64_t kNs = 1'000'000'000;
constexpr int64_t kHourNs = 3600 * kNs;
// The filter, and the same conditions in SQL: wholesale customers' traces in which
// user-service failed and that took longer than 100 ms.
constexpr const char* kFilter =
    "annotation.customer_segment = \\\"wholesale\\\" AND service(\\\"user-service\\\") { fault } "
    "AND duration > 0.1";

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

std::string Post(const std::string& path, const std::string& body) {
  return "POST " + path +
         " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

// Runs `once` kRepeats times and returns the median in milliseconds.
template <typename Fn>
double TimeMs(Fn once) {
  std::vector<double> ms;
  for (int i = 0; i < kRepeats; ++i) {
    const auto t0 = Clock::now();
    once();
    ms.push_back(Seconds(Clock::now() - t0) * 1e3);
  }
  return Median(ms);
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  uint64_t total = 10'000'000;
  double hours = 10;
  std::string binary = "build/waggle";
  std::string clickhouse = "/usr/sbin/clickhouse-server";
  std::string keep;
  bool reference = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--spans" && i + 1 < argc) total = std::strtoull(argv[++i], nullptr, 10);
    if (a == "--hours" && i + 1 < argc) hours = std::atof(argv[++i]);
    if (a == "--waggle" && i + 1 < argc) binary = argv[++i];
    if (a == "--clickhouse" && i + 1 < argc) clickhouse = argv[++i];
    if (a == "--keep" && i + 1 < argc) keep = argv[++i];
    if (a == "--no-clickhouse") reference = false;
  }
  hours = std::max(1.0, hours);

  // Spans a trace, to spread `total` spans over `hours`.
  waggle::workload::WorkloadOptions base;
  double spans_per_trace = 0;
  {
    waggle::workload::Generator probe(base);
    std::vector<Span> spans;
    for (int i = 0; i < 2000; ++i) probe.NextTrace(&spans);
    spans_per_trace = static_cast<double>(spans.size()) / 2000;
  }
  auto options_for = [&](int w) {
    waggle::workload::WorkloadOptions o = base;
    o.seed = 2000 + w;
    o.traces_per_second = static_cast<double>(total) / spans_per_trace / (hours * 3600) / kWriters;
    return o;
  };
  // The hour asked about: the middle one.
  const int64_t from_ns = base.start_ns + static_cast<int64_t>(hours / 2) * kHourNs - kHourNs / 2;
  const int64_t to_ns = from_ns + kHourNs;
  const int64_t from_s = from_ns / kNs, to_s = to_ns / kNs;

  // --- the store, written in-process, then served ------------------------------------------
  char tmpl[] = "/tmp/waggle-query-bench-XXXXXX";
  const bool reuse = !keep.empty() && std::filesystem::exists(keep + "/bench-written");
  const std::string dir = keep.empty() ? ::mkdtemp(tmpl) : keep;
  uint64_t written = 0, in_hour = 0;
  if (!reuse) {
    columnar::EngineOptions options;
    options.dir = dir;
    auto engine = columnar::Engine::Open(options);
    if (!engine.ok()) {
      std::fprintf(stderr, "xray_query_bench: %s\n", engine.status().ToString().c_str());
      return 1;
    }
    waggle::model::SpanBatch batches[kWriters];
    std::atomic<uint64_t> n{0}, hour{0};
    waggle::bench::GenerateWorkload(
        total, kWriters, options_for, [&](int w, std::vector<Span>& spans) {
          uint64_t h = 0;
          for (const Span& s : spans) {
            h += s.start_ns >= from_ns && s.start_ns < to_ns;
          }
          batches[w].spans.swap(spans);
          (void)(*engine)->Write(batches[w], waggle::storage::Durability::kBuffered);
          batches[w].spans.swap(spans);
          n += spans.size();
          hour += h;
        });
    (void)(*engine)->SealHead();
    (void)(*engine)->Maintain();
    written = n.load();
    in_hour = hour.load();
    // The store just written is still being written back to disk: let that end first, so
    // that the kernel's writeback does not run during the timed queries (only the store's
    // file system: the machine may be shared).
    if (const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY); fd >= 0) {
      (void)::syncfs(fd);
      ::close(fd);
    }
    if (!keep.empty()) {
      std::FILE* f = std::fopen((keep + "/bench-written").c_str(), "w");
      if (f != nullptr) {
        std::fprintf(f, "%" PRIu64 " %" PRIu64 "\n", written, in_hour);
        std::fclose(f);
      }
    }
  } else if (std::FILE* f = std::fopen((keep + "/bench-written").c_str(), "r")) {
    if (std::fscanf(f, "%" SCNu64 " %" SCNu64, &written, &in_hour) != 2) written = in_hour = 0;
    std::fclose(f);
  }
  waggle::bench::WaggleProcess waggle;
  waggle.data_dir = dir;
  // The workload's spans are from 2023: kept forever, not removed as past retention.
  if (!waggle.Start(binary, {"--retention-hours", "0"})) {
    std::fprintf(stderr, "xray_query_bench: waggle serve did not start (%s)\n", binary.c_str());
    return 1;
  }
  waggle::bench::HttpConnection api(waggle.xray);
  const std::string range =
      "\"StartTime\":" + std::to_string(from_s) + ",\"EndTime\":" + std::to_string(to_s);
  const std::string summaries_request =
      Post("/TraceSummaries", "{" + range + ",\"FilterExpression\":\"" + kFilter + "\"}");
  const std::string graph_request = Post("/ServiceGraph", "{" + range + "}");
  std::string body;
  int status = 0;
  const double summaries_ms = TimeMs([&] { status = api.Exchange(summaries_request, &body); });
  const size_t summaries = Count(body, "\"Id\":");
  if (status != 200) std::fprintf(stderr, "GetTraceSummaries: %d %.300s\n", status, body.c_str());
  const double graph_ms = TimeMs([&] { status = api.Exchange(graph_request, &body); });
  const size_t nodes = Count(body, "\"State\":");
  const size_t graph_bytes = body.size();
  if (status != 200) std::fprintf(stderr, "GetServiceGraph: %d %.300s\n", status, body.c_str());
  const uint64_t waggle_rss = waggle.PeakRssKiB() / 1024;
  const std::string waggle_rss_now = waggle::bench::RssSplit(waggle.pid);
  waggle.Stop();
  if (keep.empty()) (void)!std::system(("rm -rf " + dir).c_str());

  std::printf("xray_query_bench: %" PRIu64 " generated spans over %.0f h, %" PRIu64
              " of them in the hour asked about\n",
              written, hours, in_hour);
  std::printf(
      "  waggle GetTraceSummaries, 3-condition filter, 1 h: %8.1f ms median of %d (%zu "
      "summaries on the first page; target 50 ms)\n",
      summaries_ms, kRepeats, summaries);
  std::printf(
      "  waggle GetServiceGraph, 1 h:                       %8.1f ms median of %d (%zu "
      "nodes, %zu bytes; target 100 ms)\n",
      graph_ms, kRepeats, nodes, graph_bytes);
  std::printf("  waggle serve peak RSS:                             %8" PRIu64
              " MiB; at the end %s\n",
              waggle_rss, waggle_rss_now.c_str());

  // --- reference: ClickHouse ---------------------------------------------------------------
  if (!reference) return 0;
  waggle::bench::ClickHouse ch;
  if (!ch.Start(clickhouse)) {
    std::fprintf(stderr, "xray_query_bench: clickhouse-server did not start (%s)\n",
                 clickhouse.c_str());
    return 0;
  }
  waggle::bench::LoadClickHouseSpans(ch, total, kWriters, options_for, "xray_query_bench");
  waggle::bench::HttpConnection sql(ch.http);
  const std::string a = std::to_string(from_ns), b = std::to_string(to_ns);
  const std::string lead = std::to_string(from_ns - 300 * kNs);
  const std::string lag = std::to_string(to_ns + 3600 * kNs);
  const std::string window = "start_ns >= " + a + " AND start_ns < " + b;
  // Traces whose id falls in the hour (the TraceId time key: a trace's first span), each
  // condition by some span, then their spans for the summaries.
  const std::string summaries_sql =
      "SELECT trace_id, min(start_ns) AS s, max(start_ns + duration_ns) - min(start_ns) AS d, "
      "max(bitAnd(status, 2)) AS fault, groupUniqArray(service) AS services, "
      "any(http_status) AS http_status FROM spans WHERE start_ns >= " +
      lead + " AND start_ns < " + lag + " AND trace_id IN (SELECT trace_id FROM spans WHERE " +
      window +
      " AND attr_values[indexOf(attr_keys, 'customer_segment')] = 'wholesale') "
      "AND trace_id IN (SELECT trace_id FROM spans WHERE " +
      window +
      " AND service = 'user-service' AND bitAnd(status, 2) != 0) "
      "GROUP BY trace_id HAVING d > 100000000 ORDER BY s DESC LIMIT 100 FORMAT TSV";
  const std::string graph_sql =
      "SELECT p.service, c.service, count(), countIf(bitAnd(c.status, 2) != 0), "
      "sum(c.duration_ns) FROM (SELECT trace_id, parent_span_id, service, status, duration_ns "
      "FROM spans WHERE " +
      window +
      ") AS c INNER JOIN (SELECT trace_id, span_id, service FROM spans WHERE start_ns >= " + lead +
      " AND start_ns < " + std::to_string(to_ns + 300 * kNs) +
      ") AS p ON c.trace_id = p.trace_id AND c.parent_span_id = p.span_id "
      "WHERE c.service != p.service GROUP BY p.service, c.service FORMAT TSV";
  const std::string nodes_sql =
      "SELECT service, count(), countIf(bitAnd(status, 2) != 0), sum(duration_ns) FROM spans "
      "WHERE " +
      window + " AND kind IN (2, 5) GROUP BY service FORMAT TSV";
  size_t ch_summaries = 0, ch_edges = 0;
  auto run = [&](const std::string& query) {
    if (sql.Exchange(Q::Query(query), &body) != 200) {
      std::fprintf(stderr, "xray_query_bench: ClickHouse: %.400s\n", body.c_str());
    }
  };
  const double ch_summaries_ms = TimeMs([&] {
    run(summaries_sql);
    ch_summaries = Count(body, "\n");
  });
  const double ch_graph_ms = TimeMs([&] {
    run(graph_sql);
    ch_edges = Count(body, "\n");
    run(nodes_sql);
  });
  ch.Stop();
  std::printf("  reference ClickHouse (same spans, same run, default threads):\n");
  std::printf(
      "    summaries SQL:       %8.1f ms (%zu rows); ratio waggle/ClickHouse %.2f "
      "(target <= 0.5)\n",
      ch_summaries_ms, ch_summaries, summaries_ms / ch_summaries_ms);
  std::printf(
      "    service graph SQL:   %8.1f ms (%zu caller/callee pairs, and the per-service "
      "counts); ratio waggle/ClickHouse %.2f (target <= 0.5)\n",
      ch_graph_ms, ch_edges, graph_ms / ch_graph_ms);
  return 0;
}
