// restart-storm: 10,000 processes crash and restart in a loop (issue 6). Each process gets
// `crashes` Crash messages queued at once; every one is handled by a fresh incarnation
// (the user lane survives a crash, SPEC 6.6), so each process restarts `crashes` times.
// Reports restarts per second, and the resident memory after spawning, after one storm
// and after a second one: the two storms leave it where it was (no leak per restart).
#include <atomic>
#include <future>
#include <stdexcept>
#include <variant>
#include <vector>

#include <phyx/phyx.hpp>

#include "workloads/workload.hpp"

namespace phyx_bench {
namespace {

struct Crash {};
struct Done {
  phyx::Reply<int> reply;
};
using StormMsg = std::variant<Crash, Done>;
struct StormState {
  std::int64_t handled = 0;
};

/// One storm: queue `crashes` Crash messages and one Done to every process, wait for
/// every Done. Returns the seconds it took.
double storm(phyx::Runtime& rt, std::vector<phyx::ProcessRef<StormMsg>>& procs, std::int64_t crashes, bool& ok) {
  const std::uint64_t restarts_before = rt.stats().restarts;
  const std::int64_t start = now_ns();
  std::vector<phyx::Future<int>> done;
  done.reserve(procs.size());
  for (auto& p : procs) {
    for (std::int64_t i = 0; i < crashes; ++i) ok &= p.send(Crash{});
    done.push_back(p.ask<int>([](phyx::Reply<int> r) { return Done{std::move(r)}; }, std::chrono::minutes(5)));
  }
  for (auto& f : done) f.get();
  const double secs = seconds_since(start);
  ok &= rt.stats().restarts - restarts_before == static_cast<std::uint64_t>(crashes) * procs.size();
  return secs;
}

}  // namespace

Workload restart_storm_workload() {
  return {"restart-storm", "10,000 processes crash and restart 20 times each, twice; RSS before and after",
          [](const Params& p) {
            const std::int64_t n = p.get("processes", 10'000);
            const std::int64_t crashes = p.get("crashes", 20);
            phyx::Runtime rt({.workers = p.workers, .shutdown_timeout = std::chrono::seconds(60)});
            const auto spec = phyx::share(phyx::ProcessSpec<StormMsg, StormState>{
                .name = "stormy",
                .init = [](const phyx::Empty&) { return StormState{}; },
                .handle =
                    [](StormState& s, StormMsg& m, auto&) {
                      if (std::holds_alternative<Crash>(m)) throw std::runtime_error("storm");
                      std::get<Done>(m).reply(static_cast<int>(++s.handled));
                    },
            });
            std::vector<phyx::ProcessRef<StormMsg>> procs;
            procs.reserve(static_cast<std::size_t>(n));
            for (std::int64_t i = 0; i < n; ++i) procs.push_back(rt.spawn(spec));
            bool ok = true;
            (void)storm(rt, procs, 0, ok);  // every init has run: the processes are idle
            const std::int64_t rss_start = current_rss_kib();
            const double first = storm(rt, procs, crashes, ok);
            const std::int64_t rss_first = current_rss_kib();
            const double second = storm(rt, procs, crashes, ok);
            const std::int64_t rss_second = current_rss_kib();
            const double restarts = static_cast<double>(n * crashes);
            const double per_restart_bytes = static_cast<double>(rss_second - rss_first) * 1024.0 / restarts;
            return std::vector<Measurement>{
                {"restart-storm", 2 * restarts / (first + second), "restarts/s",
                 {{"processes", std::to_string(n)},
                  {"restarts_per_storm", std::to_string(n * crashes)},
                  {"secs_first", std::to_string(first)},
                  {"secs_second", std::to_string(second)},
                  {"rss_start_kib", std::to_string(rss_start)},
                  {"rss_after_first_kib", std::to_string(rss_first)},
                  {"rss_after_second_kib", std::to_string(rss_second)},
                  {"second_storm_bytes_per_restart", std::to_string(per_restart_bytes)}},
                 ok}};
          }};
}

}  // namespace phyx_bench
