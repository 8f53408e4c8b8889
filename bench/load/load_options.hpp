// bench/load/load_options.hpp — the command line of `phyx-bench load`, parsed into LoadOptions.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace phyx_bench::load {

enum class Mode { ask, send };

struct LoadOptions {
  std::uint64_t rate = 200'000;               // requests per second
  std::int64_t duration_ns = 10'000'000'000;  // the measured send phase
  std::int64_t warmup_ns = 1'000'000'000;     // the same load before it, not measured
  std::uint64_t processes = 1000;             // target processes
  Mode mode = Mode::ask;
  unsigned workers = 0;                     // 0 = hardware concurrency
  unsigned drivers = 1;                     // driver threads (outside the runtime)
  std::int64_t timeout_ns = 1'000'000'000;  // per ask
  std::optional<std::int64_t> slo_p99_ns;   // exit 1 when p99 is above it
  std::int64_t spin_ns = 50'000;            // the driver spins (yielding) when the next
                                            // request is due within this; else it sleeps
  std::uint64_t max_inbox = 1024;           // the targets' mailbox bound (SPEC default)
  std::uint16_t metrics_port = 0;           // serve GET /metrics on 127.0.0.1:port; 0 = off
  bool json = false;
};

/// "10s", "500ms", "250us", "100ns", "2m", "1h", or a bare number of seconds ("1.5").
/// nullopt when malformed or negative.
inline std::optional<std::int64_t> parse_duration_ns(std::string_view text) {
  const std::string s(text);
  char* end = nullptr;
  const double number = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || !std::isfinite(number) || number < 0) return std::nullopt;
  const std::string_view unit(end);
  double scale;
  if (unit.empty() || unit == "s") {
    scale = 1e9;
  } else if (unit == "ms") {
    scale = 1e6;
  } else if (unit == "us") {
    scale = 1e3;
  } else if (unit == "ns") {
    scale = 1;
  } else if (unit == "m") {
    scale = 60e9;
  } else if (unit == "h") {
    scale = 3600e9;
  } else {
    return std::nullopt;
  }
  const double ns = std::round(number * scale);
  if (ns > 9.2e18) return std::nullopt;
  return static_cast<std::int64_t>(ns);
}

/// A positive whole count: "200000", "2e5", "7e6". nullopt when malformed, fractional or < 1.
inline std::optional<std::uint64_t> parse_count(std::string_view text) {
  const std::string s(text);
  char* end = nullptr;
  const double number = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || *end != '\0' || !(number >= 1) || number > 1.8e19 ||
      number != std::floor(number)) {
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(number);
}

}  // namespace phyx_bench::load
