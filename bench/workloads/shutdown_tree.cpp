// shutdown-tree: a tree of 100,001 processes (a root, 100 children, 999 grandchildren
// each, spawned with tools.spawn) is shut down with Runtime::shutdown (issue 6). SPEC
// order: children before parents, siblings in reverse spawn order, on_stop for each.
// Reports the shutdown's elapsed time against its deadline, and what the report counted.
#include <atomic>
#include <future>
#include <memory>
#include <phyx/phyx.hpp>

#include "workloads/workload.hpp"

namespace phyx_bench {
namespace {

struct Grow {
  std::int64_t children;
  std::int64_t grandchildren;
};
struct TreeCtx {
  std::shared_ptr<std::atomic<std::int64_t>> inits;  // incremented by every init
  std::shared_ptr<std::atomic<std::int64_t>> stops;  // incremented by every on_stop
  std::int64_t expected = 0;
  std::shared_ptr<std::promise<void>> built;  // set by the init that completes the tree
};

phyx::ProcessSpec<Grow, int, TreeCtx> node_spec() {
  return {
      .name = "node",
      .init =
          [](const TreeCtx& c) {
            if (c.inits->fetch_add(1, std::memory_order_acq_rel) + 1 == c.expected)
              c.built->set_value();
            return 0;
          },
      .handle =
          [](int&, Grow& g, auto& tools) {
            for (std::int64_t i = 0; i < g.children; ++i) {
              auto child = tools.spawn(node_spec(), tools.ctx());
              if (g.grandchildren > 0) child.send(Grow{g.grandchildren, 0});
            }
          },
      .on_stop = [](int&, const phyx::StopReason&,
                    const TreeCtx& c) { c.stops->fetch_add(1, std::memory_order_relaxed); },
  };
}

}  // namespace

Workload shutdown_tree_workload() {
  return {"shutdown-tree",
          "Runtime::shutdown of a 100,001-process tree (1 + 100 + 100 x 999), 30 s deadline",
          [](const Params& p) {
            const std::int64_t children = p.get("children", 100);
            const std::int64_t grandchildren = p.get("grandchildren", 999);
            const std::int64_t deadline_ms = p.get("deadline_ms", 30'000);
            TreeCtx ctx{std::make_shared<std::atomic<std::int64_t>>(0),
                        std::make_shared<std::atomic<std::int64_t>>(0),
                        1 + children + children * grandchildren,
                        std::make_shared<std::promise<void>>()};
            phyx::Runtime rt({.workers = p.workers});
            auto root = rt.spawn(node_spec(), ctx);
            root.send(Grow{children, grandchildren});
            ctx.built->get_future().wait();
            const phyx::ShutdownReport report = rt.shutdown(std::chrono::milliseconds(deadline_ms));
            const double ms = static_cast<double>(report.elapsed.count()) / 1e6;
            const bool ok = report.stopped == static_cast<std::size_t>(ctx.expected) &&
                            report.abandoned == 0 &&
                            ctx.stops->load(std::memory_order_relaxed) == ctx.expected &&
                            ms < static_cast<double>(deadline_ms);
            return std::vector<Measurement>{
                {"shutdown-tree",
                 ms,
                 "ms",
                 {{"processes", std::to_string(ctx.expected)},
                  {"deadline_ms", std::to_string(deadline_ms)},
                  {"stopped", std::to_string(report.stopped)},
                  {"abandoned", std::to_string(report.abandoned)},
                  {"on_stop_calls", std::to_string(ctx.stops->load(std::memory_order_relaxed))}},
                 ok}};
          }};
}

}  // namespace phyx_bench
