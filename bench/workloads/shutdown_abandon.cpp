// shutdown-abandon: Runtime::shutdown with a 50 ms deadline while every worker spins in a
// stuck handler, so all 100,000 idle processes (and the stuck ones) are abandoned at the
// deadline (SPEC 14.14). Reports the shutdown's elapsed time against its deadline. The
// abandonment seals every mailbox and then makes one asymmetric fence for all
// (engine/mailbox/mailbox.cpp step 6); a fence per process interrupted the spinning
// workers' CPUs 100,000 times.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <phyx/phyx.hpp>
#include <thread>
#include <vector>

#include "workloads/workload.hpp"

namespace phyx_bench {
namespace {

/// Shared with the detached workers, which outlive the runtime and this workload's frame.
struct StuckSync {
  std::atomic<unsigned> entered{0};
  std::atomic<bool> release{false};
};

/// Yields until `done()` or `limit` passes; false on the limit. Not a test: a bounded wait.
template <class Done>
bool wait_until(Done done, std::chrono::seconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace

Workload shutdown_abandon_workload() {
  return {"shutdown-abandon",
          "Runtime::shutdown (50 ms deadline) of 100,000 idle processes while every worker "
          "spins in a stuck handler: all abandoned",
          [](const Params& p) {
            const std::int64_t n = p.get("n", 100'000);
            const std::int64_t deadline_ms = p.get("deadline_ms", 50);
            // As the runtime resolves 0 (SPEC 2): one stuck handler per worker.
            const unsigned workers =
                std::max(1u, p.workers != 0 ? p.workers : std::thread::hardware_concurrency());
            auto sync = std::make_shared<StuckSync>();
            // Owned by both kinds' behaviours: expired once every process is freed, which
            // the last detached worker does as it leaves.
            auto token = std::make_shared<int>(0);
            const std::weak_ptr<int> processes_freed = token;
            bool all_entered = false;
            phyx::ShutdownReport report;
            {
              phyx::Runtime rt({.workers = workers});
              auto kind = phyx::share(phyx::ProcessSpec<int, int>{
                  .name = "idle",
                  .init = [token](const phyx::Empty&) { return 0; },
                  .handle = [](int&, int&, auto&) {},
              });
              for (std::int64_t i = 0; i < n; ++i) (void)rt.spawn(kind);
              // One stuck process per worker, so nothing stops before the deadline.
              auto stuck = phyx::share(phyx::ProcessSpec<int, int>{
                  .name = "stuck",
                  .init = [token](const phyx::Empty&) { return 0; },
                  .handle =
                      [sync](int&, int&, auto&) {
                        // relaxed (both): a tally and a flag; no data comes with them.
                        sync->entered.fetch_add(1, std::memory_order_relaxed);
                        while (!sync->release.load(std::memory_order_relaxed)) {  // a runaway loop
                        }
                      },
              });
              token.reset();
              for (unsigned w = 0; w < workers; ++w) rt.spawn(stuck).send(1);
              // relaxed: a tally. Bounded: a runtime with fewer workers (a systematic
              // build runs one) never blocks them all; the run then reports a wrong result.
              all_entered = wait_until(
                  [&] { return sync->entered.load(std::memory_order_relaxed) == workers; },
                  std::chrono::seconds(10));
              report = rt.shutdown(std::chrono::milliseconds(deadline_ms));
              sync->release.store(true, std::memory_order_relaxed);  // lets the detached workers go
            }
            // Let the detached workers finish freeing the processes before the next workload
            // (idle-cpu measures the process's CPU time).
            const bool settled =
                wait_until([&] { return processes_freed.expired(); }, std::chrono::seconds(30));
            const double ms = static_cast<double>(report.elapsed.count()) / 1e6;
            const bool ok =
                all_entered && settled && report.abandoned == static_cast<std::size_t>(n + workers);
            return std::vector<Measurement>{{"shutdown-abandon",
                                             ms,
                                             "ms",
                                             {{"processes", std::to_string(n + workers)},
                                              {"deadline_ms", std::to_string(deadline_ms)},
                                              {"abandoned", std::to_string(report.abandoned)}},
                                             ok}};
          }};
}

}  // namespace phyx_bench
