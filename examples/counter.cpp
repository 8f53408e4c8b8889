// counter.cpp: the seed's "Start Simple: Basic Process".
//
// A counter process owns an int. Nobody else can touch it: the only way in is a
// message, and messages are handled one at a time, so there is no lock anywhere.
// The handler uses the seed's style: it returns the new state.
//
// The seed never reads the count back (that is the next example, request_reply),
// so this program reads it the way a process reports its last state: on_stop.
// Stopping with StopMode::drain handles what is still queued first, then calls
// on_stop(state, reason, ctx), and only then completes the stop future.
//
// Run: example_counter [--deterministic]
// Exit status 0 when the final count is the expected one.
#include <phyx/phyx.hpp>

#include "example_options.hpp"

#include <cstdio>
#include <memory>
#include <string_view>
#include <variant>

// The messages. A std::variant of small structs is the idiomatic phyx message type:
// telemetry names each message by its alternative ("Increment", "Reset", ...).
struct Increment {};
struct Decrement {};
struct Reset {};
using CounterMsg = std::variant<Increment, Decrement, Reset>;

struct CounterState {
  int count = 0;
};

// Where on_stop leaves the final count for main() to check. Written by the process
// in on_stop, read by main() after stop().get(), which happens-after on_stop.
struct Report {
  int final_count = -1;
};
struct CounterCtx {
  std::shared_ptr<Report> report;
};

int main(int argc, char** argv) {
  const bool deterministic = has_flag(argc, argv, "--deterministic");
  phyx::Runtime rt(make_options(deterministic));  // the root supervisor

  auto report = std::make_shared<Report>();
  // tour:begin spawn-and-send (README.md shows these lines)
  auto counter = rt.spawn(
      phyx::ProcessSpec<CounterMsg, CounterState, CounterCtx>{
          .name = "counter",
          .init = [](const CounterCtx&) { return CounterState{}; },
          // State(State&, Msg&, Tools&): the returned value becomes the new state.
          .handle = [](CounterState& state, CounterMsg& msg, auto&) -> CounterState {
            if (std::holds_alternative<Increment>(msg)) return {state.count + 1};
            if (std::holds_alternative<Decrement>(msg)) return {state.count - 1};
            return {0};  // Reset
          },
          .on_stop = [](CounterState& state, const phyx::StopReason& reason, const CounterCtx& ctx) {
            std::printf("counter stopping (%s) with count %d\n", phyx::to_string(reason).c_str(), state.count);
            ctx.report->final_count = state.count;
          },
      },
      CounterCtx{report});

  // send() never blocks; true means the message is in the mailbox.
  bool accepted = true;
  accepted &= counter.send(Increment{});
  accepted &= counter.send(Increment{});
  accepted &= counter.send(Decrement{});
  accepted &= counter.send(Reset{});
  for (int i = 0; i < 5; ++i) accepted &= counter.send(Increment{});
  // tour:end spawn-and-send
  accepted &= counter.send(Decrement{});
  std::printf("sent 10 messages, all accepted: %s\n", accepted ? "yes" : "no");

  // In deterministic mode nothing runs until we drive the runtime.
  if (deterministic) {
    const std::size_t handled = rt.run_until_idle();
    std::printf("run_until_idle handled %zu messages\n", handled);
  }
  // "starting" while init runs, then "running" (the seed prints "running").
  std::printf("counter status: %s\n", std::string(phyx::to_string(counter.status())).c_str());
  const bool was_alive = counter.status() == phyx::Status::running || counter.status() == phyx::Status::starting;

  // Drain: handle what is queued, then on_stop. get() waits (or, in deterministic
  // mode, drives the runtime) until the process is stopped.
  counter.stop(phyx::StopReason::normal(), phyx::StopMode::drain).get();
  std::printf("counter status after stop: %s\n", std::string(phyx::to_string(counter.status())).c_str());

  // 2 - 1, reset to 0, then 5 - 1.
  const int expected = 4;
  const bool ok = accepted && was_alive && report->final_count == expected &&
                  counter.status() == phyx::Status::stopped;
  std::printf("final count %d, expected %d: %s\n", report->final_count, expected, ok ? "OK" : "WRONG");
  return ok ? 0 : 1;
}
