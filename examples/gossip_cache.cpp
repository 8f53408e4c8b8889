// gossip_cache.cpp: the seed's "The Full Power: Distributed System Simulation".
//
// Three cache nodes, each an isolated process with its own map. They learn about
// each other at run time: ConnectPeer carries a ProcessRef<NodeMsg> in a message,
// and a node keeps the refs of its peers in its state. Writes spread two ways:
//   - push: a Set is sent at once as Gossip to every connected peer;
//   - anti-entropy: every kGossipInterval each node sends everything it has to
//     every peer (tools.schedule re-arms the round), so a write that no peer saw
//     still spreads. node3 writes "config:region" before it has any peer to show it.
// A node accepts a Gossip when it lacks the key or the remote version is newer
// (the seed's rule), and emits cache:gossip:accepted.
//
// To know when a node has everything, main() asks AwaitKeys{n}: the node keeps the
// Reply and answers once it holds n keys. Then every node is read for every key.
//
// Run: example_gossip_cache [--deterministic]
// Exit status 0 when the cache converged: every node returns every key's value.
#include <phyx/phyx.hpp>

#include "example_options.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

using namespace std::chrono_literals;
// The seed gossips every 5 s; 500 ms keeps the threaded run short.
constexpr auto kGossipInterval = 500ms;

// NodeMsg refers to itself (a message carries a ProcessRef<NodeMsg>), so it is a
// struct deriving from the variant, declared first and defined after its members.
struct NodeMsg;
using NodeRef = phyx::ProcessRef<NodeMsg>;

struct ConnectPeer {
  std::string peer_id;
  NodeRef peer;
};
struct Set {
  std::string key;
  std::string value;
  phyx::Reply<bool> reply;
};
struct Get {
  std::string key;
  phyx::Reply<std::optional<std::string>> reply;
};
struct Gossip {
  std::string key;
  std::string value;
  std::uint64_t version;
  std::string node_id;  // where the value was written
};
struct PeriodicGossip {};
struct AwaitKeys {
  std::size_t count;
  phyx::Reply<std::size_t> reply;
};
struct NodeMsg : std::variant<ConnectPeer, Set, Get, Gossip, PeriodicGossip, AwaitKeys> {
  using variant::variant;
};

struct CacheEntry {
  std::string value;
  std::uint64_t version;
  std::string node_id;
};
struct NodeState {
  std::string node_id;
  std::map<std::string, CacheEntry> data;
  std::uint64_t version = 0;
  std::map<std::string, NodeRef> peers;  // peer id -> ref
  std::optional<std::int64_t> last_gossip_ms;
  std::vector<AwaitKeys> waiters;
};
struct NodeCtx {
  std::string node_id;
};

namespace {

void answer_waiters(NodeState& state) {
  std::erase_if(state.waiters, [&](AwaitKeys& w) {
    if (state.data.size() < w.count) return false;
    w.reply(state.data.size());
    return true;
  });
}

void send_to_peers(const NodeState& state, const std::string& key, const CacheEntry& entry) {
  for (const auto& [peer_id, peer] : state.peers) peer.send(Gossip{key, entry.value, entry.version, entry.node_id});
}

template <class Tools>
void handle_node(NodeState& state, NodeMsg& msg, Tools& tools) {
  if (auto* connect = std::get_if<ConnectPeer>(&msg)) {
    state.peers.insert_or_assign(connect->peer_id, connect->peer);
  } else if (auto* set = std::get_if<Set>(&msg)) {
    const CacheEntry& entry = state.data[set->key] = CacheEntry{set->value, ++state.version, state.node_id};
    send_to_peers(state, set->key, entry);  // push to whoever is connected now
    set->reply(true);
    answer_waiters(state);
  } else if (auto* get = std::get_if<Get>(&msg)) {
    auto it = state.data.find(get->key);
    get->reply(it != state.data.end() ? std::optional(it->second.value) : std::nullopt);
  // tour:begin gossip (README.md shows these lines)
  } else if (auto* gossip = std::get_if<Gossip>(&msg)) {
    auto it = state.data.find(gossip->key);
    if (it == state.data.end() || gossip->version > it->second.version) {
      state.data.insert_or_assign(gossip->key, CacheEntry{gossip->value, gossip->version, gossip->node_id});
      tools.emit("cache:gossip:accepted", {{"node_id", state.node_id},
                                           {"key", gossip->key},
                                           {"from_node", gossip->node_id},
                                           {"version", static_cast<std::int64_t>(gossip->version)}});
      answer_waiters(state);
    }
  } else if (std::holds_alternative<PeriodicGossip>(msg)) {
    // One round chain per node: an extra PeriodicGossip inside the interval is ignored.
    const std::int64_t now = tools.now().mono_ms;
    if (state.last_gossip_ms && now - *state.last_gossip_ms < kGossipInterval.count()) return;
    for (const auto& [key, entry] : state.data) send_to_peers(state, key, entry);
    tools.emit("cache:gossip:round", {{"keys", static_cast<std::int64_t>(state.data.size())}});
    state.last_gossip_ms = now;
    tools.schedule(kGossipInterval, PeriodicGossip{});  // the next round
  // tour:end gossip
  } else {
    state.waiters.push_back(std::move(std::get<AwaitKeys>(msg)));  // answered later
    answer_waiters(state);
  }
}

NodeRef create_cache_node(phyx::Runtime& rt, const std::string& node_id) {
  return rt.spawn(
      phyx::ProcessSpec<NodeMsg, NodeState, NodeCtx>{
          .name = "cache-" + node_id,
          .init = [](const NodeCtx& ctx) { return NodeState{.node_id = ctx.node_id}; },
          .handle = [](NodeState& state, NodeMsg& msg, auto& tools) { handle_node(state, msg, tools); },
      },
      NodeCtx{node_id});
}

bool set(const NodeRef& node, std::string key, std::string value) {
  return node.ask<bool>([&](phyx::Reply<bool> r) { return Set{std::move(key), std::move(value), std::move(r)}; }).get();
}
std::optional<std::string> get(const NodeRef& node, std::string key) {
  using R = std::optional<std::string>;
  return node.ask<R>([&](phyx::Reply<R> r) { return Get{std::move(key), std::move(r)}; }).get();
}

}  // namespace

int main(int argc, char** argv) {
  const bool deterministic = has_flag(argc, argv, "--deterministic");

  std::mutex sink_mutex;
  int rounds = 0;
  auto sink = [&](const phyx::Event& e) {
    if (e.type == "cache:gossip:accepted") {
      std::printf("  %s accepted %s (v%lld) from %s\n", std::string(*e.get_string("node_id")).c_str(),
                  std::string(*e.get_string("key")).c_str(), static_cast<long long>(*e.get_int("version")),
                  std::string(*e.get_string("from_node")).c_str());
    } else if (e.type == "cache:gossip:round") {
      std::lock_guard lock(sink_mutex);
      ++rounds;
    }
  };
  phyx::Runtime rt(make_options(deterministic, sink));

  // Create a 3-node distributed cache.
  std::map<std::string, NodeRef> nodes{
      {"node1", create_cache_node(rt, "node1")},
      {"node2", create_cache_node(rt, "node2")},
      {"node3", create_cache_node(rt, "node3")},
  };

  bool ok = true;
  // A write before anyone is connected: only anti-entropy can spread it.
  ok &= set(nodes["node3"], "config:region", "eu-west");

  // Connect the peers: refs travel in messages.
  for (const auto& [id, node] : nodes)
    for (const auto& [peer_id, peer] : nodes)
      if (peer_id != id) node.send(ConnectPeer{peer_id, peer});

  // Start periodic gossip.
  for (const auto& [id, node] : nodes) node.send(PeriodicGossip{});

  // Write to different nodes.
  ok &= set(nodes["node1"], "user:alice", R"({"name":"Alice"})");
  ok &= set(nodes["node2"], "user:bob", R"({"name":"Bob"})");
  ok &= set(nodes["node3"], "user:charlie", R"({"name":"Charlie"})");

  // Wait for gossip to propagate: every node must hold all 4 keys. In deterministic
  // mode, let two more gossip rounds happen on the manual clock first.
  const std::map<std::string, std::string> expected{{"config:region", "eu-west"},
                                                    {"user:alice", R"({"name":"Alice"})"},
                                                    {"user:bob", R"({"name":"Bob"})"},
                                                    {"user:charlie", R"({"name":"Charlie"})"}};
  std::vector<phyx::Future<std::size_t>> synced;
  for (const auto& [id, node] : nodes)
    synced.push_back(node.ask<std::size_t>([&](phyx::Reply<std::size_t> r) { return AwaitKeys{expected.size(), std::move(r)}; }));
  if (deterministic) rt.advance_by(2 * kGossipInterval);
  for (auto& f : synced) ok &= f.get() == expected.size();

  // Read from any node: should have all data.
  std::printf("Distributed cache results:\n");
  std::printf("Alice from node2: %s\n", get(nodes["node2"], "user:alice").value_or("null").c_str());
  std::printf("Bob from node3: %s\n", get(nodes["node3"], "user:bob").value_or("null").c_str());
  std::printf("Charlie from node1: %s\n", get(nodes["node1"], "user:charlie").value_or("null").c_str());
  std::printf("Region from node1: %s\n", get(nodes["node1"], "config:region").value_or("null").c_str());

  // The real check: every node returns every key.
  int converged = 0;
  for (const auto& [id, node] : nodes)
    for (const auto& [key, value] : expected) converged += get(node, key) == value ? 1 : 0;
  const int want = static_cast<int>(nodes.size() * expected.size());
  ok &= converged == want;

  int seen_rounds;
  {
    std::lock_guard lock(sink_mutex);
    seen_rounds = rounds;
  }
  // Deterministic: rounds at t = 0, 500 and 1000 ms on each of the 3 nodes.
  ok &= deterministic ? seen_rounds == 9 : seen_rounds >= 3;
  std::printf("%d/%d (node, key) reads agree after %d gossip rounds: %s\n", converged, want, seen_rounds,
              ok ? "converged, OK" : "WRONG");
  return ok ? 0 : 1;
}
