#include "storage/columnar/head_traces.h"

#include <algorithm>
#include <cassert>
#include <numeric>

namespace waggle::storage::columnar {

HeadTraces::Trace& HeadTraces::FindOrAdd(const model::TraceId& id) {
  bool added;
  const uint32_t i = index_.FindOrAdd(id, &added);
  if (added) traces_.emplace_back();
  return traces_[i];
}

const HeadTraces::Trace* HeadTraces::Find(const model::TraceId& id) const {
  const uint32_t i = index_.Find(id);
  return i == model::TraceIndex::kAbsent ? nullptr : &traces_[i];
}

void HeadTraces::AddRow(Trace* trace, uint32_t row) {
  assert(row == next_row_.size() && "rows are added one after another");
  next_row_.push_back(kNone);
  if (trace->last_row == kNone) {
    trace->first_row = row;
  } else {
    next_row_[trace->last_row] = row;
  }
  trace->last_row = row;
}

void HeadTraces::AddRows(const std::vector<model::TraceId>& trace_ids) {
  for (auto row = static_cast<uint32_t>(next_row_.size()); row < trace_ids.size(); ++row) {
    AddRow(&FindOrAdd(trace_ids[row]), row);
  }
}

void HeadTraces::Reserve(size_t traces, size_t rows) {
  index_.Reserve(traces);
  traces_.reserve(traces);
  next_row_.reserve(rows);
}

std::vector<uint32_t> HeadTraces::RowsByTraceAndStart(const std::vector<int64_t>& starts,
                                                      const std::vector<bool>* dropped) const {
  assert(starts.size() == next_row_.size() && "every row was added");
  // The traces are sorted (one in eight rows of the workload), then each trace's few rows,
  // which its chain gives in the order they were added: sorting every row by trace id and
  // start, as EncodeBlock did, was 2.5% of waggle serve's CPU under otlp_ingest_bench.
  std::vector<uint32_t> by_id(traces_.size());
  std::iota(by_id.begin(), by_id.end(), 0u);
  std::sort(by_id.begin(), by_id.end(),
            [&](uint32_t a, uint32_t b) { return index_.id(a) < index_.id(b); });
  std::vector<uint32_t> rows;
  rows.reserve(starts.size());
  auto by_start = [&](uint32_t a, uint32_t b) { return starts[a] < starts[b]; };
  for (const uint32_t t : by_id) {
    const auto first = static_cast<ptrdiff_t>(rows.size());
    bool sorted = true;
    for (uint32_t r = traces_[t].first_row; r != kNone; r = next_row_[r]) {
      if (dropped != nullptr && (*dropped)[r]) continue;
      if (static_cast<ptrdiff_t>(rows.size()) > first && by_start(r, rows.back())) sorted = false;
      rows.push_back(r);
    }
    if (sorted) continue;
    // Rows in a chain ascend, so a stable sort by start keeps equal starts in row order. A
    // trace's rows are few: sorted by insertion, which allocates nothing, up to 32.
    const auto begin = rows.begin() + first;
    if (rows.end() - begin > 32) {
      std::stable_sort(begin, rows.end(), by_start);
      continue;
    }
    for (auto i = begin + 1; i != rows.end(); ++i) {
      const uint32_t r = *i;
      auto j = i;
      for (; j != begin && by_start(r, *(j - 1)); --j) *j = *(j - 1);
      *j = r;
    }
  }
  return rows;
}

}  // namespace waggle::storage::columnar
