// Shutdown at scale (issue 11): a tree of 100,100 processes on 2 workers, each child with a
// timer armed an hour ahead, 1,000 of them holding the Reply of an ask they will never
// answer. Runtime::shutdown must stop every process within its deadline, fail every one of
// those asks with StoppedError, leave no timer on the clock and no process alive, and keep
// the laws of SPEC 8. Under ASan/LSan the suite also proves nothing leaks.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <variant>
#include <vector>

#include "support/accounting.hpp"

using namespace std::chrono_literals;

namespace {

constexpr int kParents = 100;
constexpr int kChildrenPerParent = 1000;
constexpr int kTotal = kParents + kParents * kChildrenPerParent;
constexpr int kAsked = 1000;

struct Grow {};
struct Arm {};
struct Keep {
  phyx::Reply<int> reply;
};
using NodeMsg = std::variant<Grow, Arm, Keep>;

struct Census {
  std::mutex mutex;
  std::vector<phyx::ProcessRef<NodeMsg>> children;  // filled as children arm
  std::atomic<int> armed{0};
  std::promise<void> all_armed;
  std::atomic<int> on_stops{0};
};
struct NodeState {
  std::optional<phyx::Reply<int>> kept;  // an ask answered never: fails at the stop
};
struct NodeCtx {
  std::shared_ptr<Census> census;
};

phyx::ProcessSpec<NodeMsg, NodeState, NodeCtx> node_spec() {
  return {
      .name = "node",
      .init = [](const NodeCtx&) { return NodeState{}; },
      .handle =
          [](NodeState& state, NodeMsg& msg, auto& tools) {
            Census& census = *tools.ctx().census;
            if (std::holds_alternative<Grow>(msg)) {
              const auto child = phyx::share(node_spec());
              for (int i = 0; i < kChildrenPerParent; ++i) tools.spawn(child, tools.ctx()).send(Arm{});
            } else if (std::holds_alternative<Arm>(msg)) {
              tools.schedule(1h, Arm{});  // pending at the shutdown: must be cancelled
              {
                std::lock_guard lock(census.mutex);
                census.children.push_back(tools.self());
              }
              // acq_rel: the last one publishes every push above to the test thread.
              if (census.armed.fetch_add(1, std::memory_order_acq_rel) + 1 ==
                  kParents * kChildrenPerParent) {
                census.all_armed.set_value();
              }
            } else {
              state.kept = std::move(std::get<Keep>(msg).reply);
            }
          },
      .on_stop =
          [](NodeState&, const phyx::StopReason&, const NodeCtx& ctx) {
            ctx.census->on_stops.fetch_add(1, std::memory_order_relaxed);  // read after shutdown
          },
  };
}

}  // namespace

TEST_CASE("shutdown of a 100,100-process tree with pending asks and timers: every ask fails with "
          "StoppedError, nothing is left") {
  auto clock = phyx::create_manual_clock();  // time never moves: every timer stays pending
  auto census = std::make_shared<Census>();
  auto all_armed = census->all_armed.get_future();
  phyx::Runtime rt({.clock = clock, .workers = 2, .shutdown_timeout = 120s});
  const auto parent = phyx::share(node_spec());
  for (int i = 0; i < kParents; ++i) rt.spawn(parent, NodeCtx{census}).send(Grow{});
  REQUIRE(all_armed.wait_for(300s) == std::future_status::ready);

  std::vector<phyx::Future<int>> asks;
  {
    std::lock_guard lock(census->mutex);
    REQUIRE(census->children.size() == static_cast<std::size_t>(kParents * kChildrenPerParent));
    for (int i = 0; i < kAsked; ++i) {
      const auto& child = census->children[static_cast<std::size_t>(i) * 97 % census->children.size()];
      asks.push_back(child.ask<int>([](phyx::Reply<int> r) { return NodeMsg{Keep{std::move(r)}}; }, 1h));
    }
  }
  CHECK(clock->pending_timer_count() >= static_cast<std::size_t>(kParents * kChildrenPerParent));

  const auto started = std::chrono::steady_clock::now();
  const phyx::ShutdownReport report = rt.shutdown(120s);
  const auto took = std::chrono::steady_clock::now() - started;
  MESSAGE("shutdown of " << kTotal << " processes took "
                         << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  CHECK(report.stopped == static_cast<std::size_t>(kTotal));
  CHECK(report.abandoned == 0);
  CHECK(census->on_stops.load(std::memory_order_relaxed) == kTotal);

  int stopped_errors = 0;
  for (auto& f : asks) {
    REQUIRE(f.wait_for(0ms));  // settled by the shutdown, not by a timeout
    try {
      (void)f.get();
    } catch (const phyx::StoppedError&) {
      ++stopped_errors;
    }
  }
  CHECK(stopped_errors == kAsked);
  CHECK(clock->pending_timer_count() == 0);  // 100,000 schedules and 1,000 ask timeouts gone
  const phyx::Stats stats = rt.stats();
  CHECK(stats.processes_alive == 0);
  CHECK(stats.queued == 0);
  phyx_test::check_laws(stats);
  {
    std::lock_guard lock(census->mutex);
    census->children.clear();  // the refs, before the runtime goes (no cycle keeps it alive)
  }
}
