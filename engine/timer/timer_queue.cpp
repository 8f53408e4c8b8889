#include "timer/timer_queue.hpp"

#include <utility>

namespace phyx::detail {

TimerId TimerQueue::add(std::int64_t deadline_ns, Callback fire, bool* wake_driver) {
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

std::optional<std::int64_t> TimerQueue::announce_next_deadline() {
  std::lock_guard lock(mutex_);
  drop_dead_top();
  announced_ = heap_.empty() ? INT64_MAX : heap_.top().deadline_ns;
  if (heap_.empty()) return std::nullopt;
  return announced_;
}

bool TimerQueue::cancel(TimerId id) {
  Callback doomed;  // destroyed after the lock is released: it may own futures and refs
  std::lock_guard lock(mutex_);
  auto it = live_.find(id.value);
  if (it == live_.end()) return false;
  doomed = std::move(it->second);
  live_.erase(it);
  return true;
}

std::size_t TimerQueue::pending() const {
  std::lock_guard lock(mutex_);
  return live_.size();
}

std::optional<std::int64_t> TimerQueue::next_deadline() const {
  std::lock_guard lock(mutex_);
  const_cast<TimerQueue*>(this)->drop_dead_top();
  if (heap_.empty()) return std::nullopt;
  return heap_.top().deadline_ns;
}

std::optional<TimerQueue::Due> TimerQueue::pop_due(std::int64_t limit_ns) {
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

std::size_t TimerQueue::clear() {
  std::unordered_map<std::uint64_t, Callback> doomed;
  std::lock_guard lock(mutex_);
  doomed.swap(live_);
  heap_ = {};
  return doomed.size();
}

void TimerQueue::drop_dead_top() {
  while (!heap_.empty() && !live_.contains(heap_.top().id)) heap_.pop();
}

}  // namespace phyx::detail
