// engine/timer/timer_wheel.hpp — a hierarchical hashed timer wheel of 1 ms ticks.
//
// Single-owner data structure: only the thread that drives timers touches it (the timer
// service serialises that), so it has no atomics and no locks. What makes a deadline
// "due" and who may cancel from where is the service's business (timer_service.hpp).
//
// Geometry (as Linux kernel/time/timer.c and Tokio's time driver lay theirs out): 7
// levels of 64 slots; a slot of level L is 64^L ticks wide.
//
//   level | slot width        | level range (64 slots)
//   ------+-------------------+-----------------------
//     0   | 1 ms              | 64 ms
//     1   | 64 ms             | 4.1 s
//     2   | 4.1 s             | 4.4 min
//     3   | 4.4 min           | 4.7 h
//     4   | 4.7 h             | 12.4 days
//     5   | 12.4 days         | 2.2 years
//     6   | 2.2 years         | 139 years  (farther deadlines wait in level 6, re-filed)
//
// Placement: a deadline of tick t (t = floor(deadline_ns / 1 ms)) goes to the level of
// the highest bit in which t differs from `elapsed_` (the last tick the wheel reached),
// six bits per level, in slot (t >> 6L) & 63. So every timer in level L is later than
// every timer in levels below L, and the first occupied slot of the lowest occupied
// level holds the earliest timers. Each level keeps a 64-bit occupancy mask: the next
// occupied slot is one rotate and one count-trailing-zeros, never a scan of empty slots.
//
// Protocol (driver only):
//  1. insert(n): a tick <= elapsed_ goes to `ready_`; a later one into its slot. O(1).
//  2. remove(n): unlinks a slotted node. O(1). (A node already in `ready_` is left there;
//     it leaves through pop_due and its owner drops it then.)
//  3. pop_due(limit): while `ready_` is empty and the earliest slot starts at or before
//     the limit's tick, expire that slot: elapsed_ moves to the slot's start and each node
//     in it either is due in that tick (into `ready_`) or is re-filed lower (cascading).
//     Then the top of `ready_` is returned if its deadline <= limit.
//  4. `ready_` is a min-heap by (deadline_ns, id): timers that fall due together leave in
//     deadline order, ties in creation order (ids rise with creation).
// Invariants: every node in `ready_` has tick <= elapsed_ < the tick of every slotted
// node, so the heap top is the earliest timer when the heap is not empty. elapsed_ never
// goes backwards. A node is never returned before its deadline.
// Rejected: a binary heap of every timer (O(log n) insert, and cancel is either O(n) or
// lazy, which keeps cancelled ask timeouts in memory: the baseline in bench/timer/); a
// single-level wheel (slots hold far timers that must be skipped every rotation); Linux's
// non-cascading wheel (it fires late by up to 1/8 of the slot width at each level; our
// deadlines must never be more than one tick late).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "phyx/detail/timer_node.hpp"

namespace phyx::detail {

class TimerWheel {
 public:
  static constexpr int kSlotBits = 6;
  static constexpr int kSlots = 1 << kSlotBits;
  static constexpr int kLevels = 7;
  static constexpr std::int64_t kTickNs = 1'000'000;
  /// Ticks beyond elapsed_ that the levels can tell apart; farther timers are filed at
  /// this distance and re-filed when their slot comes round.
  static constexpr std::int64_t kMaxSpan = (std::int64_t{1} << (kSlotBits * kLevels)) - 1;

  /// `now_ns`: the clock's monotonic time when the wheel starts.
  explicit TimerWheel(std::int64_t now_ns = 0) noexcept;
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  /// Step 1. Allocates only when `ready_` grows.
  void insert(TimerNode* n);
  /// Step 2. `n` must be in a slot (n->place == Place::slot).
  void remove(TimerNode* n) noexcept;
  /// Step 3: the earliest node due at or before `limit_ns`, removed; nullptr if none.
  TimerNode* pop_due(std::int64_t limit_ns);
  /// The exact earliest deadline, or nullopt when empty. Expires slots ahead of the clock
  /// to learn it (allowed: see the invariants); use wake_bound() where a bound will do.
  std::optional<std::int64_t> next_deadline();
  /// The earliest (deadline, id), like next_deadline(); for merging several wheels.
  TimerNode* peek_next();
  /// A lower bound of the earliest deadline that changes nothing: the heap top, or the
  /// start of the earliest occupied slot. nullopt when empty.
  std::optional<std::int64_t> wake_bound() const noexcept;

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::int64_t elapsed_tick() const noexcept { return elapsed_; }
  /// Takes every node out (for destruction); calls f(node) for each.
  template <class F>
  void drain(F f);

 private:
  struct Level {
    std::uint64_t occupied = 0;
    std::array<TimerNode*, kSlots> slots{};
  };
  /// A due node with its key copied in, so heap moves never touch the nodes.
  struct Ready {
    std::int64_t deadline_ns;
    std::uint64_t id;
    TimerNode* node;
  };
  struct Later {  // heap order: the earliest (deadline, id) on top
    bool operator()(const Ready& a, const Ready& b) const noexcept {
      return a.deadline_ns != b.deadline_ns ? a.deadline_ns > b.deadline_ns : a.id > b.id;
    }
  };
  static std::int64_t tick_of(std::int64_t ns) noexcept;
  /// The earliest occupied slot: its level, slot and start tick. False when none.
  bool earliest_slot(int& level, int& slot, std::int64_t& start) const noexcept;
  void expire(int level, int slot, std::int64_t start);

  std::array<Level, kLevels> levels_{};
  std::vector<Ready> ready_;  // a heap (Later)
  std::int64_t elapsed_;
  std::size_t size_ = 0;
};

template <class F>
void TimerWheel::drain(F f) {
  for (const Ready& r : ready_) {
    r.node->place = TimerNode::Place::none;
    f(r.node);
  }
  ready_.clear();
  for (auto& level : levels_) {
    for (auto& head : level.slots) {
      while (TimerNode* n = head) {
        head = n->wheel_next;
        n->wheel_prev = n->wheel_next = nullptr;
        n->place = TimerNode::Place::none;
        f(n);
      }
    }
    level.occupied = 0;
  }
  size_ = 0;
}

}  // namespace phyx::detail
