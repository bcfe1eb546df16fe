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

}  // namespace waggle
