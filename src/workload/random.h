#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>

#include "base/mix.h"

// The workload's pseudo-random numbers: xoshiro256** seeded through splitmix64, with our own
// normal and lognormal draws, so a seed gives the same numbers with every standard library
// (std:: distributions do not promise that).
namespace waggle::workload {

// Thread-compatible: one per thread.
class Random {
 public:
  explicit Random(uint64_t seed) {
    for (uint64_t& s : s_) s = SplitMix64Next(&seed);
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, 1), 53 bits.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n) for n > 0 (Lemire's multiply; the bias is below 2^-40 for our n).
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
  bool Chance(double p) { return Uniform() < p; }
  // Standard normal by Box-Muller (one of the pair; the other is dropped to keep no state).
  double Normal() {
    const double u1 = 1.0 - Uniform();  // (0, 1]: log(u1) is finite
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }
  // Lognormal with the given median and shape: median * e^(sigma * N(0, 1)).
  double LogNormal(double median, double sigma) { return median * std::exp(sigma * Normal()); }
  // Exponential with the given mean.
  double Exponential(double mean) { return -std::log(1.0 - Uniform()) * mean; }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace waggle::workload
