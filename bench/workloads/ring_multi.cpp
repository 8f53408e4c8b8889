// ring-multi: 1,000 processes in a ring, 100 tokens circulating, 40,000,000 hops in all
// (SPEC 13; anchors: CAF / Erlang ring with tokens=100).
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

}  // namespace

Workload ring_multi_workload() {
  return {"ring-multi", "1,000 processes in a ring, 100 tokens, 40,000,000 hops", [](const Params& p) {
            const std::int64_t actors = p.get("actors", 1000);
            const std::int64_t tokens = p.get("tokens", 100);
            const std::int64_t hops = p.get("hops", 40'000'000);
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
                          // the last token to finish ends the run
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
              for (std::int64_t t = 0; t < tokens; ++t) {
                ring[(t * actors / tokens) % actors].send(Token{hops / tokens, std::nullopt});
              }
              done.get_future().wait();
            }
            const double secs = seconds_since(start);
            const std::int64_t total = hops / tokens * tokens;
            return std::vector<Measurement>{{"ring-multi", static_cast<double>(total) / secs, "hops/s",
                                             {{"actors", std::to_string(actors)},
                                              {"tokens", std::to_string(tokens)},
                                              {"hops", std::to_string(total)},
                                              {"secs", std::to_string(secs)}}}};
          }};
}

}  // namespace phyx_bench
