// spawn: spawn N idle processes from one thread (SPEC 13), with RSS growth per process
// (the idle-memory figure, measured in the same run). The processes are spawned from one
// phyx::SharedSpec (the way to spawn many of a kind: they share its behaviour); `--plain 1`
// spawns each from a copy of the ProcessSpec instead (params say which). One variant per
// run: RSS cannot be measured twice in one OS process (freed memory stays mapped).
#include <vector>

#include <phyx/phyx.hpp>

#include "workloads/workload.hpp"

namespace phyx_bench {

Workload spawn_workload() {
  return {"spawn", "spawn 1,000,000 idle processes from one thread (and RSS per idle process)", [](const Params& p) {
            const std::int64_t n = p.get("processes", 1'000'000);
            std::vector<Measurement> out;
            phyx::Runtime rt({.workers = p.workers, .shutdown_timeout = std::chrono::seconds(60)});
            phyx::ProcessSpec<int, int> spec{
                .name = "idle",
                .init = [](const phyx::Empty&) { return 0; },
                .handle = [](int&, int&, auto&) {},
            };
            const bool plain = p.get("plain", 0) != 0;
            std::vector<phyx::ProcessRef<int>> refs;
            refs.reserve(static_cast<std::size_t>(n));
            const std::int64_t rss_before = current_rss_kib();
            const std::int64_t start = now_ns();
            if (plain) {
              for (std::int64_t i = 0; i < n; ++i) refs.push_back(rt.spawn(spec));
            } else {
              const auto shared = phyx::share(spec);
              for (std::int64_t i = 0; i < n; ++i) refs.push_back(rt.spawn(shared));
            }
            const double secs = seconds_since(start);
            // Let every init run so the processes are idle and running, then read RSS.
            auto last = refs.back();
            (void)last.ask<int>([](phyx::Reply<int> r) {
              r(0);
              return 0;
            });
            const std::int64_t rss_after = current_rss_kib();
            const double bytes = static_cast<double>(rss_after - rss_before) * 1024.0 / static_cast<double>(n);
            // Not part of the rate: stopping n top-level processes one after another, youngest
            // first (SPEC 2), as ~Runtime would.
            const phyx::ShutdownReport report = rt.shutdown(std::chrono::seconds(60));
            out.push_back({"spawn", static_cast<double>(n) / secs, "processes/s",
                           {{"processes", std::to_string(n)},
                            {"secs", std::to_string(secs)},
                            {"spec", plain ? "plain" : "shared"},
                            {"shutdown_secs", std::to_string(std::chrono::duration<double>(report.elapsed).count())},
                            {"shutdown_stopped", std::to_string(report.stopped)}}});
            out.push_back({"idle-memory", bytes, "bytes/process",
                           {{"processes", std::to_string(n)},
                            {"rss_delta_mib", std::to_string((rss_after - rss_before) / 1024)},
                            {"spec", plain ? "plain" : "shared"},
                            {"includes", "ProcessRef vector (16 B/process)"}}});
            return out;
          }};
}

}  // namespace phyx_bench
