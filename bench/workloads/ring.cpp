// ring / ring-multi: processes in a ring pass tokens around (SPEC 13; anchors: CAF and
// Erlang rings). ring: 1,000 processes, 1 token, 10,000,000 hops. ring-multi: 1,000
// processes, 100 tokens, 40,000,000 hops in all. The run ends when the last token stops.
#include <atomic>
#include <future>
#include <optional>
#include <vector>

#include <phyx/phyx.hpp>

#include "workloads/workload.hpp"

namespace phyx_bench {
namespace {

struct Token {
  std::int64_t hops_left = 0;
  std::optional<phyx::ProcessRef<Token>> next;  // set once to link the ring
};
struct Node {
  std::optional<phyx::ProcessRef<Token>> next;
};
struct Ctx {
  std::atomic<std::int64_t>* tokens_left = nullptr;
  std::promise<void>* done = nullptr;
};

std::vector<Measurement> run_ring(const Params& p, const char* name, std::int64_t default_tokens,
                                  std::int64_t default_hops) {
  const std::int64_t actors = p.get("actors", 1000);
  const std::int64_t tokens = p.get("tokens", default_tokens);
  const std::int64_t hops = p.get("hops", default_hops) / tokens * tokens;
  std::promise<void> done;
  std::atomic<std::int64_t> tokens_left{tokens};
  std::int64_t start;
  {
    phyx::Runtime rt({.workers = p.workers});
    phyx::ProcessSpec<Token, Node, Ctx> spec{
        .name = "ring-node",
        .init = [](const Ctx&) { return Node{}; },
        .handle =
            [](Node& node, Token& t, auto& tools) {
              if (t.next) {
                node.next = std::move(t.next);
                return;
              }
              if (t.hops_left == 0) {
                // acq_rel: the last token to finish ends the run (pairs with the other decrements)
                if (tools.ctx().tokens_left->fetch_sub(1, std::memory_order_acq_rel) == 1) {
                  tools.ctx().done->set_value();
                }
                return;
              }
              node.next->send(Token{t.hops_left - 1, std::nullopt});
            },
        .max_inbox = 1024,
    };
    std::vector<phyx::ProcessRef<Token>> ring;
    for (std::int64_t i = 0; i < actors; ++i) ring.push_back(rt.spawn(spec, Ctx{&tokens_left, &done}));
    for (std::int64_t i = 0; i < actors; ++i) ring[i].send(Token{0, ring[(i + 1) % actors]});
    start = now_ns();
    for (std::int64_t t = 0; t < tokens; ++t) ring[(t * actors / tokens) % actors].send(Token{hops / tokens, std::nullopt});
    done.get_future().wait();
  }
  const double secs = seconds_since(start);
  return {{name, static_cast<double>(hops) / secs, "hops/s",
           {{"actors", std::to_string(actors)},
            {"tokens", std::to_string(tokens)},
            {"hops", std::to_string(hops)},
            {"secs", std::to_string(secs)}}}};
}

}  // namespace

Workload ring_workload() {
  return {"ring", "1,000 processes in a ring, 1 token, 10,000,000 hops",
          [](const Params& p) { return run_ring(p, "ring", 1, 10'000'000); }};
}

Workload ring_multi_workload() {
  return {"ring-multi", "1,000 processes, 100 tokens, 40,000,000 hops",
          [](const Params& p) { return run_ring(p, "ring-multi", 100, 40'000'000); }};
}

}  // namespace phyx_bench
