// ping-pong: 2 processes bounce 1 message N times (SPEC 13; CAF/Erlang anchors: 10M).
#include <future>
#include <optional>

#include <phyx/phyx.hpp>

#include "workloads/workload.hpp"

namespace phyx_bench {
namespace {

struct Ball;
struct Player {
  std::optional<phyx::ProcessRef<Ball>> peer;
};
struct Ball {
  std::int64_t remaining = 0;
  std::optional<phyx::ProcessRef<Ball>> connect;  // set once to introduce the peer
};
struct Ctx {
  std::promise<void>* done = nullptr;
};

phyx::ProcessSpec<Ball, Player, Ctx> player(std::string name) {
  return {
      .name = std::move(name),
      .init = [](const Ctx&) { return Player{}; },
      .handle =
          [](Player& me, Ball& ball, auto& tools) {
            if (ball.connect) {
              me.peer = std::move(ball.connect);
              return;
            }
            if (ball.remaining == 0) {
              tools.ctx().done->set_value();
              return;
            }
            me.peer->send(Ball{ball.remaining - 1, std::nullopt});
          },
      .max_inbox = 16,
  };
}

}  // namespace

Workload ping_pong_workload() {
  return {"ping-pong", "2 processes bounce 1 message N times", [](const Params& p) {
            const std::int64_t n = p.get("n", 10'000'000);
            std::promise<void> done;
            std::int64_t start;
            {
              phyx::Runtime rt({.workers = p.workers});
              auto a = rt.spawn(player("ping"), Ctx{&done});
              auto b = rt.spawn(player("pong"), Ctx{&done});
              a.send(Ball{0, b});
              b.send(Ball{0, a});
              start = now_ns();
              a.send(Ball{n, std::nullopt});
              done.get_future().wait();
            }
            const double secs = seconds_since(start);
            return std::vector<Measurement>{{"ping-pong", static_cast<double>(n) / secs, "msg/s",
                                             {{"n", std::to_string(n)}, {"secs", std::to_string(secs)}}}};
          }};
}

}  // namespace phyx_bench
