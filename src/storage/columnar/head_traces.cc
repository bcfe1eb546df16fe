#include "storage/columnar/head_traces.h"

#include <cassert>

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

void HeadTraces::Reserve(size_t traces, size_t rows) {
  index_.Reserve(traces);
  traces_.reserve(traces);
  next_row_.reserve(rows);
}

}  // namespace waggle::storage::columnar
