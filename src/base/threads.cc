#include "base/threads.h"

#include <thread>

namespace waggle {

void RunHalves(const std::function<void(int half)>& fn, bool split) {
  static const bool cores = std::thread::hardware_concurrency() > 1;
  if (!split || !cores) {
    fn(0);
    fn(1);
    return;
  }
  std::thread helper([&] { fn(1); });
  fn(0);
  helper.join();
}

}  // namespace waggle
