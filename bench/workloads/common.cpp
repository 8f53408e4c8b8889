#include <time.h>

#include <fstream>
#include <string>

#include "workloads/workload.hpp"

namespace phyx_bench {

std::int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

double seconds_since(std::int64_t start_ns) { return static_cast<double>(now_ns() - start_ns) / 1e9; }

namespace {
std::int64_t status_field_kib(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::stoll(line.substr(key.size()));
  }
  return 0;
}
}  // namespace

std::int64_t peak_rss_kib() { return status_field_kib("VmHWM:"); }
std::int64_t current_rss_kib() { return status_field_kib("VmRSS:"); }

std::vector<Workload> all_workloads() {
  return {ping_pong_workload(),     ring_workload(),
          ring_multi_workload(),    fan_in_workload(),
          skynet_workload(),        ask_workload(),
          ask_many_workload(),      ask_external_workload(),
          ask_coroutine_workload(), spawn_workload(),
          timers_workload(),        restart_storm_workload(),
          shutdown_tree_workload(), shutdown_abandon_workload(),
          idle_cpu_workload(),      journal_workload(),
          gossip_workload(),        fork_join_workload()};
}

}  // namespace phyx_bench
