#include "telemetry/counters.hpp"

#include <functional>
#include <thread>

namespace phyx::detail {

unsigned Counters::shard_index() noexcept {
  thread_local const unsigned index =
      static_cast<unsigned>(std::hash<std::thread::id>{}(std::this_thread::get_id()) % kShards);
  return index;
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
  return s;
}

}  // namespace phyx::detail
