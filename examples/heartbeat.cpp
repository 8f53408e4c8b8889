// heartbeat.cpp: the seed's "Add Timing: Scheduled Messages".
//
// tools.schedule(after, msg) puts `msg` into the process's own mailbox `after` from
// now, on the runtime's timer wheel. A process that schedules its next Ping from
// each Ping beats forever, until it stops: its timers die with it.
//
// To know when three beats have happened, main() asks AwaitPings{3}. The process
// keeps that Reply in its state and answers it from the third Ping: a Reply may be
// held and answered later, by whichever message completes the request.
//
// With --deterministic the clock is a ManualClock: rt.advance_by(3000ms) fires the
// three pings instantly, exactly 1000 ms apart. Without it the program runs ~3 real
// seconds on the system clock.
//
// Run: example_heartbeat [--deterministic]
// Exit status 0 after three pings, each at least 1000 ms after the previous one
// (exactly 1000 ms in deterministic mode).
#include <phyx/phyx.hpp>

#include "example_options.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string_view>
#include <variant>
#include <vector>

using namespace std::chrono_literals;
constexpr auto kInterval = 1000ms;

struct Summary {
  int pings = 0;
  std::vector<std::int64_t> intervals_ns;  // between consecutive beats (the first from Start)
};

struct Start {};
struct Ping {};
struct AwaitPings {
  int count;
  phyx::Reply<Summary> reply;
};
using HeartbeatMsg = std::variant<Start, Ping, AwaitPings>;

struct HeartbeatState {
  std::int64_t last_ping_ns = 0;  // monotonic
  Summary summary;
  std::optional<AwaitPings> waiter;  // a pending AwaitPings, answered later
};

namespace {

// Answers the waiter once enough pings happened.
void maybe_answer(HeartbeatState& state) {
  if (state.waiter && state.summary.pings >= state.waiter->count) {
    state.waiter->reply(state.summary);
    state.waiter.reset();
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool deterministic = has_flag(argc, argv, "--deterministic");
  phyx::Runtime rt(make_options(deterministic));

  auto heartbeat = rt.spawn(phyx::ProcessSpec<HeartbeatMsg, HeartbeatState>{
      .name = "heartbeat",
      .init = [](const phyx::Empty&) { return HeartbeatState{}; },
      // void(State&, Msg&, Tools&): mutate the state in place.
      .handle =
          [](HeartbeatState& state, HeartbeatMsg& msg, auto& tools) {
            // tour:begin schedule (README.md shows these lines)
            if (std::holds_alternative<Start>(msg)) {
              state.last_ping_ns = tools.now().mono_ns;
              tools.schedule(kInterval, Ping{});  // a Ping to ourselves in 1 second
            } else if (std::holds_alternative<Ping>(msg)) {
              const std::int64_t now = tools.now().mono_ns;
              const std::int64_t since = now - state.last_ping_ns;
              std::printf("Heartbeat: %.1fms since last ping\n", static_cast<double>(since) / 1e6);
              state.summary.pings += 1;
              state.summary.intervals_ns.push_back(since);
              state.last_ping_ns = now;
              tools.schedule(kInterval, Ping{});  // and the next one
              maybe_answer(state);
            } else {
              state.waiter = std::move(std::get<AwaitPings>(msg));  // keep the Reply for later
              maybe_answer(state);
            }
            // tour:end schedule
          },
  });

  heartbeat.send(Start{});
  auto three = heartbeat.ask<Summary>([](phyx::Reply<Summary> r) { return AwaitPings{3, std::move(r)}; }, 10s);

  // Deterministic: move the manual clock 3 s; each timer fires at its exact deadline
  // and the runtime runs until idle after each. On threads, get() just waits ~3 s.
  if (deterministic) rt.advance_by(3 * kInterval);
  const Summary summary = three.get();

  bool ok = summary.pings == 3 && summary.intervals_ns.size() == 3;
  const std::int64_t interval_ns = std::chrono::nanoseconds(kInterval).count();
  for (std::int64_t ns : summary.intervals_ns) {
    ok &= deterministic ? ns == interval_ns : ns >= interval_ns;  // a timer never fires early
  }
  // The heartbeat keeps beating until it is stopped; stopping cancels its timers.
  heartbeat.stop().get();
  std::printf("%d pings, heartbeat %s: %s\n", summary.pings, std::string(phyx::to_string(heartbeat.status())).c_str(),
              ok ? "OK" : "WRONG");
  return ok ? 0 : 1;
}
