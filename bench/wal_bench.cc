// The write-ahead log in-process: appends of OTLP-request-sized records, each synced, as
// `waggle serve` logs a request of 512 spans (about 240 KiB), with segments retired as blocks
// are written. The figure is CPU seconds with segment files reused (WalOptions::
// reused_segments, what the store does); the same-run reference is the same appends into new
// files (reused_segments 0). The two take turns, and each figure is the best of the rounds.
//
// Then recovery: opening a log whose one 64 MiB segment has its middle 32 MiB damaged, by
// random bytes and by bytes that look like record headers at every offset (0x01 bytes: a
// length of 16 MiB that fits, a known type). The same-run reference is opening the segment
// intact, which reads and checks every byte once: damage should cost about as much.
//
//   build/bench/wal_bench [--records N] [--rounds R]

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "base/env.h"
#include "bench_util.h"
#include "storage/columnar/wal/wal.h"

namespace {

using waggle::bench::Clock;
using waggle::bench::CpuSeconds;
using waggle::bench::Seconds;
using waggle::storage::columnar::Wal;
using waggle::storage::columnar::WalOptions;
using waggle::storage::columnar::WalPosition;
using waggle::storage::columnar::WalRecordType;

struct Run {
  double cpu_s = 0, wall_s = 0;
};

// Appends `records` synced records of `record` to the log in `dir` (opened first, untimed),
// keeping up to `reused` retired segments, and retiring every segment but the open one after
// each rotation (as a block written does).
Run AppendAll(const std::string& dir, size_t reused, int records, const std::string& record) {
  WalOptions options;
  options.dir = dir;
  options.reused_segments = reused;
  waggle::storage::columnar::WalRecoveryStats stats;
  auto wal = Wal::Open(
      options, [](const WalPosition&, WalRecordType, std::string_view) {}, &stats);
  if (!wal.ok()) {
    std::fprintf(stderr, "wal_bench: %s\n", wal.status().ToString().c_str());
    std::exit(1);
  }
  std::vector<WalPosition> positions;
  uint32_t segment = (*wal)->current_segment();
  const double cpu0 = CpuSeconds(CLOCK_PROCESS_CPUTIME_ID);
  const auto t0 = Clock::now();
  for (int i = 0; i < records; ++i) {
    const auto s = (*wal)->Append(WalRecordType::kSpanSource, {record}, true, &positions);
    if (!s.ok()) {
      std::fprintf(stderr, "wal_bench: %s\n", s.ToString().c_str());
      std::exit(1);
    }
    if ((*wal)->current_segment() != segment) {
      segment = (*wal)->current_segment();
      (void)(*wal)->RemoveSegmentsBelow(segment);
    }
  }
  return {CpuSeconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0, Seconds(Clock::now() - t0)};
}

// Seconds to open the log in `dir` (replaying it), and the records replayed.
double OpenSeconds(const std::string& dir, uint64_t* records) {
  WalOptions options;
  options.dir = dir;
  waggle::storage::columnar::WalRecoveryStats stats;
  const auto t0 = Clock::now();
  auto wal = Wal::Open(
      options, [](const WalPosition&, WalRecordType, std::string_view) {}, &stats);
  const double s = Seconds(Clock::now() - t0);
  if (!wal.ok()) {
    std::fprintf(stderr, "wal_bench: %s\n", wal.status().ToString().c_str());
    std::exit(1);
  }
  *records = stats.records;
  return s;
}

// Recovery of a damaged segment; prints its lines.
void Recovery(const std::string& base, const std::string& record, int rounds) {
  // One full segment of records, written by the log.
  const std::string made = base + "/made";
  AppendAll(made, 0, static_cast<int>((64 << 20) / record.size()), record);
  waggle::Env* env = waggle::Env::Default();
  auto check = [](const waggle::Status& s) {
    if (!s.ok()) {
      std::fprintf(stderr, "wal_bench: %s\n", s.ToString().c_str());
      std::exit(1);
    }
  };
  std::string segment;
  check(env->ReadFile(made + "/00000001.wal", &segment));
  auto place = [&](const std::string& name, const std::string& bytes) {
    const std::string dir = base + "/" + name;
    check(env->CreateDirs(dir));
    check(env->WriteFileAtomic(dir + "/00000001.wal", bytes));
    return dir;
  };
  const size_t lo = segment.size() / 4, hi = lo + segment.size() / 2;
  std::string random_bytes = segment, header_bytes = segment;
  std::mt19937_64 rng(1);
  for (size_t i = lo; i < hi; ++i) {
    random_bytes[i] = static_cast<char>(rng());
    header_bytes[i] = 1;
  }
  double intact = 1e18, random = 1e18, headers = 1e18;
  uint64_t n_intact = 0, n_random = 0, n_headers = 0;
  for (int r = 0; r < rounds; ++r) {
    // Placed again each round: opening cuts a torn tail, and the next opening would see less.
    intact = std::min(intact, OpenSeconds(place("intact", segment), &n_intact));
    random = std::min(random, OpenSeconds(place("random", random_bytes), &n_random));
    headers = std::min(headers, OpenSeconds(place("headers", header_bytes), &n_headers));
  }
  std::printf("wal_bench: opening a %.0f MiB segment with its middle %.0f MiB damaged\n",
              static_cast<double>(segment.size()) / (1 << 20),
              static_cast<double>(hi - lo) / (1 << 20));
  std::printf("  intact (reference):             %6.3f s (%" PRIu64 " records)\n", intact,
              n_intact);
  std::printf("  damaged by random bytes:        %6.3f s (%" PRIu64 " records); ratio %.2f\n",
              random, n_random, random / intact);
  std::printf("  damaged by header-like bytes:   %6.3f s (%" PRIu64 " records); ratio %.2f\n",
              headers, n_headers, headers / intact);
}

}  // namespace

int main(int argc, char** argv) {
  int records = 2000, rounds = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--records" && i + 1 < argc) records = std::atoi(argv[++i]);
    if (a == "--rounds" && i + 1 < argc) rounds = std::atoi(argv[++i]);
  }
  // Beside the binary, on the build's disk as a data dir would be (a tmpfs would allocate
  // nothing). Each mode keeps its own log across rounds: the reusing one starts each round with
  // the files the one before kept, as a running store does.
  const std::string base =
      (std::filesystem::absolute(argv[0]).parent_path() / "wal-bench.tmp").string();
  const std::string reuse_dir = base + "/reused", fresh_dir = base + "/new";
  std::filesystem::remove_all(base);
  const std::string record(240 << 10, 'r');
  AppendAll(reuse_dir, 2, records / 2, record);  // fills the kept files; not counted
  Run reused{1e18, 1e18}, fresh{1e18, 1e18};
  for (int r = 0; r < rounds; ++r) {
    for (bool reuse : {r % 2 == 0, r % 2 != 0}) {
      const Run run = AppendAll(reuse ? reuse_dir : fresh_dir, reuse ? 2 : 0, records, record);
      Run& best = reuse ? reused : fresh;
      if (run.cpu_s < best.cpu_s) best = run;
    }
  }
  const double mib = static_cast<double>(records) * static_cast<double>(record.size()) / (1 << 20);
  std::printf(
      "wal_bench: %d records of %zu KiB, each synced (%.0f MiB), 64 MiB segments, best of "
      "%d rounds\n",
      records, record.size() >> 10, mib, rounds);
  std::printf("  segment files reused:           %6.3f CPU s (%5.2f s wall)\n", reused.cpu_s,
              reused.wall_s);
  std::printf("  new files (reference):          %6.3f CPU s (%5.2f s wall); ratio %.2f\n",
              fresh.cpu_s, fresh.wall_s, reused.cpu_s / fresh.cpu_s);
  Recovery(base, record, rounds);
  std::filesystem::remove_all(base);
  return 0;
}
