// restart-storm: 10,000 processes crash and restart in a loop (issue 6). Each process gets
// `crashes` Crash messages queued at once; every one is handled by a fresh incarnation
// (the user lane survives a crash, SPEC 6.6), so each process restarts `crashes` times.
// Reports restarts per second and resident memory: after spawning, after two warm-up
// storms (which grow it: 200,000 queued messages at once, and pages the allocator keeps
// for reuse; it settles during the second), and after three more storms, which leave it
// where the warm-up left it: no memory is lost per restart.
#include <atomic>
#include <future>
#include <phyx/phyx.hpp>
#include <stdexcept>
#include <variant>
#include <vector>

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
double storm(phyx::Runtime& rt, std::vector<phyx::ProcessRef<StormMsg>>& procs,
             std::int64_t crashes, bool& ok) {
  const std::uint64_t restarts_before = rt.stats().restarts;
  const std::int64_t start = now_ns();
  std::vector<phyx::Future<int>> done;
  done.reserve(procs.size());
  for (auto& p : procs) {
    for (std::int64_t i = 0; i < crashes; ++i) ok &= p.send(Crash{});
    done.push_back(
        p.ask<int>([](phyx::Reply<int> r) { return Done{std::move(r)}; }, std::chrono::minutes(5)));
  }
  for (auto& f : done) f.get();
  const double secs = seconds_since(start);
  ok &= rt.stats().restarts - restarts_before == static_cast<std::uint64_t>(crashes) * procs.size();
  return secs;
}

}  // namespace

Workload restart_storm_workload() {
  return {
      "restart-storm",
      "10,000 processes crash and restart 20 times each, in 2 warm-up and 3 measured storms; RSS "
      "before and after",
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
        const std::int64_t rss_spawned = current_rss_kib();
        const std::int64_t warm_storms = p.get("warm_storms", 2);
        const std::int64_t storms = p.get("storms", 3);
        double warm_up = 0;
        for (std::int64_t i = 0; i < warm_storms; ++i) warm_up += storm(rt, procs, crashes, ok);
        const std::int64_t rss_start = current_rss_kib();
        double secs = 0;
        for (std::int64_t i = 0; i < storms; ++i) secs += storm(rt, procs, crashes, ok);
        const std::int64_t rss_end = current_rss_kib();
        const double restarts = static_cast<double>(n * crashes * storms);
        const double per_restart_bytes =
            static_cast<double>(rss_end - rss_start) * 1024.0 / restarts;
        return std::vector<Measurement>{{"restart-storm",
                                         restarts / secs,
                                         "restarts/s",
                                         {{"processes", std::to_string(n)},
                                          {"restarts_per_storm", std::to_string(n * crashes)},
                                          {"secs_warm_up", std::to_string(warm_up)},
                                          {"storms", std::to_string(storms)},
                                          {"secs", std::to_string(secs)},
                                          {"rss_spawned_kib", std::to_string(rss_spawned)},
                                          {"rss_start_kib", std::to_string(rss_start)},
                                          {"rss_end_kib", std::to_string(rss_end)},
                                          {"bytes_per_restart", std::to_string(per_restart_bytes)}},
                                         ok}};
      }};
}

}  // namespace phyx_bench
