#pragma once

#include <cstdint>

// SplitMix64 (Steele, Lea and Flood; the constants are the published ones): a cheap, well-mixed
// 64-bit hash of a 64-bit value, for ids and seeds. Unkeyed: mix ProcessHashSeed() into a value an
// adversary chooses.
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

namespace internal {
uint64_t DrawHashSeed();
}  // namespace internal

// A random value drawn once per process. In-memory hash tables whose keys clients choose (ids,
// attribute values) mix it into their hashes, so keys cannot be chosen offline to collide
// (hash flooding). Never for a hash that is stored or sent.
inline uint64_t ProcessHashSeed() {
  static const uint64_t seed = internal::DrawHashSeed();
  return seed;
}

}  // namespace waggle
