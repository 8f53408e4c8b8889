// SPEC 3 / 6 / 11: SpecError for invalid specs (naming the field and the value), the error
// hierarchy, to_string(Status), and the handler shapes (in place, returning the state,
// explicit or `auto&` tools, a Task<void> coroutine that does not suspend).
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <variant>

#include "support/accounting.hpp"
#include "support/counter.hpp"

using namespace std::chrono_literals;
using phyx_test::check_laws;
using phyx_test::CounterMsg;
using phyx_test::Get;
using phyx_test::Increment;

namespace spec_t {

phyx::ProcessSpec<CounterMsg, int> valid(std::string name = "valid") { return phyx_test::counter_spec(std::move(name)); }

phyx::ProcessSpec<CounterMsg, int> with_backoff(phyx::Backoff b) {
  auto s = valid();
  s.supervision = phyx::Supervision{.backoff = b};
  return s;
}

phyx::ProcessSpec<CounterMsg, int> with_max_restarts(int count, std::chrono::milliseconds within) {
  auto s = valid();
  s.supervision = phyx::Supervision{.max_restarts = phyx::MaxRestarts{count, within}};
  return s;
}

phyx::Backoff backoff(std::int64_t initial_ms, std::int64_t max_ms, double factor = 2.0, double jitter = 0) {
  return phyx::Backoff{std::chrono::milliseconds(initial_ms), std::chrono::milliseconds(max_ms), factor, jitter};
}

}  // namespace spec_t

using namespace spec_t;

TEST_CASE("spawn throws SpecError for an empty name") {
  phyx::Runtime rt(phyx_test::deterministic_options());
  CHECK_THROWS_WITH_AS(rt.spawn(valid("")), doctest::Contains("name"), phyx::SpecError);
  CHECK(rt.stats().processes_alive == 0);
}

TEST_CASE("spawn throws SpecError for a missing init or handle") {
  phyx::Runtime rt(phyx_test::deterministic_options());
  auto no_init = valid("no-init");
  no_init.init = nullptr;
  CHECK_THROWS_WITH_AS(rt.spawn(no_init), doctest::Contains("init"), phyx::SpecError);
  CHECK_THROWS_WITH_AS(rt.spawn(no_init), doctest::Contains("no-init"), phyx::SpecError);

  auto no_handle = valid("no-handle");
  no_handle.handle = nullptr;
  CHECK_THROWS_WITH_AS(rt.spawn(no_handle), doctest::Contains("handle"), phyx::SpecError);
  CHECK_THROWS_WITH_AS(rt.spawn(no_handle), doctest::Contains("no-handle"), phyx::SpecError);

  auto default_handle = valid("default-handle");
  default_handle.handle = {};
  CHECK_THROWS_WITH_AS(rt.spawn(default_handle), doctest::Contains("handle"), phyx::SpecError);
  CHECK(rt.stats().processes_alive == 0);
}

TEST_CASE("spawn throws SpecError for max_inbox == 0; 1 is valid") {
  phyx::Runtime rt(phyx_test::deterministic_options());
  auto zero = valid();
  zero.max_inbox = 0;
  CHECK_THROWS_WITH_AS(rt.spawn(zero), doctest::Contains("max_inbox"), phyx::SpecError);
  CHECK_THROWS_WITH_AS(rt.spawn(zero), doctest::Contains("0"), phyx::SpecError);
  auto one = valid();
  one.max_inbox = 1;
  CHECK_NOTHROW(rt.spawn(one));
  CHECK(rt.stats().processes_alive == 1);
}

TEST_CASE("spawn throws SpecError for a max_inbox beyond 2^31 - 1, naming field and value; the bound is valid") {
  phyx::Runtime rt(phyx_test::deterministic_options());
  auto huge = valid();
  huge.max_inbox = std::size_t{1} << 31;
  CHECK_THROWS_WITH_AS(rt.spawn(huge), "ProcessSpec.max_inbox must be <= 2147483647 (got 2147483648) for process 'valid'",
                       phyx::SpecError);
  auto largest = valid();
  largest.max_inbox = (std::size_t{1} << 31) - 1;
  CHECK_NOTHROW(rt.spawn(largest));  // nothing is preallocated: the bound costs no memory
}

TEST_CASE("spawn throws SpecError for every bad Backoff value, naming the field and the value") {
  phyx::Runtime rt(phyx_test::deterministic_options());

  // initial < 0
  CHECK_THROWS_WITH_AS(rt.spawn(with_backoff(backoff(-5, 100))), doctest::Contains("initial"), phyx::SpecError);
  CHECK_THROWS_WITH_AS(rt.spawn(with_backoff(backoff(-5, 100))), doctest::Contains("-5"), phyx::SpecError);

  // max < initial
  CHECK_THROWS_WITH_AS(rt.spawn(with_backoff(backoff(300, 200))), doctest::Contains("max"), phyx::SpecError);
  CHECK_THROWS_WITH_AS(rt.spawn(with_backoff(backoff(300, 200))), doctest::Contains("200"), phyx::SpecError);
  CHECK_THROWS_WITH_AS(rt.spawn(with_backoff(backoff(300, 200))), doctest::Contains("300"), phyx::SpecError);

  // factor < 1
  CHECK_THROWS_WITH_AS(rt.spawn(with_backoff(backoff(10, 100, 0.5))), doctest::Contains("factor"), phyx::SpecError);
  CHECK_THROWS_WITH_AS(rt.spawn(with_backoff(backoff(10, 100, 0.5))), doctest::Contains("0.5"), phyx::SpecError);
  CHECK_THROWS_AS(rt.spawn(with_backoff(backoff(10, 100, 0.0))), phyx::SpecError);
  CHECK_THROWS_AS(rt.spawn(with_backoff(backoff(10, 100, -2.0))), phyx::SpecError);
  CHECK_THROWS_AS(rt.spawn(with_backoff(backoff(10, 100, std::numeric_limits<double>::quiet_NaN()))),
                  phyx::SpecError);

  // jitter outside [0, 100]
  CHECK_THROWS_WITH_AS(rt.spawn(with_backoff(backoff(10, 100, 2.0, -1))), doctest::Contains("jitter"),
                       phyx::SpecError);
  CHECK_THROWS_WITH_AS(rt.spawn(with_backoff(backoff(10, 100, 2.0, -1))), doctest::Contains("-1"), phyx::SpecError);
  CHECK_THROWS_WITH_AS(rt.spawn(with_backoff(backoff(10, 100, 2.0, 101))), doctest::Contains("jitter"),
                       phyx::SpecError);
  CHECK_THROWS_WITH_AS(rt.spawn(with_backoff(backoff(10, 100, 2.0, 101))), doctest::Contains("101"),
                       phyx::SpecError);
  CHECK_THROWS_WITH_AS(rt.spawn(with_backoff(backoff(10, 100, 2.0, 100.5))), doctest::Contains("100.5"),
                       phyx::SpecError);
  CHECK_THROWS_AS(rt.spawn(with_backoff(backoff(10, 100, 2.0, std::numeric_limits<double>::quiet_NaN()))),
                  phyx::SpecError);

  CHECK(rt.stats().processes_alive == 0);
}

TEST_CASE("spawn throws SpecError for every bad MaxRestarts value, naming the field and the value") {
  phyx::Runtime rt(phyx_test::deterministic_options());
  CHECK_THROWS_WITH_AS(rt.spawn(with_max_restarts(-1, 1000ms)), doctest::Contains("count"), phyx::SpecError);
  CHECK_THROWS_WITH_AS(rt.spawn(with_max_restarts(-1, 1000ms)), doctest::Contains("-1"), phyx::SpecError);
  CHECK_THROWS_WITH_AS(rt.spawn(with_max_restarts(3, 0ms)), doctest::Contains("within"), phyx::SpecError);
  CHECK_THROWS_WITH_AS(rt.spawn(with_max_restarts(3, 0ms)), doctest::Contains("0"), phyx::SpecError);
  CHECK_THROWS_WITH_AS(rt.spawn(with_max_restarts(3, -250ms)), doctest::Contains("within"), phyx::SpecError);
  CHECK_THROWS_WITH_AS(rt.spawn(with_max_restarts(3, -250ms)), doctest::Contains("-250"), phyx::SpecError);
  CHECK(rt.stats().processes_alive == 0);
}

TEST_CASE("boundary Supervision values are valid") {
  phyx::Runtime rt(phyx_test::deterministic_options());
  CHECK_NOTHROW(rt.spawn(with_backoff(backoff(0, 0))));                // initial 0, max == initial
  CHECK_NOTHROW(rt.spawn(with_backoff(backoff(10, 10, 1.0))));         // factor 1
  CHECK_NOTHROW(rt.spawn(with_backoff(backoff(10, 100, 2.0, 0))));     // jitter 0
  CHECK_NOTHROW(rt.spawn(with_backoff(backoff(10, 100, 2.0, 100))));   // jitter 100
  CHECK_NOTHROW(rt.spawn(with_max_restarts(0, 1ms)));                  // count 0 = never restart
  CHECK_NOTHROW(rt.spawn(with_max_restarts(5, 1ms)));                  // within 1 ms
  auto all = valid();
  all.supervision = phyx::Supervision{phyx::Strategy::rest_for_one, backoff(0, 1000, 1.5, 50),
                                      phyx::MaxRestarts{3, 1000ms}};
  CHECK_NOTHROW(rt.spawn(all));
  CHECK(rt.stats().processes_alive == 7);
}

TEST_CASE("a spec error from tools.spawn reaches the handler as a SpecError") {
  phyx::Runtime rt(phyx_test::deterministic_options());
  bool caught = false;
  auto parent = rt.spawn(phyx::ProcessSpec<CounterMsg, int>{
      .name = "parent",
      .init = [](const phyx::Empty&) { return 0; },
      .handle =
          [&caught](int&, CounterMsg& msg, auto& tools) {
            if (std::holds_alternative<Increment>(msg)) {
              auto bad = valid("child");
              bad.max_inbox = 0;
              try {
                (void)tools.spawn(bad);
              } catch (const phyx::SpecError& e) {
                caught = std::string(e.what()).find("max_inbox") != std::string::npos;
              }
            } else {
              std::get<Get>(msg).reply(0);
            }
          },
  });
  REQUIRE(parent.send(Increment{}));
  rt.run_until_idle();
  CHECK(caught);
  CHECK(parent.status() == phyx::Status::running);
  CHECK(rt.stats().crashed == 0);
  check_laws(rt);
}

TEST_CASE("ProcessSpec and Supervision defaults") {
  phyx::ProcessSpec<CounterMsg, int> s;
  CHECK(s.max_inbox == 1024);
  CHECK(s.mailbox_policy == phyx::MailboxPolicy::reject);
  CHECK_FALSE(s.supervision.has_value());
  phyx::Supervision sup;
  CHECK(sup.type == phyx::Strategy::one_for_one);
  CHECK_FALSE(sup.backoff.has_value());
  CHECK_FALSE(sup.max_restarts.has_value());
  phyx::Backoff b{};
  CHECK(b.factor == 2.0);
  CHECK(b.jitter == 0);
}

// ---- errors (SPEC 11) -----------------------------------------------------------------

template <class E>
constexpr bool is_phyx_error = std::is_base_of_v<phyx::Error, E> && std::is_base_of_v<std::runtime_error, E>;

static_assert(std::is_base_of_v<std::runtime_error, phyx::Error>);
static_assert(is_phyx_error<phyx::SpecError>);
static_assert(is_phyx_error<phyx::ProcessError>);
static_assert(is_phyx_error<phyx::TimeoutError>);
static_assert(is_phyx_error<phyx::NoReplyError>);
static_assert(is_phyx_error<phyx::StoppedError>);
static_assert(is_phyx_error<phyx::WouldBlockError>);
static_assert(is_phyx_error<phyx::JournalOverflowError>);
static_assert(is_phyx_error<phyx::JournalReentrancyError>);
static_assert(is_phyx_error<phyx::JournalCorruptError>);

TEST_CASE("every error type derives from phyx::Error and std::runtime_error and keeps its message") {
  auto check_error = [](const auto& e, const std::string& text) {
    const phyx::Error& as_phyx = e;
    const std::runtime_error& as_runtime = e;
    CHECK(std::string(as_phyx.what()) == text);
    CHECK(std::string(as_runtime.what()) == text);
  };
  check_error(phyx::SpecError("spec"), "spec");
  check_error(phyx::ProcessError("process", phyx::ProcessId{7}), "process");
  check_error(phyx::TimeoutError("timeout"), "timeout");
  check_error(phyx::NoReplyError("no reply"), "no reply");
  check_error(phyx::StoppedError("stopped"), "stopped");
  check_error(phyx::WouldBlockError("would block"), "would block");
  check_error(phyx::JournalOverflowError("overflow"), "overflow");
  check_error(phyx::JournalReentrancyError("reentrancy"), "reentrancy");
  check_error(phyx::JournalCorruptError("corrupt", 64), "corrupt");
  CHECK(phyx::ProcessError("process", phyx::ProcessId{7}).process_id() == phyx::ProcessId{7});

  try {
    throw phyx::StoppedError("Process stopping");
  } catch (const phyx::Error& e) {
    CHECK(std::string(e.what()) == "Process stopping");
  }
  try {
    throw phyx::SpecError("bad");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "bad");
  }
}

TEST_CASE("to_string(Status)") {
  CHECK(phyx::to_string(phyx::Status::starting) == "starting");
  CHECK(phyx::to_string(phyx::Status::running) == "running");
  CHECK(phyx::to_string(phyx::Status::stopping) == "stopping");
  CHECK(phyx::to_string(phyx::Status::stopped) == "stopped");
  CHECK(phyx::to_string(phyx::Status::failed) == "failed");
  static_assert(std::is_same_v<decltype(phyx::to_string(phyx::Status::running)), std::string_view>);
}

TEST_CASE("StopReason factories and to_string") {
  CHECK(phyx::StopReason::normal().kind == phyx::StopKind::normal);
  CHECK(phyx::StopReason::shutdown().kind == phyx::StopKind::shutdown);
  auto e = phyx::StopReason::error("disk full");
  CHECK(e.kind == phyx::StopKind::error);
  CHECK(e.message == "disk full");
  CHECK(phyx::to_string(phyx::StopReason::normal()) == "normal");
  CHECK(phyx::to_string(phyx::StopReason::shutdown()) == "shutdown");
  CHECK(phyx::to_string(e).find("disk full") != std::string::npos);
}

// ---- handler shapes (SPEC 3) ----------------------------------------------------------

namespace spec_t {

template <class Handle>
phyx::ProcessSpec<CounterMsg, int> counter_with(std::string name, Handle handle) {
  return phyx::ProcessSpec<CounterMsg, int>{
      .name = std::move(name),
      .init = [](const phyx::Empty&) { return 0; },
      .handle = std::move(handle),
  };
}

void exercise(phyx::Runtime& rt, const phyx::ProcessRef<CounterMsg>& ref) {
  REQUIRE(ref.send(Increment{}));
  REQUIRE(ref.send(Increment{}));
  REQUIRE(ref.send(Increment{}));
  CHECK(phyx_test::get_count(ref).get() == 3);
  CHECK(rt.stats().crashed == 0);
  CHECK(ref.status() == phyx::Status::running);
}

using CounterTools = phyx::Tools<CounterMsg, int, phyx::Empty>;

}  // namespace spec_t

TEST_CASE("handler shape: void(State&, Msg&, auto&) mutates in place") {
  phyx::Runtime rt(phyx_test::deterministic_options());
  auto ref = rt.spawn(counter_with("in-place", [](int& n, CounterMsg& msg, auto&) {
    if (std::holds_alternative<Increment>(msg)) {
      ++n;
    } else {
      std::get<Get>(msg).reply(n);
    }
  }));
  exercise(rt, ref);
  check_laws(rt);
}

TEST_CASE("handler shape: void(State&, Msg&, Tools&) with the Tools type spelled out") {
  phyx::Runtime rt(phyx_test::deterministic_options());
  auto ref = rt.spawn(counter_with("explicit-tools", [](int& n, CounterMsg& msg, CounterTools& tools) {
    if (std::holds_alternative<Increment>(msg)) {
      ++n;
    } else {
      CHECK(tools.self().id().value != 0);
      std::get<Get>(msg).reply(n);
    }
  }));
  exercise(rt, ref);
  check_laws(rt);
}

TEST_CASE("handler shape: State(State&, Msg&, Tools&) returns the new state") {
  phyx::Runtime rt(phyx_test::deterministic_options());
  auto ref = rt.spawn(counter_with("returns-state", [](int& n, CounterMsg& msg, auto&) -> int {
    if (std::holds_alternative<Increment>(msg)) return n + 1;
    std::get<Get>(msg).reply(n);
    return n;
  }));
  exercise(rt, ref);
  check_laws(rt);
}

TEST_CASE("handler shape: State(...) that does not touch its argument still replaces the state") {
  phyx::Runtime rt(phyx_test::deterministic_options());
  auto ref = rt.spawn(counter_with("fresh-state", [](const int& n, CounterMsg& msg, auto&) -> int {
    if (std::holds_alternative<Increment>(msg)) return n * 2 + 1;  // 0 -> 1 -> 3 -> 7
    std::get<Get>(msg).reply(n);
    return n;
  }));
  REQUIRE(ref.send(Increment{}));
  REQUIRE(ref.send(Increment{}));
  REQUIRE(ref.send(Increment{}));
  CHECK(phyx_test::get_count(ref).get() == 7);
  check_laws(rt);
}

TEST_CASE("handler shape: a Task<void> coroutine that does not suspend") {
  phyx::Runtime rt(phyx_test::deterministic_options());
  auto ref = rt.spawn(counter_with("coroutine", [](int& n, CounterMsg& msg, auto& tools) -> phyx::Task<void> {
    if (std::holds_alternative<Increment>(msg)) {
      ++n;
      co_return;
    }
    (void)tools.now();
    std::get<Get>(msg).reply(n);
    co_return;
  }));
  exercise(rt, ref);
  check_laws(rt);
}

TEST_CASE("handler shape: a Task<void> coroutine that throws is a crash") {
  phyx::Runtime rt(phyx_test::deterministic_options());
  auto ref = rt.spawn(counter_with("throwing-coroutine", [](int& n, CounterMsg& msg, auto&) -> phyx::Task<void> {
    if (std::holds_alternative<Increment>(msg)) {
      if (++n == 2) throw std::runtime_error("second increment");
      co_return;
    }
    std::get<Get>(msg).reply(n);
    co_return;
  }));
  REQUIRE(ref.send(Increment{}));
  REQUIRE(ref.send(Increment{}));  // crashes: restart with a fresh state
  REQUIRE(ref.send(Increment{}));
  CHECK(phyx_test::get_count(ref).get() == 1);
  const auto s = rt.stats();
  CHECK(s.crashed == 1);
  CHECK(s.restarts == 1);
  check_laws(rt);
}

TEST_CASE("handler shapes work on worker threads too") {
  phyx::Runtime rt({.clock = phyx::create_system_clock(), .workers = 2});
  auto a = rt.spawn(counter_with("returns-state", [](int& n, CounterMsg& msg, auto&) -> int {
    if (std::holds_alternative<Increment>(msg)) return n + 1;
    std::get<Get>(msg).reply(n);
    return n;
  }));
  auto b = rt.spawn(counter_with("coroutine", [](int& n, CounterMsg& msg, auto&) -> phyx::Task<void> {
    if (std::holds_alternative<Increment>(msg)) {
      ++n;
    } else {
      std::get<Get>(msg).reply(n);
    }
    co_return;
  }));
  for (int i = 0; i < 100; ++i) {
    REQUIRE(a.send(Increment{}));
    REQUIRE(b.send(Increment{}));
  }
  auto fa = phyx_test::get_count(a);
  auto fb = phyx_test::get_count(b);
  REQUIRE(fa.wait_for(5s));
  REQUIRE(fb.wait_for(5s));
  CHECK(fa.get() == 100);
  CHECK(fb.get() == 100);
  rt.shutdown(5s);
  check_laws(rt);
}

TEST_CASE("init receives the ctx given at spawn; tools.ctx() returns it") {
  struct Config {
    int start = 0;
    std::string label;
  };
  phyx::Runtime rt(phyx_test::deterministic_options());
  std::string seen_label;
  auto ref = rt.spawn(
      phyx::ProcessSpec<CounterMsg, int, Config>{
          .name = "configured",
          .init = [](const Config& c) { return c.start; },
          .handle =
              [&seen_label](int& n, CounterMsg& msg, auto& tools) {
                seen_label = tools.ctx().label;
                if (std::holds_alternative<Increment>(msg)) {
                  ++n;
                } else {
                  std::get<Get>(msg).reply(n);
                }
              },
      },
      Config{40, "forty"});
  REQUIRE(ref.send(Increment{}));
  REQUIRE(ref.send(Increment{}));
  CHECK(phyx_test::get_count(ref).get() == 42);
  CHECK(seen_label == "forty");
  check_laws(rt);
}
