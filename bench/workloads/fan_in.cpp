// fan-in: P producer processes send N messages in all to one counter (SPEC 13).
// The counter has max_inbox 100,000 with `reject`; a producer sends in batches of 1,000,
// and when a send is refused it yields (a message to itself) and sends that message again
// on its next turn. So every message is counted exactly once and memory stays bounded —
// the peak RSS growth is part of the result.
#include <algorithm>
#include <future>
#include <variant>
#include <vector>

#include <phyx/phyx.hpp>

#include "workloads/workload.hpp"

namespace phyx_bench {
namespace {

struct CounterCtx {
  std::int64_t expected;
  std::promise<void>* done;
};

struct More {};
struct ProducerCtx {
  phyx::ProcessRef<std::int64_t> target;
  std::int64_t to_send;
};

std::vector<Measurement> run_fan_in(const Params& p, std::int64_t producers) {
  const std::int64_t total = p.get("n", 10'000'000);
  const std::int64_t per = total / producers;
  std::promise<void> done;
  std::int64_t start;
  const std::int64_t rss_before = current_rss_kib();
  std::int64_t refused = 0;
  {
    phyx::Runtime rt({.workers = p.workers});
    auto counter = rt.spawn(
        phyx::ProcessSpec<std::int64_t, std::int64_t, CounterCtx>{
            .name = "counter",
            .init = [](const CounterCtx&) { return std::int64_t{0}; },
            .handle =
                [](std::int64_t& count, std::int64_t& m, auto& tools) {
                  count += m;
                  if (count == tools.ctx().expected) tools.ctx().done->set_value();
                },
            .max_inbox = 100'000,
        },
        CounterCtx{per * producers, &done});
    phyx::ProcessSpec<More, std::int64_t, ProducerCtx> producer{
        .name = "producer",
        .init = [](const ProducerCtx& c) { return c.to_send; },
        .handle =
            [](std::int64_t& left, More&, auto& tools) {
              const std::int64_t batch = std::min<std::int64_t>(1000, left);
              for (std::int64_t i = 0; i < batch; ++i) {
                if (!tools.ctx().target.send(1)) break;  // full: yield, resend later
                --left;
              }
              if (left > 0) tools.self().send(More{});
            },
    };
    std::vector<phyx::ProcessRef<More>> ps;
    for (std::int64_t i = 0; i < producers; ++i) ps.push_back(rt.spawn(producer, ProducerCtx{counter, per}));
    start = now_ns();
    for (auto& x : ps) x.send(More{});
    done.get_future().wait();
    refused = static_cast<std::int64_t>(rt.stats().refused_full);
  }
  const double secs = seconds_since(start);
  const std::int64_t rss_delta = peak_rss_kib() - rss_before;
  const std::string name = "fan-in-p" + std::to_string(producers);
  return {{name, static_cast<double>(per * producers) / secs, "msg/s",
           {{"producers", std::to_string(producers)},
            {"msgs", std::to_string(per * producers)},
            {"secs", std::to_string(secs)},
            {"refused_and_resent", std::to_string(refused)},
            {"peak_rss_delta_kib", std::to_string(rss_delta)}}}};
}

}  // namespace

Workload fan_in_workload() {
  return {"fan-in", "2 and 4 producer processes send 10,000,000 messages to one counter (max_inbox 100,000)",
          [](const Params& p) {
            std::vector<Measurement> out;
            const std::int64_t only = p.get("producers", 0);
            for (std::int64_t producers : {2, 4}) {
              if (only != 0 && only != producers) continue;
              auto m = run_fan_in(p, producers);
              out.insert(out.end(), m.begin(), m.end());
            }
            return out;
          }};
}

}  // namespace phyx_bench
