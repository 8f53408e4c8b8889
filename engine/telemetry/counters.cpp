#include "telemetry/counters.hpp"

#include <chrono>
#include <cstdint>

namespace phyx::detail {

Counters::Counters() noexcept
    : nonce_(static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
             reinterpret_cast<std::uintptr_t>(this)) {}

Counters::Slot Counters::claim_slot() noexcept {
  // relaxed: only hands out distinct numbers; no data is published through it.
  const unsigned i = next_slot_.fetch_add(1, std::memory_order_relaxed);
  cache_ = SlotCache{
      this, nonce_, i < kShards - 1 ? Slot{&shards_[i], true} : Slot{&shards_[kShards - 1], false}};
  return cache_.slot;
}

Stats Counters::snapshot() const noexcept {
  Stats s;
  s.sent = sum(Counter::sent);
  s.accepted = sum(Counter::accepted);
  s.refused_full = sum(Counter::refused_full);
  s.refused_not_running = sum(Counter::refused_not_running);
  s.handled = sum(Counter::handled);
  s.crashed = sum(Counter::crashed);
  s.dropped_oldest = sum(Counter::dropped_oldest);
  s.discarded = sum(Counter::discarded);
  s.restarts = sum(Counter::restarts);
  s.giveups = sum(Counter::giveups);
  s.asks = sum(Counter::asks);
  s.ask_timeouts = sum(Counter::ask_timeouts);
  s.late_replies = sum(Counter::late_replies);
  s.timers_fired = sum(Counter::timers_fired);
  s.spawned = sum(Counter::processes_alive_up);
  s.processes_alive = s.spawned - sum(Counter::processes_alive_down);
  s.dead_letters = sum(Counter::dead_letters);
  s.sink_errors = sum(Counter::sink_errors);
  s.events_dropped = sum(Counter::events_dropped);
  return s;
}

}  // namespace phyx::detail
