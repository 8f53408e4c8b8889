// engine/timer/timer_queue.hpp — the pending runtime timers of one clock.
//
// Design: a binary min-heap of (deadline_ns, id) plus a hash map id -> callback, under one
// mutex. Ids rise monotonically, so ordering by (deadline, id) fires timers that fall due
// together in deadline order and ties in creation order (SPEC 7). Cancel erases from the
// map in O(1); the heap entry is skipped lazily when it reaches the top.
//
// Protocol:
//  1. add() / cancel() from any thread, under `mutex_`.
//  2. pop_due(limit) removes the earliest live timer with deadline <= limit and returns its
//     callback; the caller runs it outside the lock. A cancel() after the pop returns false:
//     "had not fired" is decided by who removes the map entry first.
//  3. pending() is the map's size: exact, as ManualClock::pending_timer_count requires.
//  4. A driver thread announces the deadline it will sleep until (announce_next_deadline);
//     add() asks for a wake-up only for an earlier deadline. Both under `mutex_`, so no
//     earlier deadline is missed, and a stream of later ones (ask timeouts) wakes nobody.
//
// Rejected here: the hashed wheel of the timer issue (O(1) insert and cancel) replaces this
// heap behind the same interface; the heap is the baseline it is measured against.
#pragma once

#include <cstddef>
#include <cstdint>
#include <climits>
#include <functional>
#include <mutex>
#include <optional>
#include <queue>
#include <unordered_map>
#include <vector>

#include "phyx/ids.hpp"

namespace phyx::detail {

class TimerQueue {
 public:
  using Callback = std::function<void(TimerId)>;
  struct Due {
    std::int64_t deadline_ns;
    TimerId id;
    Callback fire;
    void operator()() { fire(id); }
  };

  /// Any thread; allocates. `*wake_driver` is set when the new deadline is earlier than
  /// the one the driver (timer thread) last announced it sleeps until: only then must it be
  /// woken (one wake-up per earlier deadline, not per timer).
  TimerId add(std::int64_t deadline_ns, Callback fire, bool* wake_driver = nullptr);
  /// Any thread. True if it was pending (it will not fire). Destroys the callback outside
  /// the lock.
  bool cancel(TimerId id);
  /// Any thread.
  std::size_t pending() const;
  std::optional<std::int64_t> next_deadline() const;
  /// The driver: the earliest pending deadline, which it will sleep until. Recorded under
  /// the queue's lock, so an add() either sees it (and wakes the driver if earlier) or
  /// happened before it (and is the deadline returned).
  std::optional<std::int64_t> announce_next_deadline();
  /// Any thread: removes and returns the earliest timer due at or before `limit_ns`.
  std::optional<Due> pop_due(std::int64_t limit_ns);
  /// Drops every pending timer (their callbacks are destroyed unrun). Returns how many.
  std::size_t clear();

 private:
  struct Entry {
    std::int64_t deadline_ns;
    std::uint64_t id;
    bool operator>(const Entry& o) const noexcept {
      return deadline_ns != o.deadline_ns ? deadline_ns > o.deadline_ns : id > o.id;
    }
  };
  void drop_dead_top();  // under mutex_

  mutable std::mutex mutex_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap_;
  std::unordered_map<std::uint64_t, Callback> live_;
  std::uint64_t next_id_ = 1;
  std::int64_t announced_ = INT64_MAX;  // the driver sleeps until then
};

}  // namespace phyx::detail
