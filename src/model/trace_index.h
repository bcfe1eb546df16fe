#pragma once

#include <cstdint>
#include <vector>

#include "model/ids.h"

namespace waggle::model {

// Trace ids numbered 0, 1, 2... in the order each first comes, found through an
// open-addressing table (at most half full, its hash seeded as clients choose trace ids):
// grouping by trace with no allocation per id (the head's traces, a batch's fragments, a log
// batch's groups). Thread-compatible.
class TraceIndex {
 public:
  static constexpr uint32_t kAbsent = UINT32_MAX;

  // The number of `id`: size(), and added, when new (then *added is set, when given).
  uint32_t FindOrAdd(const TraceId& id, bool* added = nullptr);
  // The number of `id`, or kAbsent.
  uint32_t Find(const TraceId& id) const;
  const TraceId& id(uint32_t number) const { return ids_[number]; }
  size_t size() const { return ids_.size(); }
  // Room for `ids` ids.
  void Reserve(size_t ids);
  // Empties it, keeping its room.
  void Clear();

 private:
  // The slot that holds `id`, or the empty one where it would go.
  size_t SlotOf(const TraceId& id) const;
  // Sets the table's size to `slots` (a power of two) and places every id again.
  void Rehash(size_t slots);

  std::vector<TraceId> ids_;     // by number
  std::vector<uint32_t> slots_;  // an id's number + 1, 0 when empty; a power of two
  TraceIdHash hash_;
};

}  // namespace waggle::model
