#pragma once

#include <functional>

namespace waggle {

// Runs fn(0) on this thread and fn(1) on a second thread at the same time, when `split` and
// the machine has more than one core; else fn(0), then fn(1), on this thread. Returns when both
// are done.
void RunHalves(const std::function<void(int half)>& fn, bool split = true);

}  // namespace waggle
