// engine/supervise/policy.hpp — supervision policy as plain data and pure functions.
//
// Nothing here touches threads, clocks or randomness: callers pass the time and a uniform
// random number in, so every rule of SPEC 6 is unit-tested without a runtime.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "phyx/supervision.hpp"

namespace phyx::detail {

/// SPEC 6.5: min(initial * factor^(n-1), max), then +/- jitter% using `unit` in [0, 1)
/// (0.5 = no jitter), clamped to [0, max]. `attempt` counts from 1.
std::chrono::milliseconds backoff_delay(const Backoff& b, std::uint64_t attempt, double unit) noexcept;

/// SPEC 6 / 14.6: the wait before retrying a failed init when no backoff is configured, and
/// the least wait when one is: 1 ms doubling to 1 s. `failures` counts consecutive init
/// failures from 1.
std::chrono::milliseconds init_retry_delay(std::uint32_t failures) noexcept;

/// SPEC 6.4: true when `count` restarts already happened within the last `within`
/// (inclusive) before `now_ms`, i.e. this crash must give up. Also prunes `times_ms` of
/// restarts that fell out of the window.
bool restart_window_exhausted(std::vector<std::int64_t>& times_ms, const MaxRestarts& m, std::int64_t now_ms);

/// SPEC 6.3 / 14.7: which of a family's processes restart when the one at `crashed`
/// crashes under `strategy`. `family` is the siblings' spawn order (the crashed one
/// included); the result lists indices into it, in spawn order, the crashed one included:
/// none and one_for_one -> {crashed}; one_for_all -> every index; rest_for_one -> crashed
/// and every later one. `crashed` must be < family_size.
std::vector<std::size_t> restart_set(Strategy strategy, std::size_t family_size, std::size_t crashed);

/// SPEC 6 "Invalid values": the first invalid Supervision field as a SpecError message
/// naming field and value, or an empty string when valid.
std::string supervision_error(const Supervision& s);

}  // namespace phyx::detail
