#include "timer/timer_wheel.hpp"

#include <algorithm>
#include <bit>

namespace phyx::detail {

TimerWheel::TimerWheel(std::int64_t now_ns) noexcept : elapsed_(tick_of(now_ns)) {}

std::int64_t TimerWheel::tick_of(std::int64_t ns) noexcept {
  return ns >= 0 ? ns / kTickNs : -((-ns + kTickNs - 1) / kTickNs);  // floor
}

void TimerWheel::insert(TimerNode* n) {
  const std::int64_t tick = tick_of(n->deadline_ns());
  if (tick <= elapsed_) {
    ready_.push_back(Ready{n->deadline_ns(), n->id().value, n});  // may allocate; the only allocation here
    std::push_heap(ready_.begin(), ready_.end(), Later{});
    n->place = TimerNode::Place::ready;
    ++size_;
    return;
  }
  // A deadline farther than the levels reach is filed at the farthest distance they do
  // reach, and re-filed from there when its slot comes round (expire()).
  const std::int64_t placed = tick - elapsed_ > kMaxSpan ? elapsed_ + kMaxSpan : tick;
  auto masked = static_cast<std::uint64_t>(elapsed_ ^ placed) | (kSlots - 1);
  if (masked > static_cast<std::uint64_t>(kMaxSpan)) masked = kMaxSpan;  // crossing the top level's boundary
  const int level = (63 - std::countl_zero(masked)) / kSlotBits;
  const int slot = static_cast<int>((static_cast<std::uint64_t>(placed) >> (level * kSlotBits)) & (kSlots - 1));
  Level& l = levels_[level];
  n->level = static_cast<std::uint8_t>(level);
  n->slot = static_cast<std::uint8_t>(slot);
  n->place = TimerNode::Place::slot;
  n->wheel_prev = nullptr;
  n->wheel_next = l.slots[slot];
  if (n->wheel_next != nullptr) n->wheel_next->wheel_prev = n;
  l.slots[slot] = n;
  l.occupied |= std::uint64_t{1} << slot;
  ++size_;
}

void TimerWheel::remove(TimerNode* n) noexcept {
  Level& l = levels_[n->level];
  if (n->wheel_prev != nullptr) {
    n->wheel_prev->wheel_next = n->wheel_next;
  } else {
    l.slots[n->slot] = n->wheel_next;
  }
  if (n->wheel_next != nullptr) n->wheel_next->wheel_prev = n->wheel_prev;
  if (l.slots[n->slot] == nullptr) l.occupied &= ~(std::uint64_t{1} << n->slot);
  n->wheel_prev = n->wheel_next = nullptr;
  n->place = TimerNode::Place::none;
  --size_;
}

bool TimerWheel::earliest_slot(int& level, int& slot, std::int64_t& start) const noexcept {
  for (int l = 0; l < kLevels; ++l) {
    const std::uint64_t occupied = levels_[l].occupied;
    if (occupied == 0) continue;
    const int shift = l * kSlotBits;
    const int now_slot = static_cast<int>((static_cast<std::uint64_t>(elapsed_) >> shift) & (kSlots - 1));
    const int s = (std::countr_zero(std::rotr(occupied, now_slot)) + now_slot) & (kSlots - 1);
    const std::int64_t slot_width = std::int64_t{1} << shift;
    const std::int64_t level_width = slot_width << kSlotBits;
    std::int64_t begin = (elapsed_ & ~(level_width - 1)) + s * slot_width;
    // Only the top level wraps (far deadlines filed there a rotation ahead): a slot that
    // seems to start in the past is in the next rotation.
    if (begin <= elapsed_) begin += level_width;
    level = l;
    slot = s;
    start = begin;
    return true;
  }
  return false;
}

void TimerWheel::expire(int level, int slot, std::int64_t start) {
  Level& l = levels_[level];
  TimerNode* n = l.slots[slot];
  l.slots[slot] = nullptr;
  l.occupied &= ~(std::uint64_t{1} << slot);
  elapsed_ = std::max(elapsed_, start);
  while (n != nullptr) {
    TimerNode* next = n->wheel_next;
    n->wheel_prev = n->wheel_next = nullptr;
    n->place = TimerNode::Place::none;
    --size_;
    insert(n);  // due in this tick: into ready_; later: a lower level (cascade)
    n = next;
  }
}

TimerNode* TimerWheel::pop_due(std::int64_t limit_ns) {
  const std::int64_t limit_tick = tick_of(limit_ns);
  for (;;) {
    if (!ready_.empty()) {
      if (ready_.front().deadline_ns > limit_ns) return nullptr;
      std::pop_heap(ready_.begin(), ready_.end(), Later{});
      TimerNode* n = ready_.back().node;
      ready_.pop_back();
      n->place = TimerNode::Place::none;
      --size_;
      return n;
    }
    int level = 0;
    int slot = 0;
    std::int64_t start = 0;
    if (!earliest_slot(level, slot, start) || start > limit_tick) {
      // Nothing is due: catch up with the clock, so new timers are filed near the bottom.
      elapsed_ = std::max(elapsed_, limit_tick);
      return nullptr;
    }
    expire(level, slot, start);
  }
}

TimerNode* TimerWheel::peek_next() {
  for (;;) {
    if (!ready_.empty()) return ready_.front().node;
    int level = 0;
    int slot = 0;
    std::int64_t start = 0;
    if (!earliest_slot(level, slot, start)) return nullptr;
    expire(level, slot, start);
  }
}

std::optional<std::int64_t> TimerWheel::next_deadline() {
  const TimerNode* n = peek_next();
  if (n == nullptr) return std::nullopt;
  return n->deadline_ns();
}

std::optional<std::int64_t> TimerWheel::wake_bound() const noexcept {
  if (!ready_.empty()) return ready_.front().deadline_ns;
  int level = 0;
  int slot = 0;
  std::int64_t start = 0;
  if (!earliest_slot(level, slot, start)) return std::nullopt;
  return start * kTickNs;
}

}  // namespace phyx::detail
