// engine/telemetry/counters.hpp — the always-on counters behind Runtime::stats() (SPEC 8).
//
// Design: kShards cache-line-aligned blocks of relaxed atomics, summed on read. The first
// kShards - 1 threads that count on a Counters each get a block of their own and add with
// a plain load + store (single writer: no lock prefix on the hot path, which a fetch_add per
// counter per message cost ~12 % of ping-pong). Later threads share the last block and use
// fetch_add. A thread remembers its block for one Counters at a time (a thread-local
// cache keyed by address and a per-instance nonce, so a new Counters at a recycled address
// is never mistaken for the old one). The cache and the hit path live in this header, so
// a count inlines into the send and handle paths; only a miss calls out (claim_slot()).
// An out-of-line call per count was ~6 % of ask-many (seven counts per round trip).
// Relaxed is enough: each counter is an independent tally, and the conservation laws are
// checked at quiescence, after the threads that counted have been joined or synchronised
// with (e.g. through a future). So no count need precede another: an accepted send counts
// `sent` with `accepted`, after its push, and a thread that synchronised with the receiver
// may see `handled` before that sender's `sent`.
// Rejected: one atomic per counter (every worker bounces the same lines on every message);
// fetch_add everywhere (a locked instruction per count); plain integers (a racy read is UB).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "phyx/stats.hpp"

namespace phyx::detail {

enum class Counter : unsigned {
  sent,
  accepted,
  refused_full,
  refused_not_running,
  handled,
  crashed,
  dropped_oldest,
  discarded,
  restarts,
  giveups,
  asks,
  ask_timeouts,
  late_replies,
  timers_fired,
  processes_alive_up,    // process spawned
  processes_alive_down,  // process stopped or failed
  dead_letters,
  sink_errors,
  events_dropped,
  retired,  // processes that reached stopped (ShutdownReport::stopped; not in Stats)
  kCount
};

class Counters {
 public:
  Counters() noexcept;

  /// Any thread; never blocks; allocates nothing.
  void add(Counter c, std::uint64_t n) noexcept {
    const Slot s = slot();
    bump(s, c, n);
  }
  /// As add(a, 1) then add(b, 1), with one lookup of the thread's block (an accepted send
  /// counts `sent` and `accepted` together). Any thread; never blocks; allocates nothing.
  void add_one_each(Counter a, Counter b) noexcept {
    const Slot s = slot();
    bump(s, a, 1);
    bump(s, b, 1);
  }
  std::uint64_t sum(Counter c) const noexcept {
    std::uint64_t total = 0;
    for (const auto& s : shards_) {
      // relaxed: pairs with bump()'s stores and fetch_adds (add(), add_one_each()).
      total += s.values[static_cast<unsigned>(c)].load(std::memory_order_relaxed);
    }
    return total;
  }
  /// Everything but `queued` (read from the mailboxes by the runtime).
  Stats snapshot() const noexcept;

 private:
  static constexpr unsigned kShards = 16;
  struct Shard;
  struct Slot {
    Shard* shard;  // the thread's block (a pointer, not an index: one add less per count)
    bool exclusive;
  };
  struct SlotCache {
    const Counters* owner;
    std::uint64_t nonce;
    Slot slot;
  };
  // The calling thread's block on one Counters (see the file comment). constinit: no
  // guard on access.
  static inline constinit thread_local SlotCache cache_{nullptr, 0, {nullptr, false}};

  Slot slot() noexcept {
    if (cache_.owner == this && cache_.nonce == nonce_) return cache_.slot;
    return claim_slot();
  }
  Slot claim_slot() noexcept;  // a miss: this thread's first count on this Counters
  void bump(Slot s, Counter c, std::uint64_t n) noexcept {
    auto& v = s.shard->values[static_cast<unsigned>(c)];
    if (s.exclusive) {
      // relaxed: this thread is the block's only writer; sum() reads it (see the file comment).
      v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    } else {
      // relaxed, on the shared block: pairs with the other adders' fetch_add.
      v.fetch_add(n, std::memory_order_relaxed);
    }
  }
  const std::uint64_t nonce_;
  std::atomic<unsigned> next_slot_{0};
  struct alignas(64) Shard {
    std::array<std::atomic<std::uint64_t>, static_cast<unsigned>(Counter::kCount)> values{};
  };
  std::array<Shard, kShards> shards_{};
};

}  // namespace phyx::detail
