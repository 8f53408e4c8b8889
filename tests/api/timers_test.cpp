// SPEC 7, 9 and 14.9 on worker threads: the timer wheel driven by the timer thread (system
// clock) or by a ManualClock that workers share. Waits are bounded waits on futures; no
// test sleeps. Every test ends with the laws of SPEC 8.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <algorithm>
#include <climits>
#include <cstdint>
#include <future>
#include <random>
#include <memory>
#include <thread>
#include <variant>
#include <vector>

#include "support/accounting.hpp"
#include "support/scale.hpp"

using namespace std::chrono_literals;
using phyx_test::check_laws;

namespace {

struct Echo {
  int value = 0;
  phyx::Reply<int> reply;
};

phyx::ProcessSpec<Echo, int> echo_spec() {
  return phyx::ProcessSpec<Echo, int>{
      .name = "echo",
      .init = [](const phyx::Empty&) { return 0; },
      .handle = [](int&, Echo& e, auto&) { e.reply(e.value + 1); },
  };
}

/// Schedules `count` messages to itself, delays spread over 0..`spread_ms`; each carries
/// its deadline (mono ns). Counts arrivals and early arrivals; settles `done` at the last.
struct Plan {
  int count = 0;
  int spread_ms = 0;
};
struct Due {
  std::int64_t deadline_ns = 0;
};
struct Far {};  // schedules one message an hour out (it never arrives in a test)
using SchedMsg = std::variant<Plan, Due, Far>;
struct SchedState {
  int expected = 0;
  int arrived = 0;
  int early = 0;
  std::shared_ptr<std::promise<std::pair<int, int>>> done;  // (arrived, early)
};

phyx::ProcessSpec<SchedMsg, SchedState, std::shared_ptr<std::promise<std::pair<int, int>>>> scheduler_spec() {
  return {
      .name = "scheduler",
      .init = [](const std::shared_ptr<std::promise<std::pair<int, int>>>& done) { return SchedState{0, 0, 0, done}; },
      .handle =
          [](SchedState& s, SchedMsg& m, auto& tools) {
            if (auto* plan = std::get_if<Plan>(&m)) {
              s.expected += plan->count;
              for (int i = 0; i < plan->count; ++i) {
                const int after = plan->spread_ms - (i * 37) % (plan->spread_ms + 1);
                const std::int64_t deadline = tools.now().mono_ns + std::int64_t{after} * 1'000'000;
                tools.schedule(std::chrono::milliseconds(after), SchedMsg{Due{deadline}});
              }
              return;
            }
            if (std::holds_alternative<Far>(m)) {
              tools.schedule(std::chrono::hours(1), SchedMsg{Due{0}});
              return;
            }
            const auto& due = std::get<Due>(m);
            ++s.arrived;
            if (tools.now().mono_ns < due.deadline_ns) ++s.early;
            if (s.arrived == s.expected) s.done->set_value({s.arrived, s.early});
          },
      // Room for every message at once: under a sanitizer the Plan handler can still be
      // scheduling when the first ones fall due, and a refused one would never arrive.
      .max_inbox = 100'000,
  };
}

}  // namespace

TEST_CASE("system clock: every scheduled message arrives, none before its deadline") {
  phyx::Runtime rt(phyx::RuntimeOptions{.clock = phyx::create_system_clock(), .workers = 2});
  auto done = std::make_shared<std::promise<std::pair<int, int>>>();
  auto result = done->get_future();
  auto p = rt.spawn(scheduler_spec(), done);
  p.send(Plan{2'000, 40});
  INFO("refused_full=" << rt.stats().refused_full << " timers_fired=" << rt.stats().timers_fired);
  REQUIRE(result.wait_for(30s) == std::future_status::ready);
  const auto [arrived, early] = result.get();
  CHECK(arrived == 2'000);
  CHECK(early == 0);
  rt.shutdown(10s);
  CHECK(rt.stats().timers_fired == 2'000);
  check_laws(rt);
}

TEST_CASE("system clock: a near timer started while the timer thread sleeps until a far one wakes it") {
  phyx::Runtime rt(phyx::RuntimeOptions{.clock = phyx::create_system_clock(), .workers = 2});
  auto done = std::make_shared<std::promise<std::pair<int, int>>>();
  auto result = done->get_future();
  auto p = rt.spawn(scheduler_spec(), done);
  p.send(Far{});        // the timer thread learns of a deadline an hour out ...
  p.send(Plan{1, 5});   // ... then of one 5 ms out, which must wake it
  REQUIRE(result.wait_for(30s) == std::future_status::ready);
  CHECK(result.get() == std::pair{1, 0});
  rt.shutdown(10s);  // the far timer dies with its process
  CHECK(rt.stats().timers_fired == 1);
  check_laws(rt);
}

TEST_CASE("ManualClock on worker threads: answered asks from several threads leave no timer behind") {
  auto clock = phyx::create_manual_clock();
  phyx::Runtime rt(phyx::RuntimeOptions{.clock = clock, .workers = 2});
  auto echo = rt.spawn(echo_spec());
  const int kThreads = 3;
  const int kAsks = 1'000;
  std::atomic<int> wrong{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < kAsks; ++i) {
        const int v = t * 100'000 + i;
        if (echo.ask<int>([v](phyx::Reply<int> r) { return Echo{v, std::move(r)}; }).get() != v + 1) {
          wrong.fetch_add(1, std::memory_order_relaxed);  // a tally, read after the joins
        }
      }
    });
  }
  for (auto& c : clients) c.join();
  CHECK(wrong.load(std::memory_order_relaxed) == 0);
  CHECK(clock->pending_timer_count() == 0);  // every timeout was cancelled by its reply
  rt.shutdown(10s);
  const auto s = rt.stats();
  CHECK(s.asks == static_cast<std::uint64_t>(kThreads * kAsks));
  CHECK(s.timers_fired == 0);
  check_laws(rt);
}

TEST_CASE("two runtimes on one ManualClock: their timers fire in one deadline order, ties in creation order") {
  auto clock = phyx::create_manual_clock();
  using Log = std::shared_ptr<std::vector<int>>;
  auto log = std::make_shared<std::vector<int>>();
  struct Tag {
    int tag = 0;
    int after_ms = 0;
    bool fired = false;
  };
  auto spec = [] {
    return phyx::ProcessSpec<Tag, Log, Log>{
        .name = "tagger",
        .init = [](const Log& l) { return l; },
        .handle =
            [](Log& l, Tag& t, auto& tools) {
              if (t.fired) {
                l->push_back(t.tag);
              } else {
                tools.schedule(std::chrono::milliseconds(t.after_ms), Tag{t.tag, 0, true});
              }
            },
    };
  };
  phyx::Runtime a(phyx::RuntimeOptions{.clock = clock, .deterministic = true, .seed = 1});
  phyx::Runtime b(phyx::RuntimeOptions{.clock = clock, .deterministic = true, .seed = 2});
  auto pa = a.spawn(spec(), log);
  auto pb = b.spawn(spec(), log);
  pa.send(Tag{1, 20});
  a.run_until_idle();
  pb.send(Tag{2, 10});
  b.run_until_idle();
  pb.send(Tag{3, 20});  // ties with tag 1, created after it
  b.run_until_idle();
  pa.send(Tag{4, 20});  // ties with 1 and 3, created last
  a.run_until_idle();
  CHECK(clock->pending_timer_count() == 4);
  // One timer at a time, nothing handled in between: whose mailbox grows shows which
  // timer fired. Order: 2 (b, 10 ms), then the 20 ms ties in creation order: 1 (a), 3 (b), 4 (a).
  const std::vector<std::pair<std::size_t, std::size_t>> queued_after_each = {{0, 1}, {1, 1}, {1, 2}, {2, 2}};
  for (const auto& [in_a, in_b] : queued_after_each) {
    REQUIRE(clock->tick());
    CHECK(a.stats().queued == in_a);
    CHECK(b.stats().queued == in_b);
  }
  CHECK_FALSE(clock->tick());
  CHECK(clock->pending_timer_count() == 0);
  a.run_until_idle();
  b.run_until_idle();
  CHECK(log->size() == 4);
  check_laws(a);
  check_laws(b);
}

namespace {

/// Schedules each planned delay, tagged; records when (mono ns) each tag arrives.
struct Plant {
  std::vector<std::int64_t> after_ms;
};
struct Tagged {
  std::size_t tag = 0;
};
using PlantMsg = std::variant<Plant, Tagged>;
struct Arrivals {
  std::vector<std::int64_t> at_ns;  // per tag; -1 until it arrives
  std::vector<int> times;           // per tag: how often it arrived
};

phyx::ProcessSpec<PlantMsg, std::shared_ptr<Arrivals>, std::shared_ptr<Arrivals>> planter_spec() {
  return {
      .name = "planter",
      .init = [](const std::shared_ptr<Arrivals>& a) { return a; },
      .handle =
          [](std::shared_ptr<Arrivals>& a, PlantMsg& m, auto& tools) {
            if (auto* plant = std::get_if<Plant>(&m)) {
              for (std::size_t i = 0; i < plant->after_ms.size(); ++i) {
                tools.schedule(std::chrono::milliseconds(plant->after_ms[i]), PlantMsg{Tagged{i}});
              }
              return;
            }
            const std::size_t tag = std::get<Tagged>(m).tag;
            a->at_ns[tag] = tools.now().mono_ns;
            ++a->times[tag];
          },
  };
}

}  // namespace

TEST_CASE("100,000 random timers under a ManualClock each fire exactly once, at their deadline") {
  auto clock = phyx::create_manual_clock();
  phyx::Runtime rt(phyx::RuntimeOptions{.clock = clock, .deterministic = true, .seed = 7});
  const std::size_t n = 100'000;
  std::mt19937_64 rng(2026);
  Plant plant;
  for (std::size_t i = 0; i < n; ++i) {
    // Over every level of the wheel: mostly within a minute, some hours and days out.
    const auto r = rng() % 100;
    const std::int64_t span = r < 80 ? 60'000 : r < 95 ? 3 * 3'600'000 : 5 * 86'400'000;
    plant.after_ms.push_back(static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(span)));
  }
  auto arrivals = std::make_shared<Arrivals>(Arrivals{std::vector<std::int64_t>(n, -1), std::vector<int>(n, 0)});
  auto p = rt.spawn(planter_spec(), arrivals);
  const std::int64_t start_ns = clock->now().mono_ns;
  p.send(plant);
  rt.run_until_idle();
  CHECK(clock->pending_timer_count() == n - static_cast<std::size_t>(std::count(plant.after_ms.begin(), plant.after_ms.end(), 0)));
  rt.advance_by(std::chrono::milliseconds(5 * 86'400'000));  // each fires with now() = its deadline, then runs
  CHECK(clock->pending_timer_count() == 0);
  std::size_t wrong_time = 0;
  std::size_t wrong_count = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (arrivals->times[i] != 1) ++wrong_count;
    if (arrivals->at_ns[i] != start_ns + plant.after_ms[i] * 1'000'000) ++wrong_time;
  }
  CHECK(wrong_count == 0);
  CHECK(wrong_time == 0);
  CHECK(rt.stats().timers_fired == n);
  check_laws(rt);
}

TEST_CASE("1,000,000 answered asks leave no timer pending") {
  auto clock = phyx::create_manual_clock();
  phyx::Runtime rt(phyx::RuntimeOptions{.clock = clock, .deterministic = true, .seed = 3});
  auto echo = rt.spawn(echo_spec());
  rt.run_until_idle();
  const int total = 1'000'000;
  const int batch = 1'000;
  std::vector<phyx::Future<int>> answers;
  answers.reserve(batch);
  int wrong = 0;
  for (int done = 0; done < total; done += batch) {
    for (int i = 0; i < batch; ++i) {
      const int v = done + i;
      answers.push_back(echo.ask<int>([v](phyx::Reply<int> r) { return Echo{v, std::move(r)}; }));
    }
    CHECK(clock->pending_timer_count() == static_cast<std::size_t>(batch));  // one timeout per unanswered ask
    rt.run_until_idle();
    for (int i = 0; i < batch; ++i) {
      if (!answers[static_cast<std::size_t>(i)].ready() || answers[static_cast<std::size_t>(i)].get() != done + i + 1) ++wrong;
    }
    answers.clear();
    if (clock->pending_timer_count() != 0) break;  // (checked below)
  }
  CHECK(wrong == 0);
  CHECK(clock->pending_timer_count() == 0);
  const auto s = rt.stats();
  CHECK(s.asks == static_cast<std::uint64_t>(total));
  CHECK(s.timers_fired == 0);
  check_laws(rt);
}

TEST_CASE("system clock: a 50 ms schedule arrives no earlier than 50 ms and, unloaded, within 100 ms") {
  // Best of three runs for the upper bound (a loaded machine delays a wake-up now and then;
  // a timer that is always late still fails); every run must respect the lower bound.
  std::int64_t best_ns = INT64_MAX;
  for (int attempt = 0; attempt < 3; ++attempt) {
    phyx::Runtime rt(phyx::RuntimeOptions{.clock = phyx::create_system_clock(), .workers = 2});
    auto arrivals = std::make_shared<Arrivals>(Arrivals{std::vector<std::int64_t>(1, -1), std::vector<int>(1, 0)});
    auto done = std::make_shared<std::promise<void>>();
    auto arrived = done->get_future();
    auto p = rt.spawn(phyx::ProcessSpec<PlantMsg, std::shared_ptr<std::promise<void>>, std::shared_ptr<std::promise<void>>>{
        .name = "fifty",
        .init = [](const std::shared_ptr<std::promise<void>>& d) { return d; },
        .handle =
            [arrivals](std::shared_ptr<std::promise<void>>& d, PlantMsg& m, auto& tools) {
              if (std::holds_alternative<Plant>(m)) {
                arrivals->at_ns[0] = -tools.now().mono_ns;  // the start, negated until arrival
                tools.schedule(50ms, PlantMsg{Tagged{0}});
                return;
              }
              arrivals->at_ns[0] += tools.now().mono_ns;  // now: the elapsed time
              ++arrivals->times[0];
              d->set_value();
            },
    }, done);
    p.send(Plant{});
    REQUIRE(arrived.wait_for(30s) == std::future_status::ready);
    rt.shutdown(10s);
    CHECK(arrivals->times[0] == 1);
    CHECK(arrivals->at_ns[0] >= 50'000'000);  // never early
    best_ns = std::min(best_ns, arrivals->at_ns[0]);
    check_laws(rt);
  }
  INFO("best arrival after " << best_ns / 1000 << " us");
  if (!phyx_test::instrumented()) CHECK(best_ns <= 100'000'000);
}
