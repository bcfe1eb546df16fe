#include "storage/columnar/head_traces.h"

#include <cassert>

namespace waggle::storage::columnar {

size_t HeadTraces::SlotOf(const model::TraceId& id) const {
  const size_t mask = slots_.size() - 1;
  for (size_t at = hash_(id) & mask;; at = (at + 1) & mask) {
    const uint32_t slot = slots_[at];
    if (slot == 0 || traces_[slot - 1].id == id) return at;
  }
}

void HeadTraces::Rehash(size_t slots) {
  slots_.assign(slots, 0);
  const size_t mask = slots_.size() - 1;
  for (uint32_t i = 0; i < traces_.size(); ++i) {
    size_t at = hash_(traces_[i].id) & mask;
    while (slots_[at] != 0) at = (at + 1) & mask;
    slots_[at] = i + 1;
  }
}

HeadTraces::Trace& HeadTraces::FindOrAdd(const model::TraceId& id) {
  if (slots_.empty()) Rehash(64);
  const size_t at = SlotOf(id);
  if (slots_[at] != 0) return traces_[slots_[at] - 1];
  Trace& t = traces_.emplace_back();
  t.id = id;
  slots_[at] = static_cast<uint32_t>(traces_.size());
  if (traces_.size() * 2 > slots_.size()) Rehash(slots_.size() * 2);  // at most half full
  return t;
}

const HeadTraces::Trace* HeadTraces::Find(const model::TraceId& id) const {
  if (slots_.empty()) return nullptr;
  const uint32_t slot = slots_[SlotOf(id)];
  return slot == 0 ? nullptr : &traces_[slot - 1];
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

RowsByTrace HeadTraces::Grouped() const {
  RowsByTrace g;
  g.start.reserve(traces_.size() + 1);
  g.rows.reserve(next_row_.size());
  for (const Trace& t : traces_) {
    for (uint32_t r = t.first_row; r != kNone; r = next_row_[r]) g.rows.push_back(r);
    g.start.push_back(static_cast<uint32_t>(g.rows.size()));
  }
  return g;
}

void HeadTraces::Reserve(size_t traces, size_t rows) {
  traces_.reserve(traces);
  next_row_.reserve(rows);
  size_t slots = 64;
  while (slots < 2 * traces) slots *= 2;
  if (slots > slots_.size()) Rehash(slots);
}

}  // namespace waggle::storage::columnar
