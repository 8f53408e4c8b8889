// tests/bench/load_options_test.cpp — the value parsers of `phyx-bench load`
// (bench/load/load_options.hpp): durations with units and whole counts.
#include "load/load_options.hpp"

#include <doctest/doctest.h>

using phyx_bench::load::parse_count;
using phyx_bench::load::parse_duration_ns;

TEST_CASE("durations: s, ms, us, ns, m, h, and bare seconds") {
  CHECK(parse_duration_ns("10s") == 10'000'000'000);
  CHECK(parse_duration_ns("500ms") == 500'000'000);
  CHECK(parse_duration_ns("2m") == 120'000'000'000);
  CHECK(parse_duration_ns("1h") == 3'600'000'000'000);
  CHECK(parse_duration_ns("250us") == 250'000);
  CHECK(parse_duration_ns("100ns") == 100);
  CHECK(parse_duration_ns("1.5") == 1'500'000'000);
  CHECK(parse_duration_ns("0.5ms") == 500'000);
  CHECK(parse_duration_ns("0") == 0);
  CHECK_FALSE(parse_duration_ns(""));
  CHECK_FALSE(parse_duration_ns("ms"));
  CHECK_FALSE(parse_duration_ns("10 s"));
  CHECK_FALSE(parse_duration_ns("10sec"));
  CHECK_FALSE(parse_duration_ns("-1s"));
  CHECK_FALSE(parse_duration_ns("1e300h"));
}

TEST_CASE("counts: whole and positive, exponent notation accepted") {
  CHECK(parse_count("200000") == 200'000u);
  CHECK(parse_count("2e5") == 200'000u);
  CHECK(parse_count("7e6") == 7'000'000u);
  CHECK(parse_count("1") == 1u);
  CHECK_FALSE(parse_count("0"));
  CHECK_FALSE(parse_count("-3"));
  CHECK_FALSE(parse_count("2.5"));
  CHECK_FALSE(parse_count("12abc"));
  CHECK_FALSE(parse_count(""));
}
