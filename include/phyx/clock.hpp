/// \file
/// phyx/clock.hpp — time sources (SPEC section 9).
///
/// Every deadline in phyx (scheduled messages, ask timeouts, restart backoff and windows)
/// runs on `Instant::mono_*`, which never goes backwards. `wall_ms` is for humans and may
/// jump. A ManualClock moves only when a test moves it, and fires the runtime timers that
/// fall due, one by one in deadline order, with now() equal to each deadline while it fires.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "phyx/ids.hpp"

namespace phyx {

/// A point in time, read from a Clock.
struct Instant {
  std::int64_t wall_ms = 0;  ///< milliseconds since the Unix epoch (may jump)
  std::int64_t mono_ms = 0;  ///< monotonic milliseconds (never goes backwards)
  std::int64_t mono_ns = 0;  ///< the same monotonic time in nanoseconds
};

/// A time source. Implementations must be safe to call from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  /// The current time. Called from any thread: workers, the timer thread, handlers.
  virtual Instant now() const = 0;
};

/// The real clock: wall time from CLOCK_REALTIME, mono from CLOCK_MONOTONIC.
/// Any thread; does not allocate after creation; never blocks.
std::shared_ptr<Clock> create_system_clock();

namespace detail {
class TimerService;
class RuntimeCore;
}  // namespace detail

/// A clock for tests: time moves only through advance_by / advance_to / tick.
/// Runtimes built on a ManualClock register their timers here, so moving the clock fires
/// them (their messages are enqueued; nothing else runs until the runtime is driven).
/// All members may be called from any thread; the advancing calls run timer callbacks on
/// the calling thread and must not be made from inside a handler. One thread at a time may
/// move a clock (advance_by, advance_to, tick): it is the single writer of the time
/// (engine/timer/manual_clock.cpp).
class ManualClock : public Clock {
 public:
  /// Time starts at `start` (mono from mono_ns, or from mono_ms when mono_ns is 0); no
  /// timers. Allocates.
  explicit ManualClock(Instant start = {});
  ~ManualClock() override;
  ManualClock(const ManualClock&) = delete;
  ManualClock& operator=(const ManualClock&) = delete;

  /// The clock's time. Any thread; lock-free; never blocks.
  Instant now() const override;
  /// Moves time forward by `d`, firing each due timer in deadline order (ties in creation
  /// order) with now() equal to its deadline. Negative `d` throws phyx::Error.
  void advance_by(std::chrono::milliseconds d);
  /// Moves mono time to `mono_ms` (never backwards: an earlier value is ignored), firing
  /// the timers due on the way as advance_by does.
  void advance_to(std::int64_t mono_ms);
  /// Jumps to the next timer's deadline and fires it. Returns false if no timer is pending.
  bool tick();
  /// Sets wall time only; mono time and timers are untouched.
  void jump_wall_time(std::int64_t wall_ms);
  /// Every pending runtime timer on this clock: schedules, restart waits, sleeps and the
  /// timeouts of unanswered asks.
  std::size_t pending_timer_count() const;

 private:
  friend class detail::RuntimeCore;
  void set_mono_ns(std::int64_t mono_ns);
  /// Fires the earliest timer (of every runtime on this clock) due at or before
  /// `limit_ns`, with time set to its deadline. Returns false if there is none.
  bool fire_next_due(std::int64_t limit_ns);
  /// A runtime on this clock registers its timer service (held weakly: the runtime owns it).
  void attach(const std::shared_ptr<detail::TimerService>& service);
  /// The id source the services of this clock share, so that ties between runtimes fire
  /// in creation order.
  std::atomic<std::uint64_t>* timer_ids() const;

  struct Time;
  struct Timers;
  std::unique_ptr<Time> time_;
  std::unique_ptr<Timers> timers_;
};

/// A ManualClock starting at `start`, shared (as RuntimeOptions::clock wants it). Any thread;
/// allocates.
std::shared_ptr<ManualClock> create_manual_clock(Instant start = {});

}  // namespace phyx
