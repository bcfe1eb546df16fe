#include "base/mix.h"

#include <unistd.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <chrono>
#include <exception>
#include <random>

namespace waggle {

uint64_t RandomSeed() {
  try {
    std::random_device rd;
    return (uint64_t{rd()} << 32) ^ rd();
  } catch (const std::exception&) {
    // No entropy source (a sandbox without getrandom or /dev/urandom): the clock and the
    // process id still differ from one process to the next.
    const auto now = std::chrono::high_resolution_clock::now().time_since_epoch().count();
    return Mix64(static_cast<uint64_t>(now)) ^ Mix64(static_cast<uint64_t>(::getpid()));
  }
}

size_t SeededStringHash::operator()(std::string_view s) const {
  return static_cast<size_t>(XXH3_64bits_withSeed(s.data(), s.size(), seed));
}

}  // namespace waggle
