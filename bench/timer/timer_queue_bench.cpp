// Micro-benchmarks of engine/timer/timer_queue.hpp (the heap the timer-wheel issue will be
// measured against): insert + cancel with many timers pending, and insert + fire.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "timer/timer_queue.hpp"

namespace {

void BM_TimerHeap_InsertCancel(benchmark::State& state) {
  phyx::detail::TimerQueue q;
  const auto pending = state.range(0);
  for (std::int64_t i = 0; i < pending; ++i) q.add(1'000'000'000 + i * 1000, [](phyx::TimerId) {});
  std::int64_t t = 0;
  for (auto _ : state) {
    auto id = q.add(2'000'000'000 + (t++ % 1'000'000) * 1000, [](phyx::TimerId) {});
    benchmark::DoNotOptimize(q.cancel(id));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TimerHeap_InsertCancel)->Arg(1'000)->Arg(1'000'000);

void BM_TimerHeap_InsertFire(benchmark::State& state) {
  phyx::detail::TimerQueue q;
  std::int64_t now = 0;
  for (auto _ : state) {
    q.add(now + 1, [](phyx::TimerId) {});
    ++now;
    auto due = q.pop_due(now);
    benchmark::DoNotOptimize(due);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TimerHeap_InsertFire);

}  // namespace
