// engine/runtime/future_state.cpp and phyx/detail/future_state.hpp: the claim word (steps
// 1 and 6: the claimed bit and a timed future's timer node in one word) and the mark that
// settles (steps 2-4), alone and under racing threads (meant for TSan). Each race ends
// with its accounting: one winner, every continuation run once, every timer cancelled.
#include "phyx/detail/future_state.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "phyx/detail/timer_node.hpp"
#include "support/scale.hpp"
#include "timer/timer_service.hpp"

using phyx::Result;
using phyx::TimerId;
using phyx::detail::FutureState;
using phyx::detail::make_timer_node;
using phyx::detail::TimedFutureState;
using phyx::detail::TimerNode;
using phyx::detail::TimerService;

namespace {

constexpr std::int64_t kMs = 1'000'000;

// A timer callback that counts its own destruction (a cancel destroys it at once).
struct Counted {
  std::atomic<int>* destroyed;
  bool owner = true;
  explicit Counted(std::atomic<int>* d) : destroyed(d) {}
  Counted(Counted&& o) noexcept : destroyed(o.destroyed), owner(std::exchange(o.owner, false)) {}
  Counted(const Counted&) = delete;
  ~Counted() {
    if (owner) destroyed->fetch_add(1, std::memory_order_relaxed);  // a tally; joined before read
  }
  void operator()(TimerId) const {}
};

// A node started on `s` for 100 ms from 0 (never due in these tests), as an ask's timer.
TimerNode* started_node(TimerService& s, std::atomic<int>& destroyed) {
  TimerNode* n = make_timer_node(Counted(&destroyed));
  s.start(n, 100 * kMs, nullptr);
  return n;
}

}  // namespace

TEST_CASE("step 6: a timer set before the settle is cancelled by the claim") {
  TimerService s(0);
  std::atomic<int> destroyed{0};
  auto state = std::make_shared<TimedFutureState<int>>();
  state->set_timer(started_node(s, destroyed));
  CHECK(s.pending() == 1);
  CHECK_FALSE(state->ready());
  REQUIRE(state->settle(Result<int>(7)));
  CHECK(state->ready());
  CHECK(state->result().value() == 7);
  CHECK(s.pending() == 0);  // an answered ask leaves no timer behind (SPEC 14.9)
  CHECK(destroyed.load() == 1);
  CHECK_FALSE(state->settle(Result<int>(8)));  // a second settler loses
  CHECK(state->result().value() == 7);
}

TEST_CASE("step 6: a timer set after the settle is cancelled by set_timer at once") {
  TimerService s(0);
  std::atomic<int> destroyed{0};
  auto state = std::make_shared<TimedFutureState<int>>();
  REQUIRE(state->settle(Result<int>(1)));
  state->set_timer(started_node(s, destroyed));
  CHECK(s.pending() == 0);
  CHECK(destroyed.load() == 1);
}

TEST_CASE("step 6: a timed future dropped unsettled cancels its timer") {
  TimerService s(0);
  std::atomic<int> destroyed{0};
  {
    auto state = std::make_shared<TimedFutureState<int>>();
    state->set_timer(started_node(s, destroyed));
    CHECK(s.pending() == 1);
  }
  CHECK(s.pending() == 0);
  CHECK(destroyed.load() == 1);
}

TEST_CASE(
    "steps 1 and 6 under threads: set_timer races the settle; the timer is always cancelled, "
    "once") {
  TimerService s(0);
  std::atomic<int> destroyed{0};
  const int rounds = static_cast<int>(2000 * phyx_test::scale());
  for (int i = 0; i < rounds; ++i) {
    auto state = std::make_shared<TimedFutureState<int>>();
    TimerNode* node = started_node(s, destroyed);
    std::thread settler([&] { state->settle(Result<int>(i)); });
    state->set_timer(node);
    settler.join();
    REQUIRE(state->ready());
  }
  CHECK(s.pending() == 0);
  CHECK(destroyed.load() == rounds);
}

TEST_CASE(
    "steps 1-4 under threads: of 3 racing settlers one wins; every continuation runs once; a "
    "blocked waiter wakes") {
  const int rounds = static_cast<int>(1000 * phyx_test::scale());
  std::uint64_t wins = 0;
  std::uint64_t ran = 0;
  std::uint64_t added = 0;
  for (int i = 0; i < rounds; ++i) {
    auto state = std::make_shared<FutureState<int>>();
    std::atomic<int> round_wins{0};
    std::atomic<int> round_ran{0};
    std::atomic<bool> waiter_saw{false};
    // A thread that blocks in wait() (step 4), and one that adds continuations while the
    // settlers race (step 3: before the mark they are queued, after it they run at once).
    std::thread waiter([&] {
      state->wait();
      waiter_saw.store(state->ready() && state->result().value() >= 0,
                       std::memory_order_relaxed);  // read after join
    });
    std::thread adder([&] {
      for (int k = 0; k < 4; ++k) {
        state->on_ready([&] {
          CHECK(state->ready());                              // runs only once the result is there
          round_ran.fetch_add(1, std::memory_order_relaxed);  // a tally; joined before read
        });
      }
    });
    std::vector<std::thread> settlers;
    for (int k = 0; k < 3; ++k) {
      settlers.emplace_back([&, k] {
        if (state->settle(Result<int>(k)))
          round_wins.fetch_add(1, std::memory_order_relaxed);  // a tally
      });
    }
    for (auto& t : settlers) t.join();
    adder.join();
    waiter.join();
    REQUIRE(round_wins.load() == 1);
    REQUIRE(waiter_saw.load());
    wins += static_cast<std::uint64_t>(round_wins.load());
    ran += static_cast<std::uint64_t>(round_ran.load());
    added += 4;
  }
  // The accounting: one winner per round, every continuation added was run exactly once.
  CHECK(wins == static_cast<std::uint64_t>(rounds));
  CHECK(ran == added);
}
