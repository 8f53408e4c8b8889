/// \file
/// phyx/stats.hpp — always-on counters (SPEC section 8) and the shutdown report (SPEC 2).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace phyx {

/// A snapshot of the runtime's counters. The laws, exact at quiescence:
///   sent     == accepted + refused_full + refused_not_running
///   accepted == handled + crashed + dropped_oldest + discarded + queued
/// `queued` is read from the live mailboxes, not derived from the other counters.
struct Stats {
  std::uint64_t sent = 0;                 ///< every send / ask / scheduled delivery attempt
  std::uint64_t accepted = 0;             ///< entered a user lane
  std::uint64_t refused_full = 0;         ///< reject policy, full lane
  std::uint64_t refused_not_running = 0;  ///< stopping / stopped / failed, or a refused self-send
  std::uint64_t handled = 0;              ///< handler returned
  std::uint64_t crashed = 0;              ///< handler threw
  std::uint64_t dropped_oldest = 0;       ///< evicted by drop_oldest
  std::uint64_t discarded = 0;            ///< dropped at stop, shutdown or failure
  std::uint64_t queued = 0;               ///< in user lanes now
  std::uint64_t restarts = 0;             ///< restarts decided (one per supervisor:restart event)
  std::uint64_t giveups = 0;              ///< max_restarts exceeded (supervisor:giveup)
  std::uint64_t asks = 0;                 ///< ProcessRef::ask calls whose message was built
  std::uint64_t ask_timeouts = 0;         ///< asks whose timeout passed first (ask:timeout)
  std::uint64_t late_replies = 0;         ///< replies after the ask had settled (SPEC 14.11)
  std::uint64_t timers_fired = 0;         ///< schedules, sleeps, restart waits, ask timeouts
  std::uint64_t processes_alive = 0;      ///< spawned and not yet stopped or failed
  // Beyond SPEC:
  std::uint64_t spawned = 0;              ///< spawns, plus `failed` processes a group restart revived
  std::uint64_t dead_letters = 0;         ///< process:dead_letter occurrences (events or not)
  std::uint64_t sink_errors = 0;          ///< exceptions thrown by the telemetry sink
  std::uint64_t events_dropped = 0;       ///< events never delivered: the sink was stalled
                                          ///< (a call over 100 ms) with 65,536 waiting
};

/// What Runtime::shutdown did (SPEC 2). Later calls return the first report.
struct ShutdownReport {
  std::size_t stopped = 0;             ///< processes that reached `stopped` during shutdown
  std::size_t abandoned = 0;           ///< still running at the deadline
  std::size_t messages_discarded = 0;  ///< user messages dropped by the shutdown
  std::chrono::nanoseconds elapsed{0};  ///< how long the shutdown took (steady clock)
};

}  // namespace phyx
