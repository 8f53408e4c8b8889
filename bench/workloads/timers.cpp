// timers: schedule N messages with deadlines spread over 1 s and deliver them (SPEC 13).
// P scheduler processes each call tools.schedule for their share of the N messages, in
// batches of 1,000 (a Go to self between batches, so messages already due are delivered
// between batches), with delays drawn uniformly from 0..spread ms by a fixed LCG: the
// deadlines are scattered, not sorted. Each message carries its intended deadline: the
// runtime clock's mono_ns read just before the schedule call, plus the delay (the engine
// reads the clock after us, so its own deadline is never earlier). When a message is
// handled, its lateness is now - intended deadline; a negative one fired early and fails
// the run. timers/s = N / (first schedule call .. last delivery): insert + fire + deliver.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <future>
#include <string>
#include <variant>
#include <vector>

#include <phyx/phyx.hpp>

#include "workloads/workload.hpp"

namespace phyx_bench {
namespace {

struct Go {};  // schedule the next batch
struct Due {
  std::int64_t deadline_ns;  // intended: mono_ns at scheduling + the delay
};
using SchedulerMsg = std::variant<Go, Due>;

/// What one scheduler process hands back once its last message is delivered.
struct SchedulerReport {
  std::vector<std::int64_t> lateness_ns;
  std::int64_t first_schedule_ns = 0;
  std::int64_t last_schedule_ns = 0;  // when this process's last schedule call returned
  std::int64_t last_delivery_ns = 0;
  std::int64_t early = 0;  // delivered before the intended deadline: must stay 0
};
struct SchedulerState {
  SchedulerReport report;
  std::int64_t scheduled = 0;
  std::uint64_t lcg = 0;  // the delays' pseudo-random sequence
};
struct SchedulerCtx {
  std::int64_t timers = 0;     // this process's share of N
  std::int64_t spread_ms = 0;  // delays are uniform over 0..spread_ms
  std::int64_t batch = 0;      // schedule calls per Go
  std::uint64_t seed = 0;
  std::promise<SchedulerReport>* done = nullptr;
};

void deliver(SchedulerState& s, const Due& due, const SchedulerCtx& ctx, std::int64_t now_ns) {
  SchedulerReport& r = s.report;
  const std::int64_t lateness = now_ns - due.deadline_ns;
  if (lateness < 0) ++r.early;
  r.lateness_ns.push_back(lateness);
  if (static_cast<std::int64_t>(r.lateness_ns.size()) == ctx.timers) {
    r.last_delivery_ns = now_ns;
    ctx.done->set_value(std::move(r));
  }
}

phyx::ProcessSpec<SchedulerMsg, SchedulerState, SchedulerCtx> scheduler_spec(std::int64_t timers) {
  return {
      .name = "scheduler",
      .init =
          [](const SchedulerCtx& ctx) {
            SchedulerState s{.lcg = ctx.seed};
            s.report.lateness_ns.reserve(static_cast<std::size_t>(ctx.timers));
            return s;
          },
      .handle =
          [](SchedulerState& s, SchedulerMsg& m, auto& tools) {
            const SchedulerCtx& ctx = tools.ctx();
            if (auto* due = std::get_if<Due>(&m)) {
              deliver(s, *due, ctx, tools.now().mono_ns);
              return;
            }
            // A batch, then a Go to self: the messages already due are delivered between
            // batches instead of waiting behind the whole share.
            if (s.scheduled == 0) s.report.first_schedule_ns = tools.now().mono_ns;
            const std::int64_t end = std::min(ctx.timers, s.scheduled + ctx.batch);
            for (; s.scheduled < end; ++s.scheduled) {
              s.lcg = s.lcg * 6364136223846793005ULL + 1442695040888963407ULL;
              const auto after_ms =
                  static_cast<std::int64_t>((s.lcg >> 33) % static_cast<std::uint64_t>(ctx.spread_ms + 1));
              const std::int64_t deadline_ns = tools.now().mono_ns + after_ms * 1'000'000;
              tools.schedule(std::chrono::milliseconds(after_ms), SchedulerMsg{Due{deadline_ns}});
            }
            if (s.scheduled < ctx.timers) {
              tools.self().send(Go{});
            } else {
              s.report.last_schedule_ns = tools.now().mono_ns;
            }
          },
      // Every message of this process may be due at once, plus one Go: nothing may be refused.
      .max_inbox = static_cast<std::size_t>(timers) + 2,
  };
}

/// Nearest-rank percentile of sorted values, in microseconds.
double percentile_us(const std::vector<std::int64_t>& sorted_ns, double fraction) {
  if (sorted_ns.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(sorted_ns.size())));
  return static_cast<double>(sorted_ns[std::clamp<std::size_t>(rank, 1, sorted_ns.size()) - 1]) / 1e3;
}

std::string fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

}  // namespace

Workload timers_workload() {
  return {"timers", "schedule 1,000,000 messages over 1 s of deadlines and deliver them", [](const Params& p) {
            const std::int64_t n = std::max<std::int64_t>(p.get("n", 1'000'000), 1);
            const std::int64_t processes = std::clamp<std::int64_t>(p.get("processes", 10), 1, n);
            const std::int64_t spread_ms = std::max<std::int64_t>(p.get("ms", 1000), 0);
            const std::int64_t batch = std::max<std::int64_t>(p.get("batch", 1000), 1);
            // Generous: the last deadline is at spread_ms; a run this late is broken, not slow.
            const auto wait_bound = std::chrono::milliseconds(spread_ms) + std::chrono::seconds(30);

            std::vector<std::promise<SchedulerReport>> done(static_cast<std::size_t>(processes));
            std::vector<SchedulerReport> reports;
            bool all_delivered = true;
            phyx::Stats stats;
            {
              phyx::Runtime rt({.workers = p.workers});
              std::vector<phyx::ProcessRef<SchedulerMsg>> schedulers;
              for (std::int64_t i = 0; i < processes; ++i) {
                const std::int64_t share = n / processes + (i < n % processes ? 1 : 0);
                schedulers.push_back(rt.spawn(scheduler_spec(share),
                                              SchedulerCtx{share, spread_ms, batch, static_cast<std::uint64_t>(i + 1),
                                                           &done[static_cast<std::size_t>(i)]}));
              }
              const auto give_up_at = std::chrono::steady_clock::now() + wait_bound;
              for (auto& s : schedulers) s.send(Go{});
              for (auto& d : done) {
                auto f = d.get_future();
                if (f.wait_until(give_up_at) != std::future_status::ready) {
                  all_delivered = false;
                  break;
                }
                reports.push_back(f.get());
              }
              stats = rt.stats();
            }
            if (!all_delivered) {
              return std::vector<Measurement>{
                  {"timers", 0, "timers/s", {{"n", std::to_string(n)}, {"error", "not all delivered in time"}}, false}};
            }

            std::vector<std::int64_t> lateness_ns;
            lateness_ns.reserve(static_cast<std::size_t>(n));
            std::int64_t first_schedule_ns = reports.front().first_schedule_ns;
            std::int64_t last_schedule_ns = reports.front().last_schedule_ns;
            std::int64_t last_delivery_ns = reports.front().last_delivery_ns;
            std::int64_t early = 0;
            for (const auto& r : reports) {
              lateness_ns.insert(lateness_ns.end(), r.lateness_ns.begin(), r.lateness_ns.end());
              first_schedule_ns = std::min(first_schedule_ns, r.first_schedule_ns);
              last_schedule_ns = std::max(last_schedule_ns, r.last_schedule_ns);
              last_delivery_ns = std::max(last_delivery_ns, r.last_delivery_ns);
              early += r.early;
            }
            std::sort(lateness_ns.begin(), lateness_ns.end());
            const double secs = static_cast<double>(last_delivery_ns - first_schedule_ns) / 1e9;
            // The scheduling phase alone (every schedule call of every process), for context.
            const double insert_secs = static_cast<double>(last_schedule_ns - first_schedule_ns) / 1e9;
            const bool ok = early == 0 && static_cast<std::int64_t>(lateness_ns.size()) == n &&
                            stats.timers_fired == static_cast<std::uint64_t>(n);
            return std::vector<Measurement>{{"timers",
                                             static_cast<double>(n) / secs,
                                             "timers/s",
                                             {{"n", std::to_string(n)},
                                              {"processes", std::to_string(processes)},
                                              {"spread_ms", std::to_string(spread_ms)},
                                              {"batch", std::to_string(batch)},
                                              {"secs", std::to_string(secs)},
                                              {"insert_secs", std::to_string(insert_secs)},
                                              {"lateness_p50_us", fixed(percentile_us(lateness_ns, 0.50), 1)},
                                              {"lateness_p99_us", fixed(percentile_us(lateness_ns, 0.99), 1)},
                                              {"lateness_max_us", fixed(percentile_us(lateness_ns, 1.0), 1)},
                                              {"early", std::to_string(early)},
                                              {"timers_fired", std::to_string(stats.timers_fired)}},
                                             ok}};
          }};
}

}  // namespace phyx_bench
