// ask / ask-many / ask-external: request-reply against one server (SPEC 13).
//  ask:          one client process asks the server N times, one ask in flight
//                (continuation via tools.pipe: handlers never block).
//  ask-many:     C clients, N asks in all, one in flight per client.
//  ask-external: a plain thread calls ask(...).get() N times.
//  ask-coroutine: as ask, but the client is one coroutine handler that co_awaits each
//                answer in a loop (SPEC 7), beside the callback style of `ask`.
#include <future>
#include <optional>
#include <variant>
#include <vector>

#include <phyx/phyx.hpp>

#include "workloads/workload.hpp"

namespace phyx_bench {
namespace {

struct Add {
  std::int64_t x;
  phyx::Reply<std::int64_t> reply;
};
using ServerMsg = Add;

phyx::ProcessSpec<ServerMsg, int> server_spec() {
  return {
      .name = "server",
      .init = [](const phyx::Empty&) { return 0; },
      .handle = [](int&, ServerMsg& m, auto&) { m.reply(m.x + 1); },
      .max_inbox = 1 << 20,
  };
}

struct Go {};
struct Answer {
  phyx::Result<std::int64_t> result;
};
using ClientMsg = std::variant<Go, Answer>;
struct ClientState {
  std::int64_t left;
  std::int64_t checksum = 0;
};
struct ClientCtx {
  phyx::ProcessRef<ServerMsg> server;
  std::int64_t asks;
  std::promise<std::int64_t>* done;
};

void ask_next(ClientState& s, phyx::Tools<ClientMsg, ClientState, ClientCtx>& tools) {
  auto f = tools.ctx().server.template ask<std::int64_t>(
      [x = s.left](phyx::Reply<std::int64_t> r) { return Add{x, std::move(r)}; });
  tools.pipe(std::move(f), [](phyx::Result<std::int64_t> r) { return ClientMsg{Answer{std::move(r)}}; });
}

phyx::ProcessSpec<ClientMsg, ClientState, ClientCtx> client_spec() {
  return {
      .name = "client",
      .init = [](const ClientCtx& c) { return ClientState{c.asks}; },
      .handle =
          [](ClientState& s, ClientMsg& m, auto& tools) {
            if (auto* a = std::get_if<Answer>(&m)) {
              s.checksum += a->result.value();
              if (--s.left == 0) {
                tools.ctx().done->set_value(s.checksum);
                return;
              }
            }
            ask_next(s, tools);
          },
  };
}

std::vector<Measurement> run_clients(const Params& p, const char* name, std::int64_t total, std::int64_t clients) {
  const std::int64_t per = total / clients;
  const bool plain = p.get("plain", 0) != 0;
  std::vector<std::promise<std::int64_t>> done(clients);
  std::int64_t start;
  bool ok = true;
  {
    phyx::Runtime rt({.workers = p.workers});
    auto server = rt.spawn(server_spec());
    std::vector<phyx::ProcessRef<ClientMsg>> cs;
    const auto kind = phyx::share(client_spec());
    for (std::int64_t i = 0; i < clients; ++i) {
      const ClientCtx ctx{server, per, &done[i]};
      cs.push_back(plain ? rt.spawn(client_spec(), ctx) : rt.spawn(kind, ctx));
    }
    start = now_ns();
    for (auto& c : cs) c.send(Go{});
    for (auto& d : done) ok &= d.get_future().get() == per * (per + 3) / 2;  // sum of (x+1), x = per..1
  }
  const double secs = seconds_since(start);
  return {{name,
           static_cast<double>(per * clients) / secs,
           "rt/s",
           {{"round_trips", std::to_string(per * clients)},
            {"clients", std::to_string(clients)},
            {"spec", plain ? "plain" : "shared"},
            {"secs", std::to_string(secs)}},
           ok}};
}

struct CoroutineCtx {
  phyx::ProcessRef<ServerMsg> server;
  std::int64_t asks;
  std::promise<std::int64_t>* done;
};

phyx::ProcessSpec<Go, int, CoroutineCtx> coroutine_client_spec() {
  return {
      .name = "coroutine-client",
      .init = [](const CoroutineCtx&) { return 0; },
      .handle = [](int&, Go&, auto& tools) -> phyx::Task<void> {
        const CoroutineCtx& c = tools.ctx();
        std::int64_t checksum = 0;
        for (std::int64_t x = c.asks; x > 0; --x) {
          checksum += co_await c.server.template ask<std::int64_t>(
              [x](phyx::Reply<std::int64_t> r) { return Add{x, std::move(r)}; });
        }
        c.done->set_value(checksum);
      },
  };
}

}  // namespace

Workload ask_workload() {
  return {"ask", "one client process asks one server 3,000,000 times, one at a time",
          [](const Params& p) { return run_clients(p, "ask", p.get("n", 3'000'000), 1); }};
}

Workload ask_many_workload() {
  return {"ask-many", "100 clients, 3,000,000 asks in all",
          [](const Params& p) { return run_clients(p, "ask-many", p.get("n", 3'000'000), p.get("clients", 100)); }};
}

Workload ask_coroutine_workload() {
  return {"ask-coroutine", "one coroutine handler co_awaits 3,000,000 asks to one server, one at a time",
          [](const Params& p) {
            const std::int64_t n = p.get("n", 3'000'000);
            std::promise<std::int64_t> done;
            std::int64_t start;
            bool ok;
            {
              phyx::Runtime rt({.workers = p.workers});
              auto server = rt.spawn(server_spec());
              auto client = rt.spawn(coroutine_client_spec(), CoroutineCtx{server, n, &done});
              start = now_ns();
              client.send(Go{});
              ok = done.get_future().get() == n * (n + 3) / 2;  // sum of (x+1), x = n..1
            }
            const double secs = seconds_since(start);
            return std::vector<Measurement>{{"ask-coroutine", static_cast<double>(n) / secs, "rt/s",
                                             {{"round_trips", std::to_string(n)}, {"secs", std::to_string(secs)}},
                                             ok}};
          }};
}

Workload ask_external_workload() {
  return {"ask-external", "a plain thread calls ask(...).get() 100,000 times", [](const Params& p) {
            const std::int64_t n = p.get("n", 100'000);
            std::int64_t start;
            std::int64_t checksum = 0;
            {
              phyx::Runtime rt({.workers = p.workers});
              auto server = rt.spawn(server_spec());
              start = now_ns();
              for (std::int64_t i = 0; i < n; ++i) {
                checksum += server.ask<std::int64_t>([i](phyx::Reply<std::int64_t> r) { return Add{i, std::move(r)}; }).get();
              }
            }
            const double secs = seconds_since(start);
            return std::vector<Measurement>{{"ask-external", static_cast<double>(n) / secs, "rt/s",
                                             {{"round_trips", std::to_string(n)}, {"secs", std::to_string(secs)}},
                                             checksum == n * (n + 1) / 2}};
          }};
}

}  // namespace phyx_bench
