// gossip: the gossip cache of examples/gossip_cache.cpp at scale (issue 10). N cache nodes
// (default 1,000) are phyx processes in a seeded random peer graph; W writes (default
// 10,000; `--writes 100000` is the size) of distinct keys start at random nodes and
// spread by push gossip until every node holds every key. Reported: the time to
// convergence, writes/s, gossip messages/s, messages per write, peak RSS.
//
//   phyx-bench --workload gossip [--nodes N] [--writes W] [--degree D] [--seed S]
//                                [--window K] [--inbox M] [--samples A]
//
// Design
// - Graph: the union of D/2 Hamiltonian cycles, the first the ring 0-1-...-(N-1)-0 (so it
//   is connected for every seed), the others random permutations (and for an odd D one
//   random perfect matching), an edge that is already there skipped: nearly D-regular (a
//   few nodes have D-2; with D near N many edges repeat and the degrees fall short, which
//   degree_min / degree_max show), the usual random expander of gossip studies. splitmix64
//   from `--seed`, so a seed names one graph and one assignment of writes to nodes.
// - Gossip: push flooding with the example's version rule. A node accepts a Gossip when it
//   lacks the key or the remote version is newer, and forwards it only then, to every peer
//   except the one it came from. So each write crosses each edge at most twice and the
//   number of gossip sends per write is exact: deg(origin) + sum over the other nodes of
//   (deg - 1) = 2E - N + 1 (6,975 for N = 1,000, D = 8, seed 1: E = 3,987, 13 edges
//   repeated). The workload checks that figure.
// - Writes are issued by the nodes in a window (closed loop, like clients with a bounded
//   number of writes outstanding). Write k is the write of key k; the seed gives each key a
//   random node. A node makes write k once it holds at least k - `--window` keys (default
//   16), and has no gossip waiting to be resent; it checks after each key it accepts and
//   after a resend. So about `window` writes are spreading at a time, about
//   window * (2E - N + 1) gossip messages at most, whatever W is. A node that lags (is not run for
//   a while) is not seen by the writers' window; its mailbox bound is what holds it (below). No
//   deadlock: when everything sent has arrived, every node holds every key below the lowest
//   unwritten one, so its owner may write it, and the acceptance that brought it there is its
//   trigger. Windows of 4 to 64 gave the same time within this machine's noise (W = 3,000); peak
//   RSS grows with the window (23 MiB at 4, 50 MiB at 64).
// - One Start message, to the writer of key 0; every other node begins when the first
//   gossip reaches it. Start to all N nodes from the main thread was tried: sent while the
//   first writes were already flooding, some nodes first ran up to 15 s later (a per-node
//   probe of the gap between two handled messages, since removed), and meanwhile their
//   mailboxes filled to the bound. With 1,000 runnable processes the workers' 256-slot
//   local rings overflow into the global queue, which a busy worker reads first only every
//   61st turn; a process waiting there can wait long (even with one Start, first-run gaps of
//   0.4-1.5 s remained). An engine matter: reported, not changed here. Before Start, Connect gives
//   every node its peers' refs and an ask to each (a barrier) makes sure all were handled.
// - Mailboxes: bounded (`--inbox`, default 65,536) with `reject`. A refused gossip send is
//   never lost: it waits in the sender's outbox and is resent at most once a millisecond:
//   after any message the node handles, or on a Retry it schedules to itself 1 ms ahead
//   for when nothing else comes. Sends refused and resent are counted (the node's own count
//   and rt.stats().refused_full). A node with gossip to resend makes no write: a full
//   mailbox slows the writers down (backpressure). Resending at once instead of after 1 ms
//   spun at 60 M refused sends/s and took the worker the full node needed. A Retry to a
//   full mailbox of its own is refused and lost, but then the node has messages to handle,
//   and each of them can resend (see after_message); a Retry due 5 ms ago is scheduled
//   again. `--inbox 1` runs (slowly) and is `ok`.
// - Convergence: each node counts the keys it holds; the one message that brings it to W
//   adds 1 to a shared counter (N atomic operations in a run). The node that makes it N
//   reads the clock and fulfils a promise. Time to convergence = from sending Start
//   (the first write follows within microseconds) to that instant. Nothing polls the nodes
//   while the clock runs.
// - Checks (outside the timed part): every node reports its counters (ask); once all are
//   quiet (every key held, nothing to resend, no write left) their send counts are final,
//   and the reports are repeated until every gossip sent was received. Then `ok` needs:
//   every node holds W keys, each accepted payload matched its key and version, sends ==
//   W * (2E - N + 1), first acceptances == W * (N - 1), `--samples` random (node, key) asks
//   return version 1, and the SPEC 8 laws hold with nothing queued (accepted == handled).
//
// Simplifications versus the example, and why
// - Keys are the integers 0..W-1, one write per key, so versions are all 1 and the rule
//   that stops re-forwarding is "lacks the key". The rule is kept as written (absent or
//   newer) but overwrites are not exercised: the example's per-node version counter cannot
//   order concurrent writes of one key from two nodes, and fixing that is not this issue.
// - A node's state is one std::vector<uint32_t> of versions indexed by key (0 = absent):
//   4 bytes per (node, key), 400 MB at 1,000 x 100,000, allocated in init and touched as
//   keys arrive. A std::map<std::string, CacheEntry> would be ~100 B per entry, ~10 GB.
// - The value is 32 bits derived from (key, version): it travels in every Gossip and is
//   checked on arrival instead of being stored, which would double the state.
// - No telemetry events (the example emits cache:gossip:accepted per acceptance: 10^8
//   events at full size would measure the sink).
//
// Rejected alternatives
// - Anti-entropy (periodic full-map exchange): push flooding on a connected graph with no
//   lost message already reaches every node, and a round of full maps costs N * D * W
//   entries (8 * 10^8 at full size) per round. It is what repairs lost messages, and here
//   none is lost (refused sends are resent).
// - Hop limits instead of the version rule: either too small (some node misses the write)
//   or redundant (the version rule already sends each write over each edge at most twice).
// - A driver that injects all W writes at once: with FIFO mailboxes every flood advances
//   together and up to ~W * N * D / 2 messages (3.5 * 10^8 here) are queued at the peak;
//   tens of GB. A driver that paces on rt.stats().queued: stats() walks the process table
//   and touches every process's hot cache line each time it is read.
// - Pacing each node by its own mailbox (a Tick to itself every K messages, a write every
//   K Ticks): tried first. The flood of a write reaches the other nodes later, so a node
//   with an empty mailbox keeps writing while the load it caused is still on its way, and
//   every node writes at once at the start: 5 M messages were queued at W = 4,000 and the
//   time grew faster than W. The window above uses the same local knowledge (the keys a
//   node holds) but in the writes' global order.
// - A per-key atomic "nodes holding it" counter, to time each write: N * W shared atomic
//   increments in the measured path.
// - Batching several keys per Gossip message: fewer, larger messages; a different
//   benchmark (messages per write would no longer count messages per key).
#include <sys/resource.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <numeric>
#include <optional>
#include <phyx/phyx.hpp>
#include <string>
#include <thread>
#include <unordered_set>
#include <variant>
#include <vector>

#include "workloads/workload.hpp"

namespace phyx_bench {
namespace {

struct NodeMsg;
using NodeRef = phyx::ProcessRef<NodeMsg>;

struct NodeReport {
  std::uint64_t held = 0;        // keys this node holds
  std::uint64_t sent = 0;        // gossip sends accepted by the peer's mailbox
  std::uint64_t refused = 0;     // gossip send attempts refused (each then resent)
  std::uint64_t received = 0;    // gossip messages handled
  std::uint64_t fresh = 0;       // of those, accepted as new (and forwarded)
  std::uint64_t bad_values = 0;  // accepted payloads that did not match (key, version)
  std::uint64_t writes = 0;      // writes this node made
  bool quiet = false;  // every key held, nothing to resend, no write left: never sends again
};

struct Connect {
  std::shared_ptr<const std::vector<NodeRef>> all;  // every node's ref, by index
};
struct Start {};
struct Retry {};
struct Gossip {
  std::uint32_t key;
  std::uint32_t version;
  std::uint32_t value;
  std::uint32_t from;  // the node that sent this copy (not the writer)
};
struct Report {
  phyx::Reply<NodeReport> reply;
};
struct Get {
  std::uint32_t key;
  phyx::Reply<std::uint32_t> reply;  // the version held, 0 = absent
};
struct NodeMsg : std::variant<Connect, Start, Retry, Gossip, Report, Get> {
  using variant::variant;
};

// What the seed decided, immutable once the nodes are spawned.
struct Plan {
  std::uint32_t nodes = 0;
  std::uint32_t writes = 0;
  std::uint32_t window = 16;
  std::uint64_t edges = 0;
  std::vector<std::vector<std::uint32_t>> peers;  // adjacency, undirected
  std::vector<std::vector<std::uint32_t>> keys;   // the keys each node writes, in order
  std::uint32_t first_writer = 0;                 // the node that writes key 0
};

// The only state the nodes share: N relaxed increments in a run, and one promise.
struct Finish {
  std::atomic<std::uint32_t> converged{0};
  std::promise<std::int64_t> done;  // now_ns() when the last node held every key
};

struct NodeCtx {
  std::uint32_t index = 0;
  const Plan* plan = nullptr;
  Finish* finish = nullptr;
};

struct Pending {
  std::uint32_t slot;  // index into peers
  Gossip gossip;
};

struct NodeState {
  std::vector<std::uint32_t> version;  // by key; 0 = absent
  std::vector<NodeRef> peers;
  std::vector<std::uint32_t> peer_index;  // node index of peers[i]
  std::vector<Pending> outbox;            // refused sends, resent on Retry
  std::uint32_t next_write = 0;
  std::int64_t last_resend_ms = 0;
  std::int64_t retry_due_ms = -100;  // when the last Retry scheduled to self is due
  bool converged = false;
  NodeReport count;
};

using NodeTools = phyx::Tools<NodeMsg, NodeState, NodeCtx>;

struct SplitMix64 {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint32_t below(std::uint32_t n) { return static_cast<std::uint32_t>(next() % n); }
};

void shuffle(std::vector<std::uint32_t>& v, SplitMix64& rng) {  // Fisher-Yates
  for (auto i = static_cast<std::uint32_t>(v.size()); i > 1; --i)
    std::swap(v[i - 1], v[rng.below(i)]);
}

// The payload of (key, version): any node can check what it received.
std::uint32_t value_of(std::uint32_t key, std::uint32_t version) {
  SplitMix64 h{(static_cast<std::uint64_t>(key) << 32) | version};
  return static_cast<std::uint32_t>(h.next());
}

Plan make_plan(std::uint32_t nodes, std::uint32_t writes, std::uint32_t degree, std::uint64_t seed,
               std::uint32_t window) {
  Plan plan{.nodes = nodes, .writes = writes, .window = window};
  plan.peers.resize(nodes);
  plan.keys.resize(nodes);
  SplitMix64 rng{seed};
  std::unordered_set<std::uint64_t> edges;
  auto add = [&](std::uint32_t a, std::uint32_t b) {
    if (a == b) return false;
    const std::uint64_t e = (static_cast<std::uint64_t>(std::min(a, b)) << 32) | std::max(a, b);
    if (!edges.insert(e).second) return false;
    plan.peers[a].push_back(b);
    plan.peers[b].push_back(a);
    return true;
  };
  std::vector<std::uint32_t> order(nodes);
  std::iota(order.begin(), order.end(), 0);
  for (std::uint32_t cycle = 0; cycle < degree / 2; ++cycle) {
    if (cycle > 0) shuffle(order, rng);  // cycle 0 is the ring: connected
    for (std::uint32_t i = 0; i < nodes; ++i) add(order[i], order[(i + 1) % nodes]);
  }
  if (degree % 2 == 1) {
    shuffle(order, rng);
    for (std::uint32_t i = 0; i + 1 < nodes; i += 2) add(order[i], order[i + 1]);
  }
  plan.edges = edges.size();
  for (std::uint32_t k = 0; k < writes; ++k) {
    const std::uint32_t node = rng.below(nodes);
    plan.keys[node].push_back(k);
    if (k == 0) plan.first_writer = node;
  }
  return plan;
}

void send_gossip(NodeState& s, std::uint32_t slot, const Gossip& g) {
  if (s.peers[slot].send(g)) {
    ++s.count.sent;
  } else {
    ++s.count.refused;
    s.outbox.push_back({slot, g});
  }
}

void check_converged(NodeState& s, const NodeCtx& ctx) {
  if (s.converged || s.count.held != ctx.plan->writes) return;
  s.converged = true;
  // relaxed: only the count matters. The RMW order on `converged` makes exactly one node
  // see N - 1; nothing else is published through it (the promise carries the end time).
  auto& n = ctx.finish->converged;
  const auto had = n.fetch_add(1, std::memory_order_relaxed);  // partner: other nodes' fetch_add
  if (had + 1 == ctx.plan->nodes) ctx.finish->done.set_value(now_ns());
}

// Accept (key, version) as new: store it and flood it to every peer but `from`.
void accept(NodeState& s, const NodeCtx& ctx, std::uint32_t key, std::uint32_t version,
            std::uint32_t from) {
  if (s.version[key] == 0) ++s.count.held;
  s.version[key] = version;
  const Gossip out{key, version, value_of(key, version), ctx.index};
  for (std::uint32_t slot = 0; slot < s.peers.size(); ++slot) {
    if (s.peer_index[slot] != from) send_gossip(s, slot, out);
  }
  check_converged(s, ctx);
}

// Make every write the window allows: write k once this node holds k - window keys.
void write_allowed(NodeState& s, const NodeCtx& ctx) {
  const auto& mine = ctx.plan->keys[ctx.index];
  while (s.outbox.empty() && s.next_write < mine.size() &&
         s.count.held + ctx.plan->window >= mine[s.next_write]) {
    ++s.count.writes;
    accept(s, ctx, mine[s.next_write++], 1, ctx.index);  // no peer has index ctx.index
  }
}

void on_gossip(NodeState& s, const NodeCtx& ctx, const Gossip& g) {
  ++s.count.received;
  if (s.version[g.key] != 0 && g.version <= s.version[g.key]) return;  // the example's rule
  ++s.count.fresh;
  if (g.value != value_of(g.key, g.version)) ++s.count.bad_values;
  accept(s, ctx, g.key, g.version, g.from);
  write_allowed(s, ctx);
}

// Resend what was refused.
void resend(NodeState& s, const NodeCtx& ctx, std::int64_t now_ms) {
  s.last_resend_ms = now_ms;
  std::erase_if(s.outbox, [&](const Pending& p) {
    if (!s.peers[p.slot].send(p.gossip)) {
      ++s.count.refused;
      return false;
    }
    ++s.count.sent;
    return true;
  });
  write_allowed(s, ctx);
}

// After every message, while gossip waits to be resent: resend it if the last try is 1 ms
// old (not at once: a node spinning against a full peer takes the worker that peer needs),
// and keep a Retry scheduled 1 ms ahead for when no other message comes. The timer's
// delivery is refused if this mailbox is full, and nobody sees that; then other messages
// are here to call this, and a Retry due 5 ms ago is taken as lost. A spare Retry does no
// harm.
void after_message(NodeState& s, const NodeCtx& ctx, NodeTools& tools, bool is_retry) {
  if (s.outbox.empty()) return;
  const std::int64_t now = tools.now().mono_ms;
  if (is_retry || now - s.last_resend_ms >= 1) resend(s, ctx, now);
  if (s.outbox.empty() || (!is_retry && s.retry_due_ms >= now - 5)) return;
  tools.schedule(std::chrono::milliseconds(1), Retry{});
  s.retry_due_ms = now + 1;
}

void handle_node(NodeState& s, NodeMsg& msg, NodeTools& tools) {
  const NodeCtx& ctx = tools.ctx();
  if (auto* g = std::get_if<Gossip>(&msg)) {
    on_gossip(s, ctx, *g);
  } else if (std::holds_alternative<Retry>(msg)) {
    // resent in after_message
  } else if (auto* c = std::get_if<Connect>(&msg)) {
    for (std::uint32_t peer : ctx.plan->peers[ctx.index]) {
      s.peers.push_back((*c->all)[peer]);
      s.peer_index.push_back(peer);
    }
  } else if (std::holds_alternative<Start>(msg)) {
    write_allowed(s, ctx);
  } else if (auto* r = std::get_if<Report>(&msg)) {
    NodeReport out = s.count;
    out.quiet = s.converged && s.outbox.empty() && s.next_write == ctx.plan->keys[ctx.index].size();
    r->reply(out);
  } else {
    auto& get = std::get<Get>(msg);
    get.reply(s.version[get.key]);
  }
  after_message(s, ctx, tools, std::holds_alternative<Retry>(msg));
}

struct Totals {
  NodeReport sum;
  std::uint32_t quiet = 0;
  std::uint32_t unanswered = 0;  // asks that failed (timeout): the run is not ok
};

// A node may have a full mailbox (65,536 gossip messages) ahead of the ask.
constexpr std::chrono::milliseconds kAskTimeout{60'000};

NodeMsg report_msg(phyx::Reply<NodeReport> reply) {
  return Report{std::move(reply)};
}

// The answer to an ask already sent, or nullopt. An ask to a full mailbox (a small
// `--inbox`) is refused at once; it is asked again every millisecond for up to 10 s.
template <class R, class Build>
std::optional<R> answer(phyx::Future<R> first, const NodeRef& node, const Build& build) {
  for (int attempt = 0; attempt < 10'000; ++attempt) {
    if (attempt > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      first = node.ask<R>(build, kAskTimeout);
    }
    try {
      return first.get();
    } catch (const std::exception&) {
    }
  }
  return std::nullopt;
}

// Every node's report, asked of all at once.
Totals collect(const std::vector<NodeRef>& refs) {
  std::vector<phyx::Future<NodeReport>> futures;
  futures.reserve(refs.size());
  for (const auto& r : refs) futures.push_back(r.ask<NodeReport>(report_msg, kAskTimeout));
  Totals t;
  for (std::size_t i = 0; i < refs.size(); ++i) {
    const std::optional<NodeReport> answered = answer(std::move(futures[i]), refs[i], report_msg);
    if (!answered) {
      ++t.unanswered;
      continue;
    }
    const NodeReport& r = *answered;
    t.sum.held += r.held;
    t.sum.sent += r.sent;
    t.sum.refused += r.refused;
    t.sum.received += r.received;
    t.sum.fresh += r.fresh;
    t.sum.bad_values += r.bad_values;
    t.sum.writes += r.writes;
    t.quiet += r.quiet ? 1 : 0;
  }
  return t;
}

// CPU time of this OS process (all threads), in seconds: with the cores shared, the wall
// time alone does not say how much of them the run had.
double cpu_secs() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto secs = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::vector<Measurement> run_gossip(const Params& p) {
  const auto nodes =
      static_cast<std::uint32_t>(std::clamp<std::int64_t>(p.get("nodes", 1000), 3, 1 << 24));
  const auto writes =
      static_cast<std::uint32_t>(std::clamp<std::int64_t>(p.get("writes", 10'000), 1, 1 << 30));
  const auto degree =
      static_cast<std::uint32_t>(std::clamp<std::int64_t>(p.get("degree", 8), 2, nodes - 1));
  const auto seed = static_cast<std::uint64_t>(p.get("seed", 1));
  const auto window =
      static_cast<std::uint32_t>(std::clamp<std::int64_t>(p.get("window", 16), 0, 1 << 30));
  const auto inbox =
      static_cast<std::size_t>(std::clamp<std::int64_t>(p.get("inbox", 65'536), 1, 1 << 30));
  const std::int64_t samples = std::max<std::int64_t>(0, p.get("samples", 1000));

  const std::int64_t rss_before = current_rss_kib();
  const Plan plan = make_plan(nodes, writes, degree, seed, window);
  std::size_t min_degree = plan.peers[0].size();
  std::size_t max_degree = 0;
  for (const auto& a : plan.peers) {
    min_degree = std::min(min_degree, a.size());
    max_degree = std::max(max_degree, a.size());
  }
  const std::uint64_t per_write = 2 * plan.edges - nodes + 1;  // exact, see the header

  Finish finish;
  std::int64_t start = 0;
  std::int64_t end = 0;
  double cpu_start = 0;
  double cpu_end = 0;
  Totals totals;
  phyx::Stats stats;
  bool ok = true;
  bool quiesced = true;
  bool laws = false;
  std::int64_t sample_misses = 0;
  {
    phyx::Runtime rt({.workers = p.workers, .shutdown_timeout = std::chrono::seconds(60)});
    const auto kind = phyx::share(phyx::ProcessSpec<NodeMsg, NodeState, NodeCtx>{
        .name = "gossip-node",
        .init =
            [](const NodeCtx& ctx) {
              NodeState s;
              s.version.assign(ctx.plan->writes, 0);
              return s;
            },
        .handle = [](NodeState& s, NodeMsg& m, NodeTools& tools) { handle_node(s, m, tools); },
        .max_inbox = inbox,
    });
    auto all = std::make_shared<std::vector<NodeRef>>();
    all->reserve(nodes);
    for (std::uint32_t i = 0; i < nodes; ++i)
      all->push_back(rt.spawn(kind, NodeCtx{i, &plan, &finish}));
    const std::vector<NodeRef>& refs = *all;
    for (const auto& r : refs) ok &= r.send(Connect{all});
    // Every node has its peers before any write: wait for the Connects to be handled.
    ok &= collect(refs).unanswered == 0;

    start = now_ns();
    cpu_start = cpu_secs();
    ok &= refs[plan.first_writer].send(Start{});
    auto converged = finish.done.get_future();
    if (converged.wait_for(std::chrono::minutes(10)) == std::future_status::ready) {
      end = converged.get();
      cpu_end = cpu_secs();
    } else {
      ok = false;
      end = now_ns();
      cpu_end = cpu_secs();
    }

    // Not timed from here. Sends stop once every node is quiet; then wait for the last
    // duplicates to be received.
    const std::int64_t deadline = ok ? now_ns() + 60'000'000'000 : now_ns();
    totals = collect(refs);
    while (totals.quiet < nodes && now_ns() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      totals = collect(refs);
    }
    const std::uint64_t sent_final = totals.sum.sent;
    while (totals.sum.received != sent_final && now_ns() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      totals = collect(refs);
    }
    quiesced = totals.unanswered == 0 && totals.quiet == nodes &&
               totals.sum.received == sent_final && totals.sum.sent == sent_final;

    SplitMix64 rng{seed ^ 0x5eedULL};
    struct Sample {
      std::uint32_t node;
      std::function<NodeMsg(phyx::Reply<std::uint32_t>)> build;
      phyx::Future<std::uint32_t> answer;
    };
    std::vector<Sample> gets;
    for (std::int64_t i = 0; i < samples; ++i) {
      const std::uint32_t key = rng.below(writes);
      const std::uint32_t node = rng.below(nodes);
      std::function<NodeMsg(phyx::Reply<std::uint32_t>)> build = [key](auto r) {
        return Get{key, std::move(r)};
      };
      auto f = refs[node].ask<std::uint32_t>(build, kAskTimeout);
      gets.push_back({node, std::move(build), std::move(f)});
    }
    for (auto& g : gets) {
      sample_misses += answer(std::move(g.answer), refs[g.node], g.build) == 1u ? 0 : 1;
    }

    // A reply can reach us just before its handler returns and is counted: wait for the laws.
    for (int i = 0; i < 1000 && !laws; ++i) {
      stats = rt.stats();
      laws = stats.sent == stats.accepted + stats.refused_full + stats.refused_not_running &&
             stats.accepted == stats.handled + stats.crashed + stats.dropped_oldest +
                                   stats.discarded + stats.queued &&
             stats.queued == 0 && stats.crashed == 0 && stats.dropped_oldest == 0;
      if (!laws) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  const std::int64_t peak = peak_rss_kib();
  const double secs = static_cast<double>(end - start) / 1e9;
  const std::uint64_t w = writes;
  std::string failed;  // the checks that did not hold, named in the params
  auto check = [&](bool holds, const char* name) {
    if (holds) return;
    if (!failed.empty()) failed += ',';
    failed += name;
  };
  check(ok, "setup_or_timeout");
  check(quiesced, "quiesce");
  check(laws, "stats_laws");
  check(sample_misses == 0, "sampled_asks");
  check(totals.sum.bad_values == 0, "payloads");
  check(totals.sum.held == w * nodes, "every_node_every_key");
  check(totals.sum.writes == w, "writes");
  check(totals.sum.sent == w * per_write, "sends_per_write");
  check(totals.sum.fresh == w * (nodes - 1), "first_acceptances");
  ok = failed.empty();

  const std::map<std::string, std::string> common{
      {"nodes", std::to_string(nodes)},
      {"writes", std::to_string(writes)},
      {"degree", std::to_string(degree)},
      {"seed", std::to_string(seed)},
  };
  auto with = [&](std::map<std::string, std::string> extra) {
    extra.insert(common.begin(), common.end());
    return extra;
  };
  const double msgs = static_cast<double>(totals.sum.sent);
  return {
      {"gossip", secs, "s",
       with({{"edges", std::to_string(plan.edges)},
             {"degree_min", std::to_string(min_degree)},
             {"degree_max", std::to_string(max_degree)},
             {"window", std::to_string(window)},
             {"inbox", std::to_string(inbox)},
             {"gossip_sent", std::to_string(totals.sum.sent)},
             {"duplicates", std::to_string(totals.sum.received - totals.sum.fresh)},
             {"refused_and_resent", std::to_string(totals.sum.refused)},
             {"stats_sent", std::to_string(stats.sent)},
             {"stats_handled", std::to_string(stats.handled)},
             {"stats_refused_full", std::to_string(stats.refused_full)},
             {"sampled_asks", std::to_string(samples)},
             {"failed", failed.empty() ? "none" : failed}}),
       ok},
      {"gossip-writes", static_cast<double>(writes) / secs, "writes/s",
       with({{"secs", fixed(secs, 3)}}), ok},
      {"gossip-msgs", msgs / secs, "msg/s",
       with({{"secs", fixed(secs, 3)},
             {"cpu_secs", fixed(cpu_end - cpu_start, 3)},
             {"cores_used", fixed((cpu_end - cpu_start) / secs, 2)},
             {"msgs_per_cpu_sec", fixed(msgs / (cpu_end - cpu_start), 0)}}),
       ok},
      {"gossip-per-write", msgs / static_cast<double>(writes), "msgs/write",
       with({{"expected", std::to_string(per_write)},
             {"fresh_per_write", std::to_string(nodes - 1)}}),
       ok},
      {"gossip-rss", static_cast<double>(peak) / 1024.0, "MiB peak",
       with({{"rss_before_mib", std::to_string(rss_before / 1024)},
             {"versions_mib", std::to_string(std::uint64_t{nodes} * writes * 4 / (1024 * 1024))}}),
       ok},
  };
}

}  // namespace

Workload gossip_workload() {
  return {"gossip",
          "1,000 cache nodes, random peer graph of degree 8, 10,000 writes flooded by push gossip "
          "(--writes 100000: the issue's size); time to convergence",
          run_gossip};
}

}  // namespace phyx_bench
