// flaky_worker.cpp: the seed's "Add Resilience: Crash and Restart".
//
// The worker throws on about 10% of its work items. An exception escaping a
// handler is a crash: that one message is lost, the process restarts with fresh
// state (init runs again), and the messages queued behind the failing one are
// handled by the new incarnation. No supervision is configured: the default is
// one-for-one, immediate, unlimited restarts. Nothing outside the worker notices,
// except through telemetry and counters.
//
// "Randomly" is reproducible here: whether item i fails is a seeded hash of i
// (a counter-based PRNG), so it does not depend on which incarnation handles it,
// and main() can compute the expected outcome exactly.
//
// Run: example_flaky_worker [--deterministic]
// Exit status 0 when the counters show one crash and one restart per failing item,
// every other item handled once, and the last incarnation's count is exactly the
// number of items after the last failure.
#include <phyx/phyx.hpp>

#include "example_options.hpp"

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

constexpr int kItems = 100;
constexpr std::uint64_t kWorkSeed = 42;

struct Work {
  int item;
};
struct GetProcessed {
  phyx::Reply<int> reply;
};
using WorkerMsg = std::variant<Work, GetProcessed>;

struct WorkerState {
  int processed = 0;  // by this incarnation only: a restart starts from zero
};
struct WorkerCtx {
  std::uint64_t seed;
};

namespace {

// splitmix64: a tiny, well-mixed PRNG step. Seeded with (seed, item) it gives every
// item its own reproducible random draw.
std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
bool unlucky(std::uint64_t seed, int item) { return splitmix64(seed ^ static_cast<std::uint64_t>(item)) % 100 < 10; }

}  // namespace

int main(int argc, char** argv) {
  const bool deterministic = has_flag(argc, argv, "--deterministic");

  // A small telemetry sink: show each crash and the restart that follows it.
  auto sink = [](const phyx::Event& e) {
    if (e.type == "process:fail") {
      std::printf("  crash: %s\n", std::string(e.get_string("error").value_or("?")).c_str());
    } else if (e.type == "supervisor:restart") {
      std::printf("  restart #%lld (after %lld ms), fresh state\n", static_cast<long long>(e.get_int("attempt").value_or(-1)),
                  static_cast<long long>(e.get_int("delay_ms").value_or(-1)));
    }
  };
  phyx::Runtime rt(make_options(deterministic, sink));

  // tour:begin crash (README.md shows these lines)
  auto worker = rt.spawn(
      phyx::ProcessSpec<WorkerMsg, WorkerState, WorkerCtx>{
          .name = "flaky-worker",
          .init = [](const WorkerCtx&) { return WorkerState{}; },
          .handle = [](WorkerState& state, WorkerMsg& msg, auto& tools) -> WorkerState {
            if (auto* work = std::get_if<Work>(&msg)) {
              if (unlucky(tools.ctx().seed, work->item))  // ~10% of the items
                throw std::runtime_error("Random failure on item " + std::to_string(work->item) + "!");
              return {state.processed + 1};
            }
            std::get<GetProcessed>(msg).reply(state.processed);
            return state;
          },
          // no .supervision: one-for-one, restart at once, no limit
  // tour:end crash
      },
      WorkerCtx{kWorkSeed});

  // Expected outcome, from the same seeded draws.
  int failures = 0;
  int after_last_failure = 0;
  for (int i = 0; i < kItems; ++i) {
    if (unlucky(kWorkSeed, i)) {
      ++failures;
      after_last_failure = 0;
    } else {
      ++after_last_failure;
    }
  }

  // Send work: even if it crashes, it restarts and the queue keeps draining.
  int accepted = 0;
  for (int i = 0; i < kItems; ++i) accepted += worker.send(Work{i}) ? 1 : 0;
  std::printf("sent %d work items (%d will fail)\n", accepted, failures);

  // Queued behind all the work, so it is answered by the last incarnation.
  const int processed = worker.ask<int>([](phyx::Reply<int> r) { return GetProcessed{std::move(r)}; }).get();
  worker.stop().get();  // quiesce before reading the counters
  const phyx::Stats s = rt.stats();

  std::printf("last incarnation processed %d items (expected %d)\n", processed, after_last_failure);
  std::printf("stats: handled=%llu crashed=%llu restarts=%llu status=%s\n", static_cast<unsigned long long>(s.handled),
              static_cast<unsigned long long>(s.crashed), static_cast<unsigned long long>(s.restarts),
              std::string(phyx::to_string(worker.status())).c_str());

  const auto u = [](int v) { return static_cast<std::uint64_t>(v); };
  const bool ok = accepted == kItems && failures > 0 && processed == after_last_failure &&
                  s.crashed == u(failures) && s.restarts == u(failures) &&
                  s.handled == u(kItems - failures + 1) /* + the GetProcessed ask */ &&
                  s.sent == s.accepted + s.refused_full + s.refused_not_running &&
                  s.accepted == s.handled + s.crashed + s.dropped_oldest + s.discarded + s.queued;
  std::printf("%s\n", ok ? "OK" : "WRONG");
  return ok ? 0 : 1;
}
