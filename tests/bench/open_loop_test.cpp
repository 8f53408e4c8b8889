// tests/bench/open_loop_test.cpp — the open-loop schedule of `phyx-bench load`
// (bench/load/open_loop.hpp): intended times exact and drift-free, and latency taken from
// the intended time when the driver falls behind (no coordinated omission).
#include "load/open_loop.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <phyx/histogram.hpp>
#include <random>
#include <vector>

using phyx_bench::load::latency_from_intended;
using phyx_bench::load::OpenLoopSchedule;
using phyx_bench::load::send_due;

namespace {

__extension__ typedef unsigned __int128 u128;  // the reference: i * 1e9 / rate without overflow

std::int64_t reference_intended(std::int64_t start, std::uint64_t i, std::uint64_t rate) {
  return start + static_cast<std::int64_t>(static_cast<u128>(i) * 1'000'000'000u / rate);
}

const std::vector<std::uint64_t> kAwkwardRates = {1,       3,         7,           1000,
                                                  200'000, 7'000'000, 999'999'937, 1'000'000'000};

}  // namespace

TEST_CASE("intended times at 3/s are exact thirds of a second, with no drift after days") {
  const std::int64_t start = 123'456'789;
  OpenLoopSchedule s(3, start);
  CHECK(s.intended_ns(0) == start);
  CHECK(s.intended_ns(1) == start + 333'333'333);
  CHECK(s.intended_ns(2) == start + 666'666'666);
  CHECK(s.intended_ns(3) == start + 1'000'000'000);
  CHECK(s.intended_ns(4) == start + 1'333'333'333);
  // Three million seconds (~35 days) later, still on the second: a period of 333,333,333 ns
  // added i times would be 3 ms early by now.
  CHECK(s.intended_ns(9'000'000) == start + 3'000'000'000'000'000);
  CHECK(s.intended_ns(9'000'001) == start + 3'000'000'333'333'333);
}

TEST_CASE("intended times equal floor(i * 1e9 / rate) for awkward rates and large indices") {
  std::mt19937_64 rng(42);
  for (std::uint64_t rate : kAwkwardRates) {
    OpenLoopSchedule s(rate, -5'000);
    std::uniform_int_distribution<std::uint64_t> index(0, rate * 100'000);  // up to 1e5 s of run
    for (int k = 0; k < 20'000; ++k) {
      const std::uint64_t i = k < 100 ? static_cast<std::uint64_t>(k) : index(rng);
      INFO("rate=" << rate << " i=" << i);
      REQUIRE(s.intended_ns(i) == reference_intended(-5'000, i, rate));
    }
    // Whole seconds land exactly on the second.
    CHECK(s.intended_ns(rate * 86'400) == -5'000 + 86'400'000'000'000);
  }
}

TEST_CASE("7e6/s: consecutive gaps are 142 or 143 ns and every second holds exactly 7e6 requests") {
  OpenLoopSchedule s(7'000'000, 0);
  for (std::uint64_t i = 0; i < 7'000'000; ++i) {
    const std::int64_t gap = s.intended_ns(i + 1) - s.intended_ns(i);
    if (gap != 142 && gap != 143) FAIL("gap " << gap << " at i=" << i);
  }
  CHECK(s.planned(1'000'000'000) == 7'000'000);
  CHECK(s.planned(10'000'000'000) == 70'000'000);
}

TEST_CASE("due_by(now) counts exactly the requests whose intended time is <= now") {
  std::mt19937_64 rng(7);
  for (std::uint64_t rate : kAwkwardRates) {
    const std::int64_t start = 1'000'000;
    OpenLoopSchedule s(rate, start);
    CHECK(s.due_by(start - 1) == 0);
    CHECK(s.due_by(start) == 1);
    std::uniform_int_distribution<std::int64_t> now(start, start + 50'000'000'000);
    for (int k = 0; k < 20'000; ++k) {
      const std::int64_t t = now(rng);
      const std::uint64_t n = s.due_by(t);
      INFO("rate=" << rate << " now=" << t << " due=" << n);
      REQUIRE(n >= 1);
      REQUIRE(s.intended_ns(n - 1) <= t);
      REQUIRE(s.intended_ns(n) > t);
    }
  }
  CHECK(OpenLoopSchedule(3, 0).planned(500'000'000) == 2);  // due at 0 and 333 ms; 666 ms is out
  CHECK(OpenLoopSchedule(3, 0).planned(1'000'000'000) == 3);
  CHECK(OpenLoopSchedule(200'000, 0).planned(10'000'000'000) == 2'000'000);
  CHECK_THROWS(OpenLoopSchedule(0, 0));
  CHECK_THROWS(OpenLoopSchedule(OpenLoopSchedule::kMaxRate + 1, 0));
}

TEST_CASE("drivers with a stride send every request exactly once, in order") {
  OpenLoopSchedule s(7'000, 0);
  const std::uint64_t end = s.planned(1'000'000'000);
  std::vector<int> sent(end, 0);
  const std::uint64_t stride = 3;
  for (std::uint64_t driver = 0; driver < stride; ++driver) {
    std::uint64_t next = driver;
    std::int64_t last_intended = -1;
    for (std::int64_t now = 0; next < end; now += 77'777) {
      next = send_due(s, next, stride, end, now, [&](std::uint64_t i, std::int64_t intended) {
        CHECK(i % stride == driver);
        CHECK(intended <= now);
        CHECK(intended > last_intended);
        last_intended = intended;
        ++sent[i];
      });
    }
  }
  for (std::uint64_t i = 0; i < end; ++i) REQUIRE(sent[i] == 1);
}

TEST_CASE(
    "a driver stalled for 50 ms: the late requests carry the delay (no coordinated omission)") {
  // Simulated time: the driver loop runs every 1 us; at 300 ms it stalls until 350 ms, then
  // catches up at once. Each request completes the moment it is sent (an instant server).
  const std::uint64_t rate = 100'000;
  OpenLoopSchedule s(rate, 0);
  const std::uint64_t end = s.planned(1'000'000'000);
  phyx::LatencyHistogram from_intended;  // what the harness records
  phyx::LatencyHistogram from_sent;      // what a closed-loop tool would record
  std::uint64_t next = 0;
  for (std::int64_t now = 0; next < end;) {
    next = send_due(s, next, 1, end, now, [&](std::uint64_t, std::int64_t intended) {
      from_intended.record(latency_from_intended(intended, now));
      from_sent.record(0);
    });
    now = (now >= 300'000'000 && now < 350'000'000) ? 350'000'000 : now + 1'000;
  }
  REQUIRE(from_intended.count() == rate);
  // 5,000 requests (5 %) fell due during the stall, at 300.01 .. 350 ms: sent at 350 ms,
  // their latencies spread 49.99 ms .. 0.
  CHECK(from_intended.max() == 49'990'000);
  CHECK(from_intended.value_at_percentile(94) <= 1'000);  // on time but for the 1 us loop
  // p99 is the 1,001st-worst: due 10.01 ms into the stall, so 39.99 ms late.
  CHECK(from_intended.value_at_percentile(99) >= 39'980'000);
  CHECK(from_intended.value_at_percentile(99) <= 40'060'000);
  CHECK(from_intended.value_at_percentile(99.9) >= 48'990'000);  // the 101st-worst
  // Measured from the actual send, the stall would not exist at all.
  CHECK(from_sent.value_at_percentile(99.9) == 0);
}

TEST_CASE("latency_from_intended never goes negative") {
  CHECK(latency_from_intended(1'000, 1'500) == 500);
  CHECK(latency_from_intended(1'000, 1'000) == 0);
  CHECK(latency_from_intended(1'000, 900) == 0);
}
