// fork-join: medium-grained parallel work started from one handler. A coordinator sends
// one task to each of 100 processes; each task burns --work-us microseconds of CPU (50 by
// default) and answers; when all have answered, the next of 200 rounds starts. All tasks
// of a round start in the coordinator's worker's queue, so only stealing spreads them:
// this is the workload that shows what the steal rule (engine/sched/README.md) costs
// medium-grained parallelism. Reported: tasks/s, and the parallel efficiency (CPU time
// the tasks asked for / (wall time x workers)).
#include <algorithm>
#include <chrono>
#include <future>
#include <phyx/phyx.hpp>
#include <thread>
#include <variant>
#include <vector>

#include "workloads/workload.hpp"

namespace phyx_bench {
namespace {

struct Task {
  std::int64_t work_ns;
};
struct Done {};
struct Start {};
using CoordinatorMsg = std::variant<Start, Done>;

/// Burns `ns` of CPU on this thread (a spin on the steady clock: no sleep, no syscall).
void burn(std::int64_t ns) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(ns);
  while (std::chrono::steady_clock::now() < until) {
  }
}

struct CoordinatorState {
  std::int64_t rounds_left;
  std::int64_t pending = 0;
};
struct CoordinatorCtx {
  std::vector<phyx::ProcessRef<Task>>* tasks;
  std::int64_t rounds;
  std::int64_t work_ns;
  std::promise<void>* done;
};

}  // namespace

Workload fork_join_workload() {
  return {"fork-join", "a coordinator hands 100 tasks of 50 us of CPU to 100 processes, 200 rounds",
          [](const Params& p) {
            const std::int64_t width = p.get("width", 100);
            const std::int64_t rounds = p.get("rounds", 200);
            const std::int64_t work_ns = p.get("work-us", 50) * 1000;
            std::promise<void> done;
            std::vector<phyx::ProcessRef<Task>> tasks;
            std::int64_t start;
            const unsigned workers =
                p.workers != 0 ? p.workers : std::max(1u, std::thread::hardware_concurrency());
            {
              phyx::Runtime rt({.workers = p.workers});
              auto coordinator = rt.spawn(
                  phyx::ProcessSpec<CoordinatorMsg, CoordinatorState, CoordinatorCtx>{
                      .name = "coordinator",
                      .init = [](const CoordinatorCtx& c) { return CoordinatorState{c.rounds}; },
                      .handle =
                          [](CoordinatorState& s, CoordinatorMsg& m, auto& tools) {
                            const CoordinatorCtx& c = tools.ctx();
                            if (std::holds_alternative<Done>(m) && --s.pending > 0) return;
                            if (s.rounds_left-- == 0) {
                              c.done->set_value();
                              return;
                            }
                            for (auto& t : *c.tasks) t.send(Task{c.work_ns});
                            s.pending = static_cast<std::int64_t>(c.tasks->size());
                          },
                  },
                  CoordinatorCtx{&tasks, rounds, work_ns, &done});
              for (std::int64_t i = 0; i < width; ++i) {
                tasks.push_back(
                    rt.spawn(phyx::ProcessSpec<Task, int, phyx::ProcessRef<CoordinatorMsg>>{
                                 .name = "task",
                                 .init = [](const phyx::ProcessRef<CoordinatorMsg>&) { return 0; },
                                 .handle =
                                     [](int&, Task& t, auto& tools) {
                                       burn(t.work_ns);
                                       tools.ctx().send(Done{});
                                     },
                             },
                             coordinator));
              }
              start = now_ns();
              coordinator.send(Start{});
              done.get_future().wait();
              tasks.clear();
            }
            const double secs = seconds_since(start);
            const double n = static_cast<double>(width * rounds);
            const double efficiency = n * static_cast<double>(work_ns) / 1e9 / (secs * workers);
            return std::vector<Measurement>{{"fork-join",
                                             n / secs,
                                             "tasks/s",
                                             {{"tasks", std::to_string(width * rounds)},
                                              {"work_us", std::to_string(work_ns / 1000)},
                                              {"secs", std::to_string(secs)},
                                              {"efficiency", std::to_string(efficiency)}}}};
          }};
}

}  // namespace phyx_bench
