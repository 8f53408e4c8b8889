// Micro-benchmarks of engine/sched/local_queue.hpp beside the naive baseline (a mutex and a
// std::deque), in one binary so the ratio is measured side by side.
#include <benchmark/benchmark.h>

#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "sched/local_queue.hpp"

namespace {

struct Item {
  int value = 0;
};

/// The baseline: what a run queue is without the lock-free ring.
class MutexQueue {
 public:
  void push_back(Item* i) {
    std::lock_guard lock(mutex_);
    q_.push_back(i);
  }
  Item* pop() {
    std::lock_guard lock(mutex_);
    if (q_.empty()) return nullptr;
    Item* i = q_.front();
    q_.pop_front();
    return i;
  }

 private:
  std::mutex mutex_;
  std::deque<Item*> q_;
};

void BM_LocalQueue_PushPop(benchmark::State& state) {
  phyx::detail::LocalQueue<Item> q;
  std::vector<Item*> overflow;
  Item item;
  for (auto _ : state) {
    q.push_back(&item, overflow);
    benchmark::DoNotOptimize(q.pop());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LocalQueue_PushPop);

void BM_MutexDeque_PushPop(benchmark::State& state) {
  MutexQueue q;
  Item item;
  for (auto _ : state) {
    q.push_back(&item);
    benchmark::DoNotOptimize(q.pop());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MutexDeque_PushPop);

/// The owner pushes and pops 64 at a time while one thief keeps trying to steal.
void BM_LocalQueue_OwnerWithThief(benchmark::State& state) {
  phyx::detail::LocalQueue<Item> q;
  std::vector<Item*> overflow;
  std::vector<Item> items(64);
  std::atomic<bool> stop{false};
  std::thread thief([&, s = q.stealer()]() mutable {
    phyx::detail::LocalQueue<Item> mine;
    while (!stop.load(std::memory_order_acquire)) {  // pairs with the release store below
      if (s.steal_into(mine) != nullptr) {
        while (mine.pop() != nullptr) {
        }
      }
    }
  });
  for (auto _ : state) {
    for (auto& i : items) q.push_back(&i, overflow);
    while (q.pop() != nullptr) {
    }
    overflow.clear();
  }
  stop.store(true, std::memory_order_release);
  thief.join();
  state.SetItemsProcessed(state.iterations() * 64);
}
BENCHMARK(BM_LocalQueue_OwnerWithThief)->UseRealTime();

void BM_MutexDeque_OwnerWithThief(benchmark::State& state) {
  MutexQueue q;
  std::vector<Item> items(64);
  std::atomic<bool> stop{false};
  std::thread thief([&] {
    while (!stop.load(std::memory_order_acquire)) {  // pairs with the release store below
      benchmark::DoNotOptimize(q.pop());
    }
  });
  for (auto _ : state) {
    for (auto& i : items) q.push_back(&i);
    while (q.pop() != nullptr) {
    }
  }
  stop.store(true, std::memory_order_release);
  thief.join();
  state.SetItemsProcessed(state.iterations() * 64);
}
BENCHMARK(BM_MutexDeque_OwnerWithThief)->UseRealTime();

}  // namespace
