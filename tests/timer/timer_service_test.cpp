// Unit tests of engine/timer/timer_service.hpp (and the node protocol of
// phyx/detail/timer_node.hpp): start and cancel from any thread, one driver, exact
// counts. The concurrent tests end with the accounting law: every timer started was
// fired or cancelled exactly once, and every callback was destroyed exactly once.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "phyx/detail/timer_node.hpp"
#include "support/scale.hpp"
#include "timer/timer_service.hpp"

using phyx::TimerId;
using phyx::detail::make_timer_node;
using phyx::detail::TimerNode;
using phyx::detail::TimerService;

namespace {

constexpr std::int64_t kMs = 1'000'000;

/// What happened to the callbacks of a batch of timers.
struct Tally {
  std::atomic<std::uint64_t> ran{0};
  std::atomic<std::uint64_t> destroyed{0};
};

/// A callback that counts its runs and its destruction (once, however often it is moved).
struct Counted {
  Tally* tally;
  bool owner = true;
  explicit Counted(Tally* t) : tally(t) {}
  Counted(Counted&& o) noexcept : tally(o.tally), owner(std::exchange(o.owner, false)) {}
  Counted(const Counted&) = delete;
  ~Counted() {
    if (owner) tally->destroyed.fetch_add(1, std::memory_order_relaxed);  // a tally; joined before read
  }
  void operator()(TimerId) const {
    tally->ran.fetch_add(1, std::memory_order_relaxed);  // a tally; joined before read
  }
};

TimerNode* counted_node(Tally& t) { return make_timer_node(Counted(&t)); }

/// The driver's whole job at `now`: fire everything due.
std::uint64_t fire_due(TimerService& s, std::int64_t now) {
  std::uint64_t n = 0;
  while (TimerNode* due = s.pop_due(now)) {
    s.fire(due);
    ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("start, fire: the callback runs once with its id, then is destroyed; counts are exact") {
  TimerService s(0);
  Tally tally;
  TimerNode* a = counted_node(tally);
  TimerNode* b = counted_node(tally);
  const TimerId ida = s.start(a, 10 * kMs, nullptr);
  const TimerId idb = s.start(b, 10 * kMs, nullptr);
  CHECK(ida.value != 0);
  CHECK(idb.value > ida.value);  // ids rise with creation
  CHECK(s.pending() == 2);
  CHECK(fire_due(s, 10 * kMs - 1) == 0);
  CHECK(fire_due(s, 10 * kMs) == 2);
  CHECK(s.pending() == 0);
  CHECK(s.fired() == 2);
  CHECK(tally.ran == 2);
  CHECK(tally.destroyed == 2);
  CHECK_FALSE(a->cancel());  // it fired
  a->release();
  b->release();
}

TEST_CASE("cancel: true while pending (the callback is destroyed at once, never runs), false after") {
  TimerService s(0);
  Tally tally;
  TimerNode* n = counted_node(tally);
  s.start(n, 5 * kMs, nullptr);
  CHECK(n->cancel());
  CHECK(tally.destroyed == 1);  // before the driver has looked
  CHECK(s.pending() == 0);
  CHECK_FALSE(n->cancel());
  n->release();
  CHECK(fire_due(s, 100 * kMs) == 0);
  CHECK(tally.ran == 0);
  CHECK(s.fired() == 0);
}

TEST_CASE("a timer cancelled after the driver linked it is unlinked; one cancelled before is dropped") {
  TimerService s(0);
  Tally tally;
  TimerNode* linked = counted_node(tally);
  s.start(linked, 50 * kMs, nullptr);
  CHECK(fire_due(s, 0) == 0);  // the driver drains: `linked` is in the wheel now
  TimerNode* unlinked = counted_node(tally);
  s.start(unlinked, 50 * kMs, nullptr);
  CHECK(linked->cancel());
  CHECK(unlinked->cancel());
  linked->release();
  unlinked->release();
  CHECK(fire_due(s, 1'000 * kMs) == 0);
  CHECK(s.next_due() == std::nullopt);
  CHECK(tally.destroyed == 2);
  CHECK(tally.ran == 0);
}

TEST_CASE("next_due is the exact earliest (deadline, id), skipping cancelled timers") {
  TimerService s(0);
  Tally tally;
  TimerNode* first = counted_node(tally);
  TimerNode* second = counted_node(tally);
  s.start(first, 7 * kMs + 3, nullptr);
  const TimerId id2 = s.start(second, 9 * kMs, nullptr);
  REQUIRE(s.next_due().has_value());
  CHECK(s.next_due()->first == 7 * kMs + 3);
  CHECK(first->cancel());
  CHECK(s.next_due() == std::make_pair(std::int64_t{9 * kMs}, id2));
  first->release();
  second->release();
}

TEST_CASE("the driver's sleep: an earlier start wakes it once, later ones do not, a deep sleeper is woken once") {
  TimerService s(0);
  Tally tally;
  std::vector<TimerNode*> held;
  auto start = [&](std::int64_t deadline) {
    held.push_back(counted_node(tally));
    bool wake = false;
    s.start(held.back(), deadline, &wake);
    return wake;
  };
  // Awake (it has not announced a sleep): nobody wakes it.
  s.wake_up();
  CHECK_FALSE(start(100 * kMs));
  // It found work in its inboxes, so it sleeps lightly (10 ms cap), not deeply.
  auto until = s.prepare_sleep(0);
  REQUIRE(until.has_value());
  CHECK(*until == TimerService::kBusyDrainNs);
  CHECK(start(5 * kMs));          // earlier than the announced time: wake
  CHECK_FALSE(start(6 * kMs));    // the first start lowered the announcement to 5 ms
  CHECK_FALSE(start(200 * kMs));  // later: no wake
  // A quiet round: the next sleep is deep, until the earliest deadline.
  s.wake_up();
  CHECK(s.prepare_sleep(0).has_value());  // drains the three starts above (busy)
  s.wake_up();
  until = s.prepare_sleep(0);
  REQUIRE(until.has_value());
  CHECK(*until == 5 * kMs);
  CHECK(start(300 * kMs));        // deep sleep: the first start wakes it, to drain
  CHECK_FALSE(start(400 * kMs));  // once
  // A start between the announcement and the driver's last look is seen by the look.
  s.wake_up();
  fire_due(s, 0);
  for (TimerNode* n : held) n->release();
}

TEST_CASE("concurrent starts and cancels, one driver: every timer fired xor cancelled, exactly once") {
  const int threads = 3;
  const int per_thread = static_cast<int>(20'000 * phyx_test::scale());
  auto service = std::make_unique<TimerService>(0);
  TimerService& s = *service;
  Tally tally;
  std::atomic<std::uint64_t> cancelled{0};
  std::atomic<std::int64_t> clock{0};  // the driver's time, in ns
  std::atomic<int> producers_left{threads};

  std::thread driver([&] {
    // Fires what is due as time moves; stops when the producers are done and nothing is
    // pending any more.
    for (;;) {
      const std::int64_t now = clock.fetch_add(kMs / 8, std::memory_order_relaxed);  // a clock; no ordering
      fire_due(s, now);
      // acquire: pairs with the producers' release decrement; their starts happened before.
      if (producers_left.load(std::memory_order_acquire) == 0 && s.pending() == 0) break;
    }
  });
  std::vector<std::thread> producers;
  for (int t = 0; t < threads; ++t) {
    producers.emplace_back([&, t] {
      std::vector<TimerNode*> mine;
      for (int i = 0; i < per_thread; ++i) {
        TimerNode* n = counted_node(tally);
        const std::int64_t now = clock.load(std::memory_order_relaxed);  // a clock; no ordering
        s.start(n, now + ((i * 7 + t) % 40) * kMs / 4, nullptr);
        mine.push_back(n);
        if (i % 3 != 0) {  // cancel two thirds, some before and some after they are due
          TimerNode* victim = mine[static_cast<std::size_t>(i) / 2];
          if (victim != nullptr && victim->cancel()) cancelled.fetch_add(1, std::memory_order_relaxed);  // a tally
        }
      }
      for (TimerNode* n : mine) n->release();
      producers_left.fetch_sub(1, std::memory_order_release);  // pairs with the driver's acquire
    });
  }
  for (auto& p : producers) p.join();
  driver.join();

  const std::uint64_t started = static_cast<std::uint64_t>(threads) * static_cast<std::uint64_t>(per_thread);
  CHECK(s.pending() == 0);
  CHECK(tally.ran.load(std::memory_order_relaxed) == s.fired());  // joined: plain reads
  CHECK(s.fired() + cancelled.load(std::memory_order_relaxed) == started);
  CHECK(tally.destroyed.load(std::memory_order_relaxed) == started);
  service.reset();  // frees the shells it still holds (ASan checks)
}

TEST_CASE("destroying the service cancels what is pending without running it") {
  Tally tally;
  TimerNode* held = nullptr;
  {
    TimerService s(0);
    held = counted_node(tally);
    s.start(held, 10 * kMs, nullptr);
    TimerNode* linked = counted_node(tally);
    s.start(linked, 20 * kMs, nullptr);
    linked->release();
    fire_due(s, 0);
  }
  CHECK(tally.ran == 0);
  CHECK(tally.destroyed == 2);
  CHECK_FALSE(held->cancel());  // the holder may still hold the shell
  held->release();
}
