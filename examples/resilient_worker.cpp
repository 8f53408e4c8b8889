// resilient_worker.cpp: the seed's "Add Supervision: Restart Policies".
//
// Supervision decides what a crash costs:
//   backoff {initial 100 ms, max 5000 ms, factor 2, jitter 10%}: the n-th restart
//     waits min(100 * 2^(n-1), 5000) ms, +/- 10%, on the timer wheel (no thread
//     sleeps; the process is `starting` meanwhile and keeps queueing messages);
//   max_restarts {5, 10 s}: a sixth crash with five restarts already in the last
//     10 s makes the supervisor give up: the process becomes `failed`.
//
// Two workers share that policy:
//   "resilient-worker" calls a flaky database that fails 50% of the time (seeded)
//     until it has failed 3 times, then works. The database is outside the worker,
//     so its recovery survives the worker's restarts (the seed kept the failure
//     count in the worker's state, which a restart resets). The worker heals after
//     3 restarts, at 100, 200 and 400 ms (+/- 10%), and handles the rest of its queue.
//   "doomed-worker" writes to a disk that is gone for good: every message crashes.
//     After restarts at 100, 200, 400, 800 and 1600 ms the supervisor gives up, and
//     what is left in its mailbox is discarded: an ask waiting there fails with
//     NoReplyError.
//
// Run: example_resilient_worker [--deterministic]      (about 3.5 s on real time)
// Exit status 0 when the restart delays follow the backoff, the first worker heals
// and handles everything but its 3 lost messages, and the second gives up after 5.
#include <phyx/phyx.hpp>

#include "example_options.hpp"

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

using namespace std::chrono_literals;
constexpr int kItems = 10;

// An external service: fails 50% of the time (seeded coin) until it has failed
// `flaky_calls` times. Used only by one process at a time, but it outlives the
// worker's incarnations, so it is shared through the worker's ctx.
class FlakyDatabase {
 public:
  FlakyDatabase(std::uint64_t seed, int flaky_calls) : rng_(seed), flaky_calls_(flaky_calls) {}
  bool query() {
    std::lock_guard lock(mutex_);
    if (failures_ < flaky_calls_ && (rng_() & 1) == 0) {
      ++failures_;
      return false;
    }
    return true;
  }
  int failures() const {
    std::lock_guard lock(mutex_);
    return failures_;
  }

 private:
  mutable std::mutex mutex_;
  std::mt19937_64 rng_;
  int flaky_calls_;
  int failures_ = 0;
};

struct RiskyWork {
  int item;
};
struct GetDone {
  phyx::Reply<int> reply;
};
using WorkerMsg = std::variant<RiskyWork, GetDone>;

struct WorkerState {
  int done = 0;  // items this incarnation finished
};
struct WorkerCtx {
  std::shared_ptr<FlakyDatabase> database;  // nullptr: the disk is gone, always fail
};

namespace {

// The seed's policy.
// tour:begin policy (README.md shows these lines)
const phyx::Supervision kPolicy{
    .type = phyx::Strategy::one_for_one,
    .backoff = phyx::Backoff{.initial = 100ms, .max = 5000ms, .factor = 2, .jitter = 10},
    .max_restarts = phyx::MaxRestarts{.count = 5, .within = 10s},
};
// tour:end policy

phyx::ProcessSpec<WorkerMsg, WorkerState, WorkerCtx> worker_spec(std::string name) {
  return {
      .name = std::move(name),
      .init = [](const WorkerCtx&) { return WorkerState{}; },
      .handle = [](WorkerState& state, WorkerMsg& msg, auto& tools) -> WorkerState {
        if (auto* work = std::get_if<RiskyWork>(&msg)) {
          const auto& db = tools.ctx().database;
          if (!db || !db->query()) throw std::runtime_error("item " + std::to_string(work->item) + " failed");
          return {state.done + 1};
        }
        std::get<GetDone>(msg).reply(state.done);
        return state;
      },
      .supervision = kPolicy,
  };
}

// What the supervisor did, per process name, from telemetry.
struct SupervisorLog {
  std::mutex mutex;
  std::map<std::string, std::vector<std::int64_t>> delays_ms;  // supervisor:restart delay_ms by attempt
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> giveup;  // {attempts, within_ms}
};

// The n-th delay must be within jitter of min(initial * factor^(n-1), max).
bool delays_follow_backoff(const std::vector<std::int64_t>& delays) {
  bool ok = true;
  for (std::size_t n = 1; n <= delays.size(); ++n) {
    const double base = std::min(100.0 * std::pow(2.0, static_cast<double>(n - 1)), 5000.0);
    const auto d = static_cast<double>(delays[n - 1]);
    const bool in_range = d >= std::floor(base * 0.9) && d <= std::ceil(base * 1.1);
    std::printf("    restart %zu waited %lld ms (%.0f +/- 10%%): %s\n", n, static_cast<long long>(delays[n - 1]), base,
                in_range ? "ok" : "OUT OF RANGE");
    ok &= in_range;
  }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  const bool deterministic = has_flag(argc, argv, "--deterministic");

  SupervisorLog log;
  auto sink = [&log](const phyx::Event& e) {
    if (e.type == "process:fail") {
      std::printf("  %.*s crashed: %s\n", static_cast<int>(e.name.size()), e.name.data(),
                  std::string(e.get_string("error").value_or("")).c_str());
    } else if (e.type == "supervisor:restart") {
      std::printf("  %.*s restart #%lld in %lld ms\n", static_cast<int>(e.name.size()), e.name.data(),
                  static_cast<long long>(*e.get_int("attempt")), static_cast<long long>(*e.get_int("delay_ms")));
      std::lock_guard lock(log.mutex);
      log.delays_ms[std::string(e.name)].push_back(*e.get_int("delay_ms"));
    } else if (e.type == "supervisor:giveup") {
      std::printf("  %.*s: supervisor gives up after %lld restarts within %lld ms\n", static_cast<int>(e.name.size()),
                  e.name.data(), static_cast<long long>(*e.get_int("attempts")),
                  static_cast<long long>(*e.get_int("within_ms")));
      std::lock_guard lock(log.mutex);
      log.giveup[std::string(e.name)] = {*e.get_int("attempts"), *e.get_int("within_ms")};
    }
  };
  phyx::Runtime rt(make_options(deterministic, sink));

  auto database = std::make_shared<FlakyDatabase>(/*seed=*/42, /*flaky_calls=*/3);
  auto resilient = rt.spawn(worker_spec("resilient-worker"), WorkerCtx{database});
  auto doomed = rt.spawn(worker_spec("doomed-worker"), WorkerCtx{nullptr});

  for (int i = 0; i < kItems; ++i) {
    resilient.send(RiskyWork{i});
    doomed.send(RiskyWork{i});
  }
  // Queued behind the work: answered once the queue is through (or never, if the
  // worker gives up first). 10 s covers the ~3.4 s of backoff on real time.
  auto resilient_done = resilient.ask<int>([](phyx::Reply<int> r) { return GetDone{std::move(r)}; }, 10s);
  auto doomed_done = doomed.ask<int>([](phyx::Reply<int> r) { return GetDone{std::move(r)}; }, 10s);

  bool ok = true;
  if (deterministic) {
    // Both workers crash on their first item, and wait out a backoff in `starting`.
    rt.run_until_idle();
    std::printf("after the first crash: resilient-worker %s, doomed-worker %s\n",
                std::string(phyx::to_string(resilient.status())).c_str(),
                std::string(phyx::to_string(doomed.status())).c_str());
    ok &= resilient.status() == phyx::Status::starting && doomed.status() == phyx::Status::starting;
    rt.advance_by(5s);  // every backoff runs on the manual clock: no real waiting
  }

  const int done = resilient_done.get();
  const int db_failures = database->failures();
  std::printf("resilient-worker: %d items done, %d lost to %d database failures, status %s\n", done, kItems - done,
              db_failures, std::string(phyx::to_string(resilient.status())).c_str());
  ok &= db_failures == 3 && done == kItems - db_failures && resilient.status() == phyx::Status::running;

  try {
    doomed_done.get();
    std::printf("doomed-worker: unexpectedly answered\n");
    ok = false;
  } catch (const phyx::NoReplyError& e) {
    std::printf("doomed-worker: ask failed with NoReplyError (%s), status %s\n", e.what(),
                std::string(phyx::to_string(doomed.status())).c_str());
  }
  ok &= doomed.status() == phyx::Status::failed;

  {
    std::lock_guard lock(log.mutex);
    std::printf("  resilient-worker backoff:\n");
    ok &= log.delays_ms["resilient-worker"].size() == 3 && delays_follow_backoff(log.delays_ms["resilient-worker"]);
    std::printf("  doomed-worker backoff:\n");
    ok &= log.delays_ms["doomed-worker"].size() == 5 && delays_follow_backoff(log.delays_ms["doomed-worker"]);
    ok &= !log.giveup.contains("resilient-worker");
    ok &= log.giveup["doomed-worker"] == std::pair<std::int64_t, std::int64_t>{5, 10000};
  }
  const phyx::Stats s = rt.stats();
  ok &= s.restarts == 8 && s.giveups == 1;
  std::printf("restarts=%llu giveups=%llu: %s\n", static_cast<unsigned long long>(s.restarts),
              static_cast<unsigned long long>(s.giveups), ok ? "OK" : "WRONG");
  return ok ? 0 : 1;
}
