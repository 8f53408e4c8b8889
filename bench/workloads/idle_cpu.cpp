// idle-cpu: CPU time used by a runtime with no work for 2 s (SPEC 13): parked workers
// must not spin.
#include <sys/resource.h>
#include <time.h>

#include <chrono>
#include <thread>
#include <vector>

#include <phyx/phyx.hpp>

#include "workloads/workload.hpp"

namespace phyx_bench {
namespace {
double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}
}  // namespace

Workload idle_cpu_workload() {
  return {"idle-cpu", "CPU time of a runtime with no work for 2 s", [](const Params& p) {
            const std::int64_t ms = p.get("ms", 2000);
            phyx::Runtime rt({.workers = p.workers});
            phyx::ProcessSpec<int, int> spec{
                .name = "idle",
                .init = [](const phyx::Empty&) { return 0; },
                .handle = [](int&, int&, auto&) {},
            };
            std::vector<phyx::ProcessRef<int>> idle;
            for (int i = 0; i < 1000; ++i) idle.push_back(rt.spawn(spec));
            // Every init has run once each process has answered: from here on nothing is runnable.
            for (auto& p : idle) (void)p.ask<int>([](phyx::Reply<int> r) {
              r(0);
              return 0;
            }).get();
            const double cpu0 = process_cpu_seconds();
            const std::int64_t start = now_ns();
            std::this_thread::sleep_for(std::chrono::milliseconds(ms));  // the measurement itself: wall time passes
            const double cpu = process_cpu_seconds() - cpu0;
            const double wall = seconds_since(start);
            return std::vector<Measurement>{{"idle-cpu", 100.0 * cpu / wall, "% of one core",
                                             {{"ms", std::to_string(ms)}, {"processes", "1000"}}}};
          }};
}

}  // namespace phyx_bench
