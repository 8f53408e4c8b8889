// Micro-benchmarks of engine/mailbox/mailbox.cpp beside the naive baseline: a bounded
// mailbox made of a std::mutex and a std::deque (the design the lock-free lane replaced),
// in one binary so the ratio is measured side by side.
//   *_OfferTake:      one thread sends and takes (the uncontended cost of one message).
//   *_Producers/N:    N producer threads send as fast as they can while one consumer
//                     takes; a full lane refuses (reject, max_inbox 1,024), as in fan-in.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "phyx/detail/mailbox.hpp"

namespace {

using phyx::MailboxPolicy;
using phyx::detail::DropChain;
using phyx::detail::Envelope;
using phyx::detail::Mailbox;

constexpr std::size_t kMaxInbox = 1024;

struct Msg final : Envelope {
  std::string_view msg_type() const noexcept override { return "Msg"; }
  void destroy_message() noexcept override {}
};

/// The baseline: what a bounded mailbox is without the lock-free lane.
class MutexMailbox {
 public:
  bool offer(Msg* m) {
    std::lock_guard lock(mutex_);
    if (q_.size() >= kMaxInbox) return false;
    q_.push_back(m);
    return true;
  }
  Msg* take() {
    std::lock_guard lock(mutex_);
    if (q_.empty()) return nullptr;
    Msg* m = q_.front();
    q_.pop_front();
    return m;
  }

 private:
  std::mutex mutex_;
  std::deque<Msg*> q_;
};

bool offer(Mailbox& mb, Msg* m) {
  const auto a = mb.offer(kMaxInbox, MailboxPolicy::reject);
  if (a.offer != Mailbox::Offer::accepted) return false;
  mb.push(m);
  return true;
}

Msg* take(Mailbox& mb) {
  Envelope* out = nullptr;
  DropChain evicted;
  return mb.take(out, evicted, MailboxPolicy::reject) == Mailbox::Take::message ? static_cast<Msg*>(out) : nullptr;
}

void BM_Mailbox_OfferTake(benchmark::State& state) {
  Mailbox mb(true);
  mb.set_wants_user(true);
  // Two messages in turn: a taken message stays the lane's dummy until the next take
  // (phyx/detail/user_lane.hpp), so it cannot be offered again before then.
  Msg m[2];
  unsigned i = 0;
  for (auto _ : state) {
    offer(mb, &m[i ^= 1]);
    benchmark::DoNotOptimize(take(mb));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Mailbox_OfferTake);

void BM_MutexDeque_OfferTake(benchmark::State& state) {
  MutexMailbox mb;
  Msg m;
  for (auto _ : state) {
    mb.offer(&m);
    benchmark::DoNotOptimize(mb.take());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MutexDeque_OfferTake);

/// N producers offer the same preallocated message objects round-robin (a message may be
/// queued at most once at a time, so each producer owns a pool larger than the lane).
/// N producers cycle through pools of preallocated messages. A pool holds twice the lane,
/// and the lane is FIFO, so an object comes round again only after it was taken.
template <class Box, class Offer, class Take>
void run_producers(benchmark::State& state, Box& box, Offer offer_fn, Take take_fn) {
  const int producers = static_cast<int>(state.range(0));
  std::atomic<bool> stop{false};
  std::vector<std::vector<Msg>> pools(static_cast<std::size_t>(producers));
  for (auto& pool : pools) pool = std::vector<Msg>(2 * kMaxInbox);  // messages are not copyable
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      auto& pool = pools[static_cast<std::size_t>(p)];
      std::size_t next = 0;
      while (!stop.load(std::memory_order_relaxed)) {  // a flag; the join publishes the rest
        if (offer_fn(box, &pool[next])) next = (next + 1) % pool.size();
      }
    });
  }
  std::int64_t got = 0;
  for (auto _ : state) {
    for (int i = 0; i < 1024; ++i) {
      while (take_fn(box) == nullptr) {
      }
      ++got;
    }
  }
  stop.store(true, std::memory_order_relaxed);  // a flag; the join publishes the rest
  for (auto& t : threads) t.join();
  while (take_fn(box) != nullptr) {
  }
  state.SetItemsProcessed(got);
}

void BM_Mailbox_Producers(benchmark::State& state) {
  Mailbox mb(true);
  mb.set_wants_user(true);
  run_producers(state, mb, offer, take);
}
BENCHMARK(BM_Mailbox_Producers)->Arg(1)->Arg(2)->UseRealTime();

void BM_MutexDeque_Producers(benchmark::State& state) {
  MutexMailbox mb;
  run_producers(
      state, mb, [](MutexMailbox& b, Msg* m) { return b.offer(m); }, [](MutexMailbox& b) { return b.take(); });
}
BENCHMARK(BM_MutexDeque_Producers)->Arg(1)->Arg(2)->UseRealTime();

}  // namespace
