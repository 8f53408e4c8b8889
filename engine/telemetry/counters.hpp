// engine/telemetry/counters.hpp — the always-on counters behind Runtime::stats() (SPEC 8).
//
// Design: kShards cache-line-aligned blocks of relaxed atomics; a thread adds to the block
// picked by its thread-local shard index, so workers rarely share a line. stats() sums all
// blocks. Relaxed is enough: each counter is an independent tally, and the conservation
// laws are checked at quiescence, after the threads that counted have been joined or
// synchronised with (e.g. through a future).
// Rejected: one atomic per counter (every worker bounces the same lines on every message);
// plain per-worker integers (external threads count too, and a racy read is UB).
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
  kCount
};

class Counters {
 public:
  void add(Counter c, std::uint64_t n) noexcept {
    // relaxed: an independent tally, read only by sum() (see the file comment).
    shards_[shard_index()].values[static_cast<unsigned>(c)].fetch_add(n, std::memory_order_relaxed);
  }
  std::uint64_t sum(Counter c) const noexcept {
    std::uint64_t total = 0;
    for (const auto& s : shards_) total += s.values[static_cast<unsigned>(c)].load(std::memory_order_relaxed);  // pairs with add()
    return total;
  }
  /// Everything but `queued` (read from the mailboxes by the runtime).
  Stats snapshot() const noexcept;

 private:
  static constexpr unsigned kShards = 8;
  static unsigned shard_index() noexcept;
  struct alignas(64) Shard {
    std::array<std::atomic<std::uint64_t>, static_cast<unsigned>(Counter::kCount)> values{};
  };
  std::array<Shard, kShards> shards_{};
};

}  // namespace phyx::detail
