// The embedded store on the generated workload, against clickhouse-server on the same spans
// in the same run (MergeTree ordered by service, name and start time, ids binary, zstd; its
// size at level 19, its best, is the bytes reference):
// bytes a span on disk, trace by id (p50/p99), a filtered scan of one column, ingest, restart
// and peak RSS.
//
//   build/bench/store_bench [--spans N] [--clickhouse /usr/sbin/clickhouse-server] [--keep]
//
// Ingest per core is spans over the CPU time the engine spent: the writers' CPU inside
// Engine::Write (the WAL's group commit syncs there) plus every other thread's CPU during ingest
// (the head's flushes into blocks, compaction), the final flush included; the generator's CPU
// is left out. ClickHouse's reference is the CPU time
// clickhouse-server spent taking the same spans (RowBinary over HTTP, not fsync'd; the
// generator's CPU is in the bench process, so left out as well). --keep leaves the store for
// `waggle inspect`. Without ClickHouse the waggle figures are printed, then "no reference",
// and the bench fails.
//
// WAGGLE_BENCH_SCAN_REPEATS=N repeats the scans N times, waggle's and ClickHouse's (best of N;
// default 3).

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "bench_util.h"
#include "span_workload.h"
#include "storage/columnar/engine.h"
#include "workload/generator.h"

namespace {

using waggle::bench::Clock;
using waggle::bench::CpuSeconds;
using waggle::bench::Seconds;
using waggle::model::Span;
namespace columnar = waggle::storage::columnar;

constexpr size_t kBatchSpans = waggle::bench::kWorkloadBatchSpans;
constexpr int kWriters = 2;
constexpr int kLookups = 2000;
constexpr int64_t kScanThresholdNs = 100'000'000;  // spans slower than 100 ms
constexpr int kClickHouseBestLevel = 19;

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

// Writer `w`'s share of the workload: whole traces from its own seed.
waggle::workload::WorkloadOptions OptionsFor(int w) {
  waggle::workload::WorkloadOptions o;
  o.seed = 1000 + w;
  o.traces_per_second = 2000;  // an hour holds about 7M traces
  return o;
}

std::vector<waggle::model::TraceId> Generate(
    uint64_t total, const std::function<void(int, std::vector<Span>&)>& sink) {
  return waggle::bench::GenerateWorkload(total, kWriters, OptionsFor, sink);
}

// The bytes of the files under `dir`, but those whose names match `exclude` (a du pattern).
uint64_t DirBytes(const std::string& dir, const std::string& exclude = "") {
  std::string out;
  const std::string flags = exclude.empty() ? "" : " --exclude='" + exclude + "'";
  FILE* p = popen(("du -sb" + flags + " " + dir + " | cut -f1").c_str(), "r");
  char buf[64] = {};
  if (p && std::fgets(buf, sizeof buf, p)) out = buf;
  if (p) pclose(p);
  return std::strtoull(out.c_str(), nullptr, 10);
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  uint64_t total = 10'000'000;
  std::string clickhouse = "/usr/sbin/clickhouse-server";
  bool keep = false;  // leave the store for `waggle inspect`
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--spans" && i + 1 < argc) total = std::strtoull(argv[++i], nullptr, 10);
    if (a == "--clickhouse" && i + 1 < argc) clickhouse = argv[++i];
    if (a == "--keep") keep = true;
  }
  char tmpl[] = "/tmp/waggle-store-bench-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  columnar::EngineOptions options;
  options.dir = dir;

  // --- ingest -----------------------------------------------------------------------------
  std::atomic<uint64_t> spans_written{0};
  double write_cpu[kWriters] = {};   // each writer's CPU inside Write
  double writer_cpu[kWriters] = {};  // each writer's CPU in all, generation included
  double engine_cpu = 0;
  std::vector<waggle::model::TraceId> sample;
  {
    auto engine = columnar::Engine::Open(options);
    if (!engine.ok()) {
      std::fprintf(stderr, "store_bench: %s\n", engine.status().ToString().c_str());
      return 1;
    }
    waggle::model::SpanBatch batches[kWriters];
    const double process_cpu0 = CpuSeconds(CLOCK_PROCESS_CPUTIME_ID);
    sample = Generate(total, [&](int w, std::vector<Span>& spans) {
      batches[w].spans.swap(spans);
      const double cpu0 = CpuSeconds(CLOCK_THREAD_CPUTIME_ID);
      waggle::Status s = (*engine)->Write(batches[w], waggle::storage::Durability::kSync);
      writer_cpu[w] = CpuSeconds(CLOCK_THREAD_CPUTIME_ID);  // each writer ends in here
      write_cpu[w] += writer_cpu[w] - cpu0;
      if (!s.ok()) std::fprintf(stderr, "write: %s\n", s.ToString().c_str());
      spans_written += batches[w].spans.size();
      batches[w].spans.swap(spans);
    });
    (void)(*engine)->SealHead();
    (void)(*engine)->Maintain();
    engine->reset();  // the engine's threads end, their CPU counted
    // Everything but the writers' generation: their Write time, the engine's own threads, and
    // this thread's final flush (the main thread only waited before it).
    engine_cpu = CpuSeconds(CLOCK_PROCESS_CPUTIME_ID) - process_cpu0;
    for (int w = 0; w < kWriters; ++w) engine_cpu -= writer_cpu[w] - write_cpu[w];
  }
  const uint64_t n = spans_written.load();
  const double per_core = n / engine_cpu;
  // WAL segment files kept to be reused (docs/wal-format.md, "Reuse") hold no spans and stay
  // at most two segments whatever the number of spans: they are counted apart.
  const uint64_t waggle_bytes = DirBytes(dir, "*.free");
  const uint64_t kept_wal_bytes = DirBytes(dir) - waggle_bytes;

  // --- restart, lookups, scan -----------------------------------------------------------
  const auto r0 = Clock::now();
  auto engine = columnar::Engine::Open(options);
  const double restart_s = Seconds(Clock::now() - r0);
  if (!engine.ok()) return 1;
  std::vector<double> lookup_ms;
  uint64_t found = 0;
  for (int i = 0; i < kLookups; ++i) {
    const auto& id = sample[i % sample.size()];
    const auto t0 = Clock::now();
    auto t = (*engine)->FetchTrace(id);
    lookup_ms.push_back(Seconds(Clock::now() - t0) * 1e3);
    found += t.ok() && !t->spans.empty();
  }
  // A filtered scan of one column through the scan API (every span is in a block by now),
  // best of scan_repeats (ClickHouse's too): a condition on duration_ns, the selection
  // vectors counted.
  waggle::storage::ScanRequest scan;
  scan.where = {waggle::storage::Condition::Range(
      waggle::storage::ColumnRef::Of(waggle::storage::IntField::kDurationNs), kScanThresholdNs,
      INT64_MAX)};
  double scan_s = 1e9;
  uint64_t slow = 0, examined = 0;
  const int scan_repeats = std::getenv("WAGGLE_BENCH_SCAN_REPEATS")
                               ? std::atoi(std::getenv("WAGGLE_BENCH_SCAN_REPEATS"))
                               : 3;
  for (int rep = 0; rep < scan_repeats; ++rep) {
    slow = 0;
    const auto t0 = Clock::now();
    auto stats = (*engine)->Scan(scan, [&](const waggle::column::ColumnBatch& batch) {
      slow += batch.selection.size();
      return true;
    });
    scan_s = std::min(scan_s, Seconds(Clock::now() - t0));
    if (!stats.ok()) {
      std::fprintf(stderr, "store_bench: scan failed: %s\n", stats.status().ToString().c_str());
      return 1;
    }
    examined = stats->rows_examined;
  }
  const uint64_t rss = waggle::bench::PeakRssKiB(::getpid()) / 1024;
  const std::string rss_now = waggle::bench::RssSplit(::getpid());
  engine->reset();  // close
  if (keep) {
    std::printf("store_bench: the store is kept in %s\n", dir.c_str());
  } else {
    (void)!std::system(("rm -rf " + dir).c_str());
  }

  std::printf("store_bench: %" PRIu64 " generated spans, %d writers, batches of %zu\n", n, kWriters,
              kBatchSpans);
  std::printf(
      "  waggle ingest (Engine::Write, fsync): %10.0f spans per CPU second (target 1,000,000 per "
      "core): %.1f "
      "CPU s in the engine, flushes and compaction included\n",
      per_core, engine_cpu);
  std::printf("  waggle bytes on disk:                 %10.1f B/span (%" PRIu64 " bytes)\n",
              static_cast<double>(waggle_bytes) / n, waggle_bytes);
  std::printf("    and %.1f MiB of WAL segment files kept for reuse, not counted above\n",
              static_cast<double>(kept_wal_bytes) / (1 << 20));
  std::printf("  waggle restart with %" PRIu64 " spans:   %10.3f s (target 1 s)\n", n, restart_s);
  std::printf("  waggle trace by id:                   p50 %.3f ms, p99 %.3f ms (%" PRIu64
              " of %d found; target p99 2 ms)\n",
              Percentile(lookup_ms, 0.5), Percentile(lookup_ms, 0.99), found, kLookups);
  std::printf("  waggle scan duration > 100 ms:        %10.0f rows/s on one core (%" PRIu64
              " match, %" PRIu64 " rows examined; target 1e9)\n",
              n / scan_s, slow, examined);
  std::printf("  peak RSS of the bench process:        %10" PRIu64
              " MiB (target 512); at the end %s\n",
              rss, rss_now.c_str());

  // --- reference: ClickHouse ---------------------------------------------------------------
  waggle::bench::ClickHouse ch;
  if (!ch.Start(clickhouse)) {
    std::fprintf(stderr, "store_bench: clickhouse-server did not start (%s)\n", clickhouse.c_str());
    std::printf("  no reference: ClickHouse did not start\n");
    ch.Stop();
    return 1;
  }
  using Q = waggle::bench::ClickHouse;
  double ch_ingest_cpu = 0;
  const double ch_ingest_s = waggle::bench::LoadClickHouseSpans(ch, total, kWriters, OptionsFor,
                                                                "store_bench", &ch_ingest_cpu);
  waggle::bench::HttpConnection query(ch.http);
  std::string body;
  query.Exchange(Q::Query("SELECT count() FROM spans"), &body);
  const uint64_t ch_rows = std::strtoull(body.c_str(), nullptr, 10);
  if (ch_rows == 0) std::fprintf(stderr, "store_bench: count: %.300s\n", body.c_str());
  const auto ch_table_bytes = [&] {
    waggle::bench::HttpConnection c(ch.http);
    uint64_t bytes = 0;
    // `bytes_on_disk`, or `bytes` in versions before it.
    for (const char* column : {"bytes_on_disk", "bytes"}) {
      if (c.Exchange(Q::Query(std::string("SELECT sum(") + column +
                              ") FROM system.parts WHERE table = 'spans' AND active"),
                     &body) == 200) {
        bytes = std::strtoull(body.c_str(), nullptr, 10);
      }
      if (bytes != 0) break;
    }
    return bytes;
  };
  const uint64_t ch_bytes = ch_table_bytes();
  std::vector<double> ch_ms;
  for (int i = 0; i < kLookups; ++i) {  // as many as waggle's, for comparable p99s
    const auto& id = sample[i % sample.size()];
    const auto t0 = Clock::now();
    query.Exchange(Q::Query("SELECT * FROM spans WHERE trace_id = unhex('" + id.ToHex() + "')"),
                   &body);
    ch_ms.push_back(Seconds(Clock::now() - t0) * 1e3);
  }
  double ch_scan_s = 1e9;
  for (int rep = 0; rep < scan_repeats; ++rep) {
    const auto t0 = Clock::now();
    query.Exchange(Q::Query("SELECT count() FROM spans WHERE duration_ns >= " +
                            std::to_string(kScanThresholdNs) + " SETTINGS max_threads = 1"),
                   &body);
    ch_scan_s = std::min(ch_scan_s, Seconds(Clock::now() - t0));
  }
  const uint64_t ch_rss = waggle::bench::PeakRssKiB(ch.pid) / 1024;
  // Restart: from starting clickhouse-server on the table until it has counted the rows
  // (waggle's figure is Engine::Open in process, so it has no process start in it).
  const double ch_restart_s = ch.Restart("SELECT count() FROM spans");
  // Its best compression: the table rewritten with zstd at level 19 (level 22 gave the same
  // size on this data, at more CPU).
  const auto t_best = Clock::now();
  const uint64_t ch_best_bytes =
      ch.Recompress(kClickHouseBestLevel, "spans") ? ch_table_bytes() : 0;
  const double ch_best_s = Seconds(Clock::now() - t_best);
  ch.Stop();
  const auto per_row = [&](uint64_t bytes) {
    return static_cast<double>(bytes) / std::max<uint64_t>(1, ch_rows);
  };
  const double waggle_per_span = static_cast<double>(waggle_bytes) / n;
  std::printf("  reference ClickHouse (%" PRIu64
              " rows: the same spans, a subset of their fields; see kClickHouseSpansTable):\n",
              ch_rows);
  if (ch_best_bytes == 0) {
    std::printf(
        "    bytes on disk: the rewrite at zstd level %d failed (see stderr); %.1f B/span with "
        "level 1, ratio waggle/ClickHouse %.2f against level 1 (target <= 0.5 against the "
        "best)\n",
        kClickHouseBestLevel, per_row(ch_bytes), waggle_per_span / per_row(ch_bytes));
  } else {
    std::printf(
        "    bytes on disk %.1f B/span with zstd level %d (restart and rewrite took %.0f s), "
        "%.1f with level 1; ratio waggle/ClickHouse %.2f against its best (target <= 0.5), "
        "%.2f against level 1\n",
        per_row(ch_best_bytes), kClickHouseBestLevel, ch_best_s, per_row(ch_bytes),
        waggle_per_span / per_row(ch_best_bytes), waggle_per_span / per_row(ch_bytes));
  }
  std::printf(
      "    trace by id p50 %.3f ms, p99 %.3f ms (table not sorted by trace id; a query over "
      "HTTP, where waggle's is a call into the engine); ratio of p99s waggle/ClickHouse %.3f\n",
      Percentile(ch_ms, 0.5), Percentile(ch_ms, 0.99),
      Percentile(lookup_ms, 0.99) / Percentile(ch_ms, 0.99));
  std::printf(
      "    scan duration >= 100 ms: %.0f rows/s on one thread; ratio waggle/ClickHouse %.2f\n",
      ch_rows / ch_scan_s, (n / scan_s) / (ch_rows / ch_scan_s));
  const double ch_per_core = ch_ingest_cpu > 0 ? ch_rows / ch_ingest_cpu : 0;
  std::printf(
      "    ingest (RowBinary over HTTP, 64 MiB inserts, not fsync'd): %.0f rows/s with "
      "generation; %.0f rows per CPU second of clickhouse-server, parsing RowBinary included "
      "(waggle's Engine::Write takes spans already decoded); ratio waggle/ClickHouse per core "
      "%.2f\n",
      ch_rows / ch_ingest_s, ch_per_core, ch_per_core > 0 ? per_core / ch_per_core : 0);
  if (ch_restart_s > 0) {
    std::printf(
        "    restart %.3f s (a process start until it answers a count; waggle's figure has no "
        "process start in it); ratio waggle/ClickHouse %.3f\n",
        ch_restart_s, restart_s / ch_restart_s);
  } else {
    std::printf("    restart: no reference, clickhouse-server did not start again\n");
  }
  std::printf("    peak RSS %" PRIu64 " MiB; ratio waggle/ClickHouse %.2f\n", ch_rss,
              static_cast<double>(rss) / static_cast<double>(std::max<uint64_t>(1, ch_rss)));
  return ch_restart_s > 0 ? 0 : 1;
}
