// Unit tests of engine/supervise/policy.hpp: the pure functions behind SPEC 6.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "../../engine/supervise/policy.hpp"

using namespace std::chrono_literals;
using phyx::Backoff;
using phyx::MaxRestarts;
using phyx::Supervision;
using phyx::detail::backoff_delay;
using phyx::detail::init_retry_delay;
using phyx::detail::restart_set;
using phyx::detail::restart_window_exhausted;
using phyx::detail::supervision_error;

namespace {
constexpr double kNoJitter = 0.5;  // unit 0.5 = the middle of [0, 1): no jitter
constexpr double kJustBelowOne = 0.999999999;
}  // namespace

TEST_CASE("backoff_delay: initial * factor^(n-1), capped at max") {
  const Backoff b{.initial = 100ms, .max = 1000ms, .factor = 2.0, .jitter = 0};
  CHECK(backoff_delay(b, 1, kNoJitter) == 100ms);
  CHECK(backoff_delay(b, 2, kNoJitter) == 200ms);
  CHECK(backoff_delay(b, 3, kNoJitter) == 400ms);
  CHECK(backoff_delay(b, 4, kNoJitter) == 800ms);
  CHECK(backoff_delay(b, 5, kNoJitter) == 1000ms);  // 1600 capped
  CHECK(backoff_delay(b, 6, kNoJitter) == 1000ms);
  CHECK(backoff_delay(b, 64, kNoJitter) == 1000ms);
  CHECK(backoff_delay(b, 100000, kNoJitter) == 1000ms);  // factor^n overflows to inf: still max
  // jitter 0: the random unit does not matter
  CHECK(backoff_delay(b, 2, 0.0) == 200ms);
  CHECK(backoff_delay(b, 2, kJustBelowOne) == 200ms);
}

TEST_CASE("backoff_delay: other factors and a zero initial") {
  CHECK(backoff_delay({.initial = 50ms, .max = 10'000ms, .factor = 1.0}, 7, kNoJitter) == 50ms);
  CHECK(backoff_delay({.initial = 10ms, .max = 10'000ms, .factor = 3.0}, 3, kNoJitter) == 90ms);
  {
    // 22.5 ms: SPEC does not say how a fraction of a millisecond is rounded
    const auto d = backoff_delay({.initial = 10ms, .max = 10'000ms, .factor = 1.5}, 3, kNoJitter);
    CHECK((d == 22ms || d == 23ms));
  }
  CHECK(backoff_delay({.initial = 0ms, .max = 0ms}, 1, kNoJitter) == 0ms);
  CHECK(backoff_delay({.initial = 0ms, .max = 500ms, .jitter = 100}, 9, kJustBelowOne) == 0ms);
  CHECK(backoff_delay({.initial = 100ms, .max = 100ms}, 30, kNoJitter) == 100ms);
}

TEST_CASE("backoff_delay: jitter is +/- jitter percent around the base") {
  const Backoff b{.initial = 100ms, .max = 10'000ms, .factor = 2.0, .jitter = 10};
  CHECK(backoff_delay(b, 1, 0.0) == 90ms);             // -10%
  CHECK(backoff_delay(b, 1, kNoJitter) == 100ms);      // centre
  CHECK(backoff_delay(b, 1, kJustBelowOne) == 110ms);  // +10% (rounded)
  CHECK(backoff_delay(b, 3, 0.0) == 360ms);            // 400 - 10%
  CHECK(backoff_delay(b, 3, 0.75) == 420ms);           // 400 + 5%
  // every unit in [0, 1) stays within the bounds, and the delay grows with the unit
  std::chrono::milliseconds previous{0};
  for (int i = 0; i < 1000; ++i) {
    const double unit = i / 1000.0;
    const auto d = backoff_delay(b, 2, unit);
    CHECK(d >= 180ms);
    CHECK(d <= 220ms);
    CHECK(d >= previous);
    previous = d;
  }
}

TEST_CASE("backoff_delay: jitter is clamped to [0, max]") {
  // base = max: +jitter would exceed max, so it is clamped to max
  const Backoff at_max{.initial = 1000ms, .max = 1000ms, .factor = 2.0, .jitter = 50};
  CHECK(backoff_delay(at_max, 1, kJustBelowOne) == 1000ms);
  CHECK(backoff_delay(at_max, 1, 0.0) == 500ms);
  const Backoff capped{.initial = 100ms, .max = 1000ms, .factor = 2.0, .jitter = 50};
  CHECK(backoff_delay(capped, 10, kJustBelowOne) == 1000ms);  // base capped at max, + 50% clamped
  CHECK(backoff_delay(capped, 10, 0.0) == 500ms);
  // jitter 100: the delay ranges over [0, 2 * base], clamped to [0, max]
  const Backoff full{.initial = 200ms, .max = 300ms, .factor = 1.0, .jitter = 100};
  CHECK(backoff_delay(full, 1, 0.0) == 0ms);
  CHECK(backoff_delay(full, 1, kJustBelowOne) == 300ms);
  for (int i = 0; i < 100; ++i) {
    const auto d = backoff_delay(full, 1, i / 100.0);
    CHECK(d >= 0ms);
    CHECK(d <= 300ms);
  }
}

TEST_CASE("init_retry_delay: 1 ms doubling to 1 s") {
  const std::int64_t expected[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000, 1000, 1000};
  for (std::uint32_t failures = 1; failures <= 13; ++failures) {
    CAPTURE(failures);
    CHECK(init_retry_delay(failures).count() == expected[failures - 1]);
  }
  CHECK(init_retry_delay(31) == 1000ms);
  CHECK(init_retry_delay(32) == 1000ms);
  CHECK(init_retry_delay(1000) == 1000ms);
  CHECK(init_retry_delay(UINT32_MAX) == 1000ms);
}

TEST_CASE("restart_window_exhausted: count restarts within the last `within`, inclusive") {
  const MaxRestarts m{.count = 2, .within = 1000ms};
  SUBCASE("fewer than count: keep restarting") {
    std::vector<std::int64_t> times;
    CHECK_FALSE(restart_window_exhausted(times, m, 0));
    times = {0};
    CHECK_FALSE(restart_window_exhausted(times, m, 10));
  }
  SUBCASE("count restarts in the window: give up") {
    std::vector<std::int64_t> times = {0, 500};
    CHECK(restart_window_exhausted(times, m, 900));
  }
  SUBCASE("the window's edge is inclusive") {
    std::vector<std::int64_t> times = {0, 500};
    CHECK(restart_window_exhausted(times, m, 1000));  // 0 is exactly `within` ago: still inside
    CHECK(times.size() == 2);
  }
  SUBCASE("older restarts fall out of the window and are pruned") {
    std::vector<std::int64_t> times = {0, 500};
    CHECK_FALSE(restart_window_exhausted(times, m, 1001));
    CHECK(times == std::vector<std::int64_t>{500});
    std::vector<std::int64_t> all_old = {1, 2, 3};
    CHECK_FALSE(restart_window_exhausted(all_old, m, 5000));
    CHECK(all_old.empty());
  }
  SUBCASE("count 0 means never restart") {
    std::vector<std::int64_t> times;
    CHECK(restart_window_exhausted(times, MaxRestarts{.count = 0, .within = 1ms}, 0));
  }
  SUBCASE("count 1") {
    std::vector<std::int64_t> times = {100};
    CHECK(restart_window_exhausted(times, MaxRestarts{.count = 1, .within = 50ms}, 150));
    CHECK_FALSE(restart_window_exhausted(times, MaxRestarts{.count = 1, .within = 50ms}, 151));
  }
}

TEST_CASE("supervision_error: valid values give an empty string") {
  CHECK(supervision_error(Supervision{}).empty());
  CHECK(supervision_error(Supervision{.backoff = Backoff{.initial = 0ms, .max = 0ms}}).empty());
  CHECK(supervision_error(Supervision{.backoff = Backoff{.initial = 10ms, .max = 10ms, .factor = 1.0, .jitter = 100}})
            .empty());
  CHECK(supervision_error(Supervision{.backoff = Backoff{.initial = 10ms, .max = 20ms, .jitter = 0}}).empty());
  CHECK(supervision_error(Supervision{.max_restarts = MaxRestarts{.count = 0, .within = 1ms}}).empty());
  CHECK(supervision_error(Supervision{.type = phyx::Strategy::none}).empty());
}

namespace {
void check_names(const Supervision& s, const std::string& field, const std::string& value) {
  const std::string error = supervision_error(s);
  INFO("error: " << error);
  CHECK_FALSE(error.empty());
  CHECK(error.find(field) != std::string::npos);
  CHECK(error.find(value) != std::string::npos);
}
}  // namespace

TEST_CASE("supervision_error: each invalid field is named with its value") {
  check_names({.backoff = Backoff{.initial = -1ms, .max = 10ms}}, "initial", "-1");
  check_names({.backoff = Backoff{.initial = 50ms, .max = 20ms}}, "max", "20");
  check_names({.backoff = Backoff{.initial = 1ms, .max = 20ms, .factor = 0.5}}, "factor", "0.5");
  check_names({.backoff = Backoff{.initial = 1ms, .max = 20ms, .factor = 2.0, .jitter = -1}}, "jitter", "-1");
  check_names({.backoff = Backoff{.initial = 1ms, .max = 20ms, .factor = 2.0, .jitter = 100.5}}, "jitter", "100.5");
  check_names({.max_restarts = MaxRestarts{.count = -3, .within = 1000ms}}, "count", "-3");
  check_names({.max_restarts = MaxRestarts{.count = 3, .within = 0ms}}, "within", "0");
  check_names({.max_restarts = MaxRestarts{.count = 3, .within = -5ms}}, "within", "-5");
  // the message says which struct the field belongs to
  CHECK(supervision_error({.max_restarts = MaxRestarts{.count = -1, .within = 1ms}}).find("max_restarts") !=
        std::string::npos);
  CHECK(supervision_error({.backoff = Backoff{.initial = -1ms, .max = 1ms}}).find("backoff") != std::string::npos);
}

TEST_CASE("restart_set: which siblings restart under each strategy (OTP's restart sets)") {
  using V = std::vector<std::size_t>;
  // a family of four in spawn order; the third (index 2) crashed
  CHECK(restart_set(phyx::Strategy::none, 4, 2) == V{2});
  CHECK(restart_set(phyx::Strategy::one_for_one, 4, 2) == V{2});
  CHECK(restart_set(phyx::Strategy::one_for_all, 4, 2) == V{0, 1, 2, 3});
  CHECK(restart_set(phyx::Strategy::rest_for_one, 4, 2) == V{2, 3});
  // the ends of the family
  CHECK(restart_set(phyx::Strategy::rest_for_one, 4, 0) == V{0, 1, 2, 3});
  CHECK(restart_set(phyx::Strategy::rest_for_one, 4, 3) == V{3});
  CHECK(restart_set(phyx::Strategy::one_for_all, 1, 0) == V{0});
}
