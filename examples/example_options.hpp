// examples/example_options.hpp — how every example picks its runtime.
//
// `--deterministic` (how the CTest entries run them): a ManualClock, no worker threads,
// seed 42 — the run is the same every time and time moves only when the program moves it.
// Without it: the system clock and worker threads.
#pragma once

#include <phyx/phyx.hpp>

#include <string_view>
#include <utility>

inline bool has_flag(int argc, char** argv, std::string_view flag) {
  for (int i = 1; i < argc; ++i) {
    if (argv[i] == flag) return true;
  }
  return false;
}

inline phyx::RuntimeOptions make_options(bool deterministic, phyx::EmitFn emit = {}) {
  if (deterministic) {
    return {.clock = phyx::create_manual_clock(), .emit = std::move(emit), .deterministic = true, .seed = 42};
  }
  return {.clock = phyx::create_system_clock(), .emit = std::move(emit)};
}
