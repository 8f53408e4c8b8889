// SPEC 9 and 14.9: ManualClock (advance_by, advance_to, tick, jump_wall_time,
// pending_timer_count) and the system clock.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "support/accounting.hpp"
#include "support/counter.hpp"
#include "support/recorder.hpp"

using namespace std::chrono_literals;
using phyx_test::check_laws;

struct Fire {
  std::int64_t after_ms = 0;
  int tag = 0;
};
struct Fired {
  int tag = 0;
};
struct Hold {
  phyx::Reply<int> reply;
};
struct Answer {};
struct Crash {};
using CMsg = std::variant<Fire, Fired, Hold, Answer, Crash>;

struct CState {
  std::shared_ptr<std::vector<std::pair<int, std::int64_t>>> log;  // (tag, mono_ms when handled)
  std::optional<phyx::Reply<int>> held;
};

namespace {

using Shared = std::shared_ptr<std::vector<std::pair<int, std::int64_t>>>;

phyx::ProcessSpec<CMsg, CState, Shared> timer_spec(std::optional<phyx::Supervision> sup = std::nullopt) {
  return phyx::ProcessSpec<CMsg, CState, Shared>{
      .name = "timers",
      .init = [](const Shared& log) { return CState{log, std::nullopt}; },
      .handle =
          [](CState& s, CMsg& m, auto& tools) {
            if (auto* f = std::get_if<Fire>(&m)) {
              tools.schedule(std::chrono::milliseconds(f->after_ms), CMsg{Fired{f->tag}});
            } else if (auto* d = std::get_if<Fired>(&m)) {
              s.log->emplace_back(d->tag, tools.now().mono_ms);
            } else if (auto* h = std::get_if<Hold>(&m)) {
              s.held = std::move(h->reply);
            } else if (std::holds_alternative<Answer>(m)) {
              if (s.held) (*s.held)(1);
              s.held.reset();
            } else {
              throw std::runtime_error("crash");
            }
          },
      .supervision = std::move(sup),
  };
}

struct Det {
  std::shared_ptr<phyx::ManualClock> clock = phyx::create_manual_clock();
  phyx::Runtime rt{phyx::RuntimeOptions{.clock = clock, .deterministic = true, .seed = 1}};
  Shared log = std::make_shared<std::vector<std::pair<int, std::int64_t>>>();
};

}  // namespace

TEST_CASE("a ManualClock starts where it is told, and at zero by default") {
  phyx::ManualClock zero;
  CHECK(zero.now().mono_ms == 0);
  CHECK(zero.now().mono_ns == 0);
  CHECK(zero.now().wall_ms == 0);
  CHECK(zero.pending_timer_count() == 0);
  auto c = phyx::create_manual_clock(phyx::Instant{.wall_ms = 1'000'000, .mono_ms = 500});
  CHECK(c->now().wall_ms == 1'000'000);
  CHECK(c->now().mono_ms == 500);
  CHECK(c->now().mono_ns == 500'000'000);
  auto ns = phyx::create_manual_clock(phyx::Instant{.mono_ms = 2, .mono_ns = 2'500'000});
  CHECK(ns->now().mono_ns == 2'500'000);
  CHECK(ns->now().mono_ms == 2);
}

TEST_CASE("advance_by moves mono time by exactly d; mono_ms and mono_ns agree") {
  phyx::ManualClock c;
  c.advance_by(250ms);
  CHECK(c.now().mono_ms == 250);
  CHECK(c.now().mono_ns == 250'000'000);
  c.advance_by(0ms);
  CHECK(c.now().mono_ms == 250);
  c.advance_by(750ms);
  CHECK(c.now().mono_ms == 1000);
  c.advance_by(std::chrono::hours(24));
  CHECK(c.now().mono_ms == 1000 + 86'400'000);
  CHECK_THROWS_AS(c.advance_by(-1ms), phyx::Error);
  CHECK(c.now().mono_ms == 1000 + 86'400'000);
}

TEST_CASE("advance_to never goes backwards") {
  phyx::ManualClock c;
  c.advance_to(1000);
  CHECK(c.now().mono_ms == 1000);
  c.advance_to(500);  // earlier: ignored
  CHECK(c.now().mono_ms == 1000);
  c.advance_to(1000);
  CHECK(c.now().mono_ms == 1000);
  c.advance_to(1001);
  CHECK(c.now().mono_ms == 1001);
  c.advance_by(9ms);
  c.advance_to(1005);
  CHECK(c.now().mono_ms == 1010);
}

TEST_CASE("jump_wall_time moves wall time only") {
  phyx::ManualClock c(phyx::Instant{.wall_ms = 5000, .mono_ms = 100});
  c.jump_wall_time(42);
  CHECK(c.now().wall_ms == 42);
  CHECK(c.now().mono_ms == 100);
  c.jump_wall_time(9'999'999);
  CHECK(c.now().wall_ms == 9'999'999);
  CHECK(c.now().mono_ms == 100);
  CHECK(c.now().mono_ns == 100'000'000);
}

TEST_CASE("jump_wall_time fires no timer and leaves deadlines alone") {
  Det d;
  auto p = d.rt.spawn(timer_spec(), d.log);
  p.send(Fire{100, 1});
  d.rt.run_until_idle();
  CHECK(d.clock->pending_timer_count() == 1);
  d.clock->jump_wall_time(1'000'000'000);
  d.rt.run_until_idle();
  CHECK(d.clock->pending_timer_count() == 1);
  CHECK(d.log->empty());
  d.clock->jump_wall_time(0);  // backwards in wall time: mono deadlines are unaffected
  d.rt.advance_by(99ms);
  CHECK(d.log->empty());
  d.rt.advance_by(1ms);
  CHECK(*d.log == std::vector<std::pair<int, std::int64_t>>{{1, 100}});
  check_laws(d.rt);
}

TEST_CASE("tick jumps to the next timer and fires it; false when none is pending") {
  Det d;
  CHECK_FALSE(d.clock->tick());
  CHECK(d.clock->now().mono_ms == 0);
  auto p = d.rt.spawn(timer_spec(), d.log);
  p.send(Fire{300, 2});
  p.send(Fire{100, 1});
  p.send(Fire{100, 3});
  d.rt.run_until_idle();
  CHECK(d.clock->pending_timer_count() == 3);
  CHECK(d.clock->tick());
  CHECK(d.clock->now().mono_ms == 100);
  CHECK(d.clock->pending_timer_count() == 2);
  CHECK(d.rt.run_until_idle() == 2);  // the tie at 100 fired too: it was due when the runtime ran
  CHECK(d.clock->tick());
  CHECK(d.clock->now().mono_ms == 300);
  CHECK(d.clock->pending_timer_count() == 0);
  CHECK_FALSE(d.clock->tick());
  CHECK(d.clock->now().mono_ms == 300);
  d.rt.run_until_idle();
  CHECK(*d.log == std::vector<std::pair<int, std::int64_t>>{{1, 100}, {3, 100}, {2, 300}});
  check_laws(d.rt);
}

TEST_CASE("ManualClock::advance_by fires timers (enqueues) but runs no handler; now() is each deadline") {
  phyx_test::Recorder rec;
  auto clock = phyx::create_manual_clock();
  phyx::Runtime rt(phyx::RuntimeOptions{.clock = clock, .emit = rec.sink(), .deterministic = true});
  auto log = std::make_shared<std::vector<std::pair<int, std::int64_t>>>();
  auto p = rt.spawn(timer_spec(), log);
  p.send(Fire{100, 1});
  p.send(Fire{300, 2});
  rt.run_until_idle();
  rec.clear();
  clock->advance_by(1000ms);
  CHECK(clock->now().mono_ms == 1000);
  CHECK(log->empty());            // no handler ran
  CHECK(rt.stats().queued == 2);  // both messages are in the lane
  const auto enq = rec.of_type("process:mailbox:enqueue");
  REQUIRE(enq.size() == 2);
  CHECK(enq[0].at.mono_ms == 100);  // enqueued while the clock stood at each deadline
  CHECK(enq[1].at.mono_ms == 300);
  CHECK(rt.run_until_idle() == 2);
  CHECK(*log == std::vector<std::pair<int, std::int64_t>>{{1, 1000}, {2, 1000}});
  check_laws(rt);
}

TEST_CASE("pending_timer_count counts schedules exactly") {
  Det d;
  auto p = d.rt.spawn(timer_spec(), d.log);
  CHECK(d.clock->pending_timer_count() == 0);
  for (int i = 0; i < 5; ++i) p.send(Fire{10 * (i + 1), i});
  p.send(Fire{0, 99});  // schedule(0) counts until it fires
  d.rt.run_until_idle();
  CHECK(d.clock->pending_timer_count() == 5);  // the schedule(0) already fired inside run_until_idle
  d.rt.advance_by(25ms);
  CHECK(d.clock->pending_timer_count() == 3);
  d.rt.advance_by(100ms);
  CHECK(d.clock->pending_timer_count() == 0);
  check_laws(d.rt);
}

TEST_CASE("pending_timer_count counts the timeout of an unanswered ask; an answered ask's is removed") {
  Det d;
  auto p = d.rt.spawn(timer_spec(), d.log);
  auto counter = d.rt.spawn(phyx_test::counter_spec());
  d.rt.run_until_idle();
  auto held = p.ask<int>([](phyx::Reply<int> r) { return CMsg{Hold{std::move(r)}}; });
  CHECK(d.clock->pending_timer_count() == 1);  // counted from the moment of the ask
  auto quick = phyx_test::get_count(counter);
  CHECK(d.clock->pending_timer_count() == 2);
  CHECK(quick.get() == 0);
  CHECK(d.clock->pending_timer_count() == 1);  // answered: cancelled
  d.rt.run_until_idle();
  CHECK(d.clock->pending_timer_count() == 1);  // held, unanswered
  p.send(Answer{});
  d.rt.run_until_idle();
  CHECK(held.ready());
  CHECK(d.clock->pending_timer_count() == 0);
  CHECK(held.get() == 1);
  // a timed-out ask's timer is gone too
  auto timed_out = p.ask<int>([](phyx::Reply<int> r) { return CMsg{Hold{std::move(r)}}; }, 50ms);
  d.rt.run_until_idle();
  CHECK(d.clock->pending_timer_count() == 1);
  d.rt.advance_by(50ms);
  CHECK(timed_out.ready());
  CHECK(d.clock->pending_timer_count() == 0);
  CHECK_THROWS_AS(timed_out.get(), phyx::TimeoutError);
  // a refused ask leaves no timer
  counter.stop();
  d.rt.run_until_idle();
  auto refused = phyx_test::get_count(counter);
  CHECK(refused.ready());
  CHECK(d.clock->pending_timer_count() == 0);
  CHECK_THROWS_AS(refused.get(), phyx::ProcessError);
  check_laws(d.rt);
}

TEST_CASE("pending_timer_count: a cancelled schedule, a stopped process's timers, a restart wait") {
  Det d;
  auto sup = phyx::Supervision{.backoff = phyx::Backoff{.initial = 100ms, .max = 100ms}};
  auto p = d.rt.spawn(timer_spec(sup), d.log);
  p.send(Fire{1000, 1});
  p.send(Fire{2000, 2});
  d.rt.run_until_idle();
  CHECK(d.clock->pending_timer_count() == 2);
  p.send(Crash{});  // the crashed incarnation's timers are cancelled; the restart waits 100 ms
  d.rt.run_until_idle();
  CHECK(p.status() == phyx::Status::starting);
  CHECK(d.clock->pending_timer_count() == 1);
  d.clock->advance_by(100ms);  // the wait is over, but ManualClock alone runs no init
  CHECK(d.clock->pending_timer_count() == 0);
  CHECK(p.status() == phyx::Status::starting);
  d.rt.run_until_idle();
  CHECK(p.status() == phyx::Status::running);
  p.send(Fire{500, 3});
  d.rt.run_until_idle();
  CHECK(d.clock->pending_timer_count() == 1);
  p.stop();
  CHECK(d.clock->pending_timer_count() == 0);  // cancelled when the stop begins
  d.rt.advance_by(5000ms);
  CHECK(d.log->empty());
  check_laws(d.rt);
}

TEST_CASE("the system clock: mono never decreases, ms and ns agree, wall is the real time") {
  auto clock = phyx::create_system_clock();
  phyx::Instant last = clock->now();
  for (int i = 0; i < 100'000; ++i) {
    const phyx::Instant now = clock->now();
    if (now.mono_ns < last.mono_ns || now.mono_ms < last.mono_ms) {
      FAIL("mono went backwards: " << last.mono_ns << " -> " << now.mono_ns);
    }
    last = now;
  }
  const phyx::Instant now = clock->now();
  CHECK(now.mono_ms == now.mono_ns / 1'000'000);
  const auto real = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  CHECK(now.wall_ms > real - 5000);
  CHECK(now.wall_ms < real + 5000);
  const auto steady =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count();
  CHECK(now.mono_ms <= steady);
  CHECK(now.mono_ms > steady - 5000);
}

TEST_CASE("Runtime::clock() is the clock it was given, and the system clock by default") {
  auto c = phyx::create_manual_clock(phyx::Instant{.mono_ms = 777});
  phyx::Runtime rt(phyx::RuntimeOptions{.clock = c, .deterministic = true});
  CHECK(&rt.clock() == c.get());
  CHECK(rt.clock().now().mono_ms == 777);
  phyx::Runtime def(phyx::RuntimeOptions{.deterministic = true});
  const auto steady =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count();
  CHECK(def.clock().now().mono_ms > steady - 5000);
}
