#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

// A Bloom filter over byte strings: about 1% false positives at 10 bits a key, no false
// negatives (docs/block-format.md, "Bloom filters").
namespace waggle::storage::columnar::block {

class BloomFilter {
 public:
  static constexpr int kProbes = 7;

  // A filter sized for `keys` keys.
  static BloomFilter ForKeys(size_t keys);
  // A filter over stored bits; false when they are not a whole number of 64-bit words.
  static bool FromBits(std::string bits, BloomFilter* out);

  // A key's 128-bit hash, from which its probes are taken: equal for equal keys, so a writer
  // can hash each key once, drop repeats by their hashes, and size the filter before adding.
  struct Hash {
    uint64_t low = 0, high = 0;
    auto operator<=>(const Hash&) const = default;
  };
  static Hash HashOf(std::string_view key);

  void Add(std::string_view key);
  void Add(const Hash& hash);
  bool MayContain(std::string_view key) const;
  const std::string& bits() const { return bits_; }

 private:
  std::string bits_;  // a multiple of 8 bytes, never empty
};

}  // namespace waggle::storage::columnar::block
