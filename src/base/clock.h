#pragma once

#include <atomic>
#include <cstdint>

namespace waggle {

// Time source, injected so tests can control it. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // Nanoseconds since the Unix epoch (wall clock).
  virtual int64_t NowNanos() const = 0;
  // The process-wide real clock.
  static Clock* Real();
};

// A clock that moves only when told to. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t now_nanos) : now_(now_nanos) {}
  int64_t NowNanos() const override { return now_.load(std::memory_order_relaxed); }
  void Set(int64_t now_nanos) { now_.store(now_nanos, std::memory_order_relaxed); }
  void Advance(int64_t nanos) { now_.fetch_add(nanos, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_;
};

constexpr int64_t kNanosPerSecond = 1'000'000'000;

inline double NanosToSeconds(int64_t ns) { return static_cast<double>(ns) / kNanosPerSecond; }

// How long something from start_ns to end_ns took: 0 when it did not end after it started (in
// progress, or times a client got wrong), at most INT64_MAX, and without overflow whatever the
// times are.
inline int64_t ElapsedNs(int64_t start_ns, int64_t end_ns) {
  if (end_ns <= start_ns) return 0;
  const uint64_t d = static_cast<uint64_t>(end_ns) - static_cast<uint64_t>(start_ns);
  return d > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(d);
}

}  // namespace waggle
