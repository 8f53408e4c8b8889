// engine/timer/manual_clock.cpp — ManualClock: time that moves only when a test moves it.
//
// Time is two atomics (mono_ns, wall_ms), written only by the thread advancing the clock
// (callers must not advance one clock from two threads at once) and read by any thread.
// Stores are release and loads acquire, so a thread that sees a new mono time also sees
// the writes that happened before it moved.
// Timers: every runtime built on the clock registers its timer service here (weakly; the
// runtime owns it). They share one id source, so (deadline, id) orders the timers of all
// of them: ties fire in creation order across runtimes too.
// Firing protocol: find the service whose earliest pending timer (deadline, id) is the
// least; if it is due, pop it, set mono to its deadline (wall moves by the same amount),
// run the callback outside every lock; repeat; finally set the target. The clock is the
// driver of those services: callers must not advance one clock from two threads at once.
#include <algorithm>
#include <atomic>
#include <climits>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "phyx/clock.hpp"
#include "phyx/errors.hpp"
#include "timer/timer_service.hpp"

namespace phyx {

struct ManualClock::Time {
  std::atomic<std::int64_t> mono_ns{0};
  std::atomic<std::int64_t> wall_ms{0};
};

struct ManualClock::Timers {
  std::mutex mutex;  // guards `services`
  std::vector<std::weak_ptr<detail::TimerService>> services;
  std::atomic<std::uint64_t> ids{0};

  /// The live services, pruning dead ones.
  std::vector<std::shared_ptr<detail::TimerService>> live() {
    std::vector<std::shared_ptr<detail::TimerService>> out;
    std::lock_guard lock(mutex);
    std::erase_if(services, [&](const std::weak_ptr<detail::TimerService>& w) {
      auto s = w.lock();
      if (!s) return true;
      out.push_back(std::move(s));
      return false;
    });
    return out;
  }
};

ManualClock::ManualClock(Instant start) : time_(std::make_unique<Time>()), timers_(std::make_unique<Timers>()) {
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

void ManualClock::attach(const std::shared_ptr<detail::TimerService>& service) {
  std::lock_guard lock(timers_->mutex);
  timers_->services.push_back(service);
}

std::atomic<std::uint64_t>* ManualClock::timer_ids() const { return &timers_->ids; }

bool ManualClock::fire_next_due(std::int64_t limit_ns) {
  for (;;) {
    std::shared_ptr<detail::TimerService> first;
    std::pair<std::int64_t, TimerId> first_due{};
    for (auto& s : timers_->live()) {
      auto due = s->next_due();
      if (due && (!first || *due < first_due)) {
        first = s;
        first_due = *due;
      }
    }
    if (!first || first_due.first > limit_ns) return false;
    detail::TimerNode* n = first->pop_due(first_due.first);
    if (n == nullptr) continue;  // cancelled meanwhile: look again
    set_mono_ns(n->deadline_ns());
    first->fire(n);
    return true;
  }
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

bool ManualClock::tick() { return fire_next_due(INT64_MAX); }

void ManualClock::jump_wall_time(std::int64_t wall_ms) {
  time_->wall_ms.store(wall_ms, std::memory_order_release);  // pairs with the acquire load in now()
}

std::size_t ManualClock::pending_timer_count() const {
  std::size_t n = 0;
  for (auto& s : timers_->live()) n += s->pending();
  return n;
}

std::shared_ptr<ManualClock> create_manual_clock(Instant start) { return std::make_shared<ManualClock>(start); }

}  // namespace phyx
