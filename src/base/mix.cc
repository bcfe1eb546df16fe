#include "base/mix.h"

#include <random>

namespace waggle::internal {

uint64_t DrawHashSeed() {
  std::random_device rd;
  return (uint64_t{rd()} << 32) ^ rd();
}

}  // namespace waggle::internal
