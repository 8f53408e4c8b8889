// Parking micro-benchmark of engine/sched/work_stealing.cpp beside its floor: the round trip
// of one message from an outside thread to a runtime whose workers are all parked (wake a
// worker, run the handler, settle the reply), against two threads handing a token back and
// forth through a mutex and condition variable (one futex wake-up each way: the least any
// parking design pays).
#include <benchmark/benchmark.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <phyx/phyx.hpp>

namespace {

struct Ping {
  phyx::Reply<int> reply;
};

void BM_WakeParkedRuntime(benchmark::State& state) {
  phyx::Runtime rt({.clock = phyx::create_system_clock(), .workers = 2});
  auto echo = rt.spawn(phyx::ProcessSpec<Ping, int>{
      .name = "echo",
      .init = [](const phyx::Empty&) { return 0; },
      .handle = [](int& n, Ping& p, auto&) { p.reply(++n); },
  });
  const unsigned workers = rt.engine_for_tests().worker_count();
  for (auto _ : state) {
    state.PauseTiming();
    while (rt.engine_for_tests().parked_workers() < workers) std::this_thread::yield();
    state.ResumeTiming();
    benchmark::DoNotOptimize(echo.ask<int>([](phyx::Reply<int> r) { return Ping{std::move(r)}; }).get());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WakeParkedRuntime)->UseRealTime();

void BM_CondvarHandoff(benchmark::State& state) {
  std::mutex m;
  std::condition_variable cv;
  int turn = 0;  // 0: main's, 1: the other thread's, 2: stop; guarded by m
  std::thread other([&] {
    std::unique_lock lock(m);
    for (;;) {
      cv.wait(lock, [&] { return turn != 0; });
      if (turn == 2) return;
      turn = 0;
      cv.notify_all();
    }
  });
  for (auto _ : state) {
    std::unique_lock lock(m);
    turn = 1;
    cv.notify_all();
    cv.wait(lock, [&] { return turn == 0; });
  }
  {
    std::lock_guard lock(m);
    turn = 2;
  }
  cv.notify_all();
  other.join();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CondvarHandoff)->UseRealTime();

}  // namespace
