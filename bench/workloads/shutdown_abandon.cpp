// shutdown-abandon: Runtime::shutdown with a 50 ms deadline while every worker spins in a
// stuck handler, so all 100,000 idle processes (and the stuck ones) are abandoned at the
// deadline (SPEC 14.14). Reports the shutdown's elapsed time against its deadline. The abandonment
// closes every mailbox and then makes one asymmetric fence for all (engine/mailbox/mailbox.cpp step
// 6); a fence per process interrupted the spinning workers' CPUs 100,000 times.
#include <algorithm>
#include <atomic>
#include <future>
#include <phyx/phyx.hpp>
#include <thread>
#include <vector>

#include "workloads/workload.hpp"

namespace phyx_bench {

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
            std::atomic<bool> release{false};
            std::atomic<unsigned> entered{0};
            std::promise<void> all_entered;
            phyx::ShutdownReport report;
            {
              phyx::Runtime rt({.workers = workers});
              auto kind = phyx::share(phyx::ProcessSpec<int, int>{
                  .name = "idle",
                  .init = [](const phyx::Empty&) { return 0; },
                  .handle = [](int&, int&, auto&) {},
              });
              for (std::int64_t i = 0; i < n; ++i) (void)rt.spawn(kind);
              // One stuck process per worker, so nothing stops before the deadline.
              auto stuck = phyx::share(phyx::ProcessSpec<int, int>{
                  .name = "stuck",
                  .init = [](const phyx::Empty&) { return 0; },
                  .handle =
                      [&](int&, int&, auto&) {
                        // acq_rel: the last to enter sets the promise once.
                        if (entered.fetch_add(1, std::memory_order_acq_rel) + 1 == workers)
                          all_entered.set_value();
                        // acquire: pairs with the release below; a spin, as a runaway loop would.
                        while (!release.load(std::memory_order_acquire)) {
                        }
                      },
              });
              for (unsigned w = 0; w < workers; ++w) rt.spawn(stuck).send(1);
              all_entered.get_future().wait();
              report = rt.shutdown(std::chrono::milliseconds(deadline_ms));
              release.store(true, std::memory_order_release);  // lets the detached workers go
            }
            const double ms = static_cast<double>(report.elapsed.count()) / 1e6;
            const bool ok = report.abandoned == static_cast<std::size_t>(n + workers);
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
