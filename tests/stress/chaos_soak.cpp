// tests/stress/chaos_soak.cpp — the chaos soak (issue 11): thousands of processes on
// worker threads, driven by outside threads and by themselves, while a chaos mix
// crashes handlers, stops and respawns processes, schedules and cancels timers and
// nests children three deep. At the end it proves what phyx promises.
//
//   chaos_soak                      # the CI profile: --seconds 180
//   chaos_soak --minutes 30         # the long profile, for local runs
//   chaos_soak --seed S --ops N     # replay: the same operation sequence
//
// The protocol, in order:
//   1. Spawn `--slots` top-level processes, each with a random spec drawn from a fixed
//      catalogue: capacity 1, 8, 64 or 1024; reject or drop_oldest; supervision none,
//      restart-at-once, backoff with jitter, or a restart limit that gives up (children
//      also get one_for_all and rest_for_one; see spec_catalogue).
//   2. `--drivers` outside threads run a seeded operation mix against random slots until
//      the time (or the op budget) is up: sends (1 in 40 a crash), bursts past the
//      capacity, forwards that hop between processes, asks with 5-500 ms timeouts, asks
//      that a process makes of a peer and pipes back, schedules (a third cancelled at
//      once), child spawns (up to three deep, with one_for_all and rest_for_one among
//      siblings), stops (discard or drain) followed by a respawn, and self-stops.
//   3. Quiescence: the drivers are joined; every ask made so far must settle (bounded
//      wait); then every slot and every registered child is probed with an ask. A probe
//      must be answered, or fail because the process has stopped or failed for good. A
//      probe that times out is a stuck process: the soak fails naming it.
//   4. Shutdown with a 30 s deadline: nothing may be abandoned.
//   5. The checks (any failure exits 1):
//      - both conservation laws of SPEC 8, exactly, after shutdown; queued = 0 and
//        processes_alive = 0;
//      - stats().handled and stats().crashed equal the soak's own count of handler
//        returns and throws (every message handled is counted once, by both sides);
//      - every ask completed exactly once: continuations run = asks made, none twice;
//      - the telemetry sink saw as many supervisor:restart / supervisor:giveup /
//        process:dead_letter events as stats() counts (nothing dropped);
//      - memory returns to its baseline: no message is alive once shutdown has returned,
//        every message and every state object the soak created has been destroyed once
//        the runtime is (instance counters back to 0), ASan/LSan (the asan-ubsan build)
//        sees no leak, and (release) RSS does not grow while the population is steady.
//
// The seed: printed first. It fixes every driver's operation sequence and the seed each
// process draws its own choices from; it cannot fix the thread interleaving, so what a
// process does with the messages it happens to get may differ (for a replayable
// interleaving, run the systematic build: its one worker draws from PHYX_SEED, and so
// does the soak). A time-bounded run prints the op counts that replay its sequence with
// `--seed S --ops N`.
//
// Not a doctest file: it has its own main so that a long run takes --minutes. It is a
// CTest entry per configuration (tests/CMakeLists.txt, PHYX_SOAK_SECONDS).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <phyx/phyx.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// --- instance counters: "memory returns to its baseline" ---------------------------
// Every message alternative and every process state carries one; copies and moves
// count as instances, so the counter is exactly the number alive.
std::atomic<long> g_live_messages{0};
std::atomic<long> g_live_states{0};

template <std::atomic<long>& Count>
struct Counted {
  Counted() noexcept { Count.fetch_add(1, std::memory_order_relaxed); }  // read after joins
  Counted(const Counted&) noexcept { Count.fetch_add(1, std::memory_order_relaxed); }
  Counted(Counted&&) noexcept { Count.fetch_add(1, std::memory_order_relaxed); }
  Counted& operator=(const Counted&) noexcept = default;
  Counted& operator=(Counted&&) noexcept = default;
  ~Counted() { Count.fetch_sub(1, std::memory_order_relaxed); }
};
using MsgToken = Counted<g_live_messages>;
using StateToken = Counted<g_live_states>;

// --- a small seeded generator (xorshift64*) ------------------------------------------
struct Rng {
  std::uint64_t s;
  explicit Rng(std::uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull) {
    if (s == 0) s = 1;
  }
  std::uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1Dull;
  }
  std::uint64_t below(std::uint64_t n) { return next() % n; }
  bool one_in(std::uint64_t n) { return below(n) == 0; }
};

// --- the messages ---------------------------------------------------------------------
struct Work {
  MsgToken token;
  bool crash = false;
};
struct Forward {
  MsgToken token;
  int hops = 0;
};
struct Ping {
  MsgToken token;
  phyx::Reply<long> reply;
};
struct AskPeer {
  MsgToken token;
};
struct PeerAnswer {
  MsgToken token;
  bool ok = false;
};
struct Schedule {
  MsgToken token;
  int delay_ms = 0;
  bool cancel = false;
};
struct Tick {
  MsgToken token;
};
struct SpawnChild {
  MsgToken token;
};
struct WorkChildren {
  MsgToken token;
};
struct StopSelf {
  MsgToken token;
};
using Msg = std::variant<Work, Forward, Ping, AskPeer, PeerAnswer, Schedule, Tick, SpawnChild,
                         WorkChildren, StopSelf>;
using Ref = phyx::ProcessRef<Msg>;

struct World;
struct NodeCtx {
  World* world = nullptr;
  int depth = 0;           // 0 = top level; children up to 3
  std::uint64_t seed = 0;  // this process's choices
};
struct NodeState {
  StateToken token;
  Rng rng{0};
  long handled = 0;
  std::vector<Ref> children;
};
using NodeTools = phyx::Tools<Msg, NodeState, NodeCtx>;
using NodeSpec = phyx::SharedSpec<Msg, NodeState, NodeCtx>;

// --- what the soak counts itself ------------------------------------------------------
struct Counts {
  std::atomic<std::uint64_t> handler_returns{0};
  std::atomic<std::uint64_t> handler_throws{0};
  std::atomic<std::uint64_t> asks_made{0};
  std::atomic<std::uint64_t> asks_settled{0};
  std::atomic<std::uint64_t> asks_settled_twice{0};
  std::atomic<std::uint64_t> asks_ok{0};
  std::atomic<std::uint64_t> asks_timeout{0};
  std::atomic<std::uint64_t> asks_stopped{0};
  std::atomic<std::uint64_t> asks_refused{0};
  std::atomic<std::uint64_t> asks_no_reply{0};
  std::atomic<std::uint64_t> asks_other{0};  // any other failure: not in SPEC 4's list
  std::atomic<std::uint64_t> stops{0};
  std::atomic<std::uint64_t> respawns{0};
  std::atomic<std::uint64_t> children_spawned{0};
  std::atomic<std::uint64_t> schedules{0};
  std::atomic<std::uint64_t> cancels{0};
  std::atomic<std::uint64_t> ev_restart{0};
  std::atomic<std::uint64_t> ev_giveup{0};
  std::atomic<std::uint64_t> ev_dead_letter{0};
  std::atomic<std::uint64_t> ev_fail{0};
};

// All counters are relaxed: each is a tally read only after the threads that add to it
// have been joined or the runtime has shut down (which orders every handler before it).
void bump(std::atomic<std::uint64_t>& c) {
  c.fetch_add(1, std::memory_order_relaxed);
}
std::uint64_t read(const std::atomic<std::uint64_t>& c) {
  return c.load(std::memory_order_relaxed);
}

// --- the world: slots the drivers and the handlers address ---------------------------
struct Slot {
  std::mutex mutex;  // guards ref: drivers replace it, handlers and drivers copy it
  Ref ref;
};

struct World {
  std::vector<Slot> slots;
  std::vector<NodeSpec> specs;      // the whole catalogue: for children
  std::vector<NodeSpec> top_specs;  // without group strategies: for top-level processes
  Counts counts;

  // Every child spawned, so that the end can probe every process. Stopped ones are
  // pruned by driver 0 now and then; the size is also the bound on children.
  std::mutex children_mutex;  // guards children
  std::vector<Ref> children;
  static constexpr std::size_t kChildrenMax = 20000;

  std::mutex asks_mutex;  // with asks_cv: the quiescence wait for unsettled asks
  std::condition_variable asks_cv;

  explicit World(std::size_t n) : slots(n) {}

  Ref slot_ref(std::size_t i) {
    std::lock_guard lock(slots[i].mutex);
    return slots[i].ref;
  }
  bool keep_child(const Ref& child) {
    std::lock_guard lock(children_mutex);
    if (children.size() >= kChildrenMax) return false;
    children.push_back(child);
    return true;
  }
  bool room_for_child() {
    std::lock_guard lock(children_mutex);
    return children.size() < kChildrenMax;
  }
  void prune_children() {  // `failed` stays: a sibling's group restart may revive it
    std::lock_guard lock(children_mutex);
    std::erase_if(children, [](const Ref& c) { return c.status() == phyx::Status::stopped; });
  }
  Ref some_child(Rng& rng) {
    std::lock_guard lock(children_mutex);
    if (children.empty()) return {};
    return children[rng.below(children.size())];
  }
};

// Every ask gets one continuation that records how it settled; a second run of it for
// the same ask would be counted in asks_settled_twice.
template <class R>
void track_ask(World& w, const phyx::Future<R>& f) {
  bump(w.counts.asks_made);
  auto once = std::make_shared<std::atomic<int>>(0);
  f.then([&w, once](phyx::Result<R> r) {
    // relaxed: a tally of how often this continuation ran; read after quiescence.
    if (once->fetch_add(1, std::memory_order_relaxed) != 0) bump(w.counts.asks_settled_twice);
    if (r.ok()) {
      bump(w.counts.asks_ok);
    } else {
      try {
        std::rethrow_exception(r.error());
      } catch (const phyx::TimeoutError&) {
        bump(w.counts.asks_timeout);
      } catch (const phyx::StoppedError&) {
        bump(w.counts.asks_stopped);
      } catch (const phyx::NoReplyError&) {
        bump(w.counts.asks_no_reply);
      } catch (const phyx::ProcessError&) {
        bump(w.counts.asks_refused);
      } catch (...) {
        bump(w.counts.asks_other);
      }
    }
    {
      // release (by the mutex): pairs with the quiescence wait's predicate read.
      std::lock_guard lock(w.asks_mutex);
      w.counts.asks_settled.fetch_add(1, std::memory_order_relaxed);
    }
    w.asks_cv.notify_all();
  });
}

Msg make_ping(phyx::Reply<long> r) {
  return Msg{Ping{{}, std::move(r)}};
}

// --- the behaviour -------------------------------------------------------------------
void handle(NodeState& st, Msg& msg, NodeTools& tools) {
  World& w = *tools.ctx().world;
  std::visit(
      [&](auto& m) {
        using M = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<M, Work>) {
          if (m.crash) {
            bump(w.counts.handler_throws);
            throw std::runtime_error("chaos: crash");
          }
        } else if constexpr (std::is_same_v<M, Forward>) {
          if (m.hops > 0) {
            Ref next = w.slot_ref(st.rng.below(w.slots.size()));
            if (next) next.send(Msg{Forward{{}, m.hops - 1}});
          }
        } else if constexpr (std::is_same_v<M, Ping>) {
          m.reply(st.handled);
        } else if constexpr (std::is_same_v<M, AskPeer>) {
          Ref peer = w.slot_ref(st.rng.below(w.slots.size()));
          if (peer) {
            auto f = peer.template ask<long>(make_ping,
                                             std::chrono::milliseconds(1 + st.rng.below(200)));
            track_ask(w, f);
            tools.pipe(f, [](phyx::Result<long> r) { return Msg{PeerAnswer{{}, r.ok()}}; });
          }
        } else if constexpr (std::is_same_v<M, Schedule>) {
          phyx::TimerId id = tools.schedule(std::chrono::milliseconds(m.delay_ms), Msg{Tick{}});
          bump(w.counts.schedules);
          if (m.cancel && tools.cancel(id)) bump(w.counts.cancels);
        } else if constexpr (std::is_same_v<M, SpawnChild>) {
          const int depth = tools.ctx().depth;
          // At most 3 children per process, 3 levels below the top, and a global bound so
          // that a long run stays at thousands of processes, not millions.
          std::erase_if(st.children, [](const Ref& c) {
            return c.status() == phyx::Status::stopped || c.status() == phyx::Status::failed;
          });
          if (depth < 3 && st.children.size() < 3 && w.room_for_child()) {
            const auto& spec = w.specs[st.rng.below(w.specs.size())];
            Ref child = tools.spawn(spec, NodeCtx{&w, depth + 1, st.rng.next()});
            st.children.push_back(child);
            if (!w.keep_child(child)) child.stop();  // raced past the bound: not kept, not probed
            bump(w.counts.children_spawned);
          }
        } else if constexpr (std::is_same_v<M, WorkChildren>) {
          for (const Ref& c : st.children) {
            c.send(Msg{Work{{}, st.rng.one_in(20)}});
            c.send(Msg{SpawnChild{}});
          }
        } else if constexpr (std::is_same_v<M, StopSelf>) {
          tools.self().stop(phyx::StopReason::normal(),
                            st.rng.one_in(2) ? phyx::StopMode::drain : phyx::StopMode::discard);
          bump(w.counts.stops);
        }
        // PeerAnswer and Tick: nothing to do but be counted.
      },
      msg);
  ++st.handled;
  bump(w.counts.handler_returns);
}

// The catalogue: every capacity × policy × supervision. Top-level processes draw only from
// the entries without a group strategy: the root's family is every top-level process, so
// one one_for_all crasher there would restart all of them (and revive the `failed` ones
// the drivers have already replaced, leaving processes no ref reaches). Children, in
// families of at most three, draw from all of it.
std::vector<NodeSpec> spec_catalogue(bool with_group_strategies) {
  using phyx::MailboxPolicy;
  using phyx::Strategy;
  const std::size_t capacities[] = {1, 8, 64, 1024};
  const MailboxPolicy policies[] = {MailboxPolicy::reject, MailboxPolicy::drop_oldest};
  std::vector<std::optional<phyx::Supervision>> supervisions = {
      phyx::Supervision{.type = Strategy::none},  // a crash fails the process
      phyx::Supervision{.type = Strategy::one_for_one},
      phyx::Supervision{
          .type = Strategy::one_for_one,
          .backoff = phyx::Backoff{.initial = 1ms, .max = 8ms, .factor = 2.0, .jitter = 10}},
      phyx::Supervision{.type = Strategy::one_for_one,
                        .max_restarts = phyx::MaxRestarts{.count = 3, .within = 100ms}},
      phyx::Supervision{.type = Strategy::one_for_all,
                        .backoff = phyx::Backoff{.initial = 1ms, .max = 4ms},
                        .max_restarts = phyx::MaxRestarts{.count = 20, .within = 1000ms}},
      phyx::Supervision{.type = Strategy::rest_for_one,
                        .backoff = phyx::Backoff{.initial = 0ms, .max = 2ms}},
  };
  std::vector<NodeSpec> out;
  for (std::size_t cap : capacities) {
    for (MailboxPolicy pol : policies) {
      for (const auto& sup : supervisions) {
        const bool group =
            sup->type == Strategy::one_for_all || sup->type == Strategy::rest_for_one;
        if (group && !with_group_strategies) continue;
        std::string name = "node-" + std::to_string(cap) + "-" + std::string(phyx::to_string(pol)) +
                           "-" + std::string(phyx::to_string(sup->type));
        out.push_back(phyx::share(phyx::ProcessSpec<Msg, NodeState, NodeCtx>{
            .name = std::move(name),
            .init =
                [](const NodeCtx& c) {
                  NodeState s;
                  s.rng = Rng(c.seed);
                  return s;
                },
            .handle = handle,
            .max_inbox = cap,
            .mailbox_policy = pol,
            .supervision = sup,
        }));
      }
    }
  }
  return out;
}

Ref spawn_into(phyx::Runtime& rt, World& w, Rng& rng) {
  return rt.spawn(w.top_specs[rng.below(w.top_specs.size())], NodeCtx{&w, 0, rng.next()});
}

// --- the drivers ------------------------------------------------------------------------
struct DriverPlan {
  std::uint64_t seed = 0;
  std::uint64_t op_budget = 0;  // 0 = until the deadline
  unsigned index = 0;           // driver 0 also prunes the children registry
  Clock::time_point deadline;
};

std::uint64_t drive(phyx::Runtime& rt, World& w, const DriverPlan& plan,
                    const std::atomic<bool>& stop_all) {
  Rng rng(plan.seed);
  std::uint64_t ops = 0;
  for (;; ++ops) {
    if (plan.op_budget != 0 ? ops >= plan.op_budget
                            : ((ops & 63) == 0 && (Clock::now() >= plan.deadline ||
                                                   stop_all.load(std::memory_order_relaxed)))) {
      break;  // relaxed: stop_all is a hint to end early; the join orders everything after
    }
    if (plan.index == 0 && (ops & 0xFFFF) == 0) w.prune_children();
    const std::size_t i = rng.below(w.slots.size());
    Ref ref = w.slot_ref(i);
    const auto roll = rng.below(1000);
    if (ref.status() == phyx::Status::stopped || ref.status() == phyx::Status::failed || roll < 5) {
      // Stop (half the time with drain) and respawn with a fresh random spec.
      if (roll < 5) {
        ref.stop(phyx::StopReason::normal(),
                 rng.one_in(2) ? phyx::StopMode::drain : phyx::StopMode::discard);
        bump(w.counts.stops);
      } else if (ref.status() == phyx::Status::failed) {
        ref.stop();  // a failed process stays (SPEC 6.4) until stopped: replace it for good
      }
      // Under the slot's lock, and only if the slot still holds what this driver saw:
      // two drivers respawning one slot at once would otherwise leave a process no ref
      // reaches, alive until shutdown and never probed.
      std::lock_guard lock(w.slots[i].mutex);
      if (w.slots[i].ref == ref) {
        w.slots[i].ref = spawn_into(rt, w, rng);
        bump(w.counts.respawns);
      }
      continue;
    }
    if (roll < 550) {
      ref.send(Msg{Work{{}, rng.one_in(40)}});
    } else if (roll < 600) {
      const int burst = 1 + static_cast<int>(rng.below(100));  // past every small capacity
      for (int k = 0; k < burst; ++k) ref.send(Msg{Work{{}, false}});
    } else if (roll < 700) {
      ref.send(Msg{Forward{{}, 1 + static_cast<int>(rng.below(8))}});
    } else if (roll < 760) {
      track_ask(w, ref.ask<long>(make_ping, std::chrono::milliseconds(5 + rng.below(496))));
    } else if (roll < 800) {
      ref.send(Msg{AskPeer{}});
    } else if (roll < 880) {
      ref.send(Msg{Schedule{{}, static_cast<int>(rng.below(21)), rng.one_in(3)}});
    } else if (roll < 920) {
      ref.send(Msg{SpawnChild{}});
    } else if (roll < 960) {
      ref.send(Msg{WorkChildren{}});
    } else if (roll < 990) {
      Ref child = w.some_child(rng);
      if (child) child.send(Msg{Work{{}, rng.one_in(10)}});
    } else {
      ref.send(Msg{StopSelf{}});
    }
  }
  return ops;
}

// --- helpers for the report -------------------------------------------------------------
long proc_status_kib(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::atol(line.c_str() + std::strlen(key));
  }
  return -1;
}

int g_failures = 0;
void expect(bool ok, const std::string& what) {
  if (!ok) {
    ++g_failures;
    std::printf("chaos_soak: FAILED: %s\n", what.c_str());
  }
}
std::string eq(const char* a, std::uint64_t x, const char* b, std::uint64_t y) {
  return std::string(a) + " (" + std::to_string(x) + ") == " + b + " (" + std::to_string(y) + ")";
}

struct Options {
  double seconds = 180;
  std::uint64_t seed = 0;
  bool seed_given = false;
  std::vector<std::uint64_t> ops;  // per driver: replay budget
  std::size_t slots = 2000;
  unsigned drivers = 2;
  unsigned workers = 2;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(
      stderr,
      "chaos_soak: %s\nusage: chaos_soak [--seconds N | --minutes N] [--seed S] [--ops N[,N...]] "
      "[--slots N] [--drivers N] [--workers N]\n",
      why);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  if (const char* env = std::getenv("PHYX_SEED")) {
    o.seed = std::strtoull(env, nullptr, 10);
    o.seed_given = true;
  }
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    auto value = [&]() -> std::string {
      if (a + 1 >= argc) usage((arg + " needs a value").c_str());
      return argv[++a];
    };
    if (arg == "--seconds") {
      o.seconds = std::stod(value());
    } else if (arg == "--minutes") {
      o.seconds = 60 * std::stod(value());
    } else if (arg == "--seed") {
      o.seed = std::stoull(value());
      o.seed_given = true;
    } else if (arg == "--ops") {
      std::string list = value();
      for (std::size_t p = 0; p < list.size();) {
        std::size_t q = list.find(',', p);
        if (q == std::string::npos) q = list.size();
        o.ops.push_back(std::stoull(list.substr(p, q - p)));
        p = q + 1;
      }
    } else if (arg == "--slots") {
      o.slots = std::stoul(value());
    } else if (arg == "--drivers") {
      o.drivers = static_cast<unsigned>(std::stoul(value()));
    } else if (arg == "--workers") {
      o.workers = static_cast<unsigned>(std::stoul(value()));
    } else {
      usage(("unknown argument '" + arg + "'").c_str());
    }
  }
  if (o.seconds <= 0) usage("--seconds / --minutes must be > 0");
  if (o.slots == 0 || o.drivers == 0 || o.workers == 0)
    usage("--slots, --drivers and --workers must be >= 1");
  if (!o.ops.empty()) o.drivers = static_cast<unsigned>(o.ops.size());
  if (!o.seed_given)
    o.seed = std::random_device{}() | (std::uint64_t{std::random_device{}()} << 32);
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  std::printf(
      "chaos_soak: seed %llu (replay: --seed %llu), %zu slots, %u drivers, %u workers, %s\n",
      static_cast<unsigned long long>(opt.seed), static_cast<unsigned long long>(opt.seed),
      opt.slots, opt.drivers, opt.workers,
      opt.ops.empty() ? (std::to_string(opt.seconds) + " s").c_str() : "op budget");
  std::fflush(stdout);
  const long rss_start_kib = proc_status_kib("VmRSS:");
  const auto started = Clock::now();

  World world(opt.slots);
  world.specs = spec_catalogue(true);
  world.top_specs = spec_catalogue(false);
  phyx::Stats final_stats;
  phyx::ShutdownReport report;
  std::vector<std::uint64_t> ops_done(opt.drivers, 0);
  long rss_peak_kib = 0;
  long live_after_shutdown = -1;
  std::vector<long> rss_samples_kib;
  std::vector<std::uint64_t> alive_samples;
  std::size_t probes = 0, probes_answered = 0, probes_terminal = 0;
  {
    phyx::RuntimeOptions ro;
    ro.workers = opt.workers;
    ro.seed = opt.seed;
    ro.emit = [&world](const phyx::Event& e) {
      if (e.type == "supervisor:restart") {
        bump(world.counts.ev_restart);
      } else if (e.type == "supervisor:giveup") {
        bump(world.counts.ev_giveup);
      } else if (e.type == "process:dead_letter") {
        bump(world.counts.ev_dead_letter);
      } else if (e.type == "process:fail") {
        bump(world.counts.ev_fail);
      }
    };
    phyx::Runtime rt(std::move(ro));

    // 1. The population.
    Rng setup(opt.seed);
    for (std::size_t i = 0; i < opt.slots; ++i) world.slots[i].ref = spawn_into(rt, world, setup);

    // 2. The drivers.
    std::atomic<bool> stop_all{false};
    std::vector<std::thread> drivers;
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(opt.seconds));
    for (unsigned d = 0; d < opt.drivers; ++d) {
      DriverPlan plan{opt.seed ^ (0xD1B54A32D192ED03ull * (d + 1)),
                      opt.ops.empty() ? 0 : opt.ops[d], d, deadline};
      drivers.emplace_back([&, plan, d] { ops_done[d] = drive(rt, world, plan, stop_all); });
    }
    // Meanwhile: RSS every tenth of the run, for the record (mimalloc keeps freed pages
    // for reuse, so RSS shows the high-water mark of the working set, not leaks; leaks
    // are what the instance counters and LSan check).
    {
      std::mutex m;
      std::unique_lock lock(m);
      std::condition_variable never;
      const auto step = std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(opt.seconds / 10));
      for (int k = 1; k <= 10 && opt.ops.empty(); ++k) {
        while (Clock::now() < started + k * step)
          never.wait_until(lock, started + k * step);  // the period
        rss_samples_kib.push_back(proc_status_kib("VmRSS:"));
        alive_samples.push_back(rt.stats().processes_alive);
      }
    }
    for (auto& t : drivers) t.join();
    rss_peak_kib = proc_status_kib("VmHWM:");

    // 3. Quiescence. Every ask has a timeout of at most 500 ms, so each settles by then
    //    (a generous bound: the sanitizer builds are slow and ctest runs two tests at once).
    {
      std::unique_lock lock(world.asks_mutex);
      const bool settled = world.asks_cv.wait_for(lock, 120s, [&] {
        return world.counts.asks_settled.load(std::memory_order_relaxed) ==
               world.counts.asks_made.load(std::memory_order_relaxed);
      });
      expect(settled, eq("asks settled", read(world.counts.asks_settled), "asks made",
                         read(world.counts.asks_made)) +
                          " within 120 s of the drivers' end");
    }
    std::vector<Ref> targets;
    for (auto& s : world.slots) targets.push_back(s.ref);
    {
      std::lock_guard lock(world.children_mutex);
      targets.insert(targets.end(), world.children.begin(), world.children.end());
    }
    // All probes are in flight at once, so the wait is bounded by one timeout however
    // many processes are stuck. A probe refused while its process is still running found
    // the lane full: it is asked again in the next round (the process is draining).
    auto terminal = [](phyx::Status st) {
      return st == phyx::Status::stopped || st == phyx::Status::failed ||
             st == phyx::Status::stopping;
    };
    std::erase_if(targets, [&](const Ref& r) { return terminal(r.status()); });
    probes = targets.size();
    std::size_t stuck = 0;
    // Refused probes are asked again until 60 s have passed, the bound a probe that is
    // accepted gets too: a process that refuses for that long is stuck (stranded in no
    // queue, or never draining). The bound was 100,000 rounds before: with one target left
    // a round takes microseconds, so a process draining a full lane for half a second
    // failed it (once in CI, release, session 10; which process it was is not known: the
    // message now names them).
    const auto probing_since = Clock::now();
    std::vector<std::string> refusals(targets.size());  // each target's last refusal
    for (long round = 0; !targets.empty(); ++round) {
      if (Clock::now() - probing_since > 60s) {
        std::string named;
        for (std::size_t k = 0; k < targets.size() && k < 10; ++k) {
          named += (k == 0 ? "" : ", ") + std::string("'") + targets[k].name() + "' (" +
                   std::string(phyx::to_string(targets[k].status())) + ", refused: " + refusals[k] +
                   ")";
        }
        expect(false, std::to_string(targets.size()) + " processes refused every probe for 60 s (" +
                          std::to_string(round) + " rounds): " + named);
        break;
      }
      std::vector<phyx::Future<long>> inflight;
      for (const Ref& r : targets) inflight.push_back(r.ask<long>(make_ping, 60s));
      std::vector<Ref> again;
      std::vector<std::string> again_refusals;
      for (std::size_t k = 0; k < targets.size(); ++k) {
        try {
          inflight[k].get();
          ++probes_answered;
        } catch (const phyx::TimeoutError&) {
          if (++stuck <= 10) {
            expect(false, "process '" + targets[k].name() + "' (status " +
                              std::string(phyx::to_string(targets[k].status())) +
                              ") did not answer a probe within 60 s: stuck");
          }
        } catch (const phyx::Error& e) {
          if (terminal(targets[k].status())) {
            ++probes_terminal;
          } else {
            again.push_back(targets[k]);
            again_refusals.emplace_back(e.what());
          }
        }
      }
      targets.swap(again);
      refusals.swap(again_refusals);
      if (!targets.empty()) std::this_thread::yield();  // full lanes: let their processes drain
    }
    expect(stuck == 0, std::to_string(stuck) + " processes stuck (the first 10 are named above)");
    targets.clear();

    // 4. Shutdown.
    report = rt.shutdown(30s);
    final_stats = rt.stats();
    // Nothing may hold a message once shutdown has returned: no lane, no timer, no
    // continuation. (Replies still referenced by the soak's own objects: none.)
    live_after_shutdown = g_live_messages.load(std::memory_order_relaxed);
    for (auto& s : world.slots) s.ref = Ref{};
    world.children.clear();
  }  // ~Runtime

  // 5. The checks.
  const phyx::Stats& s = final_stats;
  const Counts& c = world.counts;
  expect(report.abandoned == 0,
         "shutdown abandoned " + std::to_string(report.abandoned) + " processes");
  expect(s.sent == s.accepted + s.refused_full + s.refused_not_running,
         "SPEC 8 law 1: sent (" + std::to_string(s.sent) +
             ") == accepted + refused_full + refused_not_running (" +
             std::to_string(s.accepted + s.refused_full + s.refused_not_running) + ")");
  expect(s.accepted == s.handled + s.crashed + s.dropped_oldest + s.discarded + s.queued,
         "SPEC 8 law 2: accepted (" + std::to_string(s.accepted) +
             ") == handled + crashed + dropped_oldest + discarded + queued (" +
             std::to_string(s.handled + s.crashed + s.dropped_oldest + s.discarded + s.queued) +
             ")");
  expect(s.queued == 0, eq("queued after shutdown", s.queued, "0", 0));
  expect(s.processes_alive == 0, eq("processes_alive after shutdown", s.processes_alive, "0", 0));
  expect(s.handled == read(c.handler_returns),
         eq("stats.handled", s.handled, "handler returns", read(c.handler_returns)));
  expect(s.crashed == read(c.handler_throws),
         eq("stats.crashed", s.crashed, "handler throws", read(c.handler_throws)));
  expect(read(c.asks_settled) == read(c.asks_made),
         eq("asks settled", read(c.asks_settled), "asks made", read(c.asks_made)));
  expect(read(c.asks_other) == 0,
         eq("asks failed with an error SPEC 4 does not list", read(c.asks_other), "0", 0));
  expect(read(c.asks_settled_twice) == 0,
         eq("asks settled twice", read(c.asks_settled_twice), "0", 0));
  // The sink saw every restart, give-up and dead letter that stats() counts. Exact unless
  // the sink stalled for longer than its patience and more than 65,536 events queued
  // meanwhile (Stats::events_dropped: seen under TSan on a loaded host): then the
  // dropped events are the only difference, and they are of any type, so the missing
  // ones are at most the dropped ones (an equality here failed a TSan soak whose sink
  // dropped 34,097 events of which 5,666 were of these three types).
  const std::uint64_t seen = read(c.ev_restart) + read(c.ev_giveup) + read(c.ev_dead_letter);
  const std::uint64_t counted = s.restarts + s.giveups + s.dead_letters;
  const bool exact_or_dropped =
      s.events_dropped == 0 ? seen == counted : counted - seen <= s.events_dropped;
  expect(read(c.ev_restart) <= s.restarts && read(c.ev_giveup) <= s.giveups &&
             read(c.ev_dead_letter) <= s.dead_letters && exact_or_dropped,
         "telemetry: restart/giveup/dead_letter events " + std::to_string(read(c.ev_restart)) +
             "/" + std::to_string(read(c.ev_giveup)) + "/" +
             std::to_string(read(c.ev_dead_letter)) + " + events dropped " +
             std::to_string(s.events_dropped) + " against stats " + std::to_string(s.restarts) +
             "/" + std::to_string(s.giveups) + "/" + std::to_string(s.dead_letters));
  expect(s.sink_errors == 0, eq("sink errors", s.sink_errors, "0", 0));
  const long live_messages = g_live_messages.load(std::memory_order_relaxed);
  const long live_states = g_live_states.load(std::memory_order_relaxed);
  expect(live_after_shutdown == 0,
         "messages alive after shutdown returned: " + std::to_string(live_after_shutdown));
  expect(live_messages == 0, "messages alive after the runtime: " + std::to_string(live_messages));
  expect(live_states == 0, "states alive after the runtime: " + std::to_string(live_states));
  const long rss_end_kib = proc_status_kib("VmRSS:");
  // No growth while the population is steady: RSS at the end of the run within 1.5× (plus
  // 8 MiB for the allocator's slack) of RSS at its third tenth, when the population has
  // reached its plateau. Not in the sanitizer builds, whose shadow memory and quarantine
  // grow by design (they run LSan and the instance counters instead).
  if (rss_samples_kib.size() == 10 && std::getenv("PHYX_TEST_INSTRUMENTED") == nullptr) {
    expect(rss_samples_kib[9] <= rss_samples_kib[2] * 3 / 2 + 8 * 1024,
           "RSS grew from " + std::to_string(rss_samples_kib[2]) + " KiB at 3/10 of the run to " +
               std::to_string(rss_samples_kib[9]) + " KiB at its end");
  }
  const double secs = std::chrono::duration<double>(Clock::now() - started).count();

  std::uint64_t total_ops = 0;
  std::string ops_list;
  for (auto n : ops_done) {
    total_ops += n;
    if (!ops_list.empty()) ops_list += ',';
    ops_list += std::to_string(n);
  }
  std::string rss_list;
  for (std::size_t k = 0; k < rss_samples_kib.size(); ++k) {
    if (!rss_list.empty()) rss_list += ", ";
    rss_list +=
        std::to_string(rss_samples_kib[k] / 1024) + " MiB/" + std::to_string(alive_samples[k]);
  }
  std::printf(
      "chaos_soak: %.1f s, %llu driver ops (replay: --seed %llu --ops %s)\n"
      "  messages: sent %llu, accepted %llu, handled %llu, crashed %llu, dropped_oldest %llu, "
      "discarded %llu, "
      "refused_full %llu, refused_not_running %llu\n"
      "  processes: spawned %llu (children %llu, respawned slots %llu), stops %llu, restarts %llu, "
      "giveups %llu, "
      "failed events %llu\n"
      "  asks: %llu made, %llu settled once (ok %llu, timeout %llu, stopped %llu, refused %llu, no "
      "reply %llu); "
      "probes %zu (answered %zu, ended %zu)\n"
      "  timers: %llu schedules, %llu cancelled, %llu fired (all kinds); dead letters %llu, "
      "telemetry events dropped %llu\n"
      "  shutdown: stopped %zu, abandoned %zu, discarded %zu, %.1f ms\n"
      "  memory: RSS %ld KiB at start, peak %ld KiB, %ld KiB at the end; messages alive %ld, "
      "states alive %ld\n"
      "  each tenth of the run, RSS / processes alive: %s\n",
      secs, static_cast<unsigned long long>(total_ops), static_cast<unsigned long long>(opt.seed),
      ops_list.c_str(), (unsigned long long)s.sent, (unsigned long long)s.accepted,
      (unsigned long long)s.handled, (unsigned long long)s.crashed,
      (unsigned long long)s.dropped_oldest, (unsigned long long)s.discarded,
      (unsigned long long)s.refused_full, (unsigned long long)s.refused_not_running,
      (unsigned long long)s.spawned, (unsigned long long)read(c.children_spawned),
      (unsigned long long)read(c.respawns), (unsigned long long)read(c.stops),
      (unsigned long long)s.restarts, (unsigned long long)s.giveups,
      (unsigned long long)read(c.ev_fail), (unsigned long long)read(c.asks_made),
      (unsigned long long)read(c.asks_settled), (unsigned long long)read(c.asks_ok),
      (unsigned long long)read(c.asks_timeout), (unsigned long long)read(c.asks_stopped),
      (unsigned long long)read(c.asks_refused), (unsigned long long)read(c.asks_no_reply), probes,
      probes_answered, probes_terminal, (unsigned long long)read(c.schedules),
      (unsigned long long)read(c.cancels), (unsigned long long)s.timers_fired,
      (unsigned long long)s.dead_letters, (unsigned long long)s.events_dropped, report.stopped,
      report.abandoned, report.messages_discarded,
      std::chrono::duration<double, std::milli>(report.elapsed).count(), rss_start_kib,
      rss_peak_kib, rss_end_kib, live_messages, live_states, rss_list.c_str());
  if (g_failures != 0) {
    std::printf("chaos_soak: %d check(s) FAILED; replay with --seed %llu --ops %s\n", g_failures,
                static_cast<unsigned long long>(opt.seed), ops_list.c_str());
    return 1;
  }
  std::printf("chaos_soak: all laws held\n");
  return 0;
}
