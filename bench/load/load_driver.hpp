// bench/load/load_driver.hpp — `phyx-bench load`: the open-loop load harness (SPEC 13).
#pragma once

namespace phyx_bench::load {

/// Runs `phyx-bench load ARGS...`; argv[0] is "load". Returns the process exit code:
/// 0 ok, 1 the --slo-p99 was missed, 2 bad arguments, 3 the harness's own checks failed
/// (a request completed twice or never, or the runtime's counters broke a SPEC 8 law).
int run_load(int argc, char** argv);

}  // namespace phyx_bench::load
