// Micro-benchmarks of engine/timer/timer_wheel.hpp beside the heap it replaced
// (bench/timer/heap_timer_queue.hpp: a binary heap + id map under a mutex), in one run:
//  - InsertCancel/N: start one timer and cancel it with N timers pending (every answered
//    ask does this). The target: the wheel >= 5x the heap at N = 1,000,000.
//  - InsertFire: start a timer 1 ms out, advance 1 ms, fire it.
//  - Advance: 1,000,000 timers spread over 1 s, fired by advancing 1 ms at a time.
// The wheel is measured bare (single owner, as the driver uses it) and behind the timer
// service (engine/timer/timer_service.hpp: the lock-free start/cancel of the runtime, its
// inboxes drained by the driver every 64 operations).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "heap_timer_queue.hpp"
#include "phyx/detail/timer_node.hpp"
#include "timer/timer_service.hpp"
#include "timer/timer_wheel.hpp"

namespace {

using phyx::TimerId;
using phyx::detail::make_timer_node;
using phyx::detail::TimerNode;
using phyx::detail::TimerService;
using phyx::detail::TimerWheel;

constexpr std::int64_t kMs = 1'000'000;

TimerNode* noop_node() {
  return make_timer_node([](TimerId) {});
}
void free_node(TimerNode* n) {
  n->release();
  n->release();
}
/// Deadlines spread over 1..1001 s, in a scattered order.
std::int64_t spread_deadline(std::int64_t i) { return 1000 * kMs + ((i * 7919) % 1'000'000) * kMs; }

void BM_Heap_InsertCancel(benchmark::State& state) {
  phyx::bench::TimerQueue q;
  const auto pending = state.range(0);
  for (std::int64_t i = 0; i < pending; ++i) q.add(spread_deadline(i), [](TimerId) {});
  std::int64_t t = 0;
  for (auto _ : state) {
    auto id = q.add(spread_deadline(t++), [](TimerId) {});
    benchmark::DoNotOptimize(q.cancel(id));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Heap_InsertCancel)->Arg(1'000)->Arg(1'000'000);

void BM_Wheel_InsertCancel(benchmark::State& state) {
  TimerWheel w(0);
  const auto pending = state.range(0);
  std::vector<TimerNode*> nodes;
  for (std::int64_t i = 0; i < pending; ++i) {
    nodes.push_back(noop_node());
    nodes.back()->set_due(spread_deadline(i), TimerId{static_cast<std::uint64_t>(i + 1)});
    w.insert(nodes.back());
  }
  TimerNode* probe = noop_node();
  std::int64_t t = 0;
  for (auto _ : state) {
    probe->set_due(spread_deadline(t), TimerId{static_cast<std::uint64_t>(pending + ++t)});
    w.insert(probe);
    w.remove(probe);
  }
  state.SetItemsProcessed(state.iterations());
  w.drain([](TimerNode*) {});
  for (TimerNode* n : nodes) free_node(n);
  free_node(probe);
}
BENCHMARK(BM_Wheel_InsertCancel)->Arg(1'000)->Arg(1'000'000);

void BM_Service_InsertCancel(benchmark::State& state) {
  TimerService s(0);
  const auto pending = state.range(0);
  std::vector<TimerNode*> held;
  for (std::int64_t i = 0; i < pending; ++i) {
    held.push_back(noop_node());
    s.start(held.back(), spread_deadline(i), nullptr);
  }
  std::int64_t t = 0;
  for (auto _ : state) {
    TimerNode* n = noop_node();  // the allocation is part of the cost, as in the runtime
    s.start(n, spread_deadline(t), nullptr);
    benchmark::DoNotOptimize(n->cancel_and_release());  // as an answered ask does
    if ((++t & 63) == 0) benchmark::DoNotOptimize(s.pop_due(0));  // the driver drains
  }
  state.SetItemsProcessed(state.iterations());
  for (TimerNode* n : held) n->release();  // the service cancels the rest when it goes
}
BENCHMARK(BM_Service_InsertCancel)->Arg(1'000)->Arg(1'000'000);

void BM_Heap_InsertFire(benchmark::State& state) {
  phyx::bench::TimerQueue q;
  std::int64_t now = 0;
  for (auto _ : state) {
    q.add(now + kMs, [](TimerId) {});
    now += kMs;
    auto due = q.pop_due(now);
    if (due) (*due)();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Heap_InsertFire);

void BM_Service_InsertFire(benchmark::State& state) {
  TimerService s(0);
  std::int64_t now = 0;
  for (auto _ : state) {
    TimerNode* n = noop_node();
    s.start(n, now + kMs, nullptr);
    n->release();  // nobody will cancel it
    now += kMs;
    if (TimerNode* due = s.pop_due(now)) s.fire(due);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Service_InsertFire);

constexpr std::int64_t kAdvanceTimers = 1'000'000;

void BM_Heap_Advance(benchmark::State& state) {
  for (auto _ : state) {
    phyx::bench::TimerQueue q;
    for (std::int64_t i = 0; i < kAdvanceTimers; ++i) q.add((i * 7919 % 1'000'000) * 1000, [](TimerId) {});
    for (std::int64_t now = 0; now <= 1000 * kMs; now += kMs) {
      while (auto due = q.pop_due(now)) (*due)();
    }
  }
  state.SetItemsProcessed(state.iterations() * kAdvanceTimers);
}
BENCHMARK(BM_Heap_Advance)->Unit(benchmark::kMillisecond);

void BM_Service_Advance(benchmark::State& state) {
  for (auto _ : state) {
    TimerService s(0);
    for (std::int64_t i = 0; i < kAdvanceTimers; ++i) {
      TimerNode* n = noop_node();
      s.start(n, (i * 7919 % 1'000'000) * 1000, nullptr);
      n->release();
    }
    for (std::int64_t now = 0; now <= 1000 * kMs; now += kMs) {
      while (TimerNode* due = s.pop_due(now)) s.fire(due);
    }
  }
  state.SetItemsProcessed(state.iterations() * kAdvanceTimers);
}
BENCHMARK(BM_Service_Advance)->Unit(benchmark::kMillisecond);

}  // namespace
