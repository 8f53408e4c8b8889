// skynet: a tree of 10-way spawns down to 1,000,000 leaves (1,111,111 processes); each
// leaf reports its number, each inner node the sum of its children (SPEC 13). Children are
// made with tools.spawn from one phyx::SharedSpec (the way to spawn many of a kind) and
// stop themselves after reporting.
#include <future>
#include <optional>
#include <variant>

#include <phyx/phyx.hpp>

#include "workloads/workload.hpp"

namespace phyx_bench {
namespace {

struct Sum {
  std::int64_t value;
};
struct SkyCtx;
using SkyRef = phyx::ProcessRef<Sum>;
struct SkyState;
struct SkyCtx {
  const phyx::SharedSpec<Sum, SkyState, SkyCtx>* kind;  // what children are spawned from
  std::optional<SkyRef> parent;         // nullopt at the root
  std::promise<std::int64_t>* result;  // the root's answer
  std::int64_t num;
  std::int64_t size;
};
struct SkyState {
  std::int64_t sum = 0;
  int pending = 0;
};

phyx::ProcessSpec<Sum, SkyState, SkyCtx> sky_spec();

void report(const SkyCtx& ctx, std::int64_t value, phyx::Tools<Sum, SkyState, SkyCtx>& tools) {
  if (ctx.parent) {
    ctx.parent->send(Sum{value});
    tools.self().stop();
  } else {
    ctx.result->set_value(value);
  }
}

phyx::ProcessSpec<Sum, SkyState, SkyCtx> sky_spec() {
  return {
      .name = "skynet",
      .init = [](const SkyCtx&) { return SkyState{}; },
      .handle =
          [](SkyState& s, Sum& m, auto& tools) {
            const SkyCtx& ctx = tools.ctx();
            if (m.value < 0) {  // start
              if (ctx.size == 1) {
                report(ctx, ctx.num, tools);
                return;
              }
              const std::int64_t child = ctx.size / 10;
              s.pending = 10;
              for (std::int64_t i = 0; i < 10; ++i) {
                auto c = tools.spawn(*ctx.kind, SkyCtx{ctx.kind, tools.self(), nullptr, ctx.num + i * child, child});
                c.send(Sum{-1});
              }
              return;
            }
            s.sum += m.value;
            if (--s.pending == 0) report(ctx, s.sum, tools);
          },
      .max_inbox = 16,
  };
}

}  // namespace

Workload skynet_workload() {
  return {"skynet", "1,000,000 leaves: a tree of 10-way spawns that sums the leaf numbers", [](const Params& p) {
            const std::int64_t leaves = p.get("leaves", 1'000'000);
            std::promise<std::int64_t> result;
            const std::int64_t rss_before = current_rss_kib();
            std::int64_t start;
            std::int64_t sum;
            double secs;
            std::int64_t teardown_start;
            {
              phyx::Runtime rt({.workers = p.workers});
              const auto kind = phyx::share(sky_spec());
              start = now_ns();
              auto root = rt.spawn(kind, SkyCtx{&kind, std::nullopt, &result, 0, leaves});
              root.send(Sum{-1});
              sum = result.get_future().get();
              // The clock stops at the answer, as in every peer's version (CAF, Erlang, Go
              // and Tokio time from the first spawn to the root's sum); the runtime's
              // shutdown is reported beside it.
              secs = seconds_since(start);
              teardown_start = now_ns();
            }
            const double teardown_secs = seconds_since(teardown_start);
            const std::int64_t peak = peak_rss_kib() - rss_before;
            const bool ok = sum == leaves * (leaves - 1) / 2;
            return std::vector<Measurement>{
                {"skynet", secs, "s", {{"leaves", std::to_string(leaves)},
                  {"sum_ok", ok ? "1" : "0"},
                  {"shutdown_secs", std::to_string(teardown_secs)}},
                 ok},
                {"skynet-peak-rss", static_cast<double>(peak) / 1024.0, "MiB",
                 {{"leaves", std::to_string(leaves)}, {"measure", "peak RSS growth of this OS process"}}}};
          }};
}

}  // namespace phyx_bench
