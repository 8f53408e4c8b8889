// engine/timer/manual_clock.cpp — ManualClock: time that moves only when a test moves it.
//
// Time is two atomics (mono_ns, wall_ms), written only by the thread advancing the clock
// (callers must not advance one clock from two threads at once) and read by any thread.
// Stores are release and loads acquire, so a thread that sees a new mono time also sees
// the writes that happened before it moved.
// Firing protocol: pop the earliest due timer, set mono to its deadline (wall moves by the
// same amount), run the callback outside the queue's lock; repeat; finally set the target.
#include <atomic>
#include <stdexcept>

#include "phyx/clock.hpp"
#include "phyx/errors.hpp"
#include "timer/timer_queue.hpp"

namespace phyx {

struct ManualClock::Time {
  std::atomic<std::int64_t> mono_ns{0};
  std::atomic<std::int64_t> wall_ms{0};
};

ManualClock::ManualClock(Instant start)
    : time_(std::make_unique<Time>()), timers_(std::make_unique<detail::TimerQueue>()) {
  const std::int64_t mono_ns = start.mono_ns != 0 ? start.mono_ns : start.mono_ms * 1'000'000;
  time_->mono_ns.store(mono_ns, std::memory_order_relaxed);  // before publication of `this`
  time_->wall_ms.store(start.wall_ms, std::memory_order_relaxed);
}

ManualClock::~ManualClock() = default;

Instant ManualClock::now() const {
  const std::int64_t mono = time_->mono_ns.load(std::memory_order_acquire);  // pairs with set_mono_ns
  const std::int64_t wall = time_->wall_ms.load(std::memory_order_acquire);  // pairs with set_mono_ns / jump_wall_time
  return Instant{wall, mono / 1'000'000, mono};
}

void ManualClock::set_mono_ns(std::int64_t mono_ns) {
  const std::int64_t old = time_->mono_ns.load(std::memory_order_relaxed);  // single writer
  if (mono_ns <= old) return;
  const std::int64_t delta_ms = mono_ns / 1'000'000 - old / 1'000'000;
  // release: pairs with the acquire loads in now().
  time_->wall_ms.store(time_->wall_ms.load(std::memory_order_relaxed) + delta_ms, std::memory_order_release);
  time_->mono_ns.store(mono_ns, std::memory_order_release);
}

bool ManualClock::fire_next_due(std::int64_t limit_ns) {
  auto due = timers_->pop_due(limit_ns);
  if (!due) return false;
  set_mono_ns(due->deadline_ns);
  (*due)();
  return true;
}

void ManualClock::advance_by(std::chrono::milliseconds d) {
  if (d.count() < 0) throw Error("ManualClock::advance_by: d must be >= 0ms (got " + std::to_string(d.count()) + "ms)");
  const std::int64_t target = time_->mono_ns.load(std::memory_order_relaxed) + d.count() * 1'000'000;
  while (fire_next_due(target)) {
  }
  set_mono_ns(target);
}

void ManualClock::advance_to(std::int64_t mono_ms) {
  const std::int64_t target = mono_ms * 1'000'000;
  if (target <= time_->mono_ns.load(std::memory_order_relaxed)) return;
  while (fire_next_due(target)) {
  }
  set_mono_ns(target);
}

bool ManualClock::tick() {
  auto next = timers_->next_deadline();
  if (!next) return false;
  return fire_next_due(*next);
}

void ManualClock::jump_wall_time(std::int64_t wall_ms) {
  time_->wall_ms.store(wall_ms, std::memory_order_release);  // pairs with the acquire load in now()
}

std::size_t ManualClock::pending_timer_count() const { return timers_->pending(); }

std::shared_ptr<ManualClock> create_manual_clock(Instant start) { return std::make_shared<ManualClock>(start); }

}  // namespace phyx
