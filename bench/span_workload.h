#pragma once

// What the benchmarks on the generated workload share: generating it on several threads, and
// loading the same spans into clickhouse-server (its table and RowBinary rows).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench_util.h"
#include "model/span.h"
#include "workload/generator.h"

namespace waggle::bench {

// Whole traces in batches of about kWorkloadBatchSpans.
inline constexpr size_t kWorkloadBatchSpans = 4096;

// Runs `writers` generators, writer w with options_for(w), until they made `total` spans
// between them, handing each batch to sink(w, spans) on writer w's thread (the sink may take
// the spans). Returns about one trace id in 2000, for lookups.
std::vector<model::TraceId> GenerateWorkload(
    uint64_t total, int writers, const std::function<workload::WorkloadOptions(int)>& options_for,
    const std::function<void(int, std::vector<model::Span>&)>& sink);

// The in-process benchmarks' arguments: --spans N (default `default_spans`) and --rounds R
// (default 5, at least 1).
struct InProcessArgs {
  size_t spans;
  int rounds;
};
InProcessArgs ParseInProcessArgs(int argc, char** argv, size_t default_spans);

// Whole generated traces until there are at least `total` spans: the same spans every run.
std::vector<model::Span> GeneratedSpans(size_t total);

// The spans table of the ClickHouse references: MergeTree ordered by service, name and start
// time, ids binary, attributes as two arrays (keys and values as text).
inline constexpr const char* kClickHouseSpansTable =
    "CREATE TABLE spans (trace_id FixedString(16), span_id UInt64, parent_span_id UInt64, "
    "service String, name String, kind UInt8, start_ns UInt64, duration_ns Int64, "
    "status UInt8, http_method String, http_route String, http_status UInt16, "
    "attr_keys Array(String), attr_values Array(String)) "
    "ENGINE = MergeTree() ORDER BY (service, name, start_ns)";

// Appends the span as a RowBinary row of that table.
void AppendRowBinary(const model::Span& s, std::string* out);

// Creates that table in `ch` and loads GenerateWorkload(total, writers, options_for) into it
// (RowBinary over HTTP, inserts of 64 MiB, not fsync'd), then merges it (OPTIMIZE FINAL);
// returns the seconds the load took, generation included and the merge not, and sets
// *server_cpu_s (when given) to the CPU seconds clickhouse-server spent on it, its merges until
// it went idle included. Failures are reported on stderr under `who`.
double LoadClickHouseSpans(const ClickHouse& ch, uint64_t total, int writers,
                           const std::function<workload::WorkloadOptions(int)>& options_for,
                           const char* who, double* server_cpu_s = nullptr);

}  // namespace waggle::bench
