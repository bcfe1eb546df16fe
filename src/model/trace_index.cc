#include "model/trace_index.h"

#include <algorithm>

namespace waggle::model {

size_t TraceIndex::SlotOf(const TraceId& id) const {
  const size_t mask = slots_.size() - 1;
  for (size_t at = hash_(id) & mask;; at = (at + 1) & mask) {
    const uint32_t slot = slots_[at];
    if (slot == 0 || ids_[slot - 1] == id) return at;
  }
}

void TraceIndex::Rehash(size_t slots) {
  slots_.assign(slots, 0);
  const size_t mask = slots_.size() - 1;
  for (uint32_t i = 0; i < ids_.size(); ++i) {
    size_t at = hash_(ids_[i]) & mask;
    while (slots_[at] != 0) at = (at + 1) & mask;
    slots_[at] = i + 1;
  }
}

uint32_t TraceIndex::FindOrAdd(const TraceId& id, bool* added) {
  if (slots_.empty()) Rehash(64);
  const size_t at = SlotOf(id);
  if (added != nullptr) *added = slots_[at] == 0;
  if (slots_[at] != 0) return slots_[at] - 1;
  ids_.push_back(id);
  slots_[at] = static_cast<uint32_t>(ids_.size());
  if (ids_.size() * 2 > slots_.size()) Rehash(slots_.size() * 2);
  return static_cast<uint32_t>(ids_.size() - 1);
}

uint32_t TraceIndex::Find(const TraceId& id) const {
  if (slots_.empty()) return kAbsent;
  const uint32_t slot = slots_[SlotOf(id)];
  return slot == 0 ? kAbsent : slot - 1;
}

void TraceIndex::Reserve(size_t ids) {
  ids_.reserve(ids);
  size_t slots = 64;
  while (slots < 2 * ids) slots *= 2;
  if (slots > slots_.size()) Rehash(slots);
}

void TraceIndex::Clear() {
  ids_.clear();
  std::fill(slots_.begin(), slots_.end(), 0);
}

}  // namespace waggle::model
