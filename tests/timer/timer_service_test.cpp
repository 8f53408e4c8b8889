// Unit tests of engine/timer/timer_service.hpp (and the node protocol of
// phyx/detail/timer_node.hpp): start and cancel from any thread, one driver, exact
// counts. The concurrent tests end with the accounting law: every timer started was
// fired or cancelled exactly once, and every callback was destroyed exactly once.
#include "timer/timer_service.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "phyx/detail/timer_node.hpp"
#include "sched/thread_context.hpp"
#include "support/counted_timer.hpp"
#include "support/scale.hpp"

using phyx::TimerId;
using phyx::detail::make_timer_node;
using phyx::detail::TimerNode;
using phyx::detail::TimerService;
using phyx::detail::TimerStage;
using phyx::detail::TimerStageScope;

namespace {

constexpr std::int64_t kMs = 1'000'000;

// Tally: what happened to the callbacks of a batch of timers (tests/support/counted_timer.hpp).
using phyx_test::counted_node;
using phyx_test::Tally;

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

// ---- staging (timer_service.hpp step 0) ------------------------------------------------

namespace {

TimerNode* stage_node(TimerService& s, TimerStage& st, Tally& t, std::int64_t deadline, std::int64_t now = 0) {
  TimerNode* n = counted_node(t);
  s.stage(st, n, deadline, now, nullptr);
  return n;
}

/// A staged timeout (step 0d) that records how it was unstaged, and on which call.
struct FakeTimeout final : phyx::detail::StagedTimeout {
  int armed = 0;
  int dropped = 0;
  bool answered = false;            // what settled() reports (step 0e's sweep)
  TimerService* service = nullptr;  // when set, unstage() calls into the service (its lock)
  bool settled() const noexcept override { return answered; }
  void unstage(bool arm) noexcept override {
    if (service != nullptr) (void)service->next_due();  // takes drive_mutex_: must not be held here
    ++(arm ? armed : dropped);
  }
};

}  // namespace

TEST_CASE("staging: the driver does not see a staged timer until the owner flushes; the flush frees the cancelled") {
  TimerService s(0);
  TimerStage* st = s.open_stage();
  Tally tally;
  TimerNode* a = stage_node(s, *st, tally, 100 * kMs);
  TimerNode* b = stage_node(s, *st, tally, 100 * kMs);
  TimerNode* c = stage_node(s, *st, tally, 200 * kMs);
  CHECK(a->id().value < b->id().value);  // ids rise with creation, staged or not
  CHECK(s.pending() == 3);
  CHECK(b->cancel());  // not the owner's thread (no stage in scope): it stays staged
  CHECK(s.pending() == 2);
  CHECK(tally.destroyed == 1);  // the callback goes at the cancel, the shell at the flush
  CHECK(fire_due(s, 300 * kMs) == 0);  // staged: the driver has not seen them
  CHECK_FALSE(st->empty());
  CHECK_FALSE(s.stage_wants_flush(*st));  // the stage epoch has not moved
  s.flush_stage(*st, nullptr);
  CHECK(st->empty());
  CHECK(fire_due(s, 150 * kMs) == 1);
  CHECK(fire_due(s, 300 * kMs) == 1);
  CHECK(tally.ran == 2);
  CHECK(tally.destroyed == 3);
  CHECK(s.pending() == 0);
  for (TimerNode* n : {a, b, c}) n->release();
}

TEST_CASE("staging: the owner's cancel pops its node off its own stage at once") {
  TimerService s(0);
  TimerStage* st = s.open_stage();
  TimerStageScope scope(st);  // this thread is the stage's owner, as a worker is
  Tally tally;
  TimerNode* a = stage_node(s, *st, tally, 100 * kMs);
  TimerNode* b = stage_node(s, *st, tally, 100 * kMs);
  CHECK(b->cancel_and_release());  // the head: popped and freed now (ASan checks the free)
  CHECK_FALSE(st->empty());
  CHECK(a->cancel());  // the head again
  CHECK(st->empty());
  CHECK(s.pending() == 0);
  CHECK(tally.destroyed == 2);
  CHECK(tally.ran == 0);
  a->release();
  // Not the head: stays until the flush, which frees it.
  TimerNode* c = stage_node(s, *st, tally, 100 * kMs);
  TimerNode* d = stage_node(s, *st, tally, 100 * kMs);
  CHECK(c->cancel());
  CHECK_FALSE(st->empty());
  s.flush_stage(*st, nullptr);
  CHECK(fire_due(s, 100 * kMs) == 1);  // d
  CHECK(tally.ran == 1);
  for (TimerNode* n : {c, d}) n->release();
}

TEST_CASE("staging: the owner flushes after two stage epochs; the driver takes a stage left for three") {
  TimerService s(0);
  TimerStage* mine = s.open_stage();
  TimerStage* stuck = s.open_stage();  // its owner is busy in a long handler: never flushes
  Tally tally;
  TimerNode* a = stage_node(s, *mine, tally, 100 * kMs);
  TimerNode* b = stage_node(s, *stuck, tally, 100 * kMs);
  const std::int64_t period = TimerService::kStagePeriodNs;
  s.visit_stages(period / 2);  // less than a period since the service began: no epoch
  CHECK_FALSE(s.stage_wants_flush(*mine));
  s.visit_stages(period);  // epoch 1
  CHECK_FALSE(s.stage_wants_flush(*mine));
  s.visit_stages(period + period / 2);  // at most one epoch a period
  CHECK_FALSE(s.stage_wants_flush(*mine));
  s.visit_stages(2 * period);  // epoch 2: the owner's turn
  CHECK(s.stage_wants_flush(*mine));
  s.flush_stage(*mine, nullptr);
  CHECK(mine->empty());
  CHECK_FALSE(stuck->empty());  // the driver leaves it one more epoch
  s.visit_stages(3 * period);  // epoch 3: the driver takes the stuck stage
  CHECK(stuck->empty());
  CHECK(fire_due(s, 100 * kMs) == 2);  // both on time
  CHECK(tally.ran == 2);
  for (TimerNode* n : {a, b}) n->release();
}

TEST_CASE("staging: the driver stays warm (a period's sleep) while a stage is in use or was filled since its last look") {
  TimerService s(0);
  TimerStage* st = s.open_stage();
  TimerStageScope scope(st);
  Tally tally;
  const std::int64_t period = TimerService::kStagePeriodNs;
  s.wake_up();
  auto until = s.prepare_sleep(0);  // nothing at all: a deep sleep, until woken
  REQUIRE(until.has_value());
  CHECK(*until == INT64_MAX);
  // Deep asleep: the first push onto an empty stage wakes it (it must come by in a period).
  TimerNode* a = counted_node(tally);
  bool wake = false;
  s.stage(*st, a, 100 * kMs, 0, &wake);
  CHECK(wake);
  s.wake_up();
  until = s.prepare_sleep(0);  // a stage in use: a period
  REQUIRE(until.has_value());
  CHECK(*until == period);
  CHECK(a->cancel());  // popped: the stage is empty again
  CHECK(st->empty());
  // Warm: filled since its last look, though empty now; and a push wakes nobody.
  TimerNode* b = counted_node(tally);
  s.stage(*st, b, 100 * kMs, 0, &wake);
  CHECK_FALSE(wake);
  CHECK(b->cancel());
  s.wake_up();
  until = s.prepare_sleep(0);
  REQUIRE(until.has_value());
  CHECK(*until == period);
  s.wake_up();
  until = s.prepare_sleep(0);  // nothing filled since: deep again
  REQUIRE(until.has_value());
  CHECK(*until == INT64_MAX);
  for (TimerNode* n : {a, b}) n->release();
}

TEST_CASE("staging: destroying the service cancels what is staged without running it") {
  Tally tally;
  TimerNode* held = nullptr;
  {
    TimerService s(0);
    TimerStage* st = s.open_stage();
    held = stage_node(s, *st, tally, 10 * kMs);
    stage_node(s, *st, tally, 20 * kMs)->release();
  }
  CHECK(tally.ran == 0);
  CHECK(tally.destroyed == 2);
  CHECK_FALSE(held->cancel());
  held->release();
}

TEST_CASE("staging, concurrent: owners stage and cancel, others cancel, the driver visits; every timer fired xor cancelled once") {
  const int owners = 2;
  const int per_owner = static_cast<int>(20'000 * phyx_test::scale());
  auto service = std::make_unique<TimerService>(0);
  TimerService& s = *service;
  std::vector<TimerStage*> stages;
  for (int i = 0; i < owners; ++i) stages.push_back(s.open_stage());
  Tally tally;
  std::atomic<std::uint64_t> cancelled{0};
  std::atomic<std::int64_t> clock{0};  // the driver's time, in ns
  std::atomic<int> owners_left{owners};
  std::thread driver([&] {
    for (;;) {
      const std::int64_t now = clock.fetch_add(kMs / 8, std::memory_order_relaxed);  // a clock; no ordering
      s.visit_stages(now);
      fire_due(s, now);
      // acquire: pairs with the owners' release decrement; their stages were flushed before.
      if (owners_left.load(std::memory_order_acquire) == 0 && s.pending() == 0) break;
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < owners; ++t) {
    threads.emplace_back([&, t] {
      TimerStageScope scope(stages[static_cast<std::size_t>(t)]);
      TimerStage& st = *stages[static_cast<std::size_t>(t)];
      std::vector<TimerNode*> mine;
      for (int i = 0; i < per_owner; ++i) {
        const std::int64_t now = clock.load(std::memory_order_relaxed);  // a clock; no ordering
        TimerNode* n = counted_node(tally);
        s.stage(st, n, now + (60 + (i * 7 + t) % 40) * kMs, now, nullptr);
        mine.push_back(n);
        if (i % 3 != 0) {  // cancel two thirds: the newest (popped), or an older one (left staged)
          TimerNode* victim = mine[static_cast<std::size_t>(i % 2 == 0 ? i : i / 2)];
          if (victim->cancel()) cancelled.fetch_add(1, std::memory_order_relaxed);  // a tally
        }
        if (s.stage_wants_flush(st)) s.flush_stage(st, nullptr);
      }
      s.flush_stage(st, nullptr);  // as a worker does when it leaves
      for (TimerNode* n : mine) n->release();
      owners_left.fetch_sub(1, std::memory_order_release);  // pairs with the driver's acquire
    });
  }
  for (auto& th : threads) th.join();
  driver.join();
  const std::uint64_t started = static_cast<std::uint64_t>(owners) * static_cast<std::uint64_t>(per_owner);
  CHECK(s.pending() == 0);
  CHECK(tally.ran.load(std::memory_order_relaxed) == s.fired());  // joined: plain reads
  CHECK(s.fired() + cancelled.load(std::memory_order_relaxed) == started);
  CHECK(tally.destroyed.load(std::memory_order_relaxed) == started);
  service.reset();  // frees the shells it still holds (ASan checks)
}

TEST_CASE(
    "sweeps, concurrent: owners stage, answer, sweep and flush while the driver takes; every "
    "timeout unstaged exactly once, every unanswered one armed") {
  const int owners = 2;
  const int per_owner = static_cast<int>(20'000 * phyx_test::scale());
  TimerService s(0);
  std::vector<TimerStage*> stages;
  for (int i = 0; i < owners; ++i) stages.push_back(s.open_stage());
  // One owner's entries: unstaged by that owner or by the driver, read after the joins.
  std::vector<std::vector<FakeTimeout>> entries(owners);
  for (auto& e : entries) e = std::vector<FakeTimeout>(static_cast<std::size_t>(per_owner));
  std::atomic<std::int64_t> clock{0};  // the driver's time, in ns
  std::atomic<int> owners_left{owners};
  std::thread driver([&] {
    for (;;) {
      const std::int64_t now =
          clock.fetch_add(kMs / 8, std::memory_order_relaxed);  // a clock; no ordering
      s.visit_stages(now);
      // acquire: pairs with the owners' release decrement; their stages were flushed before.
      if (owners_left.load(std::memory_order_acquire) == 0) break;
    }
  });
  std::vector<std::thread> threads;
  for (int o = 0; o < owners; ++o) {
    threads.emplace_back([&, o] {
      TimerStageScope scope(stages[static_cast<std::size_t>(o)]);
      TimerStage& st = *stages[static_cast<std::size_t>(o)];
      std::vector<FakeTimeout>& mine = entries[static_cast<std::size_t>(o)];
      for (int i = 0; i < per_owner; ++i) {
        s.stage_timeout(st, &mine[static_cast<std::size_t>(i)]);
        // Answer all but every fifth, a few pushes late (asks in flight). Only the owner
        // reads `answered` (settled(), in its sweep), so a plain write.
        if (i >= 3 && (i - 3) % 5 != 0) mine[static_cast<std::size_t>(i - 3)].answered = true;
        if (s.stage_wants_flush(st)) {
          s.flush_stage(st, nullptr);
        } else if (s.stage_wants_sweep(st) && s.sweep_stage(st)) {
          s.announce_fill(clock.load(std::memory_order_relaxed));  // a clock; no ordering
        }
      }
      s.flush_stage(st, nullptr);                           // as a worker does when it leaves
      owners_left.fetch_sub(1, std::memory_order_release);  // pairs with the driver's acquire
    });
  }
  for (auto& th : threads) th.join();
  driver.join();
  for (auto* st : stages) CHECK(st->empty());
  std::uint64_t unstaged = 0, armed_unanswered = 0, unanswered = 0;
  for (auto& mine : entries) {
    for (auto& x : mine) {
      unstaged += static_cast<std::uint64_t>(x.armed + x.dropped == 1);
      if (!x.answered) {
        ++unanswered;
        armed_unanswered += static_cast<std::uint64_t>(x.armed == 1);
      }
    }
  }
  CHECK(unstaged == static_cast<std::uint64_t>(owners) * static_cast<std::uint64_t>(per_owner));
  CHECK(armed_unanswered == unanswered);  // a sweep never drops a pending one
  CHECK(unanswered > 0);
}

TEST_CASE(
    "staged timeouts (step 0d): unstaged once, armed, by the owner's flush after two epochs, not "
    "before") {
  TimerService s(0);
  TimerStage* st = s.open_stage();
  FakeTimeout a, b;
  s.stage_timeout(*st, &a);
  s.stage_timeout(*st, &b);
  CHECK_FALSE(st->empty());
  CHECK(s.pending() == 0);  // no node, no count: only a real timer is pending
  const std::int64_t period = TimerService::kStagePeriodNs;
  s.visit_stages(period);
  CHECK_FALSE(s.stage_wants_flush(*st));
  s.visit_stages(2 * period);
  CHECK(s.stage_wants_flush(*st));  // a stage holding only timeouts is still due for a flush
  CHECK(a.armed + a.dropped + b.armed + b.dropped == 0);
  s.flush_stage(*st, nullptr);
  CHECK(st->empty());
  CHECK((a.armed == 1 && b.armed == 1));
  CHECK((a.dropped == 0 && b.dropped == 0));
  s.flush_stage(*st, nullptr);  // nothing twice
  CHECK((a.armed == 1 && b.armed == 1));
}

TEST_CASE(
    "sweep (step 0e): due after kSweepMinPushes pushes; the answered are unstaged unarmed at once, "
    "the rest stay staged and are armed by the flush at their first epoch") {
  TimerService s(0);
  TimerStage* st = s.open_stage();
  constexpr std::uint32_t n = TimerService::kSweepMinPushes;
  std::vector<FakeTimeout> t(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    CHECK_FALSE(s.stage_wants_sweep(*st));
    s.stage_timeout(*st, &t[i]);
    t[i].answered = i % 2 == 0;
  }
  CHECK(s.stage_wants_sweep(*st));
  const std::int64_t period = TimerService::kStagePeriodNs;
  s.visit_stages(period);     // epoch 1: the stage filled at epoch 0
  CHECK(s.sweep_stage(*st));  // something was pushed back: the caller announces it
  CHECK_FALSE(s.stage_wants_sweep(*st));
  CHECK_FALSE(st->empty());
  for (std::uint32_t i = 0; i < n; ++i) {
    CHECK(t[i].armed == 0);
    CHECK(t[i].dropped == (t[i].answered ? 1 : 0));
  }
  std::vector<FakeTimeout> more(n - 1);
  for (auto& m : more) s.stage_timeout(*st, &m);
  // The entries kept are as old as they were: the flush is due at epoch 2, as without the
  // sweep, not two epochs after it.
  CHECK_FALSE(s.stage_wants_flush(*st));
  s.visit_stages(2 * period);
  CHECK(s.stage_wants_flush(*st));
  s.flush_stage(*st, nullptr);
  CHECK(st->empty());
  CHECK_FALSE(s.stage_wants_sweep(*st));  // the flush took everything: nothing to sweep
  // Each entry unstaged exactly once: the answered dropped by the sweep, the rest armed.
  for (std::uint32_t i = 0; i < n; ++i) {
    CHECK(t[i].armed + t[i].dropped == 1);
    CHECK(t[i].armed == (t[i].answered ? 0 : 1));
  }
  for (auto& m : more) CHECK((m.armed == 1 && m.dropped == 0));
}

TEST_CASE(
    "sweep (step 0e): the next sweep waits for twice the entries kept; the driver's take after "
    "three epochs arms what a sweep kept") {
  TimerService s(0);
  TimerStage* st = s.open_stage();
  constexpr std::uint32_t n = TimerService::kSweepMinPushes;
  std::vector<FakeTimeout> t(n);  // none answered: all kept
  for (auto& x : t) s.stage_timeout(*st, &x);
  REQUIRE(s.sweep_stage(*st));
  std::vector<FakeTimeout> more(2 * n);
  for (std::uint32_t i = 0; i + 1 < 2 * n; ++i) {
    s.stage_timeout(*st, &more[i]);
    more[i].answered = true;
  }
  CHECK_FALSE(s.stage_wants_sweep(*st));  // 2n - 1 pushes: the 64 kept call for 128
  s.stage_timeout(*st, &more.back());
  CHECK(s.stage_wants_sweep(*st));
  CHECK(s.sweep_stage(*st));  // the n kept again, the answered 2n - 1 dropped
  for (std::uint32_t i = 0; i + 1 < 2 * n; ++i) CHECK((more[i].dropped == 1 && more[i].armed == 0));
  // Nobody flushes (a worker stuck in a handler): the driver takes the stage at epoch 3,
  // counted from the fill at epoch 0, the sweeps notwithstanding, and arms what is pending.
  const std::int64_t period = TimerService::kStagePeriodNs;
  s.visit_stages(period);
  s.visit_stages(2 * period);
  CHECK_FALSE(st->empty());
  s.visit_stages(3 * period);
  CHECK(st->empty());
  for (auto& x : t) CHECK((x.armed == 1 && x.dropped == 0));
  CHECK((more.back().armed == 1 && more.back().dropped == 0));
}

TEST_CASE(
    "sweep (step 0e): a stage whose asks are all answered is left empty, with nothing to "
    "announce") {
  TimerService s(0);
  TimerStage* st = s.open_stage();
  std::vector<FakeTimeout> t(TimerService::kSweepMinPushes);
  for (auto& x : t) {
    s.stage_timeout(*st, &x);
    x.answered = true;
  }
  CHECK_FALSE(s.sweep_stage(*st));
  CHECK(st->empty());
  for (auto& x : t) CHECK((x.dropped == 1 && x.armed == 0));
  CHECK_FALSE(s.sweep_stage(*st));  // nothing twice
  for (auto& x : t) CHECK(x.dropped == 1);
}

TEST_CASE(
    "staged timeouts: the driver takes them from a stage left for three epochs and unstages "
    "outside its lock") {
  TimerService s(0);
  TimerStage* stuck = s.open_stage();
  Tally tally;
  TimerNode* n = stage_node(s, *stuck, tally, 100 * kMs);  // both lists in use
  FakeTimeout t;
  t.service = &s;  // a deadlock (the test's timeout) if unstaged under drive_mutex_
  s.stage_timeout(*stuck, &t);
  const std::int64_t period = TimerService::kStagePeriodNs;
  for (int epoch = 1; epoch <= 2; ++epoch) s.visit_stages(epoch * period);
  CHECK(t.armed == 0);
  s.visit_stages(3 * period);
  CHECK(stuck->empty());
  CHECK(t.armed == 1);
  CHECK(fire_due(s, 100 * kMs) == 1);  // the node went to the wheel as before
  n->release();
}

TEST_CASE(
    "staged timeouts: a push onto an empty stage wakes a deep sleeper once; destroying the service "
    "drops them unarmed") {
  FakeTimeout a, b;
  {
    TimerService s(0);
    TimerStage* st = s.open_stage();
    s.wake_up();
    auto until = s.prepare_sleep(0);
    REQUIRE(until.has_value());
    REQUIRE(*until == INT64_MAX);  // deep asleep
    REQUIRE(s.stage_timeout(*st, &a));      // filled the empty stage
    CHECK(s.announce_fill(0));              // it must come by within a period (step 0b)
    CHECK_FALSE(s.stage_timeout(*st, &b));  // the stage was in use already: nothing to announce
    s.wake_up();
    until = s.prepare_sleep(0);
    REQUIRE(until.has_value());
    CHECK(*until == TimerService::kStagePeriodNs);  // warm while timeouts are staged
  }
  CHECK((a.dropped == 1 && b.dropped == 1));
  CHECK((a.armed == 0 && b.armed == 0));
}
