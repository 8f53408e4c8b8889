// bench/load/open_loop.hpp — the open-loop schedule of `phyx-bench load` (SPEC 13), as
// pure functions of (rate, start, index, now), so tests drive it with simulated time.
//
// Request i is due at start + floor(i * 1e9 / rate) ns, computed as whole seconds plus a
// remainder in 64-bit integers: exact, and with no drift however long the run (adding a
// rounded period i times would lose up to i ns; a double loses exactness past 2^53 ns).
// Latency is measured from that *intended* time, never from when the driver managed to
// send: a driver that falls behind sends the late requests at once and their latency
// includes the delay (no coordinated omission).
#pragma once

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace phyx_bench::load {

class OpenLoopSchedule {
 public:
  static constexpr std::uint64_t kNanosPerSecond = 1'000'000'000;
  /// The largest rate: one request per nanosecond (keeps every product below 2^63).
  static constexpr std::uint64_t kMaxRate = kNanosPerSecond;

  /// `rate_per_s` requests per second, the first (i = 0) due at `start_ns`.
  OpenLoopSchedule(std::uint64_t rate_per_s, std::int64_t start_ns)
      : rate_(rate_per_s), start_ns_(start_ns) {
    if (rate_per_s == 0 || rate_per_s > kMaxRate) {
      throw std::invalid_argument("rate must be in [1, 1e9] requests/s, got " +
                                  std::to_string(rate_per_s));
    }
  }

  std::uint64_t rate() const noexcept { return rate_; }
  std::int64_t start_ns() const noexcept { return start_ns_; }

  /// When request `i` is due: start + floor(i * 1e9 / rate), exactly.
  std::int64_t intended_ns(std::uint64_t i) const noexcept {
    const std::uint64_t whole_seconds = i / rate_;
    const std::uint64_t rest = i % rate_;  // rest * 1e9 < rate * 1e9 <= 1e18 < 2^63
    return start_ns_ + static_cast<std::int64_t>(whole_seconds * kNanosPerSecond +
                                                 rest * kNanosPerSecond / rate_);
  }

  /// How many requests are due at `now_ns`: the number of i with intended_ns(i) <= now_ns.
  /// floor(i * 1e9 / rate) <= t  <=>  i * 1e9 < (t + 1) * rate  <=>  i < ceil((t + 1) * rate /
  /// 1e9).
  std::uint64_t due_by(std::int64_t now_ns) const noexcept {
    if (now_ns < start_ns_) return 0;
    const auto t_plus_1 = static_cast<std::uint64_t>(now_ns - start_ns_) + 1;
    const std::uint64_t whole_seconds = t_plus_1 / kNanosPerSecond;
    const std::uint64_t rest = t_plus_1 % kNanosPerSecond;  // rest * rate < 1e18
    return whole_seconds * rate_ + (rest * rate_ + kNanosPerSecond - 1) / kNanosPerSecond;
  }

  /// How many requests a run of `duration_ns` holds: those due before start + duration.
  std::uint64_t planned(std::int64_t duration_ns) const noexcept {
    return duration_ns <= 0 ? 0 : due_by(start_ns_ + duration_ns - 1);
  }

 private:
  std::uint64_t rate_;
  std::int64_t start_ns_;
};

/// A latency measured from the intended time (clamped at 0: a clock read before the
/// intended time can only come from a caller's mistake, never a negative latency).
inline std::uint64_t latency_from_intended(std::int64_t intended_ns,
                                           std::int64_t done_ns) noexcept {
  return done_ns > intended_ns ? static_cast<std::uint64_t>(done_ns - intended_ns) : 0;
}

/// One pass of a driver that owns the requests next, next + stride, ... below `end`: sends
/// every one of them already due at `now_ns` (a driver that is behind catches up at once,
/// without waiting), calling send(i, intended_ns(i)). Returns the first index not sent.
template <class Send>
std::uint64_t send_due(const OpenLoopSchedule& schedule, std::uint64_t next, std::uint64_t stride,
                       std::uint64_t end, std::int64_t now_ns, Send&& send) {
  const std::uint64_t due = std::min(schedule.due_by(now_ns), end);
  for (; next < due; next += stride) send(next, schedule.intended_ns(next));
  return next;
}

}  // namespace phyx_bench::load
