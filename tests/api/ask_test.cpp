// SPEC 4 (ask) and 14.2 / 14.9 / 14.10 / 14.11 / 14.15 / 14.19: the reply value, the four
// ways an ask fails (ProcessError, TimeoutError, NoReplyError, StoppedError) with their exact
// texts, late replies, the ask timeout timer, and the Future<T> API.
#include <doctest/doctest.h>

#include <chrono>
#include <exception>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "support/accounting.hpp"
#include "support/counter.hpp"
#include "support/recorder.hpp"

using namespace std::chrono_literals;
using phyx_test::check_laws;
using phyx_test::Recorder;
using phyx_test::RecordedEvent;

namespace ask_t {

struct Custom : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Get {  // answers the state
  phyx::Reply<int> reply;
};
struct Fail {  // reply.fail(Custom("custom failure"))
  phyx::Reply<int> reply;
};
struct Twice {  // answers 1, then 2, then fails: only the first counts
  phyx::Reply<int> reply;
};
struct Ignore {  // returns without answering and without keeping the Reply
  phyx::Reply<int> reply;
};
struct Boom {  // throws
  phyx::Reply<int> reply;
};
struct Keep {  // keeps the Reply in the state
  phyx::Reply<int> reply;
};
struct AnswerKept {  // answers every kept Reply with `value`
  int value;
};
struct KeepLater {  // schedules a Deliver{reply} to self after 100 ms (and cancels it if asked)
  phyx::Reply<int> reply;
  bool cancel;
};
struct Deliver {  // answers with 77
  phyx::Reply<int> reply;
};
struct Crash {};
struct Ping {  // Reply<void>: answered
  phyx::Reply<void> reply;
};
struct PingIgnore {
  phyx::Reply<void> reply;
};
struct PingFail {
  phyx::Reply<void> reply;
};
struct PingKeep {
  phyx::Reply<void> reply;
};
struct Nop {};
struct Park {  // threads: hands the Reply to the test through a promise
  phyx::Reply<int> reply;
};
struct Forward {  // gives the Reply to another process
  phyx::Reply<int> reply;
};
struct Nested {  // blocks on another ask's Future::get() inside the handler
  phyx::Reply<int> reply;
};

using Msg = std::variant<Get, Fail, Twice, Ignore, Boom, Keep, AnswerKept, KeepLater, Deliver, Crash, Ping, PingIgnore,
                         PingFail, PingKeep, Nop, Park, Forward, Nested>;

struct State {
  int value = 0;
  std::vector<phyx::Reply<int>> kept;
  std::vector<phyx::Reply<void>> kept_void;
};

struct Env {
  std::shared_ptr<std::promise<phyx::Reply<int>>> parked;
  std::function<void(phyx::Reply<int>)> forward;
  std::function<int()> nested;
};

phyx::ProcessSpec<Msg, State> server(std::string name = "server", std::shared_ptr<Env> env = std::make_shared<Env>()) {
  return phyx::ProcessSpec<Msg, State>{
      .name = std::move(name),
      .init = [](const phyx::Empty&) { return State{42, {}, {}}; },
      .handle =
          [env](State& s, Msg& msg, auto& tools) {
            std::visit(
                [&](auto& m) {
                  using T = std::decay_t<decltype(m)>;
                  if constexpr (std::is_same_v<T, Get>) {
                    m.reply(s.value);
                  } else if constexpr (std::is_same_v<T, Fail>) {
                    m.reply.fail(std::make_exception_ptr(Custom("custom failure")));
                  } else if constexpr (std::is_same_v<T, Twice>) {
                    m.reply(1);
                    m.reply(2);
                    m.reply.fail(std::make_exception_ptr(Custom("too late")));
                  } else if constexpr (std::is_same_v<T, Ignore>) {
                  } else if constexpr (std::is_same_v<T, Boom>) {
                    throw std::runtime_error("boom");
                  } else if constexpr (std::is_same_v<T, Keep>) {
                    s.kept.push_back(std::move(m.reply));
                  } else if constexpr (std::is_same_v<T, AnswerKept>) {
                    for (auto& r : s.kept) r(m.value);
                    for (auto& r : s.kept_void) r();
                    s.kept.clear();
                    s.kept_void.clear();
                  } else if constexpr (std::is_same_v<T, KeepLater>) {
                    auto id = tools.schedule(100ms, Msg{Deliver{std::move(m.reply)}});
                    if (m.cancel) CHECK(tools.cancel(id));
                  } else if constexpr (std::is_same_v<T, Deliver>) {
                    m.reply(77);
                  } else if constexpr (std::is_same_v<T, Crash>) {
                    throw std::runtime_error("crash on purpose");
                  } else if constexpr (std::is_same_v<T, Ping>) {
                    m.reply();
                  } else if constexpr (std::is_same_v<T, PingIgnore>) {
                  } else if constexpr (std::is_same_v<T, PingFail>) {
                    m.reply.fail(std::make_exception_ptr(Custom("void failure")));
                  } else if constexpr (std::is_same_v<T, PingKeep>) {
                    s.kept_void.push_back(std::move(m.reply));
                  } else if constexpr (std::is_same_v<T, Nop>) {
                  } else if constexpr (std::is_same_v<T, Park>) {
                    env->parked->set_value(std::move(m.reply));
                  } else if constexpr (std::is_same_v<T, Forward>) {
                    env->forward(std::move(m.reply));
                  } else if constexpr (std::is_same_v<T, Nested>) {
                    m.reply(env->nested());
                  }
                },
                msg);
          },
  };
}

template <class M>
phyx::Future<int> ask_int(const phyx::ProcessRef<Msg>& p, std::chrono::milliseconds timeout = 5000ms) {
  return p.ask<int>([](phyx::Reply<int> r) { return Msg{M{std::move(r)}}; }, timeout);
}

template <class M>
phyx::Future<void> ask_void(const phyx::ProcessRef<Msg>& p, std::chrono::milliseconds timeout = 5000ms) {
  return p.ask<void>([](phyx::Reply<void> r) { return Msg{M{std::move(r)}}; }, timeout);
}

struct Det {
  Recorder rec;
  std::shared_ptr<phyx::ManualClock> clock = phyx::create_manual_clock();
  phyx::RuntimeOptions options() {
    phyx::RuntimeOptions o;
    o.clock = clock;
    o.deterministic = true;
    o.seed = 1;
    o.emit = rec.sink();
    return o;
  }
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace ask_t

using namespace ask_t;

static_assert(!std::is_copy_constructible_v<phyx::Reply<int>>);
static_assert(!std::is_copy_assignable_v<phyx::Reply<int>>);
static_assert(std::is_move_constructible_v<phyx::Reply<int>>);
static_assert(std::is_move_assignable_v<phyx::Reply<int>>);
static_assert(!std::is_copy_constructible_v<phyx::Reply<void>>);
static_assert(!std::is_copy_assignable_v<phyx::Reply<void>>);
static_assert(std::is_move_constructible_v<phyx::Reply<void>>);

TEST_CASE("ask returns the handler's reply (deterministic)") {
  Det d;
  phyx::Runtime rt(d.options());
  auto p = rt.spawn(server());
  auto f = ask_int<Get>(p);
  CHECK(f.get() == 42);
  const auto s = rt.stats();
  CHECK(s.asks == 1);
  CHECK(s.sent == 1);
  CHECK(s.handled == 1);
  check_laws(rt);
}

TEST_CASE("ask returns the handler's reply (threads)") {
  phyx::Runtime rt({.clock = phyx::create_system_clock(), .workers = 2});
  auto p = rt.spawn(server());
  for (int i = 0; i < 20; ++i) {
    auto f = ask_int<Get>(p);
    REQUIRE(f.wait_for(5s));
    CHECK(f.get() == 42);
  }
  rt.shutdown(5s);
  CHECK(rt.stats().asks == 20);
  check_laws(rt);
}

TEST_CASE("reply.fail(e) makes the ask rethrow e") {
  Det d;
  phyx::Runtime rt(d.options());
  auto p = rt.spawn(server());
  auto f = ask_int<Fail>(p);
  CHECK_THROWS_WITH_AS(f.get(), "custom failure", Custom);
  check_laws(rt);
}

TEST_CASE("a second answer is ignored (and is not a late reply)") {
  Det d;
  phyx::Runtime rt(d.options());
  auto p = rt.spawn(server());
  auto f = ask_int<Twice>(p);
  CHECK(f.get() == 1);
  CHECK(rt.stats().late_replies == 0);
  CHECK(d.rec.count("process:dead_letter") == 0);
  check_laws(rt);
}

TEST_CASE("a Reply destroyed unanswered fails the ask with NoReplyError at once") {
  Det d;
  phyx::Runtime rt(d.options());
  auto p = rt.spawn(server());
  auto f = ask_int<Ignore>(p);
  CHECK(rt.run_until_idle() == 1);
  CHECK(f.ready());
  CHECK_THROWS_WITH_AS(f.get(), "Reply dropped without an answer", phyx::NoReplyError);
  CHECK(d.clock->pending_timer_count() == 0);
  check_laws(rt);
}

TEST_CASE("a handler that crashes on an ask fails it with NoReplyError; the restarted process answers") {
  Det d;
  phyx::Runtime rt(d.options());
  auto p = rt.spawn(server());
  auto f = ask_int<Boom>(p);
  CHECK(rt.run_until_idle() == 1);
  CHECK(f.ready());
  CHECK_THROWS_WITH_AS(f.get(), "Reply dropped without an answer", phyx::NoReplyError);
  CHECK(ask_int<Get>(p).get() == 42);
  CHECK(rt.stats().crashed == 1);
  check_laws(rt);
}

TEST_CASE("an unanswered ask times out with TimeoutError naming the real timeout") {
  Det d;
  phyx::Runtime rt(d.options());
  auto p = rt.spawn(server());
  auto f = ask_int<Keep>(p, 250ms);
  rt.run_until_idle();
  CHECK(d.clock->pending_timer_count() == 1);
  rt.advance_by(249ms);
  CHECK_FALSE(f.ready());
  rt.advance_by(1ms);
  REQUIRE(f.ready());
  CHECK_THROWS_WITH_AS(f.get(), "Ask timeout after 250ms", phyx::TimeoutError);
  CHECK(d.clock->pending_timer_count() == 0);

  const auto s = rt.stats();
  CHECK(s.ask_timeouts == 1);
  CHECK(s.timers_fired == 1);
  auto timeouts = d.rec.of_type("ask:timeout");
  REQUIRE(timeouts.size() == 1);
  CHECK(timeouts[0].integer("timeout_ms") == 250);
  CHECK(timeouts[0].process == p.id());
  CHECK(timeouts[0].at.mono_ms == 250);

  auto g = ask_int<Keep>(p);  // the default is 5000 ms
  rt.advance_by(4999ms);
  CHECK_FALSE(g.ready());
  rt.advance_by(1ms);
  CHECK_THROWS_WITH_AS(g.get(), "Ask timeout after 5000ms", phyx::TimeoutError);
  check_laws(rt);
}

TEST_CASE("an ask timeout <= 0 throws SpecError from the call and sends nothing") {
  Det d;
  phyx::Runtime rt(d.options());
  auto p = rt.spawn(server());
  rt.run_until_idle();
  CHECK_THROWS_WITH_AS(ask_int<Get>(p, 0ms), doctest::Contains("0ms"), phyx::SpecError);
  CHECK_THROWS_WITH_AS(ask_int<Get>(p, -5ms), doctest::Contains("-5ms"), phyx::SpecError);
  CHECK_THROWS_WITH_AS(ask_int<Get>(p, -5ms), doctest::Contains("timeout"), phyx::SpecError);
  const auto s = rt.stats();
  CHECK(s.sent == 0);
  CHECK(d.clock->pending_timer_count() == 0);
  check_laws(rt);
}

TEST_CASE("a reply after the timeout is dropped, counted in late_replies and reported as a late_reply dead letter") {
  Det d;
  phyx::Runtime rt(d.options());
  auto p = rt.spawn(server("slow-server"));
  auto f = ask_int<Keep>(p, 100ms);
  rt.advance_by(100ms);
  CHECK_THROWS_AS(f.get(), phyx::TimeoutError);
  REQUIRE(p.send(AnswerKept{5}));
  rt.run_until_idle();

  const auto s = rt.stats();
  CHECK(s.late_replies == 1);
  CHECK(s.ask_timeouts == 1);
  auto dl = d.rec.of_type("process:dead_letter");
  REQUIRE(dl.size() == 1);
  CHECK(dl[0].text("reason") == "late_reply");
  CHECK(dl[0].process == p.id());
  CHECK(dl[0].name == "slow-server");
  CHECK(ends_with(dl[0].text("msg_type"), "Keep"));
  check_laws(rt);
}

TEST_CASE("ask fails at once with ProcessError when the target is stopped") {
  Det d;
  phyx::Runtime rt(d.options());
  auto p = rt.spawn(server());
  rt.run_until_idle();
  p.stop().get();
  REQUIRE(p.status() == phyx::Status::stopped);
  auto f = ask_int<Get>(p);
  REQUIRE(f.ready());  // at once, without driving the runtime
  CHECK(d.clock->pending_timer_count() == 0);
  try {
    f.get();
    FAIL("expected ProcessError");
  } catch (const phyx::ProcessError& e) {
    CHECK(std::string(e.what()) == "Failed to send ask message");
    CHECK(e.process_id() == p.id());
  }
  const auto s = rt.stats();
  CHECK(s.refused_not_running == 1);
  CHECK(s.asks == 1);
  check_laws(rt);
}

TEST_CASE("ask fails at once with ProcessError while the target is stopping") {
  Det d;
  phyx::Runtime rt(d.options());
  auto p = rt.spawn(server());
  rt.run_until_idle();
  auto done = p.stop();
  auto f = ask_int<Get>(p);
  REQUIRE(f.ready());
  CHECK_THROWS_WITH_AS(f.get(), "Failed to send ask message", phyx::ProcessError);
  done.get();
  check_laws(rt);
}

TEST_CASE("ask fails at once with ProcessError when the target has failed") {
  Det d;
  phyx::Runtime rt(d.options());
  auto spec = server();
  phyx::Supervision none;
  none.type = phyx::Strategy::none;
  spec.supervision = none;
  auto p = rt.spawn(std::move(spec));
  REQUIRE(p.send(Crash{}));
  rt.run_until_idle();
  REQUIRE(p.status() == phyx::Status::failed);
  auto f = ask_int<Get>(p);
  REQUIRE(f.ready());
  CHECK_THROWS_WITH_AS(f.get(), "Failed to send ask message", phyx::ProcessError);
  CHECK(d.clock->pending_timer_count() == 0);
  check_laws(rt);
}

TEST_CASE("ask fails at once with ProcessError when the lane is full under reject") {
  Det d;
  phyx::Runtime rt(d.options());
  auto spec = server();
  spec.max_inbox = 1;
  auto p = rt.spawn(std::move(spec));
  rt.run_until_idle();
  REQUIRE(p.send(Nop{}));
  auto f = ask_int<Get>(p);
  REQUIRE(f.ready());
  CHECK_THROWS_WITH_AS(f.get(), "Failed to send ask message", phyx::ProcessError);
  CHECK(d.clock->pending_timer_count() == 0);
  CHECK(rt.stats().refused_full == 1);
  auto dl = d.rec.of_type("process:dead_letter");
  REQUIRE(dl.size() == 1);
  CHECK(dl[0].text("reason") == "mailbox_full");
  CHECK(ends_with(dl[0].text("msg_type"), "Get"));
  rt.run_until_idle();
  check_laws(rt);
}

TEST_CASE("an answered ask's timeout timer is cancelled (SPEC 14.9)") {
  Det d;
  phyx::Runtime rt(d.options());
  auto p = rt.spawn(server());
  rt.run_until_idle();
  CHECK(d.clock->pending_timer_count() == 0);
  auto f = ask_int<Get>(p, 1000ms);
  auto g = ask_int<Keep>(p, 1000ms);
  CHECK(d.clock->pending_timer_count() == 2);
  CHECK(f.get() == 42);
  rt.run_until_idle();
  CHECK(d.clock->pending_timer_count() == 1);  // only the kept, unanswered one
  REQUIRE(p.send(AnswerKept{9}));
  CHECK(g.get() == 9);
  CHECK(d.clock->pending_timer_count() == 0);
  rt.advance_by(2000ms);
  const auto s = rt.stats();
  CHECK(s.ask_timeouts == 0);
  CHECK(s.timers_fired == 0);
  CHECK(s.late_replies == 0);
  check_laws(rt);
}

TEST_CASE("an ask whose Reply is kept in the state fails with StoppedError when the process stops") {
  Det d;
  phyx::Runtime rt(d.options());
  auto p = rt.spawn(server());
  auto kept = ask_int<Keep>(p);
  rt.run_until_idle();
  auto queued = ask_int<Get>(p);  // still in the lane when the stop comes
  CHECK_FALSE(kept.ready());
  p.stop().get();
  CHECK_THROWS_WITH_AS(kept.get(), "Process stopping", phyx::StoppedError);
  CHECK_THROWS_WITH_AS(queued.get(), "Process stopping", phyx::StoppedError);
  CHECK(d.clock->pending_timer_count() == 0);
  check_laws(rt);
}

TEST_CASE("an ask whose Reply is kept by an incarnation that crashes fails with NoReplyError (SPEC 14.19)") {
  Det d;
  phyx::Runtime rt(d.options());
  auto p = rt.spawn(server());
  auto kept = ask_int<Keep>(p);
  rt.run_until_idle();
  REQUIRE(p.send(Crash{}));
  rt.run_until_idle();
  REQUIRE(kept.ready());
  CHECK_THROWS_WITH_AS(kept.get(), "Reply dropped without an answer", phyx::NoReplyError);
  CHECK(p.status() == phyx::Status::running);  // restarted
  check_laws(rt);
}

TEST_CASE("a Reply inside a scheduled message of an incarnation that crashes fails with NoReplyError") {
  // SPEC 6.6: timers of the crashed incarnation are cancelled; 14.19: the last Reply destroyed
  // unanswered gives NoReplyError; "StoppedError is only for stops and shutdown".
  Det d;
  phyx::Runtime rt(d.options());
  auto p = rt.spawn(server());
  auto f = p.ask<int>([](phyx::Reply<int> r) { return Msg{KeepLater{std::move(r), false}}; });
  rt.run_until_idle();
  CHECK(d.clock->pending_timer_count() == 2);  // the ask's timeout and the schedule
  REQUIRE(p.send(Crash{}));
  rt.run_until_idle();
  REQUIRE(f.ready());
  CHECK_THROWS_WITH_AS(f.get(), "Reply dropped without an answer", phyx::NoReplyError);
  CHECK(d.clock->pending_timer_count() == 0);
  check_laws(rt);
}

TEST_CASE("a Reply inside a scheduled message that the handler cancels fails with NoReplyError") {
  Det d;
  phyx::Runtime rt(d.options());
  auto p = rt.spawn(server());
  auto f = p.ask<int>([](phyx::Reply<int> r) { return Msg{KeepLater{std::move(r), true}}; });
  rt.run_until_idle();
  REQUIRE(f.ready());
  CHECK_THROWS_WITH_AS(f.get(), "Reply dropped without an answer", phyx::NoReplyError);
  CHECK(p.status() == phyx::Status::running);
  check_laws(rt);
}

TEST_CASE("a Reply inside a scheduled message is answered when the timer fires") {
  Det d;
  phyx::Runtime rt(d.options());
  auto p = rt.spawn(server());
  auto f = p.ask<int>([](phyx::Reply<int> r) { return Msg{KeepLater{std::move(r), false}}; }, 1000ms);
  rt.advance_by(100ms);
  CHECK(f.get() == 77);
  CHECK(d.clock->pending_timer_count() == 0);
  check_laws(rt);
}

TEST_CASE("Future::get() may be called once; a second call throws phyx::Error") {
  Det d;
  phyx::Runtime rt(d.options());
  auto p = rt.spawn(server());
  auto ok = ask_int<Get>(p);
  CHECK(ok.get() == 42);
  CHECK_THROWS_AS(ok.get(), phyx::Error);

  auto failed = ask_int<Ignore>(p);
  CHECK_THROWS_AS(failed.get(), phyx::NoReplyError);
  try {
    failed.get();
    FAIL("expected phyx::Error");
  } catch (const phyx::NoReplyError&) {
    FAIL("the second get() rethrew the ask's failure instead of refusing the call");
  } catch (const phyx::Error&) {
  }
  check_laws(rt);
}

TEST_CASE("a get() that threw WouldBlockError does not use up the call") {
  Det d;
  phyx::Runtime rt(d.options());
  auto p = rt.spawn(server());
  auto f = ask_int<Keep>(p);
  CHECK_THROWS_AS(f.get(), phyx::WouldBlockError);  // the runtime went idle before it settled
  REQUIRE(p.send(AnswerKept{11}));
  CHECK(f.get() == 11);
  check_laws(rt);
}

TEST_CASE("ready, try_get and wait_for") {
  Det d;
  phyx::Runtime rt(d.options());
  auto p = rt.spawn(server());
  auto f = ask_int<Get>(p);
  CHECK(f.valid());
  CHECK_FALSE(f.ready());
  CHECK_FALSE(f.try_get().has_value());
  CHECK(f.wait_for(1s));  // drives the deterministic runtime
  CHECK(f.ready());
  auto r = f.try_get();
  REQUIRE(r.has_value());
  CHECK(r->ok());
  CHECK(r->value() == 42);
  CHECK(f.try_get().has_value());  // try_get does not consume
  CHECK(f.get() == 42);

  auto kept = ask_int<Keep>(p);
  CHECK_FALSE(kept.wait_for(10ms));  // idle before it settles: false, no exception
  CHECK_FALSE(kept.try_get().has_value());

  auto bad = ask_int<Fail>(p);
  CHECK(bad.wait_for(1s));
  auto br = bad.try_get();
  REQUIRE(br.has_value());
  CHECK_FALSE(br->ok());
  CHECK(br->error() != nullptr);
  CHECK_THROWS_AS(br->value(), Custom);

  phyx::Future<int> empty;
  CHECK_FALSE(empty.valid());
  CHECK_FALSE(empty.ready());
  CHECK_THROWS_AS(empty.get(), phyx::Error);
  check_laws(rt);
}

TEST_CASE("then runs once, when settled or at once if already settled") {
  Det d;
  phyx::Runtime rt(d.options());
  auto p = rt.spawn(server());
  auto f = ask_int<Get>(p);
  int calls = 0;
  int seen = 0;
  f.then([&](phyx::Result<int> r) {
    ++calls;
    seen = r.value();
  });
  CHECK(calls == 0);
  rt.run_until_idle();
  CHECK(calls == 1);
  CHECK(seen == 42);
  rt.run_until_idle();
  CHECK(calls == 1);

  int late_calls = 0;
  f.then([&](phyx::Result<int> r) {
    ++late_calls;
    CHECK(r.ok());
  });
  CHECK(late_calls == 1);  // already settled: ran on the caller

  auto g = ask_int<Ignore>(p);
  bool failed = false;
  g.then([&](phyx::Result<int> r) {
    failed = !r.ok();
    CHECK_THROWS_AS(r.value(), phyx::NoReplyError);
  });
  rt.run_until_idle();
  CHECK(failed);
  check_laws(rt);
}

TEST_CASE("then: several continuations on one future (or its copies) each run once") {
  Det d;
  phyx::Runtime rt(d.options());
  auto p = rt.spawn(server());
  auto f = ask_int<Get>(p);
  auto copy = f;
  int a = 0;
  int b = 0;
  f.then([&](phyx::Result<int> r) { a += r.value(); });
  copy.then([&](phyx::Result<int> r) { b += r.value(); });
  rt.run_until_idle();
  CHECK(a == 42);
  CHECK(b == 42);
  check_laws(rt);
}

TEST_CASE("Future::get() inside a handler throws WouldBlockError instead of blocking (deterministic)") {
  Det d;
  phyx::Runtime rt(d.options());
  auto other = rt.spawn(server("other"));
  auto env = std::make_shared<Env>();
  env->nested = [other]() {
    auto inner = ask_int<Get>(other);
    try {
      return inner.get();
    } catch (const phyx::WouldBlockError&) {
      return -1;
    }
  };
  auto p = rt.spawn(server("outer", env));
  CHECK(ask_int<Nested>(p).get() == -1);
  rt.run_until_idle();
  check_laws(rt);
}

TEST_CASE("Future::get() on a worker thread throws WouldBlockError instead of blocking (threads)") {
  phyx::Runtime rt({.clock = phyx::create_system_clock(), .workers = 2});
  auto other = rt.spawn(server("other"));
  auto env = std::make_shared<Env>();
  env->nested = [other]() {
    auto inner = ask_int<Keep>(other);  // never answered while we wait: get() would block
    try {
      return inner.get();
    } catch (const phyx::WouldBlockError&) {
      return -1;
    }
  };
  auto p = rt.spawn(server("outer", env));
  auto f = ask_int<Nested>(p);
  REQUIRE(f.wait_for(5s));
  CHECK(f.get() == -1);
  rt.shutdown(5s);
  check_laws(rt);
}

TEST_CASE("Reply<void>: answered, unanswered, failed, kept at stop") {
  Det d;
  phyx::Runtime rt(d.options());
  auto p = rt.spawn(server());
  auto ok = ask_void<Ping>(p);
  CHECK_NOTHROW(ok.get());

  auto dropped = ask_void<PingIgnore>(p);
  CHECK_THROWS_WITH_AS(dropped.get(), "Reply dropped without an answer", phyx::NoReplyError);

  auto failed = ask_void<PingFail>(p);
  CHECK_THROWS_WITH_AS(failed.get(), "void failure", Custom);

  auto answered_later = ask_void<PingKeep>(p);
  rt.run_until_idle();
  CHECK_FALSE(answered_later.ready());
  REQUIRE(p.send(AnswerKept{0}));
  CHECK_NOTHROW(answered_later.get());

  auto timed_out = ask_void<PingKeep>(p, 30ms);
  rt.advance_by(30ms);
  CHECK_THROWS_WITH_AS(timed_out.get(), "Ask timeout after 30ms", phyx::TimeoutError);

  auto kept = ask_void<PingKeep>(p);
  rt.run_until_idle();
  p.stop().get();
  CHECK_THROWS_WITH_AS(kept.get(), "Process stopping", phyx::StoppedError);
  CHECK(rt.stats().late_replies == 0);
  CHECK(d.clock->pending_timer_count() == 0);
  check_laws(rt);
}

TEST_CASE("a Reply may be answered from another thread (threads)") {
  auto env = std::make_shared<Env>();
  env->parked = std::make_shared<std::promise<phyx::Reply<int>>>();
  auto parked = env->parked->get_future();
  phyx::Runtime rt({.clock = phyx::create_system_clock(), .workers = 2});
  auto p = rt.spawn(server("server", env));
  auto f = ask_int<Park>(p);
  REQUIRE(parked.wait_for(5s) == std::future_status::ready);
  auto reply = parked.get();
  CHECK_FALSE(f.ready());
  reply(123);  // from the test thread
  REQUIRE(f.wait_for(5s));
  CHECK(f.get() == 123);
  rt.shutdown(5s);
  check_laws(rt);
}

TEST_CASE("an ask on real time times out with TimeoutError (threads)") {
  phyx::Runtime rt({.clock = phyx::create_system_clock(), .workers = 2});
  auto p = rt.spawn(server());
  auto f = ask_int<Keep>(p, 20ms);
  REQUIRE(f.wait_for(5s));
  CHECK_THROWS_WITH_AS(f.get(), "Ask timeout after 20ms", phyx::TimeoutError);
  rt.shutdown(5s);  // the timer thread is joined: its counts are all in
  CHECK(rt.stats().ask_timeouts == 1);
  check_laws(rt);
}

namespace ask_staged {
struct Hold {  // the target would keep the Reply (it never runs while the worker is blocked)
  phyx::Reply<int> reply;
};
struct AskThenBlock {};
struct StagedEnv {
  phyx::ProcessRef<Hold> target;
  std::promise<phyx::Future<int>> handoff;
  std::promise<void> release;
};
}  // namespace ask_staged

TEST_CASE("an ask made by a handler times out on time while that handler blocks its worker (threads)") {
  // The ask's timer is staged on the worker (engine/timer/timer_service.hpp step 0), and
  // the handler then blocks the only worker, so the worker never flushes its stage: only
  // the timer thread taking the stage (step 0c) lets the timeout fire. Without it, the
  // future would stay pending until the handler returned, which it does only after the
  // bounded wait below.
  using namespace ask_staged;
  auto env = std::make_shared<StagedEnv>();
  auto handed = env->handoff.get_future();
  auto released = env->release.get_future().share();
  phyx::Runtime rt({.clock = phyx::create_system_clock(), .workers = 1});
  env->target = rt.spawn(phyx::ProcessSpec<Hold, std::vector<phyx::Reply<int>>>{
      .name = "holder",
      .init = [](const phyx::Empty&) { return std::vector<phyx::Reply<int>>{}; },
      .handle = [](std::vector<phyx::Reply<int>>& kept, Hold& m, auto&) { kept.push_back(std::move(m.reply)); },
  });
  auto asker = rt.spawn(phyx::ProcessSpec<AskThenBlock, int, std::shared_ptr<StagedEnv>>{
      .name = "asker",
      .init = [](const std::shared_ptr<StagedEnv>&) { return 0; },
      .handle =
          [released](int&, AskThenBlock&, auto& tools) {
            StagedEnv& e = *tools.ctx();
            e.handoff.set_value(e.target.template ask<int>([](phyx::Reply<int> r) { return Hold{std::move(r)}; }, 100ms));
            released.wait();  // blocks the only worker (a test's bounded handshake, not a sleep)
          },
  }, env);
  REQUIRE(asker.send(AskThenBlock{}));
  REQUIRE(handed.wait_for(5s) == std::future_status::ready);
  auto f = handed.get();
  const bool timed_out = f.wait_for(5s);
  env->release.set_value();  // unblock the worker before any REQUIRE can leave the test
  REQUIRE(timed_out);
  CHECK_THROWS_WITH_AS(f.get(), "Ask timeout after 100ms", phyx::TimeoutError);
  rt.shutdown(5s);
  CHECK(rt.stats().ask_timeouts == 1);
  check_laws(rt);
}

TEST_CASE(
    "an unanswered ask made by a handler times out, not early, once its worker's stage is taken "
    "(threads)") {
  // The ask's timeout is staged without a timer node (phyx/detail/staged_timeout.hpp); the
  // worker, free again, takes its stage a few milliseconds later and arms a node for the
  // timeout from the time of the take (the ask reads no clock). Lost, the ask would stay
  // pending; armed from a time before the ask (a lagging clock), it could fire early: the
  // bound below is on the side that staging could break, no earlier than 100 ms after the
  // send.
  using namespace ask_staged;
  auto env = std::make_shared<StagedEnv>();
  auto handed = env->handoff.get_future();
  phyx::Runtime rt({.clock = phyx::create_system_clock(), .workers = 1});
  env->target = rt.spawn(phyx::ProcessSpec<Hold, std::vector<phyx::Reply<int>>>{
      .name = "holder",
      .init = [](const phyx::Empty&) { return std::vector<phyx::Reply<int>>{}; },
      .handle = [](std::vector<phyx::Reply<int>>& kept, Hold& m,
                   auto&) { kept.push_back(std::move(m.reply)); },
  });
  auto asker =
      rt.spawn(phyx::ProcessSpec<AskThenBlock, int, std::shared_ptr<StagedEnv>>{
                   .name = "asker",
                   .init = [](const std::shared_ptr<StagedEnv>&) { return 0; },
                   .handle =
                       [](int&, AskThenBlock&, auto& tools) {
                         StagedEnv& e = *tools.ctx();
                         e.handoff.set_value(e.target.template ask<int>(
                             [](phyx::Reply<int> r) { return Hold{std::move(r)}; }, 100ms));
                       },
               },
               env);
  const auto sent = std::chrono::steady_clock::now();
  REQUIRE(asker.send(AskThenBlock{}));
  REQUIRE(handed.wait_for(5s) == std::future_status::ready);
  auto f = handed.get();
  REQUIRE(f.wait_for(5s));
  CHECK(std::chrono::steady_clock::now() - sent >= 100ms);
  CHECK_THROWS_WITH_AS(f.get(), "Ask timeout after 100ms", phyx::TimeoutError);
  rt.shutdown(5s);
  CHECK(rt.stats().ask_timeouts == 1);
  CHECK(rt.stats().late_replies == 0);
  check_laws(rt);
}

TEST_CASE("asks answered within milliseconds leave no state behind and never time out (threads)") {
  // 2,000 asks in a chain between two processes on two workers: their timeouts are staged
  // without nodes, and their states kept by the stages until taken. Every state must be
  // freed (ASan's leak check: a keep never dropped is a leak) and none may time out.
  struct Count {  // answered with the server's count
    phyx::Reply<int> reply;
  };
  struct Next {
    phyx::Result<int> answer;
  };
  struct ChainCtx {
    phyx::ProcessRef<Count> server;
    std::promise<int>* done;
  };
  std::promise<int> done;
  auto finished = done.get_future();
  phyx::Runtime rt({.clock = phyx::create_system_clock(), .workers = 2});
  auto server = rt.spawn(phyx::ProcessSpec<Count, int>{
      .name = "server",
      .init = [](const phyx::Empty&) { return 0; },
      .handle = [](int& n, Count& m, auto&) { m.reply(++n); },
  });
  auto client = rt.spawn(
      phyx::ProcessSpec<Next, int, ChainCtx>{
          .name = "client",
          .init = [](const ChainCtx&) { return -1; },  // the first Next is the kick, not an answer
          .handle =
              [](int& answered, Next& m, auto& tools) {
                if (m.answer.ok()) ++answered;
                if (answered == 2000 || !m.answer.ok()) {
                  tools.ctx().done->set_value(answered);
                  return;
                }
                auto f = tools.ctx().server.template ask<int>(
                    [](phyx::Reply<int> r) { return Count{std::move(r)}; }, 60s);
                tools.pipe(std::move(f), [](phyx::Result<int> r) { return Next{std::move(r)}; });
              },
      },
      ChainCtx{server, &done});
  REQUIRE(client.send(Next{phyx::Result<int>(0)}));
  REQUIRE(finished.wait_for(20s) == std::future_status::ready);
  CHECK(finished.get() == 2000);
  rt.shutdown(5s);
  CHECK(rt.stats().ask_timeouts == 0);
  CHECK(rt.stats().asks == 2000);
  check_laws(rt);
}

TEST_CASE("a Reply moved to another process follows that process (SPEC 14.2)") {
  Det d;
  phyx::Runtime rt(d.options());
  auto holder = rt.spawn(server("holder"));
  auto env = std::make_shared<Env>();
  env->forward = [holder](phyx::Reply<int> r) { holder.send(Msg{Keep{std::move(r)}}); };
  auto front = rt.spawn(server("front", env));

  auto f = ask_int<Forward>(front);
  rt.run_until_idle();
  front.stop().get();  // the Reply is no longer front's: the ask stays pending
  CHECK_FALSE(f.ready());
  REQUIRE(holder.send(AnswerKept{8}));
  CHECK(f.get() == 8);

  auto front2 = rt.spawn(server("front2", env));
  auto g = ask_int<Forward>(front2);
  rt.run_until_idle();
  CHECK_FALSE(g.ready());
  holder.stop().get();  // the holder has it: its stop fails the ask with StoppedError
  CHECK_THROWS_WITH_AS(g.get(), "Process stopping", phyx::StoppedError);
  check_laws(rt);
}

TEST_CASE("an ask on a ref whose runtime is gone fails at once with ProcessError (SPEC 14.2, 14.14)") {
  phyx::ProcessRef<Msg> ref;
  {
    phyx::Runtime rt(phyx_test::deterministic_options());
    ref = rt.spawn(server());
    rt.run_until_idle();
  }
  auto f = ask_int<Get>(ref);
  REQUIRE(f.ready());
  CHECK_THROWS_WITH_AS(f.get(), "Failed to send ask message", phyx::ProcessError);
  CHECK(ref.status() == phyx::Status::stopped);
  CHECK_FALSE(ref.send(Nop{}));
}
