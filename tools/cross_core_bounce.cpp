// tools/cross_core_bounce.cpp — how long one cache line takes to go from CPU 0 to CPU 1
// and back, on this machine, now. Not part of the build; a probe for reading benchmark
// figures on a VM whose vCPU placement can change under it (engine/sched/README.md,
// "bimodal from run to run").
//
//   g++ -O2 -pthread -o /tmp/ccb tools/cross_core_bounce.cpp && /tmp/ccb
//
// Two threads pinned to CPUs 0 and 1 hand one flag back and forth 2,000,000 times (a
// release store, spun on with acquire loads by the other side); the figure is the mean
// round trip, i.e. two line transfers.
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

namespace {

alignas(64) std::atomic<int> flag{0};

void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

}  // namespace

int main() {
  constexpr int kRounds = 2'000'000;
  std::thread other([] {
    pin(1);
    for (int i = 0; i < kRounds; ++i) {
      while (flag.load(std::memory_order_acquire) != 1) {  // pairs with main's release store
      }
      flag.store(0, std::memory_order_release);  // pairs with main's acquire load
    }
  });
  pin(0);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; ++i) {
    flag.store(1, std::memory_order_release);  // pairs with the other thread's acquire load
    while (flag.load(std::memory_order_acquire) != 0) {  // pairs with its release store
    }
  }
  const double ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
  other.join();
  std::printf("cross-core round trip: %.0f ns\n", ns / kRounds);
}
