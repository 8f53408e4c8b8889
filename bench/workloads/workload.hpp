// bench/workloads/workload.hpp — one standard actor workload of SPEC 13.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace phyx_bench {

struct Params {
  unsigned workers = 0;              // 0 = hardware concurrency
  std::map<std::string, std::int64_t> overrides;  // --n etc.
  std::int64_t get(const std::string& key, std::int64_t fallback) const {
    auto it = overrides.find(key);
    return it == overrides.end() ? fallback : it->second;
  }
};

struct Measurement {
  std::string workload;
  double value = 0;
  std::string unit;
  std::map<std::string, std::string> params;  // printed as JSON strings or numbers
  bool ok = true;                              // the workload checked its own result
};

struct Workload {
  std::string name;
  std::string what;
  std::function<std::vector<Measurement>(const Params&)> run;
};

/// Every workload, in the order the table prints them. (A function, not a static
/// registry: no static-initialisation order, no globals.)
std::vector<Workload> all_workloads();

// One per file in bench/workloads/.
Workload ping_pong_workload();
Workload ring_workload();
Workload ring_multi_workload();
Workload fan_in_workload();
Workload skynet_workload();
Workload ask_workload();
Workload ask_many_workload();
Workload ask_external_workload();
Workload ask_coroutine_workload();
Workload spawn_workload();
Workload timers_workload();
Workload restart_storm_workload();
Workload shutdown_tree_workload();
Workload shutdown_abandon_workload();
Workload idle_cpu_workload();
Workload journal_workload();
Workload gossip_workload();
Workload fork_join_workload();

double seconds_since(std::int64_t start_ns);
std::int64_t now_ns();
/// Peak resident set size of this OS process, in KiB (VmHWM).
std::int64_t peak_rss_kib();
std::int64_t current_rss_kib();

}  // namespace phyx_bench
