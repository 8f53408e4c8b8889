// tests/telemetry/histogram_test.cpp — LatencyHistogram (engine/telemetry/histogram.cpp):
// percentiles against a sorted reference on random data, merge, exact min/max, saturation.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <phyx/histogram.hpp>
#include <random>
#include <string>
#include <vector>

namespace {

using phyx::LatencyHistogram;

const std::vector<double> kPercentiles = {0,  0.1, 1,  5,    10,   25,    50,     75,
                                          90, 95,  99, 99.5, 99.9, 99.99, 99.999, 100};

/// The value at percentile p of a sorted sample, by the rank rule documented in histogram.hpp.
std::uint64_t reference_percentile(const std::vector<std::uint64_t>& sorted, double p) {
  if (p <= 0) return sorted.front();
  if (p >= 100) return sorted.back();
  const double wanted = std::ceil(p / 100.0 * static_cast<double>(sorted.size()));
  const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(wanted));
  return sorted[rank - 1];
}

void check_against_reference(std::vector<std::uint64_t> values) {
  LatencyHistogram h;
  for (auto v : values) h.record(v);
  std::sort(values.begin(), values.end());
  REQUIRE(h.count() == values.size());
  CHECK(h.min() == values.front());
  CHECK(h.max() == values.back());
  CHECK(h.saturated() == 0);
  double sum = 0;
  for (auto v : values) sum += static_cast<double>(v);
  CHECK(h.mean() == doctest::Approx(sum / static_cast<double>(values.size())).epsilon(1e-9));
  for (double p : kPercentiles) {
    const std::uint64_t want = reference_percentile(values, p);
    const std::uint64_t got = h.value_at_percentile(p);
    INFO("p=" << p << " reference=" << want << " histogram=" << got);
    CHECK(got >= want);  // the top of the slot: never under-reports a latency
    CHECK(static_cast<double>(got - want) <= static_cast<double>(want) * 0.001 + 1.0);
  }
}

std::vector<std::uint64_t> draw(std::size_t n, std::uint64_t seed,
                                const std::function<double(std::mt19937_64&)>& sample) {
  std::mt19937_64 rng(seed);
  std::vector<std::uint64_t> values(n);
  for (auto& v : values) {
    const double x = sample(rng);
    v = static_cast<std::uint64_t>(std::clamp(x, 0.0, double(LatencyHistogram::kHighestTrackable)));
  }
  return values;
}

}  // namespace

TEST_CASE("percentiles match a sorted reference within 0.1 % + 1 ns on several distributions") {
  const std::size_t n = 200'000;
  SUBCASE("uniform, small values (exact slots below 2048 ns)") {
    std::uniform_int_distribution<std::uint64_t> d(0, 3000);
    check_against_reference(draw(n, 1, [&](std::mt19937_64& r) { return double(d(r)); }));
  }
  SUBCASE("uniform over 1 us .. 10 ms") {
    std::uniform_real_distribution<double> d(1e3, 1e7);
    check_against_reference(draw(n, 2, [&](std::mt19937_64& r) { return d(r); }));
  }
  SUBCASE("exponential, mean 50 us") {
    std::exponential_distribution<double> d(1.0 / 50e3);
    check_against_reference(draw(n, 3, [&](std::mt19937_64& r) { return d(r); }));
  }
  SUBCASE("log-normal around 100 us") {
    std::lognormal_distribution<double> d(std::log(100e3), 1.5);
    check_against_reference(draw(n, 4, [&](std::mt19937_64& r) { return d(r); }));
  }
  SUBCASE("heavy tail: Pareto alpha 1.1 from 10 us (tail into hours)") {
    std::uniform_real_distribution<double> u(0.0, 1.0);
    check_against_reference(
        draw(n, 5, [&](std::mt19937_64& r) { return 10e3 / std::pow(1.0 - u(r), 1.0 / 1.1); }));
  }
  SUBCASE("bimodal: 99 % fast, 1 % stalls of ~1 s") {
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::normal_distribution<double> fast(20e3, 2e3), slow(1e9, 1e8);
    check_against_reference(
        draw(n, 6, [&](std::mt19937_64& r) { return u(r) < 0.99 ? fast(r) : slow(r); }));
  }
  SUBCASE("log-uniform over the whole range, 1 ns .. 1 hour") {
    std::uniform_real_distribution<double> d(0.0, std::log(3.6e12));
    check_against_reference(draw(n, 7, [&](std::mt19937_64& r) { return std::exp(d(r)); }));
  }
}

TEST_CASE("every slot's width is within 1/1024 of the values it holds") {
  // A pair (v, v) reports exactly v; (v, v+1 .. ) the top of v's slot. Walk powers of two
  // and their neighbours across the range: the reported p50 of {v, huge} is v's slot top.
  for (unsigned shift = 0; shift < 42; ++shift) {
    for (std::uint64_t v : {std::uint64_t{1} << shift, (std::uint64_t{1} << shift) + 1,
                            (std::uint64_t{3} << shift) / 2, (std::uint64_t{2} << shift) - 1}) {
      if (v > LatencyHistogram::kHighestTrackable) continue;
      LatencyHistogram h;
      h.record(v);
      h.record(LatencyHistogram::kHighestTrackable);
      const std::uint64_t got = h.value_at_percentile(50);
      INFO("v=" << v << " reported=" << got);
      CHECK(got >= v);
      CHECK(static_cast<double>(got - v) <= static_cast<double>(v) / 1024.0);
    }
  }
}

TEST_CASE("merge equals recording both streams into one histogram") {
  std::lognormal_distribution<double> d(std::log(200e3), 2.0);
  const auto a = draw(50'000, 11, [&](std::mt19937_64& r) { return d(r); });
  const auto b = draw(70'000, 12, [&](std::mt19937_64& r) { return d(r) * 3; });
  LatencyHistogram ha, hb, both;
  for (auto v : a) ha.record(v), both.record(v);
  for (auto v : b) hb.record(v), both.record(v);
  hb.record(LatencyHistogram::kHighestTrackable + 5);
  both.record(LatencyHistogram::kHighestTrackable + 5);
  ha.merge(hb);
  CHECK(ha.count() == both.count());
  CHECK(ha.min() == both.min());
  CHECK(ha.max() == both.max());
  CHECK(ha.saturated() == both.saturated());
  CHECK(ha.mean() == doctest::Approx(both.mean()).epsilon(1e-12));
  for (double p = 0; p <= 100.0; p += 0.25) {
    INFO("p=" << p);
    CHECK(ha.value_at_percentile(p) == both.value_at_percentile(p));
  }
  CHECK(ha.value_at_percentile(99.999) == both.value_at_percentile(99.999));

  SUBCASE("merging an empty histogram changes nothing; merging into an empty one copies") {
    LatencyHistogram empty, copy;
    const auto before = both.value_at_percentile(99);
    both.merge(empty);
    CHECK(both.value_at_percentile(99) == before);
    copy.merge(both);
    CHECK(copy.count() == both.count());
    CHECK(copy.min() == both.min());
    CHECK(copy.max() == both.max());
    CHECK(copy.value_at_percentile(99) == before);
  }
}

TEST_CASE("min and max are exact, not slot bounds") {
  LatencyHistogram h;
  h.record(1'000'003);  // inside a slot of width 512
  h.record(7'777'777'777);
  h.record(123'457);
  CHECK(h.min() == 123'457);
  CHECK(h.max() == 7'777'777'777);
  CHECK(h.value_at_percentile(0) == 123'457);
  CHECK(h.value_at_percentile(100) == 7'777'777'777);
  // The top of the largest value's slot is clamped to the exact max.
  CHECK(h.value_at_percentile(99.9) == 7'777'777'777);
}

TEST_CASE("values over the range are clamped to the top slot and counted, never dropped") {
  LatencyHistogram h;
  h.record(5);
  h.record(LatencyHistogram::kHighestTrackable);  // the last value in range
  CHECK(h.saturated() == 0);
  h.record(LatencyHistogram::kHighestTrackable + 1);
  h.record_n(UINT64_MAX, 3);
  CHECK(h.count() == 6);
  CHECK(h.saturated() == 4);
  CHECK(h.max() == UINT64_MAX);
  CHECK(h.value_at_percentile(50) >= LatencyHistogram::kHighestTrackable);
  CHECK(h.value_at_percentile(0) == 5);
}

TEST_CASE("record_n, reset, copies and the empty histogram") {
  LatencyHistogram h;
  CHECK(h.count() == 0);
  CHECK(h.min() == 0);
  CHECK(h.max() == 0);
  CHECK(h.mean() == 0.0);
  CHECK(h.value_at_percentile(99) == 0);

  h.record_n(100, 0);  // nothing
  CHECK(h.count() == 0);
  CHECK(h.min() == 0);

  h.record_n(100, 99);
  h.record(0);  // a zero latency is a value like any other
  h.record_n(5000, 900);
  CHECK(h.count() == 1000);
  CHECK(h.min() == 0);
  CHECK(h.value_at_percentile(0.1) == 0);
  CHECK(h.value_at_percentile(10) == 100);
  CHECK(h.value_at_percentile(10.1) == 5000);
  CHECK(h.mean() == doctest::Approx((100.0 * 99 + 5000.0 * 900) / 1000));

  LatencyHistogram copy(h);
  h.reset();
  CHECK(h.count() == 0);
  CHECK(h.max() == 0);
  CHECK(h.value_at_percentile(50) == 0);
  CHECK(copy.count() == 1000);
  CHECK(copy.value_at_percentile(50) == 5000);

  h.record(42);
  copy = h;
  CHECK(copy.count() == 1);
  CHECK(copy.value_at_percentile(50) == 42);

  LatencyHistogram moved(std::move(copy));
  CHECK(moved.count() == 1);
  copy = moved;  // a moved-from histogram may be assigned to again
  CHECK(copy.value_at_percentile(50) == 42);
}
