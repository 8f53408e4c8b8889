// observable_worker.cpp: the seed's "Add Observability: Complete Telemetry".
//
// RuntimeOptions::emit is the telemetry sink. The runtime reports every lifecycle
// step (process:start, process:ready, process:msg:start/end, process:mailbox:enqueue,
// process:stop, ...), and handlers add their own events with tools.emit(type, fields),
// which carry the process's id and name. This sink prints each event as JSON and
// records the worker's own events so main() can check them.
//
// The seed's handler awaits a 100 ms timer between its two emits. Coroutine handlers
// that suspend (co_await tools.sleep(100ms)) are not implemented yet, so the work is
// split in two messages instead: Task emits worker:task:start and schedules
// Complete{id} 100 ms later; Complete emits worker:task:complete. Same events, same
// timing, and the worker stays responsive in between.
//
// Run: example_observable_worker [--deterministic]
// Exit status 0 when every task has a start and a complete event, >= 100 ms apart
// (exactly 100 ms in deterministic mode), and the runtime's lifecycle events arrived.
#include <phyx/phyx.hpp>

#include "example_options.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <variant>

using namespace std::chrono_literals;
constexpr int kTasks = 3;
constexpr auto kWorkTime = 100ms;

struct Task {
  int id;
};
struct Complete {
  int id;
};
struct GetTasks {
  phyx::Reply<int> reply;
};
using WorkerMsg = std::variant<Task, Complete, GetTasks>;

struct WorkerState {
  int tasks = 0;
};

// What the sink saw. The runtime never calls one runtime's sink from two threads at
// once, but main() reads it too, hence the mutex.
struct Recorder {
  std::mutex mutex;
  std::map<std::string, int> counts;          // event type -> occurrences
  std::map<std::int64_t, std::int64_t> start_ns;  // task id -> mono time of worker:task:start
  std::map<std::int64_t, std::int64_t> took_ns;   // task id -> complete - start
  std::promise<void> all_complete;

  void record(const phyx::Event& e) {
    std::lock_guard lock(mutex);
    ++counts[std::string(e.type)];
    if (e.type == "worker:task:start") start_ns[*e.get_int("task_id")] = e.at.mono_ns;
    if (e.type == "worker:task:complete") {
      const std::int64_t id = *e.get_int("task_id");
      took_ns[id] = e.at.mono_ns - start_ns[id];
      if (took_ns.size() == kTasks) all_complete.set_value();
    }
  }
};

int main(int argc, char** argv) {
  const bool deterministic = has_flag(argc, argv, "--deterministic");

  Recorder recorder;
  auto all_complete = recorder.all_complete.get_future();
  // The sink: print every event ("Process event: {...}") and record it.
  // tour:begin telemetry (README.md shows these lines)
  auto sink = [&recorder](const phyx::Event& event) {
    std::printf("Process event: %s\n", phyx::to_json(event).c_str());
    recorder.record(event);
  };
  phyx::Runtime rt(make_options(deterministic, sink));

  auto worker = rt.spawn(phyx::ProcessSpec<WorkerMsg, WorkerState>{
      .name = "observable-worker",
      .init = [](const phyx::Empty&) { return WorkerState{}; },
      .handle =
          [](WorkerState& state, WorkerMsg& msg, auto& tools) {
            if (auto* task = std::get_if<Task>(&msg)) {
              tools.emit("worker:task:start", {{"task_id", std::int64_t{task->id}}, {"timestamp", tools.now().wall_ms}});
              tools.schedule(kWorkTime, Complete{task->id});  // "await 100 ms", as a message
            } else if (auto* done = std::get_if<Complete>(&msg)) {
              tools.emit("worker:task:complete", {{"task_id", std::int64_t{done->id}}, {"timestamp", tools.now().wall_ms}});
              state.tasks += 1;
            } else {
              std::get<GetTasks>(msg).reply(state.tasks);
            }
          },
  });
  // tour:end telemetry

  for (int id = 1; id <= kTasks; ++id) worker.send(Task{id});

  // Wait for the three worker:task:complete events: in deterministic mode by moving
  // the manual clock past the 100 ms timers, on threads by waiting (bounded).
  if (deterministic) rt.advance_by(kWorkTime);
  const bool completed = all_complete.wait_for(5s) == std::future_status::ready;
  const int tasks = worker.ask<int>([](phyx::Reply<int> r) { return GetTasks{std::move(r)}; }).get();
  worker.stop().get();

  bool ok = completed && tasks == kTasks;
  {
    std::lock_guard lock(recorder.mutex);
    const std::int64_t want_ns = std::chrono::nanoseconds(kWorkTime).count();
    for (const auto& [id, ns] : recorder.took_ns) {
      std::printf("task %lld took %.1f ms\n", static_cast<long long>(id), static_cast<double>(ns) / 1e6);
      ok &= deterministic ? ns == want_ns : ns >= want_ns;
    }
    ok &= recorder.counts["worker:task:start"] == kTasks && recorder.counts["worker:task:complete"] == kTasks;
    ok &= recorder.counts["process:start"] == 1 && recorder.counts["process:ready"] == 1;
    // 3 Task + 3 Complete + 1 GetTasks, each wrapped in msg:start / msg:end.
    ok &= recorder.counts["process:msg:start"] == 2 * kTasks + 1 && recorder.counts["process:msg:end"] == 2 * kTasks + 1;
  }
  std::printf("%d tasks completed: %s\n", tasks, ok ? "OK" : "WRONG");
  return ok ? 0 : 1;
}
