#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

// SplitMix64 (Steele, Lea and Flood; the constants are the published ones): a cheap, well-mixed
// 64-bit hash of a 64-bit value, for ids and seeds. Unkeyed: a value an adversary chooses is
// hashed with a seed (SeededHash64).
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

// 64 random bits for a seed: from the system's entropy source, or from the clock and the
// process id where there is none.
uint64_t RandomSeed();

// A random value drawn once per process. In-memory hash tables whose keys clients choose (ids,
// attribute values) mix it into their hashes, so that colliding keys cannot be worked out
// without seeing the process (hash flooding). Never for a hash that is stored or sent.
inline uint64_t ProcessHashSeed() {
  static const uint64_t seed = RandomSeed();
  return seed;
}

// The hash of a 64-bit key a client chose (a span id), keyed by a seed: for unordered maps and
// sets of such keys, where std::hash would be the key itself.
struct SeededHash64 {
  uint64_t seed = ProcessHashSeed();
  size_t operator()(uint64_t x) const { return static_cast<size_t>(MixFinalize(x ^ seed)); }
};

// The hash of a string a client chose (an X-Ray entity id, a key), keyed by the process's
// seed: for unordered maps and sets of such strings, where std::hash's seed is fixed and its
// collisions can be worked out offline. Transparent, so string_views look up std::string keys.
struct SeededStringHash {
  using is_transparent = void;
  uint64_t seed = ProcessHashSeed();
  size_t operator()(std::string_view s) const;
};

}  // namespace waggle
