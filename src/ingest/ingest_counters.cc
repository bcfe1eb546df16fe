#include "ingest/ingest_counters.h"

namespace waggle::ingest {
namespace {

size_t IndexOf(std::string_view reason) {
  for (size_t i = 0; i < RejectionCounters::kReasons.size(); ++i) {
    if (RejectionCounters::kReasons[i] == reason) return i;
  }
  return RejectionCounters::kReasons.size() - 1;  // "other"
}

}  // namespace

void RejectionCounters::Add(std::string_view reason, uint64_t n) {
  counts_[IndexOf(reason)].fetch_add(n, std::memory_order_relaxed);
}

uint64_t RejectionCounters::Get(std::string_view reason) const {
  return counts_[IndexOf(reason)].load(std::memory_order_relaxed);
}

uint64_t RejectionCounters::Total() const {
  uint64_t total = 0;
  for (const auto& c : counts_) total += c.load(std::memory_order_relaxed);
  return total;
}

}  // namespace waggle::ingest
