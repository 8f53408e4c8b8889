// task_manager.cpp: the seed's "Advanced: Process Hierarchy".
//
// A task manager spawns its workers with tools.spawn, which makes them its
// children: the manager supervises them (their `supervision` is applied by the
// manager) and they live no longer than it does. Stopping the manager stops its
// children first, in reverse spawn order, each running its on_stop; only then does
// the manager's own on_stop run and its stop future complete.
//
// ProcessRefs are ordinary values: the manager keeps its workers' refs in its
// state and hands copies out on request (ListWorkers), and main() asks the workers
// directly. Because the manager sent each worker its tasks before answering
// ListWorkers, main()'s asks reach every worker after those tasks.
//
// Run: example_task_manager [--deterministic]
// Exit status 0 when every worker handled every distributed task, and stopping the
// manager stopped worker-2, worker-1, worker-0, then the manager.
#include <phyx/phyx.hpp>

#include "example_options.hpp"

#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

constexpr int kWorkers = 3;
constexpr int kTasks = 2;

// The order in which on_stop ran, shared by all processes through their ctx.
struct StopLog {
  std::mutex mutex;
  std::vector<std::string> order;
  void add(const std::string& name) {
    std::lock_guard lock(mutex);
    order.push_back(name);
  }
};

// Worker: counts the tasks it handled.
struct DoTask {
  std::string data;
};
struct GetCompleted {
  phyx::Reply<int> reply;
};
using WorkerMsg = std::variant<DoTask, GetCompleted>;
struct WorkerState {
  int tasks_completed = 0;
};
struct WorkerCtx {
  int id = 0;
  std::shared_ptr<StopLog> stops;
};

// Manager: owns the workers.
struct SpawnWorker {};
struct DistributeTask {
  std::string data;
};
struct ListWorkers {
  phyx::Reply<std::vector<phyx::ProcessRef<WorkerMsg>>> reply;
};
using ManagerMsg = std::variant<SpawnWorker, DistributeTask, ListWorkers>;
struct ManagerState {
  std::map<int, phyx::ProcessRef<WorkerMsg>> workers;
  int next_worker_id = 0;
};
struct ManagerCtx {
  std::shared_ptr<StopLog> stops;
};

namespace {

phyx::ProcessSpec<WorkerMsg, WorkerState, WorkerCtx> worker_spec(int id) {
  return {
      .name = "worker-" + std::to_string(id),
      .init = [](const WorkerCtx&) { return WorkerState{}; },
      .handle = [](WorkerState& state, WorkerMsg& msg, auto& tools) {
        if (auto* task = std::get_if<DoTask>(&msg)) {
          std::printf("Worker %d processing task '%s'\n", tools.ctx().id, task->data.c_str());
          state.tasks_completed += 1;
        } else {
          std::get<GetCompleted>(msg).reply(state.tasks_completed);
        }
      },
      .on_stop =
          [](WorkerState& state, const phyx::StopReason& reason, const WorkerCtx& ctx) {
            std::printf("worker-%d stops (%s) after %d tasks\n", ctx.id, phyx::to_string(reason).c_str(),
                        state.tasks_completed);
            ctx.stops->add("worker-" + std::to_string(ctx.id));
          },
  };
}

}  // namespace

int main(int argc, char** argv) {
  const bool deterministic = has_flag(argc, argv, "--deterministic");
  phyx::Runtime rt(make_options(deterministic));
  auto stops = std::make_shared<StopLog>();

  auto manager = rt.spawn(
      phyx::ProcessSpec<ManagerMsg, ManagerState, ManagerCtx>{
          .name = "task-manager",
          .init = [](const ManagerCtx&) { return ManagerState{}; },
          // tour:begin children (README.md shows these lines)
          .handle =
              [](ManagerState& state, ManagerMsg& msg, auto& tools) {
                if (std::holds_alternative<SpawnWorker>(msg)) {
                  const int id = state.next_worker_id++;
                  // A child of this process: stopped when the manager stops or restarts.
                  state.workers.emplace(id, tools.spawn(worker_spec(id), WorkerCtx{id, tools.ctx().stops}));
                } else if (auto* task = std::get_if<DistributeTask>(&msg)) {
                  for (const auto& [id, worker] : state.workers) worker.send(DoTask{task->data});
                } else {
                  std::vector<phyx::ProcessRef<WorkerMsg>> refs;
                  for (const auto& [id, worker] : state.workers) refs.push_back(worker);
                  std::get<ListWorkers>(msg).reply(std::move(refs));
                }
              },
          // tour:end children
          .on_stop =
              [](ManagerState&, const phyx::StopReason& reason, const ManagerCtx& ctx) {
                std::printf("task-manager stops (%s)\n", phyx::to_string(reason).c_str());
                ctx.stops->add("task-manager");
              },
      },
      ManagerCtx{stops});

  // Create the worker pool, then distribute work.
  for (int i = 0; i < kWorkers; ++i) manager.send(SpawnWorker{});
  manager.send(DistributeTask{"some work"});
  manager.send(DistributeTask{"more work"});

  // Ask the manager for its workers, then each worker for its count.
  using Refs = std::vector<phyx::ProcessRef<WorkerMsg>>;
  Refs workers = manager.ask<Refs>([](phyx::Reply<Refs> r) { return ListWorkers{std::move(r)}; }).get();
  bool ok = workers.size() == kWorkers;
  for (const auto& worker : workers) {
    const int n = worker.ask<int>([](phyx::Reply<int> r) { return GetCompleted{std::move(r)}; }).get();
    std::printf("%s completed %d tasks\n", worker.name().c_str(), n);
    ok &= n == kTasks;
  }

  // Stopping the parent stops the children first, newest first.
  manager.stop().get();
  for (const auto& worker : workers) ok &= worker.status() == phyx::Status::stopped;
  const std::vector<std::string> expected{"worker-2", "worker-1", "worker-0", "task-manager"};
  {
    std::lock_guard lock(stops->mutex);
    std::printf("stop order:");
    for (const auto& name : stops->order) std::printf(" %s", name.c_str());
    std::printf("\n");
    ok &= stops->order == expected;
  }
  std::printf("%s\n", ok ? "OK" : "WRONG");
  return ok ? 0 : 1;
}
