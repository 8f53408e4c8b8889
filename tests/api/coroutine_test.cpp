// SPEC 3 and 7: coroutine handlers (Task<void>) that suspend at co_await on a Future or
// tools.sleep, with one message at a time held across the suspension; stops, crashes and
// shutdowns while suspended; a run on worker threads ending with the accounting laws.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "support/accounting.hpp"
#include "support/printing.hpp"
#include "support/recorder.hpp"
#include "support/scale.hpp"

using namespace std::chrono_literals;
using phyx_test::check_laws;
using phyx_test::Recorder;

namespace {

using Log = std::vector<std::string>;

// A server that answers Add with x + 1, or holds the reply until Release.
struct Add {
  int x;
  phyx::Reply<int> reply;
};
struct Hold {
  phyx::Reply<int> reply;
};
struct Release {
  int value;
};
using ServerMsg = std::variant<Add, Hold, Release>;
struct ServerState {
  std::vector<phyx::Reply<int>> held;
};
phyx::ProcessSpec<ServerMsg, ServerState> server_spec() {
  return {
      .name = "server",
      .init = [](const phyx::Empty&) { return ServerState{}; },
      .handle =
          [](ServerState& s, ServerMsg& m, auto&) {
            if (auto* a = std::get_if<Add>(&m)) a->reply(a->x + 1);
            if (auto* h = std::get_if<Hold>(&m)) s.held.push_back(std::move(h->reply));
            if (auto* r = std::get_if<Release>(&m)) {
              for (auto& reply : s.held) reply(r->value);
              s.held.clear();
            }
          },
      .max_inbox = 1 << 20,
  };
}

struct Det {
  Recorder rec;
  std::shared_ptr<phyx::ManualClock> clock = phyx::create_manual_clock();
  phyx::Runtime rt{
      phyx::RuntimeOptions{.clock = clock, .emit = rec.sink(), .deterministic = true, .seed = 5}};
};

// A client whose coroutine handler does what its message says and logs it.
struct TwoAsks {};
struct Nap {
  std::chrono::milliseconds d;
};
struct Note {
  std::string text;
};
struct AwaitHeld {};
struct CrashAfterAwait {};
using ClientMsg = std::variant<TwoAsks, Nap, Note, AwaitHeld, CrashAfterAwait>;
struct ClientCtx {
  phyx::ProcessRef<ServerMsg> server;
  std::shared_ptr<Log> log;
};

phyx::ProcessSpec<ClientMsg, int, ClientCtx> client_spec() {
  return {
      .name = "client",
      .init =
          [](const ClientCtx& c) {
            c.log->push_back("init");
            return 0;
          },
      .handle = [](int& n, ClientMsg& m, auto& tools) -> phyx::Task<void> {
        const ClientCtx& c = tools.ctx();
        if (std::holds_alternative<TwoAsks>(m)) {
          const int a = co_await c.server.template ask<int>([](phyx::Reply<int> r) {
            return Add{1, std::move(r)};
          });
          const int b = co_await c.server.template ask<int>([a](phyx::Reply<int> r) {
            return Add{a * 10, std::move(r)};
          });
          c.log->push_back("answers " + std::to_string(a) + " " + std::to_string(b));
        } else if (auto* nap = std::get_if<Nap>(&m)) {
          c.log->push_back("nap at " + std::to_string(tools.now().mono_ms));
          co_await tools.sleep(nap->d);
          c.log->push_back("woke at " + std::to_string(tools.now().mono_ms));
        } else if (auto* note = std::get_if<Note>(&m)) {
          c.log->push_back(note->text);
        } else if (std::holds_alternative<AwaitHeld>(m)) {
          const int v = co_await c.server.template ask<int>(
              [](phyx::Reply<int> r) { return Hold{std::move(r)}; }, 60'000ms);
          c.log->push_back("held answer " + std::to_string(v));
        } else if (std::holds_alternative<CrashAfterAwait>(m)) {
          co_await tools.sleep(10ms);
          throw std::runtime_error("after the await");
        }
        ++n;
      },
  };
}

}  // namespace

TEST_CASE("a handler awaiting two asks in sequence gets both answers") {
  Det d;
  auto log = std::make_shared<Log>();
  auto server = d.rt.spawn(server_spec());
  auto client = d.rt.spawn(client_spec(), ClientCtx{server, log});
  client.send(TwoAsks{});
  d.rt.run_until_idle();
  CHECK(*log == Log{"init", "answers 2 21"});  // 1 + 1, then 2 * 10 + 1
  CHECK(client.status() == phyx::Status::running);
  check_laws(d.rt);
}

TEST_CASE(
    "sleep(1000ms) under a ManualClock resumes exactly at +1000 ms; messages sent meanwhile wait") {
  Det d;
  auto log = std::make_shared<Log>();
  auto client = d.rt.spawn(client_spec(), ClientCtx{{}, log});
  d.rt.run_until_idle();
  client.send(Nap{1000ms});
  d.rt.run_until_idle();
  CHECK(d.clock->pending_timer_count() == 1);  // the sleep counts (SPEC 14.9)
  client.send(Note{"second"});
  client.send(Note{"third"});
  d.rt.run_until_idle();
  CHECK(*log == Log{"init", "nap at 0"});  // one message at a time holds across the co_await
  d.rt.advance_by(999ms);
  CHECK(log->size() == 2);
  d.rt.advance_by(1ms);
  CHECK(*log == Log{"init", "nap at 0", "woke at 1000", "second", "third"});
  CHECK(d.clock->pending_timer_count() == 0);
  CHECK(d.rt.stats().timers_fired == 1);
  check_laws(d.rt);
}

TEST_CASE("the seed's observable worker: an await between two emits produces the events in order") {
  struct Task1 {
    int id;
  };
  Det d;
  auto w = d.rt.spawn(phyx::ProcessSpec<Task1, int>{
      .name = "observable-worker",
      .init = [](const phyx::Empty&) { return 0; },
      .handle = [](int& tasks, Task1& m, auto& tools) -> phyx::Task<void> {
        tools.emit("worker:task:start", phyx::Fields{{"taskId", std::int64_t{m.id}}});
        co_await tools.sleep(100ms);
        tools.emit("worker:task:complete", phyx::Fields{{"taskId", std::int64_t{m.id}}});
        ++tasks;
      },
  });
  d.rt.run_until_idle();
  d.rec.clear();
  w.send(Task1{1});
  w.send(Task1{2});
  d.rt.advance_by(100ms);
  d.rt.advance_by(100ms);
  std::vector<std::string> types;
  for (const auto& e : d.rec.events()) {
    if (e.type.starts_with("worker:") || e.type.starts_with("process:msg:"))
      types.push_back(e.type);
  }
  CHECK(types == std::vector<std::string>{"process:msg:start", "worker:task:start",
                                          "worker:task:complete", "process:msg:end",
                                          "process:msg:start", "worker:task:start",
                                          "worker:task:complete", "process:msg:end"});
  const auto ends = d.rec.of_type("process:msg:end");
  REQUIRE(ends.size() == 2);
  CHECK(ends[0].integer("duration_ns") == 100'000'000);  // the whole handler, suspension included
  check_laws(d.rt);
}

TEST_CASE(
    "co_await on a future that is ready does not suspend; a failed future throws inside the "
    "coroutine") {
  Det d;
  auto log = std::make_shared<Log>();
  struct Go {};
  auto p = d.rt.spawn(
      phyx::ProcessSpec<Go, int, std::shared_ptr<Log>>{
          .name = "p",
          .init = [](const std::shared_ptr<Log>&) { return 0; },
          .handle = [](int&, Go&, auto& tools) -> phyx::Task<void> {
            const int v = co_await phyx::make_ready_future<int>(phyx::Result<int>(7));
            tools.ctx()->push_back("ready " + std::to_string(v));
            try {
              co_await phyx::make_ready_future<int>(
                  phyx::Result<int>(std::make_exception_ptr(std::runtime_error("nope"))));
            } catch (const std::runtime_error& e) {
              tools.ctx()->push_back(std::string("caught ") + e.what());
            }
          },
      },
      log);
  p.send(Go{});
  d.rt.run_until_idle();
  CHECK(*log == Log{"ready 7", "caught nope"});
  check_laws(d.rt);
}

TEST_CASE(
    "co_await tools.ask: first settle wins; the timeout fails it with \"Ask 'desc' timeout\"") {
  struct Go {
    bool resolve;
  };
  struct AskCtx {
    std::shared_ptr<Log> log;
    std::shared_ptr<std::vector<phyx::Resolve<int>>> kept;  // an operation still in flight
  };
  Det d;
  AskCtx ctx{std::make_shared<Log>(), std::make_shared<std::vector<phyx::Resolve<int>>>()};
  auto p = d.rt.spawn(phyx::ProcessSpec<Go, int, AskCtx>{
                          .name = "p",
                          .init = [](const AskCtx&) { return 0; },
                          .handle = [](int&, Go& g, auto& tools) -> phyx::Task<void> {
                            const AskCtx& c = tools.ctx();
                            try {
                              const int v = co_await tools.template ask<int>(
                                  "db",
                                  [&](phyx::Resolve<int> ok, phyx::Reject) {
                                    if (g.resolve) {
                                      ok(42);
                                      ok(43);  // ignored: the first settle won
                                    } else {
                                      c.kept->push_back(ok);  // never called: the timeout decides
                                    }
                                  },
                                  250ms);
                              c.log->push_back("got " + std::to_string(v));
                            } catch (const phyx::TimeoutError& e) {
                              c.log->push_back(std::string(e.what()) + " at " +
                                               std::to_string(tools.now().mono_ms));
                            }
                          },
                      },
                      ctx);
  p.send(Go{true});
  d.rt.run_until_idle();
  CHECK(*ctx.log == Log{"got 42"});
  p.send(Go{false});
  d.rt.advance_by(249ms);
  CHECK(ctx.log->size() == 1);
  d.rt.advance_by(1ms);
  CHECK(*ctx.log == Log{"got 42", "Ask 'db' timeout at 250"});
  check_laws(d.rt);
}

TEST_CASE(
    "an awaited ask that times out throws TimeoutError inside the coroutine at exactly its "
    "deadline") {
  Det d;
  auto log = std::make_shared<Log>();
  auto server = d.rt.spawn(server_spec());
  struct Go {};
  auto p = d.rt.spawn(
      phyx::ProcessSpec<Go, int, std::pair<phyx::ProcessRef<ServerMsg>, std::shared_ptr<Log>>>{
          .name = "p",
          .init = [](const auto&) { return 0; },
          .handle = [](int&, Go&, auto& tools) -> phyx::Task<void> {
            const auto& [srv, out] = tools.ctx();
            try {
              co_await srv.template ask<int>([](phyx::Reply<int> r) { return Hold{std::move(r)}; },
                                             300ms);
            } catch (const phyx::TimeoutError& e) {
              out->push_back(std::string(e.what()) + " at " + std::to_string(tools.now().mono_ms));
            }
          },
      },
      std::make_pair(server, log));
  p.send(Go{});
  d.rt.advance_by(299ms);
  CHECK(log->empty());
  d.rt.advance_by(1ms);
  CHECK(*log == Log{"Ask timeout after 300ms at 300"});
  check_laws(d.rt);
}

TEST_CASE(
    "an exception after a co_await is a crash like any other: its ask fails, the process "
    "restarts") {
  Det d;
  auto log = std::make_shared<Log>();
  auto client = d.rt.spawn(client_spec(), ClientCtx{{}, log});
  client.send(CrashAfterAwait{});
  client.send(Note{"after the crash"});
  d.rt.advance_by(10ms);
  CHECK(*log == Log{"init", "init", "after the crash"});  // restarted; the lane survived
  CHECK(d.rt.stats().crashed == 1);
  CHECK(d.rt.stats().restarts == 1);
  const auto errors = d.rec.of_type("process:msg:error");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].text("error") == "after the await");
  check_laws(d.rt);
}

TEST_CASE("stop while suspended waits for the handler to end; queued messages are then discarded") {
  Det d;
  auto log = std::make_shared<Log>();
  auto server = d.rt.spawn(server_spec());
  auto client = d.rt.spawn(client_spec(), ClientCtx{server, log});
  client.send(AwaitHeld{});
  client.send(Note{"never"});
  d.rt.run_until_idle();
  auto stopped = client.stop();
  d.rt.run_until_idle();
  CHECK(client.status() == phyx::Status::stopping);
  CHECK_FALSE(stopped.ready());
  server.send(Release{5});
  d.rt.run_until_idle();
  CHECK(stopped.ready());
  CHECK(client.status() == phyx::Status::stopped);
  CHECK(*log == Log{"init", "held answer 5"});
  CHECK(d.rt.stats().discarded == 1);  // "never"
  check_laws(d.rt);
}

TEST_CASE(
    "a stop that arrives during a sleep: the sleep still ends the handler, then the stop "
    "completes") {
  Det d;
  auto log = std::make_shared<Log>();
  auto client = d.rt.spawn(client_spec(), ClientCtx{{}, log});
  client.send(Nap{500ms});
  d.rt.run_until_idle();
  auto stopped = client.stop();
  d.rt.run_until_idle();
  CHECK_FALSE(stopped.ready());
  CHECK(d.clock->pending_timer_count() == 1);  // the sleep is not one of the cancelled schedules
  d.rt.advance_by(500ms);
  CHECK(stopped.ready());
  CHECK(*log == Log{"init", "nap at 0", "woke at 500"});
  check_laws(d.rt);
}

TEST_CASE(
    "shutdown while a handler awaits forever: abandoned at the deadline, nothing leaks (ASan)") {
  auto log = std::make_shared<Log>();
  phyx::ShutdownReport report;
  {
    Det d;
    auto server = d.rt.spawn(server_spec());
    auto client = d.rt.spawn(client_spec(), ClientCtx{server, log});
    client.send(Nap{1h});
    d.rt.run_until_idle();
    report = d.rt.shutdown(50ms);  // the ManualClock never moves: the sleep never ends
    CHECK(client.status() == phyx::Status::stopped);
    // The message the handler held is counted once, as discarded at the abandonment.
    CHECK(d.rt.stats().discarded == 1);
    check_laws(d.rt);
  }
  CHECK(report.abandoned == 1);
  CHECK(report.messages_discarded == 1);
  CHECK(*log == Log{"init", "nap at 0"});
}

TEST_CASE("a group restart waits for a member's suspended handler, then stops and restarts it") {
  Det d;
  auto log = std::make_shared<Log>();
  const phyx::Supervision all{.type = phyx::Strategy::one_for_all};
  auto napper_spec = client_spec();
  napper_spec.supervision = all;
  napper_spec.on_stop = [](int&, const phyx::StopReason& r, const ClientCtx& c) {
    c.log->push_back("on_stop " + phyx::to_string(r));
  };
  auto napper = d.rt.spawn(napper_spec, ClientCtx{{}, log});
  struct Boom {};
  auto crasher = d.rt.spawn(phyx::ProcessSpec<Boom, int>{
      .name = "crasher",
      .init = [](const phyx::Empty&) { return 0; },
      .handle = [](int&, Boom&, auto&) { throw std::runtime_error("boom"); },
      .supervision = all,
  });
  napper.send(Nap{100ms});
  d.rt.run_until_idle();
  crasher.send(Boom{});
  d.rt.run_until_idle();
  CHECK(*log == Log{"init", "nap at 0"});  // the handler in hand is not cut short
  d.rt.advance_by(100ms);
  CHECK(*log == Log{"init", "nap at 0", "woke at 100", "on_stop shutdown", "init"});
  CHECK(napper.status() == phyx::Status::running);
  CHECK(crasher.status() == phyx::Status::running);
  check_laws(d.rt);
}

TEST_CASE("a coroutine handler that never suspends behaves as a plain handler") {
  Det d;
  struct Inc {};
  auto p = d.rt.spawn(phyx::ProcessSpec<Inc, int>{
      .name = "p",
      .init = [](const phyx::Empty&) { return 0; },
      .handle = [](int& n, Inc&, auto&) -> phyx::Task<void> {
        ++n;
        co_return;
      },
  });
  for (int i = 0; i < 10; ++i) p.send(Inc{});
  CHECK(d.rt.run_until_idle() == 10);
  check_laws(d.rt);
}

TEST_CASE(
    "on 2 workers, 100 handlers asleep for an hour are abandoned at shutdown; each message counts "
    "once") {
  // Each sleeper holds its message in a handler suspended in tools.sleep(1h); shutdown's
  // stops wait for those handlers (SPEC 14.3) until the deadline, then abandon them. Every
  // held message is counted as discarded, once, so the laws hold when shutdown returns.
  const int n = 100;
  phyx::Runtime rt(phyx::RuntimeOptions{.clock = phyx::create_system_clock(), .workers = 2});
  auto asleep = std::make_shared<std::atomic<int>>(0);
  auto spec = phyx::share(phyx::ProcessSpec<int, int, std::shared_ptr<std::atomic<int>>>{
      .name = "sleeper",
      .init = [](const std::shared_ptr<std::atomic<int>>&) { return 0; },
      .handle = [](int&, int&, auto& tools) -> phyx::Task<void> {
        tools.ctx()->fetch_add(1, std::memory_order_release);  // pairs with the test's acquire
        co_await tools.sleep(1h);
      },
  });
  std::vector<phyx::ProcessRef<int>> sleepers;
  for (int i = 0; i < n; ++i) sleepers.push_back(rt.spawn(spec, asleep));
  for (auto& s : sleepers) REQUIRE(s.send(1));
  // A bounded wait until every handler has started (a stop that arrives before its
  // co_await is deferred all the same: the handler is in hand either way).
  const auto until = std::chrono::steady_clock::now() + 30s;
  while (asleep->load(std::memory_order_acquire) < n && std::chrono::steady_clock::now() < until) {
    std::this_thread::yield();
  }
  REQUIRE(asleep->load(std::memory_order_acquire) == n);
  const auto report = rt.shutdown(200ms);
  CHECK(report.abandoned == static_cast<std::size_t>(n));
  CHECK(report.messages_discarded == static_cast<std::size_t>(n));
  CHECK(rt.stats().discarded == static_cast<std::uint64_t>(n));
  check_laws(rt);
}

TEST_CASE("10,000 processes each awaiting an ask to one server all complete, on 2 workers") {
  const int n = static_cast<int>(10'000 * phyx_test::scale());
  phyx::Runtime rt(phyx::RuntimeOptions{.clock = phyx::create_system_clock(), .workers = 2});
  auto server = rt.spawn(server_spec());
  struct Go {};
  struct AskerCtx {
    phyx::ProcessRef<ServerMsg> server;
    std::shared_ptr<std::atomic<int>> done;
    std::shared_ptr<std::promise<void>> all;
    int of;
  };
  const auto spec = phyx::share(phyx::ProcessSpec<Go, int, AskerCtx>{
      .name = "asker",
      .init = [](const AskerCtx&) { return 0; },
      .handle = [](int& got, Go&, auto& tools) -> phyx::Task<void> {
        const AskerCtx& c = tools.ctx();
        got = co_await c.server.template ask<int>(
            [](phyx::Reply<int> r) {
              return Add{41, std::move(r)};
            },
            60'000ms);
        if (got == 42 && c.done->fetch_add(1, std::memory_order_acq_rel) + 1 == c.of)
          c.all->set_value();
      },
  });
  AskerCtx ctx{server, std::make_shared<std::atomic<int>>(0),
               std::make_shared<std::promise<void>>(), n};
  auto all = ctx.all->get_future();
  std::vector<phyx::ProcessRef<Go>> askers;
  askers.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) askers.push_back(rt.spawn(spec, ctx));
  for (auto& a : askers) CHECK(a.send(Go{}));
  REQUIRE(all.wait_for(120s) == std::future_status::ready);
  CHECK(ctx.done->load(std::memory_order_acquire) == n);
  const auto report = rt.shutdown(30s);
  CHECK(report.abandoned == 0);
  check_laws(rt);
}

TEST_CASE(
    "Future::get() in a coroutine handler resumed on a worker throws WouldBlockError; co_await is "
    "the way") {
  phyx::Runtime rt(phyx::RuntimeOptions{.clock = phyx::create_system_clock(), .workers = 2});
  auto server = rt.spawn(server_spec());
  struct Go {};
  struct Ctx {
    phyx::ProcessRef<ServerMsg> server;
    std::shared_ptr<std::promise<std::string>> out;
  };
  Ctx ctx{server, std::make_shared<std::promise<std::string>>()};
  auto result = ctx.out->get_future();
  auto p = rt.spawn(
      phyx::ProcessSpec<Go, int, Ctx>{
          .name = "p",
          .init = [](const Ctx&) { return 0; },
          .handle = [](int&, Go&, auto& tools) -> phyx::Task<void> {
            const Ctx& c = tools.ctx();
            co_await tools.sleep(1ms);  // resumed by the timer thread's resume, on a worker
            // held by the server until Release: not settled when get() runs
            auto f =
                c.server.template ask<int>([](phyx::Reply<int> r) { return Hold{std::move(r)}; });
            std::string what;
            try {
              (void)f.get();
              what = "get returned";
            } catch (const phyx::WouldBlockError&) {
              what = "WouldBlockError";
            }
            c.server.send(Release{2});
            const int v = co_await f;  // the call was not used up (SPEC 14.15)
            c.out->set_value(what + ", then " + std::to_string(v));
          },
      },
      ctx);
  p.send(Go{});
  REQUIRE(result.wait_for(60s) == std::future_status::ready);
  CHECK(result.get() == "WouldBlockError, then 2");
  rt.shutdown(10s);
  check_laws(rt);
}
