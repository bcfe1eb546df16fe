#include <malloc.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "server/server.h"

int main(int argc, char** argv) {
#if !defined(WAGGLE_JEMALLOC)
  // Built without jemalloc (the sanitizer builds, or -DWAGGLE_JEMALLOC=OFF): glibc gives threads
  // that contend for the heap arenas of their own, up to eight per core, and memory freed into one
  // arena serves only that arena's later allocations. With the server's many threads handing span
  // tables to one another, that about doubled the peak RSS under OTLP load (docs/architecture.md,
  // "Threads"). An arena per core keeps allocation parallel; MALLOC_ARENA_MAX, when set, still
  // decides.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) {
    mallopt(M_ARENA_MAX, static_cast<int>(std::max(2u, std::thread::hardware_concurrency())));
  }
#endif
  return waggle::server::RunCli(argc, argv);
}
