#pragma once

#include <cstdint>

// SplitMix64 (Steele, Lea and Flood; the constants are the published ones): a cheap, well-mixed
// 64-bit hash of a 64-bit value, for ids and seeds, not for anything an adversary chooses.
namespace waggle {

inline constexpr uint64_t kGoldenGamma = 0x9e3779b97f4a7c15ull;

// SplitMix64's output function alone.
inline uint64_t MixFinalize(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// The SplitMix64 output for state `x`: x advanced by the gamma, then mixed (a hash of x).
inline uint64_t Mix64(uint64_t x) { return MixFinalize(x + kGoldenGamma); }

// SplitMix64's next output, advancing the generator's state.
inline uint64_t SplitMix64Next(uint64_t* state) { return MixFinalize(*state += kGoldenGamma); }

}  // namespace waggle
