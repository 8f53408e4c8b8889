// Micro-benchmarks of engine/mailbox/envelope_cache.hpp beside the allocator it fronts
// (mimalloc when linked): a 64-byte envelope block allocated and freed on one thread, and
// handed between two threads in both directions (request/reply: each side frees what the
// other allocated and allocates its own), where the cache lets each side reuse what it frees.
#include <benchmark/benchmark.h>

#include <atomic>
#include <new>
#include <thread>

#include "mailbox/envelope_cache.hpp"

namespace {

using phyx::detail::EnvelopeCache;

void BM_Allocator_NewDelete64(benchmark::State& state) {
  for (auto _ : state) {
    void* p = ::operator new(64);
    benchmark::DoNotOptimize(p);
    ::operator delete(p, 64);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Allocator_NewDelete64);

void BM_Cache_AllocFree64(benchmark::State& state) {
  EnvelopeCache cache;
  for (auto _ : state) {
    void* p = cache.allocate(64);
    benchmark::DoNotOptimize(p);
    cache.deallocate(p, 64);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Cache_AllocFree64);

/// Two threads swap blocks through a one-slot mailbox each way: each frees the block it
/// receives and allocates the one it sends.
template <bool kCached>
void exchange(benchmark::State& state) {
  std::atomic<void*> to_b{nullptr};
  std::atomic<void*> to_a{nullptr};
  std::atomic<bool> done{false};
  std::thread b([&] {
    EnvelopeCache cache;
    while (!done.load(std::memory_order_acquire)) {  // pairs with the release store below
      void* got = to_b.exchange(nullptr, std::memory_order_acquire);  // pairs with A's release store
      if (got == nullptr) continue;
      if constexpr (kCached) {
        cache.deallocate(got, 64);
        to_a.store(cache.allocate(64), std::memory_order_release);  // pairs with A's acquire exchange
      } else {
        ::operator delete(got, 64);
        to_a.store(::operator new(64), std::memory_order_release);  // pairs with A's acquire exchange
      }
    }
  });
  EnvelopeCache cache;
  for (auto _ : state) {
    to_b.store(kCached ? cache.allocate(64) : ::operator new(64), std::memory_order_release);  // pairs with B
    void* back = nullptr;
    while ((back = to_a.exchange(nullptr, std::memory_order_acquire)) == nullptr) {  // pairs with B's store
    }
    if constexpr (kCached) {
      cache.deallocate(back, 64);
    } else {
      ::operator delete(back, 64);
    }
  }
  done.store(true, std::memory_order_release);  // pairs with B's acquire load
  b.join();
  state.SetItemsProcessed(state.iterations() * 2);
}
void BM_Allocator_CrossThread64(benchmark::State& state) { exchange<false>(state); }
void BM_Cache_CrossThread64(benchmark::State& state) { exchange<true>(state); }
BENCHMARK(BM_Allocator_CrossThread64)->UseRealTime();
BENCHMARK(BM_Cache_CrossThread64)->UseRealTime();

}  // namespace
