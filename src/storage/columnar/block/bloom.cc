#include "storage/columnar/block/bloom.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>

namespace waggle::storage::columnar::block {

BloomFilter BloomFilter::ForKeys(size_t keys) {
  BloomFilter f;
  const size_t bits = std::max<size_t>(512, keys * 10);
  f.bits_.assign((bits + 63) / 64 * 8, '\0');
  return f;
}

bool BloomFilter::FromBits(std::string bits, BloomFilter* out) {
  if (bits.empty() || bits.size() % 8 != 0) return false;
  out->bits_ = std::move(bits);
  return true;
}

namespace {

// Double hashing: probe i is h1 + i*h2 (Kirsch and Mitzenmacher), from one 128-bit hash.
template <typename Fn>
bool Probe(const BloomFilter::Hash& h, size_t nbits, Fn fn) {
  const uint64_t a = h.low, b = h.high | 1;
  for (int i = 0; i < BloomFilter::kProbes; ++i) {
    if (!fn((a + static_cast<uint64_t>(i) * b) % nbits)) return false;
  }
  return true;
}

}  // namespace

BloomFilter::Hash BloomFilter::HashOf(std::string_view key) {
  const XXH128_hash_t h = XXH3_128bits(key.data(), key.size());
  return {h.low64, h.high64};
}

void BloomFilter::Add(std::string_view key) { Add(HashOf(key)); }

void BloomFilter::Add(const Hash& hash) {
  Probe(hash, bits_.size() * 8, [this](uint64_t bit) {
    bits_[bit / 8] = static_cast<char>(bits_[bit / 8] | (1 << (bit % 8)));
    return true;
  });
}

bool BloomFilter::MayContain(std::string_view key) const {
  return Probe(HashOf(key), bits_.size() * 8,
               [this](uint64_t bit) { return (bits_[bit / 8] >> (bit % 8)) & 1; });
}

}  // namespace waggle::storage::columnar::block
