// ring: N processes in a ring, 1 token, H hops (SPEC 13; anchors: 1,000 / 10M).
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
  std::promise<void>* done = nullptr;
};

}  // namespace

Workload ring_workload() {
  return {"ring", "1,000 processes in a ring, 1 token, 10,000,000 hops", [](const Params& p) {
            const std::int64_t actors = p.get("actors", 1000);
            const std::int64_t hops = p.get("hops", 10'000'000);
            std::promise<void> done;
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
                          tools.ctx().done->set_value();
                          return;
                        }
                        node.next->send(Token{t.hops_left - 1, std::nullopt});
                      },
                  .max_inbox = 16,
              };
              std::vector<phyx::ProcessRef<Token>> ring;
              for (std::int64_t i = 0; i < actors; ++i) ring.push_back(rt.spawn(spec, Ctx{&done}));
              for (std::int64_t i = 0; i < actors; ++i) ring[i].send(Token{0, ring[(i + 1) % actors]});
              start = now_ns();
              ring[0].send(Token{hops, std::nullopt});
              done.get_future().wait();
            }
            const double secs = seconds_since(start);
            return std::vector<Measurement>{{"ring", static_cast<double>(hops) / secs, "hops/s",
                                             {{"actors", std::to_string(actors)},
                                              {"hops", std::to_string(hops)},
                                              {"secs", std::to_string(secs)}}}};
          }};
}

}  // namespace phyx_bench
