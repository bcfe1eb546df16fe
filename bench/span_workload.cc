#include "span_workload.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>

#include "base/coding.h"

namespace waggle::bench {
namespace {

void RbString(std::string* o, std::string_view s) {
  coding::PutVarint64(o, s.size());
  o->append(s);
}

template <typename T>
void RbFixed(std::string* o, T v) {
  o->append(reinterpret_cast<const char*>(&v), sizeof v);
}

}  // namespace

InProcessArgs ParseInProcessArgs(int argc, char** argv, size_t default_spans) {
  InProcessArgs args{default_spans, 5};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--spans" && i + 1 < argc) args.spans = std::strtoull(argv[++i], nullptr, 10);
    if (a == "--rounds" && i + 1 < argc) args.rounds = std::max(1, std::atoi(argv[++i]));
  }
  return args;
}

std::vector<model::Span> GeneratedSpans(size_t total) {
  workload::WorkloadOptions options;
  options.seed = 1000;
  options.traces_per_second = 2000;
  workload::Generator generator(options);
  std::vector<model::Span> spans;
  while (spans.size() < total) generator.NextTrace(&spans);
  return spans;
}

std::vector<model::TraceId> GenerateWorkload(
    uint64_t total, int writers, const std::function<workload::WorkloadOptions(int)>& options_for,
    const std::function<void(int, std::vector<model::Span>&)>& sink) {
  std::vector<model::TraceId> sample;
  std::mutex mu;
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      workload::Generator gen(options_for(w));
      std::mt19937_64 rng(w);
      std::vector<model::Span> batch, trace;
      uint64_t written = 0;
      const uint64_t share = total / writers;
      while (written < share) {
        batch.clear();
        while (batch.size() < kWorkloadBatchSpans) {
          trace.clear();
          gen.NextTrace(&trace);
          if (rng() % 2000 == 0) {
            std::lock_guard<std::mutex> l(mu);
            sample.push_back(trace[0].trace_id);
          }
          for (auto& s : trace) batch.push_back(std::move(s));
        }
        written += batch.size();
        sink(w, batch);
      }
    });
  }
  for (auto& t : threads) t.join();
  return sample;
}

void AppendRowBinary(const model::Span& s, std::string* o) {
  o->append(reinterpret_cast<const char*>(s.trace_id.bytes.data()), 16);
  RbFixed<uint64_t>(o, s.span_id.value);
  RbFixed<uint64_t>(o, s.parent_span_id.value);
  RbString(o, s.service);
  RbString(o, s.name);
  RbFixed<uint8_t>(o, static_cast<uint8_t>(s.kind));
  RbFixed<uint64_t>(o, static_cast<uint64_t>(s.start_ns));
  RbFixed<int64_t>(o, s.end_ns - s.start_ns);
  RbFixed<uint8_t>(o, s.status_flags);
  RbString(o, s.http_method);
  RbString(o, s.http_route);
  RbFixed<uint16_t>(o, static_cast<uint16_t>(s.http_status));
  coding::PutVarint64(o, s.attributes.size());
  for (const auto& a : s.attributes) RbString(o, a.key);
  coding::PutVarint64(o, s.attributes.size());
  for (const auto& a : s.attributes) {
    if (a.value.type == model::AttributeValue::Type::kInt ||
        a.value.type == model::AttributeValue::Type::kBool) {
      RbString(o, std::to_string(a.value.int_value));
    } else if (a.value.type == model::AttributeValue::Type::kDouble) {
      RbString(o, std::to_string(a.value.double_value));
    } else {
      RbString(o, a.value.string_value);
    }
  }
}

double LoadClickHouseSpans(const ClickHouse& ch, uint64_t total, int writers,
                           const std::function<workload::WorkloadOptions(int)>& options_for,
                           const char* who, double* server_cpu_s) {
  std::string answer;
  {
    HttpConnection setup(ch.http);
    if (setup.Exchange(ClickHouse::Query(kClickHouseSpansTable), &answer) != 200) {
      std::fprintf(stderr, "%s: CREATE TABLE failed: %.300s\n", who, answer.c_str());
    }
  }
  // A connection per insert: the server closes idle keep-alive connections after 3 s.
  auto insert = [&](const std::string& rows) {
    HttpConnection c(ch.http);
    std::string out;
    if (c.Exchange(ClickHouse::Query("INSERT INTO spans FORMAT RowBinary", rows), &out) != 200) {
      std::fprintf(stderr, "%s: insert failed: %.300s\n", who, out.c_str());
    }
  };
  std::vector<std::string> rows(static_cast<size_t>(writers));
  const double cpu0 = ProcessCpuSeconds(ch.pid);
  const auto t0 = Clock::now();
  GenerateWorkload(total, writers, options_for, [&](int w, std::vector<model::Span>& spans) {
    for (const model::Span& s : spans) AppendRowBinary(s, &rows[w]);
    if (rows[w].size() > (64 << 20)) {
      insert(rows[w]);
      rows[w].clear();
    }
  });
  for (const std::string& r : rows) {
    if (!r.empty()) insert(r);
  }
  const double seconds = Seconds(Clock::now() - t0);
  // Its background merges of the inserted parts included, as waggle's flushes are: the CPU is
  // read once the server has gone idle (the OPTIMIZE below is not counted).
  if (server_cpu_s != nullptr) *server_cpu_s = ProcessCpuSecondsWhenIdle(ch.pid) - cpu0;
  // Merged into one part for the query figures, outside the ingest time (still at the level it
  // was loaded at; store_bench rewrites it at its best for the size).
  HttpConnection(ch.http).Exchange(ClickHouse::Query("OPTIMIZE TABLE spans FINAL"));
  return seconds;
}

}  // namespace waggle::bench
