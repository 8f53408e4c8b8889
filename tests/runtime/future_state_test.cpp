// engine/runtime/future_state.cpp and phyx/detail/future_state.hpp: the claim word (steps
// 1 and 6: the claimed bit and a timed future's timer node in one word), the mark that
// settles (steps 2-4), and the holders' count (phyx/detail/state_ref.hpp), alone and under
// racing threads (meant for TSan). Each race ends with its accounting: one winner, every
// continuation run once, every timer cancelled, every state freed once.
#include "phyx/detail/future_state.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "phyx/detail/timer_node.hpp"
#include "support/counted_timer.hpp"
#include "support/scale.hpp"
#include "timer/timer_service.hpp"

using phyx::Result;
using phyx::detail::FutureState;
using phyx::detail::make_state;
using phyx::detail::StateRef;
using phyx::detail::TimedFutureState;
using phyx::detail::TimerNode;
using phyx::detail::TimerService;
using phyx_test::counted_node;
using phyx_test::Tally;

namespace {

constexpr std::int64_t kMs = 1'000'000;

// A node started on `s` for 100 ms from 0 (never due in these tests), as an ask's timer.
TimerNode* started_node(TimerService& s, Tally& tally) {
  TimerNode* n = counted_node(tally);
  s.start(n, 100 * kMs, nullptr);
  return n;
}

// relaxed: a tally, read after the threads that wrote it were joined.
std::uint64_t destroyed(const Tally& t) {
  return t.destroyed.load(std::memory_order_relaxed);
}

// A state that counts its destruction, made with `holders` references as an ask's is.
struct CountedState final : FutureState<int> {
  CountedState(std::uint32_t holders, std::atomic<int>& freed)
      : FutureState<int>(holders), freed_(freed) {}
  ~CountedState() override { freed_.fetch_add(1, std::memory_order_relaxed); }  // a tally
  std::atomic<int>& freed_;
};

}  // namespace

TEST_CASE("holders: a state made with three holders is freed by the third release, not before") {
  std::atomic<int> freed{0};
  auto* raw = new CountedState(3, freed);
  StateRef<FutureState<int>> future(raw);  // each adopts one of the three, counting nothing
  StateRef<CountedState> reply(raw);
  {
    StateRef<CountedState> stage(raw);
    StateRef<FutureState<int>> copy = future;  // a copy counts one more
    REQUIRE(raw->settle(Result<int>(5)));
  }
  CHECK(freed.load(std::memory_order_relaxed) == 0);  // the stage and the copy are gone
  reply.reset();
  CHECK(freed.load(std::memory_order_relaxed) == 0);
  CHECK(future->ready());
  StateRef<FutureState<int>> moved = std::move(future);  // a move counts nothing
  CHECK_FALSE(future);
  moved.reset();
  CHECK(freed.load(std::memory_order_relaxed) == 1);
}

TEST_CASE(
    "holders under threads: references copied and dropped on many threads free the state once") {
  const int rounds = static_cast<int>(2000 * phyx_test::scale());
  std::atomic<int> freed{0};
  for (int i = 0; i < rounds; ++i) {
    auto* raw = new CountedState(3, freed);
    StateRef<CountedState> refs[3] = {StateRef<CountedState>(raw), StateRef<CountedState>(raw),
                                      StateRef<CountedState>(raw)};
    std::vector<std::thread> holders;
    for (auto& r : refs) {
      holders.emplace_back([mine = std::move(r), i] {
        StateRef<CountedState> copy = mine;  // and one copy each, dropped first
        if (i % 2 == 0) copy->settle(Result<int>(i));
      });
    }
    for (auto& t : holders) t.join();
    REQUIRE(freed.load(std::memory_order_relaxed) == i + 1);  // joined: freed once, by the last
  }
  CHECK(freed.load(std::memory_order_relaxed) == rounds);  // the accounting: every state freed once
}

TEST_CASE("step 6: a timer set before the settle is cancelled by the claim") {
  TimerService s(0);
  Tally tally;
  auto state = make_state<TimedFutureState<int>>();
  state->set_timer(started_node(s, tally));
  CHECK(s.pending() == 1);
  CHECK_FALSE(state->ready());
  REQUIRE(state->settle(Result<int>(7)));
  CHECK(state->ready());
  CHECK(state->result().value() == 7);
  CHECK(s.pending() == 0);  // an answered ask leaves no timer behind (SPEC 14.9)
  CHECK(destroyed(tally) == 1);
  CHECK_FALSE(state->settle(Result<int>(8)));  // a second settler loses
  CHECK(state->result().value() == 7);
}

TEST_CASE("step 6: a timer set after the settle is cancelled by set_timer at once") {
  TimerService s(0);
  Tally tally;
  auto state = make_state<TimedFutureState<int>>();
  REQUIRE(state->settle(Result<int>(1)));
  state->set_timer(started_node(s, tally));
  CHECK(s.pending() == 0);
  CHECK(destroyed(tally) == 1);
}

TEST_CASE("step 6: a timed future dropped unsettled cancels its timer") {
  TimerService s(0);
  Tally tally;
  {
    auto state = make_state<TimedFutureState<int>>();
    state->set_timer(started_node(s, tally));
    CHECK(s.pending() == 1);
  }
  CHECK(s.pending() == 0);
  CHECK(destroyed(tally) == 1);
}

TEST_CASE(
    "steps 1 and 6 under threads: set_timer races the settle; the timer is always cancelled, "
    "once") {
  TimerService s(0);
  Tally tally;
  const int rounds = static_cast<int>(2000 * phyx_test::scale());
  for (int i = 0; i < rounds; ++i) {
    auto state = make_state<TimedFutureState<int>>();
    TimerNode* node = started_node(s, tally);
    std::thread settler([&] { state->settle(Result<int>(i)); });
    state->set_timer(node);
    settler.join();
    REQUIRE(state->ready());
  }
  CHECK(s.pending() == 0);
  CHECK(destroyed(tally) == static_cast<std::uint64_t>(rounds));
}

TEST_CASE(
    "steps 1-4 under threads: of 3 racing settlers one wins; every continuation runs once; a "
    "blocked waiter wakes") {
  const int rounds = static_cast<int>(1000 * phyx_test::scale());
  std::uint64_t wins = 0;
  std::uint64_t ran = 0;
  std::uint64_t added = 0;
  for (int i = 0; i < rounds; ++i) {
    auto state = make_state<FutureState<int>>();
    std::atomic<int> round_wins{0};
    std::atomic<int> round_ran{0};
    std::atomic<bool> waiter_saw{false};
    // A thread that blocks in wait() (step 4), and one that adds continuations while the
    // settlers race (step 3: before the mark they are queued, after it they run at once).
    std::thread waiter([&] {
      state->wait();
      const bool saw = state->ready() && state->result().value() >= 0;
      waiter_saw.store(saw, std::memory_order_relaxed);  // read after join
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
    REQUIRE(round_wins.load(std::memory_order_relaxed) == 1);  // joined
    REQUIRE(waiter_saw.load(std::memory_order_relaxed));       // joined
    wins += static_cast<std::uint64_t>(round_wins.load(std::memory_order_relaxed));
    ran += static_cast<std::uint64_t>(round_ran.load(std::memory_order_relaxed));
    added += 4;
  }
  // The accounting: one winner per round, every continuation added was run exactly once.
  CHECK(wins == static_cast<std::uint64_t>(rounds));
  CHECK(ran == added);
}
