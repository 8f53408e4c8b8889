// bench/timer/heap_timer_queue.hpp — the baseline the timer wheel is measured against:
// the runtime's timer queue before the wheel (engine/timer/timer_service.hpp replaced it).
//
// Design: a binary min-heap of (deadline_ns, id) plus a hash map id -> callback, under one
// mutex. Cancel erases from the map in O(1); the heap entry is skipped lazily when it
// reaches the top, so cancelled timers stay in the heap until their deadline.
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

namespace phyx::bench {

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


inline TimerId TimerQueue::add(std::int64_t deadline_ns, Callback fire, bool* wake_driver) {
  std::lock_guard lock(mutex_);
  drop_dead_top();
  const std::uint64_t id = next_id_++;
  heap_.push(Entry{deadline_ns, id});
  live_.emplace(id, std::move(fire));
  const bool earlier = deadline_ns < announced_;
  if (earlier) announced_ = deadline_ns;  // the driver will be woken and re-announce
  if (wake_driver) *wake_driver = earlier;
  return TimerId{id};
}

inline std::optional<std::int64_t> TimerQueue::announce_next_deadline() {
  std::lock_guard lock(mutex_);
  drop_dead_top();
  announced_ = heap_.empty() ? INT64_MAX : heap_.top().deadline_ns;
  if (heap_.empty()) return std::nullopt;
  return announced_;
}

inline bool TimerQueue::cancel(TimerId id) {
  Callback doomed;  // destroyed after the lock is released: it may own futures and refs
  std::lock_guard lock(mutex_);
  auto it = live_.find(id.value);
  if (it == live_.end()) return false;
  doomed = std::move(it->second);
  live_.erase(it);
  return true;
}

inline std::size_t TimerQueue::pending() const {
  std::lock_guard lock(mutex_);
  return live_.size();
}

inline std::optional<std::int64_t> TimerQueue::next_deadline() const {
  std::lock_guard lock(mutex_);
  const_cast<TimerQueue*>(this)->drop_dead_top();
  if (heap_.empty()) return std::nullopt;
  return heap_.top().deadline_ns;
}

inline std::optional<TimerQueue::Due> TimerQueue::pop_due(std::int64_t limit_ns) {
  std::lock_guard lock(mutex_);
  drop_dead_top();
  if (heap_.empty() || heap_.top().deadline_ns > limit_ns) return std::nullopt;
  Entry top = heap_.top();
  heap_.pop();
  auto it = live_.find(top.id);
  Due due{top.deadline_ns, TimerId{top.id}, std::move(it->second)};
  live_.erase(it);
  return due;
}

inline std::size_t TimerQueue::clear() {
  std::unordered_map<std::uint64_t, Callback> doomed;
  std::lock_guard lock(mutex_);
  doomed.swap(live_);
  heap_ = {};
  return doomed.size();
}

inline void TimerQueue::drop_dead_top() {
  while (!heap_.empty() && !live_.contains(heap_.top().id)) heap_.pop();
}

}  // namespace phyx::bench
