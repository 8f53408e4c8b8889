// connection_pool.cpp: the seed's "Advanced: Stateful Services".
//
// A database connection pool as a process. Its state (the connections, which ones
// are in use, the limit) is touched only by its own handler, one message at a time,
// so any number of clients on any number of threads can acquire and release
// without a lock and without ever being handed the same connection:
//   Acquire (an ask): reply with a free connection, or a new one while under the
//     limit, or std::nullopt when the pool is exhausted;
//   Release (a plain send): the connection is free again.
//
// Run: example_connection_pool [--deterministic]
// Exit status 0 when concurrent acquires get distinct connections, the pool reports
// exhaustion at its limit, released connections are reused, and (on threads) three
// client threads never hold the same connection at the same time.
#include <phyx/phyx.hpp>

#include "example_options.hpp"

#include <atomic>
#include <cstddef>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

constexpr std::size_t kMaxConnections = 3;

struct Connection {
  std::string id;
  bool ready = true;
};
struct PoolStats {
  std::size_t created = 0;
  std::size_t in_use = 0;
};

struct Acquire {
  phyx::Reply<std::optional<Connection>> reply;
};
struct Release {
  std::string connection_id;
};
struct GetStats {
  phyx::Reply<PoolStats> reply;
};
using PoolMsg = std::variant<Acquire, Release, GetStats>;

struct PoolState {
  std::vector<Connection> connections;
  std::set<std::string> in_use;
  int next_id = 1;
};
struct PoolCtx {
  std::size_t max_connections = kMaxConnections;
};

namespace {

// tour:begin pool (README.md shows these lines)
void handle_pool(PoolState& state, PoolMsg& msg, const PoolCtx& ctx) {
  if (auto* acquire = std::get_if<Acquire>(&msg)) {
    // Find an available connection...
    for (const Connection& conn : state.connections) {
      if (!state.in_use.contains(conn.id)) {
        state.in_use.insert(conn.id);
        acquire->reply(conn);
        return;
      }
    }
    // ...or create a new one while under the limit...
    if (state.connections.size() < ctx.max_connections) {
      Connection conn{"conn-" + std::to_string(state.next_id++)};
      state.connections.push_back(conn);
      state.in_use.insert(conn.id);
      acquire->reply(conn);
      return;
    }
    acquire->reply(std::nullopt);  // ...or report that the pool is exhausted.
  } else if (auto* release = std::get_if<Release>(&msg)) {
    state.in_use.erase(release->connection_id);
  } else {
// tour:end pool
    std::get<GetStats>(msg).reply(PoolStats{state.connections.size(), state.in_use.size()});
  }
}

using PoolRef = phyx::ProcessRef<PoolMsg>;
phyx::Future<std::optional<Connection>> acquire(const PoolRef& pool) {
  return pool.ask<std::optional<Connection>>([](auto reply) { return Acquire{std::move(reply)}; });
}

// Threaded mode only: a client that acquires, uses and releases a connection many
// times, checking that nobody else holds it meanwhile.
bool client(const PoolRef& pool, std::map<std::string, std::atomic<bool>>& busy, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    std::optional<Connection> conn = acquire(pool).get();
    if (!conn) return false;  // 3 clients, 3 connections: never exhausted
    auto it = busy.find(conn->id);
    if (it == busy.end() || it->second.exchange(true, std::memory_order_acq_rel)) return false;  // unknown, or held twice!
    it->second.store(false, std::memory_order_release);  // "use" it, then give it back
    pool.send(Release{conn->id});
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const bool deterministic = has_flag(argc, argv, "--deterministic");
  phyx::Runtime rt(make_options(deterministic));

  auto pool = rt.spawn(
      phyx::ProcessSpec<PoolMsg, PoolState, PoolCtx>{
          .name = "db-pool",
          .init = [](const PoolCtx&) { return PoolState{}; },
          .handle = [](PoolState& state, PoolMsg& msg, auto& tools) { handle_pool(state, msg, tools.ctx()); },
      },
      PoolCtx{kMaxConnections});

  bool ok = true;

  // 1. Three acquires in flight at once: three distinct connections.
  std::vector<phyx::Future<std::optional<Connection>>> pending;
  for (std::size_t i = 0; i < kMaxConnections; ++i) pending.push_back(acquire(pool));
  std::set<std::string> held;
  for (auto& f : pending) {
    std::optional<Connection> conn = f.get();
    if (!conn) {
      ok = false;
      continue;
    }
    std::printf("Using connection %s\n", conn->id.c_str());
    held.insert(conn->id);
  }
  ok &= held.size() == kMaxConnections;

  // 2. At the limit the pool says so instead of blocking.
  const bool exhausted = !acquire(pool).get().has_value();
  std::printf("4th acquire: %s\n", exhausted ? "pool exhausted" : "got a connection (WRONG)");
  ok &= exhausted;

  // 3. Release one: the next acquire reuses it; no new connection is created.
  const std::string released = *held.begin();
  pool.send(Release{released});
  std::optional<Connection> again = acquire(pool).get();
  std::printf("after releasing %s, acquire got %s\n", released.c_str(), again ? again->id.c_str() : "nothing");
  ok &= again && again->id == released;
  for (const std::string& id : held) pool.send(Release{id});

  // 4. On threads: three clients hammer the pool concurrently.
  if (!deterministic) {
    std::map<std::string, std::atomic<bool>> busy;
    for (const std::string& id : held) busy[id] = false;
    std::atomic<bool> clients_ok{true};
    {
      std::vector<std::jthread> clients;
      for (int c = 0; c < 3; ++c)
        clients.emplace_back([&] {
          if (!client(pool, busy, 500)) clients_ok = false;
        });
    }  // jthreads join here
    std::printf("3 client threads x 500 acquire/release: %s\n", clients_ok ? "no connection shared" : "CONFLICT");
    ok &= clients_ok.load(std::memory_order_acquire);
  }

  const PoolStats stats = pool.ask<PoolStats>([](phyx::Reply<PoolStats> r) { return GetStats{std::move(r)}; }).get();
  std::printf("pool: %zu connections created, %zu in use\n", stats.created, stats.in_use);
  ok &= stats.created == kMaxConnections && stats.in_use == 0;

  std::printf("%s\n", ok ? "OK" : "WRONG");
  return ok ? 0 : 1;
}
