// The store's two in-memory phases of ingest on one head's worth of generated spans, in-process:
// SpanTable::Append (the head taking spans) and EncodeBlock (the head written as a block).
// Append is timed twice in each round: into a table reserved like the last head
// (SpanTable::ReserveLike, what the engine does) and, as the same-run reference, into a table
// that starts empty, the two taking turns to go first. EncodeBlock is given the rows in block
// order as the engine gives them (HeadTraces::RowsByTraceAndStart), and timed with it. Its
// same-run reference is the least any encoder of the block's layout does: put the rows in that
// order the same way, then read each value of every column once, in that order. Each figure is
// the best of the rounds.
//
//   build/bench/head_bench [--spans N] [--rounds R]

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "bench_util.h"
#include "span_workload.h"
#include "storage/columnar/block/block.h"
#include "storage/columnar/head_traces.h"
#include "storage/columnar/span_table.h"

namespace {

using waggle::bench::Clock;
using waggle::bench::Seconds;
using waggle::model::Span;
using waggle::storage::IntField;
using waggle::storage::columnar::HeadTraces;
using waggle::storage::columnar::SpanTable;
namespace block = waggle::storage::columnar::block;

// ns a span of appending `spans` to `table`.
double AppendNs(const std::vector<Span>& spans, SpanTable* table) {
  const auto t0 = Clock::now();
  for (const Span& s : spans) table->Append(s);
  return Seconds(Clock::now() - t0) * 1e9 / static_cast<double>(spans.size());
}

// The rows in block order, as the engine gives them to EncodeBlock (from its HeadTraces).
std::vector<uint32_t> BlockOrder(const SpanTable& t, const HeadTraces& traces) {
  return traces.RowsByTraceAndStart(t.ints_of(IntField::kStartNs), nullptr);
}

// ns a span of EncodeBlock's reference: the rows put in block order (by trace id, then start)
// as the engine does, and each value of every column read once, a column at a time (the ids
// and well-known fields through that order; the attributes entry by entry).
double TraceOrderReadNs(const SpanTable& t, const HeadTraces& traces, uint64_t* checksum) {
  const auto t0 = Clock::now();
  const std::vector<uint32_t> order = BlockOrder(t, traces);
  uint64_t sum = 0;
  for (uint32_t r : order) sum += t.trace_ids[r].bytes[15];
  for (uint32_t r : order) sum += t.span_ids[r].value;
  for (uint32_t r : order) sum += t.parent_ids[r].value;
  for (const auto& column : t.strings) {
    for (uint32_t r : order) sum += column.codes[r];
  }
  for (const auto& column : t.ints) {
    for (uint32_t r : order) sum += static_cast<uint64_t>(column[r]);
  }
  for (const auto& a : t.attributes) {
    for (uint32_t row : a.rows) sum += row;
    for (uint32_t code : a.strings.codes) sum += code;
    for (int64_t v : a.ints) sum += static_cast<uint64_t>(v);
    sum += a.doubles.size();
  }
  *checksum += sum;
  return Seconds(Clock::now() - t0) * 1e9 / static_cast<double>(t.size());
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  // 150k spans: about what a 64 MiB head holds of this workload.
  const auto [total, rounds] = waggle::bench::ParseInProcessArgs(argc, argv, 150'000);
  const std::vector<Span> spans = waggle::bench::GeneratedSpans(total);

  // The block's trace table, as the engine gives it.
  std::map<waggle::model::TraceId, block::TraceEntry> by_trace;
  for (const Span& s : spans) {
    auto [it, added] = by_trace.try_emplace(s.trace_id);
    block::TraceEntry& e = it->second;
    if (added) e.seq = by_trace.size();  // order of first arrival, as the engine's arrival is
    e.id = s.trace_id;
    e.min_start_ns = std::min(e.min_start_ns, s.start_ns);
    e.max_end_ns = std::max({e.max_end_ns, s.start_ns, s.end_ns});
  }
  std::vector<block::TraceEntry> traces;
  for (const auto& [id, e] : by_trace) traces.push_back(e);

  double fresh = 1e18, reserved = 1e18, encode = 1e18, read = 1e18;
  size_t block_bytes = 0;
  uint64_t checksum = 0;  // printed, so the reference's reads are not optimized away
  auto last = std::make_unique<SpanTable>();  // the head before: what the next is sized like
  AppendNs(spans, last.get());
  for (int r = 0; r < rounds; ++r) {
    // The two appends alternate which goes first: the second may reuse pages the first freed.
    auto from_empty = [&] {
      auto empty = std::make_unique<SpanTable>();
      fresh = std::min(fresh, AppendNs(spans, empty.get()));
    };
    if (r % 2 == 0) from_empty();
    auto next = std::make_unique<SpanTable>();
    next->ReserveLike(*last);
    reserved = std::min(reserved, AppendNs(spans, next.get()));
    if (r % 2 == 1) from_empty();
    // The head's traces, as the engine keeps them while it appends.
    HeadTraces head_traces;
    head_traces.AddRows(next->trace_ids);
    block::BlockContents contents;
    contents.spans = next.get();
    contents.traces = traces;
    const auto t0 = Clock::now();
    const std::vector<uint32_t> order = BlockOrder(*next, head_traces);
    contents.rows = &order;
    const std::string encoded = block::EncodeBlock(contents, block::WriteOptions{});
    encode = std::min(encode, Seconds(Clock::now() - t0) * 1e9 / static_cast<double>(spans.size()));
    block_bytes = encoded.size();
    read = std::min(read, TraceOrderReadNs(*next, head_traces, &checksum));
    last = std::move(next);
  }
  std::printf("head_bench: %zu generated spans (%zu traces), best of %d rounds\n", spans.size(),
              traces.size(), rounds);
  std::printf("  SpanTable::Append, reserved like the last head: %7.0f ns/span\n", reserved);
  std::printf("  SpanTable::Append, from empty (reference):      %7.0f ns/span; ratio %.2f\n",
              fresh, reserved / fresh);
  std::printf("  EncodeBlock:                                     %7.0f ns/span (%.1f B/span)\n",
              encode, static_cast<double>(block_bytes) / static_cast<double>(spans.size()));
  std::printf(
      "  block order + one read of each value (reference):   %4.0f ns/span; ratio %.2f "
      "(checksum %" PRIx64 ")\n",
      read, encode / read, checksum);
  return 0;
}
