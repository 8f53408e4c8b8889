// tests/support/counted_timer.hpp — a timer node whose callback counts its runs and its
// destruction (a cancel destroys the callback at once), for tests of the timer service and
// of what cancels timers (futures).
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>

#include "phyx/detail/timer_node.hpp"

namespace phyx_test {

struct Tally {
  std::atomic<std::uint64_t> ran{0};
  std::atomic<std::uint64_t> destroyed{0};
};

struct Counted {
  Tally* tally;
  bool owner = true;
  explicit Counted(Tally* t) : tally(t) {}
  Counted(Counted&& o) noexcept : tally(o.tally), owner(std::exchange(o.owner, false)) {}
  Counted(const Counted&) = delete;
  ~Counted() {
    if (owner)
      tally->destroyed.fetch_add(1, std::memory_order_relaxed);  // a tally; joined before read
  }
  void operator()(phyx::TimerId) const {
    tally->ran.fetch_add(1, std::memory_order_relaxed);  // a tally; joined before read
  }
};

inline phyx::detail::TimerNode* counted_node(Tally& t) {
  return phyx::detail::make_timer_node(Counted(&t));
}

}  // namespace phyx_test
