// SPEC 2 and 14.14: Runtime::shutdown (order, on_stop, pending asks, the report, the
// deadline), ~Runtime, and refs that outlive their runtime.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "support/accounting.hpp"
#include "support/counter.hpp"
#include "support/printing.hpp"
#include "support/recorder.hpp"

using namespace std::chrono_literals;
using phyx_test::check_laws;
using phyx_test::deterministic_options;


// ---- a tree of processes that records its on_stop calls ------------------------------

struct Grow {};
struct Note {};
struct Keep {
  phyx::Reply<int> reply;
};
using NodeMsg = std::variant<Grow, Note, Keep>;

struct World {
  std::map<std::string, std::vector<std::string>> tree;  // name -> children, in spawn order
  std::mutex mutex;
  std::vector<std::string> stops;  // "name:reason", in on_stop order
  std::atomic<int> grown{0};
  int total = 0;
  std::promise<void> all_grown;
};
struct NodeCtx {
  std::string name;
  std::shared_ptr<World> world;
};
struct NodeState {
  std::optional<phyx::Reply<int>> kept;
};

namespace {

phyx::ProcessSpec<NodeMsg, NodeState, NodeCtx> node_spec(const std::string& name) {
  return phyx::ProcessSpec<NodeMsg, NodeState, NodeCtx>{
      .name = name,
      .init = [](const NodeCtx&) { return NodeState{}; },
      .handle =
          [](NodeState& s, NodeMsg& m, auto& tools) {
            const NodeCtx& c = tools.ctx();
            if (std::holds_alternative<Grow>(m)) {
              // Read-only lookup: handlers of different nodes run in parallel on threads.
              if (auto it = c.world->tree.find(c.name); it != c.world->tree.end()) {
                for (const auto& kid : it->second) {
                  auto child = tools.spawn(node_spec(kid), NodeCtx{kid, c.world});
                  child.send(Grow{});
                }
              }
              if (c.world->grown.fetch_add(1, std::memory_order_acq_rel) + 1 == c.world->total) c.world->all_grown.set_value();
            } else if (auto* k = std::get_if<Keep>(&m)) {
              s.kept = std::move(k->reply);
            }
          },
      .on_stop =
          [](NodeState&, const phyx::StopReason& r, const NodeCtx& c) {
            std::lock_guard lock(c.world->mutex);
            c.world->stops.push_back(c.name + ":" + phyx::to_string(r));
          },
  };
}

std::shared_ptr<World> make_world() {
  auto w = std::make_shared<World>();
  w->tree = {{"A", {"A1", "A2"}}, {"A1", {"A1a"}}, {"B", {"B1"}}};
  w->total = 6;  // A, A1, A1a, A2, B, B1
  return w;
}

const std::vector<std::string> kExpectedStops = {"B1:shutdown",  "B:shutdown",  "A2:shutdown",
                                                 "A1a:shutdown", "A1:shutdown", "A:shutdown"};

}  // namespace

TEST_CASE("shutdown: children before parents, siblings in reverse spawn order, reason shutdown") {
  phyx_test::Recorder rec;
  auto world = make_world();
  phyx::Runtime rt(phyx::RuntimeOptions{.clock = phyx::create_manual_clock(), .emit = rec.sink(), .deterministic = true});
  auto a = rt.spawn(node_spec("A"), NodeCtx{"A", world});
  auto b = rt.spawn(node_spec("B"), NodeCtx{"B", world});
  a.send(Grow{});
  b.send(Grow{});
  rt.run_until_idle();
  REQUIRE(world->grown == 6);
  const auto report = rt.shutdown(5s);
  CHECK(world->stops == kExpectedStops);
  std::vector<std::string> stop_events;
  for (auto& e : rec.of_type("process:stop")) stop_events.push_back(e.name + ":" + e.text("reason"));
  CHECK(stop_events == kExpectedStops);
  CHECK(report.stopped == 6);
  CHECK(report.abandoned == 0);
  CHECK(report.messages_discarded == 0);
  CHECK(a.status() == phyx::Status::stopped);
  CHECK(b.status() == phyx::Status::stopped);
  CHECK(rt.stats().processes_alive == 0);
  check_laws(rt);
}

TEST_CASE("shutdown on worker threads keeps the same order") {
  auto world = make_world();
  phyx::Runtime rt(phyx::RuntimeOptions{.clock = phyx::create_system_clock(), .workers = 2});
  auto a = rt.spawn(node_spec("A"), NodeCtx{"A", world});
  auto b = rt.spawn(node_spec("B"), NodeCtx{"B", world});
  a.send(Grow{});
  b.send(Grow{});
  REQUIRE(world->all_grown.get_future().wait_for(10s) == std::future_status::ready);
  const auto report = rt.shutdown(10s);
  {
    std::lock_guard lock(world->mutex);
    CHECK(world->stops == kExpectedStops);
  }
  CHECK(report.stopped == 6);
  CHECK(report.abandoned == 0);
  CHECK(report.elapsed < 10s);
  check_laws(rt);
}

TEST_CASE("shutdown fails pending asks with StoppedError(\"Process stopping\")") {
  phyx::Runtime rt(deterministic_options());
  auto world = make_world();
  auto p = rt.spawn(node_spec("P"), NodeCtx{"P", world});
  auto ask_keep = [](const phyx::ProcessRef<NodeMsg>& ref) {
    return ref.ask<int>([](phyx::Reply<int> r) { return NodeMsg{Keep{std::move(r)}}; });
  };
  auto held = ask_keep(p);  // its Reply will be kept in the state
  rt.run_until_idle();
  auto queued = ask_keep(p);  // still in the lane at shutdown
  auto q = rt.spawn(node_spec("Q"), NodeCtx{"Q", world});
  auto never_started = ask_keep(q);  // to a process whose init never ran
  CHECK_FALSE(held.ready());
  CHECK_FALSE(queued.ready());
  CHECK_FALSE(never_started.ready());
  rt.shutdown(5s);
  REQUIRE(held.ready());
  REQUIRE(queued.ready());
  REQUIRE(never_started.ready());
  CHECK_THROWS_WITH_AS(held.get(), "Process stopping", phyx::StoppedError);
  CHECK_THROWS_WITH_AS(queued.get(), "Process stopping", phyx::StoppedError);
  CHECK_THROWS_WITH_AS(never_started.get(), "Process stopping", phyx::StoppedError);
  check_laws(rt);
}

TEST_CASE("ShutdownReport: stopped, abandoned, messages_discarded, elapsed") {
  phyx::Runtime rt(deterministic_options());
  auto world = make_world();
  auto a = rt.spawn(node_spec("A"), NodeCtx{"A", world});  // 4 processes with its children
  auto gone = rt.spawn(node_spec("gone"), NodeCtx{"gone", world});
  auto failed = rt.spawn(phyx::ProcessSpec<int, int>{
      .name = "failed",
      .init = [](const phyx::Empty&) { return 0; },
      .handle = [](int&, int&, auto&) { throw std::runtime_error("down"); },
      .supervision = phyx::Supervision{.type = phyx::Strategy::none},
  });
  auto c = rt.spawn(node_spec("C"), NodeCtx{"C", world});  // the youngest: stopped first
  a.send(Grow{});
  failed.send(1);
  rt.run_until_idle();
  CHECK(failed.status() == phyx::Status::failed);
  gone.stop();  // stopped before the shutdown: not counted in the report
  rt.run_until_idle();
  // C is stopped first, and its stop is read before its user lane: these 3 are discarded.
  for (int i = 0; i < 3; ++i) CHECK(c.send(Note{}));
  // A is stopped last. While the processes spawned after it stop, SPEC does not say whether
  // A keeps handling its queue (as an OTP supervisor's other children do) or not: each of
  // these 2 is either handled or discarded.
  CHECK(a.send(Note{}));
  CHECK(a.send(Note{}));
  const auto before = rt.stats();
  const auto report = rt.shutdown(5s);
  const auto after = rt.stats();
  CHECK(report.stopped == 6);  // A, A1, A1a, A2, C, and the failed one (now stopped)
  CHECK(report.abandoned == 0);
  CHECK(report.messages_discarded == after.discarded - before.discarded);
  CHECK(report.messages_discarded >= 3);
  CHECK(report.messages_discarded + (after.handled - before.handled) == 5);
  CHECK(report.elapsed > 0ns);
  CHECK(report.elapsed < 5s);
  CHECK(failed.status() == phyx::Status::stopped);  // SPEC 14.4: failed processes become stopped
  {
    std::lock_guard lock(world->mutex);
    for (const auto& s : world->stops) CHECK(s.find("failed") == std::string::npos);  // no live state
  }
  check_laws(rt);
}

TEST_CASE("a process whose stop completed before the deadline is not reported abandoned") {
  // The stop future of a process completes inside its final step; a continuation on it runs
  // right there, on the worker. Here the continuation holds that worker for a while, which
  // widens a window that exists anyway: the process is `stopped`, its stop is complete, but
  // the worker has not finished the step. It must count as stopped, not abandoned.
  std::promise<void> go;
  std::shared_future<void> go_f = go.get_future().share();
  std::optional<phyx::ProcessRef<phyx_test::CounterMsg>> target;
  std::atomic<bool> hooked{false};
  phyx::Runtime rt(phyx::RuntimeOptions{
      .clock = phyx::create_system_clock(),
      .emit =
          [&](const phyx::Event& e) {
            if (e.type == "process:stop" && e.name == "last" && !hooked.exchange(true, std::memory_order_acq_rel)) {
              // the same completion as the shutdown's stop (SPEC 4: stop is idempotent)
              target->stop().then([go_f](phyx::Result<void>) { (void)go_f.wait_for(std::chrono::seconds(10)); });
            }
          },
      .workers = 2});
  target = rt.spawn(phyx_test::counter_spec("last"));
  REQUIRE(phyx_test::get_count(*target).get() == 0);
  const auto report = rt.shutdown(500ms);
  go.set_value();
  CHECK(hooked.load(std::memory_order_acquire));
  CHECK(target->status() == phyx::Status::stopped);
  CHECK(report.abandoned == 0);
  CHECK(report.stopped == 1);
  check_laws(rt);
}

TEST_CASE("after shutdown no runtime timer is left on the clock (schedules, restart waits, ask timeouts)") {
  auto opts = deterministic_options();
  auto clock = std::dynamic_pointer_cast<phyx::ManualClock>(opts.clock);
  phyx::Runtime rt(opts);
  struct Sched {};
  struct Crash {};
  using M = std::variant<Sched, Crash, Keep>;
  auto spec = [](std::string name) {
    return phyx::ProcessSpec<M, std::optional<phyx::Reply<int>>>{
        .name = std::move(name),
        .init = [](const phyx::Empty&) { return std::optional<phyx::Reply<int>>{}; },
        .handle =
            [](std::optional<phyx::Reply<int>>& kept, M& m, auto& tools) {
              if (std::holds_alternative<Sched>(m)) tools.schedule(10'000ms, M{Sched{}});
              if (std::holds_alternative<Crash>(m)) throw std::runtime_error("crash");
              if (auto* k = std::get_if<Keep>(&m)) kept = std::move(k->reply);
            },
        .supervision = phyx::Supervision{.backoff = phyx::Backoff{.initial = 5000ms, .max = 5000ms}},
    };
  };
  auto scheduler = rt.spawn(spec("scheduler"));
  auto waiting = rt.spawn(spec("waiting"));
  scheduler.send(Sched{});
  scheduler.send(Sched{});
  waiting.send(Crash{});  // restart wait of 5 s
  auto held = scheduler.ask<int>([](phyx::Reply<int> r) { return M{Keep{std::move(r)}}; });
  rt.run_until_idle();
  CHECK(waiting.status() == phyx::Status::starting);
  CHECK(clock->pending_timer_count() == 4);  // 2 schedules, 1 restart wait, 1 ask timeout
  rt.shutdown(5s);
  CHECK(clock->pending_timer_count() == 0);
  CHECK_THROWS_AS(held.get(), phyx::StoppedError);
  CHECK(waiting.status() == phyx::Status::stopped);
  check_laws(rt);
}

TEST_CASE("shutdown from two threads at once: both get the same report") {
  auto world = make_world();
  phyx::Runtime rt(phyx::RuntimeOptions{.clock = phyx::create_system_clock(), .workers = 2});
  auto a = rt.spawn(node_spec("A"), NodeCtx{"A", world});
  world->total = 4;
  a.send(Grow{});
  REQUIRE(world->all_grown.get_future().wait_for(10s) == std::future_status::ready);
  phyx::ShutdownReport other;
  std::thread t([&] { other = rt.shutdown(10s); });
  const auto mine = rt.shutdown(10s);
  t.join();
  CHECK(mine.stopped == 4);
  CHECK(other.stopped == mine.stopped);
  CHECK(other.abandoned == mine.abandoned);
  CHECK(other.messages_discarded == mine.messages_discarded);
  CHECK(other.elapsed == mine.elapsed);
  CHECK(world->stops.size() == 4);  // on_stop ran once per process
  check_laws(rt);
}

TEST_CASE("shutdown is idempotent: a second call returns the same report") {
  phyx::Runtime rt(deterministic_options());
  auto counter = rt.spawn(phyx_test::counter_spec());
  counter.send(phyx_test::Increment{});
  const auto first = rt.shutdown(5s);
  const auto second = rt.shutdown(1ms);
  CHECK(first.stopped == 1);
  CHECK(first.messages_discarded == 1);
  CHECK(second.stopped == first.stopped);
  CHECK(second.abandoned == first.abandoned);
  CHECK(second.messages_discarded == first.messages_discarded);
  CHECK(second.elapsed == first.elapsed);
  check_laws(rt);
}

TEST_CASE("~Runtime shuts down: on_stop runs with reason shutdown") {
  auto world = make_world();
  phyx::ProcessRef<NodeMsg> a;
  {
    phyx::Runtime rt(deterministic_options());
    a = rt.spawn(node_spec("A"), NodeCtx{"A", world});
    a.send(Grow{});
    rt.run_until_idle();
    check_laws(rt);
  }
  CHECK(world->stops == std::vector<std::string>{"A2:shutdown", "A1a:shutdown", "A1:shutdown", "A:shutdown"});
  CHECK(a.status() == phyx::Status::stopped);
}

TEST_CASE("~Runtime on worker threads shuts down too") {
  auto world = make_world();
  phyx::ProcessRef<NodeMsg> b;
  {
    phyx::Runtime rt(phyx::RuntimeOptions{.clock = phyx::create_system_clock(), .workers = 2});
    b = rt.spawn(node_spec("B"), NodeCtx{"B", world});
    world->total = 2;
    b.send(Grow{});
    REQUIRE(world->all_grown.get_future().wait_for(10s) == std::future_status::ready);
  }
  CHECK(world->stops == std::vector<std::string>{"B1:shutdown", "B:shutdown"});
  CHECK(b.status() == phyx::Status::stopped);
}

namespace {
void check_dead_ref(const phyx::ProcessRef<phyx_test::CounterMsg>& ref) {
  CHECK(ref.status() == phyx::Status::stopped);
  CHECK_FALSE(ref.send(phyx_test::Increment{}));
  auto f = phyx_test::get_count(ref);
  REQUIRE(f.ready());  // fails at once
  try {
    (void)f.get();
    FAIL("the ask should fail");
  } catch (const phyx::ProcessError& e) {
    CHECK(std::string(e.what()) == "Failed to send ask message");
    CHECK(e.process_id() == ref.id());
  }
  auto s1 = ref.stop();
  REQUIRE(s1.ready());
  CHECK_NOTHROW(s1.get());
  auto s2 = ref.stop(phyx::StopReason::error("again"), phyx::StopMode::drain);
  REQUIRE(s2.ready());
  CHECK_NOTHROW(s2.get());
  CHECK(ref.status() == phyx::Status::stopped);
}
}  // namespace

TEST_CASE("refs outliving their runtime: send false, ask ProcessError, stop complete, status stopped") {
  phyx::ProcessRef<phyx_test::CounterMsg> never_stopped_before, idle;
  {
    phyx::Runtime rt(deterministic_options());
    never_stopped_before = rt.spawn(phyx_test::counter_spec("a"));
    idle = rt.spawn(phyx_test::counter_spec("b"));
    never_stopped_before.send(phyx_test::Increment{});
    rt.run_until_idle();
    check_laws(rt);
  }
  check_dead_ref(never_stopped_before);
  check_dead_ref(idle);
}

TEST_CASE("refs outliving a threaded runtime") {
  phyx::ProcessRef<phyx_test::CounterMsg> ref;
  {
    phyx::Runtime rt(phyx::RuntimeOptions{.clock = phyx::create_system_clock(), .workers = 2});
    ref = rt.spawn(phyx_test::counter_spec());
    ref.send(phyx_test::Increment{});
    CHECK(phyx_test::get_count(ref).get() == 1);
  }
  check_dead_ref(ref);
}

TEST_CASE("refs after shutdown (runtime still alive): refused and counted") {
  phyx::Runtime rt(deterministic_options());
  auto ref = rt.spawn(phyx_test::counter_spec());
  rt.run_until_idle();
  rt.shutdown(5s);
  const auto before = rt.stats();
  check_dead_ref(ref);
  const auto after = rt.stats();
  CHECK(after.refused_not_running - before.refused_not_running == 2);  // the send and the ask
  CHECK(after.sent - before.sent == 2);
  check_laws(rt);
}

TEST_CASE("spawn after shutdown throws phyx::Error") {
  phyx::Runtime rt(deterministic_options());
  rt.shutdown(5s);
  CHECK_THROWS_AS(rt.spawn(phyx_test::counter_spec()), phyx::Error);
  phyx::Runtime threaded(phyx::RuntimeOptions{.clock = phyx::create_system_clock(), .workers = 1});
  threaded.shutdown(5s);
  CHECK_THROWS_AS(threaded.spawn(phyx_test::counter_spec()), phyx::Error);
  CHECK(threaded.stats().spawned == 0);
}

// ---- a handler that blocks past the deadline -----------------------------------------

struct Block {};
using BlockMsg = std::variant<Block, Note, Keep>;
struct Gate {
  std::promise<void> entered;
  std::shared_future<void> release;
  std::promise<void> destroyed;  // set when the process (which owns this ctx) is destroyed
  ~Gate() { destroyed.set_value(); }
};

TEST_CASE("shutdown on worker threads: many top-level processes, some already stopped, in reverse spawn order") {
  // The workers pass the stops along (engine/runtime/root_stop_chain.hpp); the ones
  // stopped by their users beforehand are skipped, the others stop youngest first.
  struct Order {
    std::mutex mutex;
    std::vector<int> stops;
  };
  auto order = std::make_shared<Order>();
  phyx::Runtime rt(phyx::RuntimeOptions{.clock = phyx::create_system_clock(), .workers = 2});
  const auto spec = phyx::share(phyx::ProcessSpec<int, int, int>{
      .name = "root",
      .init = [](const int& index) { return index; },
      .handle = [](int&, int&, auto&) {},
      .on_stop =
          [order](int& index, const phyx::StopReason& r, const int&) {
            if (r.kind != phyx::StopKind::shutdown) return;
            std::lock_guard lock(order->mutex);
            order->stops.push_back(index);
          },
  });
  constexpr int kRoots = 3000;
  std::vector<phyx::ProcessRef<int>> roots;
  for (int i = 0; i < kRoots; ++i) roots.push_back(rt.spawn(spec, i));
  std::vector<int> expected;
  for (int i = kRoots - 1; i >= 0; --i) {
    if (i % 3 == 1) {
      REQUIRE(roots[static_cast<std::size_t>(i)].stop().wait_for(10s));
    } else {
      expected.push_back(i);
      REQUIRE(roots[static_cast<std::size_t>(i)].send(i));  // some have queued work too
    }
  }
  const auto report = rt.shutdown(20s);
  CHECK(report.abandoned == 0);
  CHECK(report.stopped == expected.size());
  {
    std::lock_guard lock(order->mutex);
    CHECK(order->stops == expected);
  }
  for (const auto& r : roots) CHECK(r.status() == phyx::Status::stopped);
  check_laws(rt);
}

TEST_CASE("a handler blocked past the deadline is abandoned and counted; shutdown returns at the deadline") {
  std::promise<void> release;
  auto gate = std::make_shared<Gate>();
  gate->release = release.get_future().share();
  auto entered = gate->entered.get_future();
  auto destroyed = gate->destroyed.get_future();
  auto world = make_world();

  phyx::Runtime rt(phyx::RuntimeOptions{.clock = phyx::create_system_clock(), .workers = 2});
  if (rt.engine_for_tests().worker_count() < 2) {  // systematic mode runs one worker
    MESSAGE("needs a second worker while the blocker holds one: skipped under one worker");
    release.set_value();
    return;
  }
  // The blocker is spawned first, so it is stopped last (reverse spawn order).
  auto blocker = rt.spawn(phyx::ProcessSpec<BlockMsg, int, std::shared_ptr<Gate>>{
                              .name = "blocker",
                              .init = [](const std::shared_ptr<Gate>&) { return 0; },
                              .handle =
                                  [](int&, BlockMsg& m, auto& tools) {
                                    if (std::holds_alternative<Block>(m)) {
                                      tools.ctx()->entered.set_value();
                                      (void)tools.ctx()->release.wait_for(std::chrono::seconds(30));
                                    }
                                  },
                          },
                          std::move(gate));
  auto a = rt.spawn(node_spec("A"), NodeCtx{"A", world});
  auto c = rt.spawn(node_spec("C"), NodeCtx{"C", world});
  world->total = 4;  // A, A1, A1a, A2
  a.send(Grow{});
  REQUIRE(world->all_grown.get_future().wait_for(10s) == std::future_status::ready);
  REQUIRE(blocker.send(Block{}));
  REQUIRE(entered.wait_for(10s) == std::future_status::ready);
  for (int i = 0; i < 3; ++i) REQUIRE(blocker.send(Note{}));  // queued behind the blocked handler
  auto pending = blocker.ask<int>([](phyx::Reply<int> r) { return BlockMsg{Keep{std::move(r)}}; });

  const auto t0 = std::chrono::steady_clock::now();
  const auto report = rt.shutdown(300ms);
  const auto took = std::chrono::steady_clock::now() - t0;
  release.set_value();  // only now does the handler return

  CHECK(report.abandoned == 1);
  CHECK(report.stopped == 5);  // A, A1, A1a, A2 and C
  CHECK(report.messages_discarded == 4);  // 3 notes + the ask, queued behind the blocked handler
  CHECK(report.elapsed >= 299ms);
  CHECK(report.elapsed < 300ms + 2s);
  CHECK(took < 300ms + 2s);
  CHECK(blocker.status() == phyx::Status::stopped);
  REQUIRE(pending.ready());
  CHECK_THROWS_WITH_AS(pending.get(), "Process stopping", phyx::StoppedError);
  {
    std::lock_guard lock(world->mutex);
    REQUIRE_FALSE(world->stops.empty());
    CHECK(world->stops.back() == "A:shutdown");
  }

  // Wait (bounded) until the abandoned handler has returned and its process is gone, so
  // that its message is counted before the laws are checked.
  blocker = {};
  pending = {};
  REQUIRE(destroyed.wait_for(10s) == std::future_status::ready);
  const auto s = rt.stats();
  CHECK(s.handled >= 1);
  check_laws(rt);
}

// A child is reached through its parent, not through a runtime-wide list: stats() must
// still count what is queued in a grandchild, and shutdown must abandon and count the
// whole stuck branch (the blocked grandchild and the two ancestors waiting for it).
struct Descend {
  int levels;
};
using ChainMsg = std::variant<Descend, Block, Note>;
struct ChainCtx {
  std::shared_ptr<Gate> gate;
  std::shared_ptr<std::promise<phyx::ProcessRef<ChainMsg>>> leaf;  // the deepest, once spawned
};

phyx::ProcessSpec<ChainMsg, int, ChainCtx> chain_spec() {
  return {
      .name = "chain",
      .init = [](const ChainCtx&) { return 0; },
      .handle =
          [](int&, ChainMsg& m, auto& tools) {
            if (auto* d = std::get_if<Descend>(&m)) {
              if (d->levels == 0) {
                tools.ctx().leaf->set_value(tools.self());
                return;
              }
              tools.spawn(chain_spec(), tools.ctx()).send(Descend{d->levels - 1});
            } else if (std::holds_alternative<Block>(m)) {
              tools.ctx().gate->entered.set_value();
              (void)tools.ctx().gate->release.wait_for(std::chrono::seconds(30));
            }
          },
  };
}

// A branch of chain_spec(), root -> child -> grandchild, whose grandchild is blocked in a
// handler until `release` is set. The gate (in every process's ctx) is destroyed with the
// branch's last process.
struct BlockedBranch {
  std::promise<void> release;
  std::shared_ptr<Gate> gate = std::make_shared<Gate>();
  std::future<void> destroyed = gate->destroyed.get_future();
  BlockedBranch() { gate->release = release.get_future().share(); }

  /// False (and the handler released) when `rt` runs one worker: the test needs a second
  /// one while the blocker holds the first.
  bool needs_two_workers(phyx::Runtime& rt) {
    if (rt.engine_for_tests().worker_count() >= 2) return true;
    MESSAGE("needs a second worker while the blocker holds one: skipped under one worker");
    release.set_value();
    return false;
  }

  struct Grown {
    phyx::ProcessRef<ChainMsg> root;
    phyx::ProcessRef<ChainMsg> leaf;
  };
  /// Spawns the branch and returns once the grandchild's handler is blocked. With another
  /// `root_spec`, what the root spawns on Descend{2} (the leaf is whoever gets Descend{0}).
  Grown grow_and_block(phyx::Runtime& rt,
                       phyx::ProcessSpec<ChainMsg, int, ChainCtx> root_spec = chain_spec()) {
    auto leaf_promise = std::make_shared<std::promise<phyx::ProcessRef<ChainMsg>>>();
    auto leaf_future = leaf_promise->get_future();
    auto entered = gate->entered.get_future();
    auto root = rt.spawn(std::move(root_spec), ChainCtx{gate, leaf_promise});
    REQUIRE(root.send(Descend{2}));  // root -> child -> grandchild
    REQUIRE(leaf_future.wait_for(10s) == std::future_status::ready);
    auto leaf = leaf_future.get();  // moved out: the promise the ctx keeps holds no ref
    REQUIRE(leaf.send(Block{}));
    REQUIRE(entered.wait_for(10s) == std::future_status::ready);
    return {std::move(root), std::move(leaf)};
  }
};

TEST_CASE(
    "a grandchild blocked past the deadline: stats() counts its queue, shutdown abandons its "
    "branch") {
  BlockedBranch branch;
  phyx::Runtime rt(phyx::RuntimeOptions{.clock = phyx::create_system_clock(), .workers = 2});
  if (!branch.needs_two_workers(rt)) return;
  auto [root, leaf] = branch.grow_and_block(rt);
  auto bystander = rt.spawn(phyx_test::counter_spec());
  for (int i = 0; i < 3; ++i) REQUIRE(leaf.send(Note{}));  // queued behind the blocked handler
  CHECK(rt.stats().queued == 3);

  const auto report = rt.shutdown(300ms);
  branch.release.set_value();    // only now does the handler return
  CHECK(report.abandoned == 3);  // the grandchild, and its parent and root waiting for it
  CHECK(report.stopped == 1);    // the bystander
  CHECK(report.messages_discarded == 3);
  CHECK(leaf.status() == phyx::Status::stopped);
  CHECK(root.status() == phyx::Status::stopped);
  CHECK(rt.stats().queued == 0);

  // Wait (bounded) until the abandoned handler has returned and the branch is gone, so
  // that its message is counted before the laws are checked.
  branch.gate.reset();
  leaf = {};
  root = {};
  REQUIRE(branch.destroyed.wait_for(10s) == std::future_status::ready);
  check_laws(rt);
}

// A run queue's entry holds no reference on a process that has not finished: its anchor
// (the table, its parent's list) does (engine/sched/work_stealing.cpp step 10). Shutdown
// drops the anchors of what it abandons while a detached worker is still inside the
// blocked grandchild, and here the test holds no ref either: the runtime must keep the
// branch until that worker has left it (ASan sees a use after free otherwise), and then
// free it (the gate is destroyed with the last process of the branch).
TEST_CASE(
    "an abandoned branch outlives every user ref while a detached worker is inside it, then is "
    "freed") {
  BlockedBranch branch;
  phyx::Runtime rt(phyx::RuntimeOptions{.clock = phyx::create_system_clock(), .workers = 2});
  if (!branch.needs_two_workers(rt)) return;
  {
    auto [root, leaf] = branch.grow_and_block(rt);
    REQUIRE(leaf.send(Note{}));  // queued behind the blocked handler
  }                              // the test's refs are gone: only the runtime holds the branch
  branch.gate.reset();

  const auto report = rt.shutdown(300ms);
  CHECK(report.abandoned == 3);
  CHECK(report.messages_discarded == 1);
  // Still alive: the worker is inside the grandchild. (Not a proof of the keep, which ASan
  // gives when the handler returns below; a sanity check that nothing freed it early.)
  CHECK(branch.destroyed.wait_for(0s) == std::future_status::timeout);
  branch.release.set_value();  // the handler returns on the detached worker, inside the process
  REQUIRE(branch.destroyed.wait_for(10s) == std::future_status::ready);
  check_laws(rt);
}

// A parent whose list still holds several children at the deadline hands them all over
// (ProcessCore::abandon() returns them as a chain, without allocating): the root spawns an
// elder child that stays idle and a younger one that blocks. The stop reaches the younger
// first (youngest first) and waits there, so both children are still in the list.
TEST_CASE(
    "shutdown abandons a parent with two children still in its list: all counted, then freed") {
  BlockedBranch branch;
  phyx::Runtime rt(phyx::RuntimeOptions{.clock = phyx::create_system_clock(), .workers = 2});
  if (!branch.needs_two_workers(rt)) return;
  auto root_spec = chain_spec();
  root_spec.handle = [](int&, ChainMsg& m, auto& tools) {
    if (std::holds_alternative<Descend>(m)) {
      (void)tools.spawn(chain_spec(), tools.ctx());             // the elder: idle
      tools.spawn(chain_spec(), tools.ctx()).send(Descend{0});  // the younger: the leaf
    }
  };
  {
    auto [root, leaf] = branch.grow_and_block(rt, std::move(root_spec));
    for (int i = 0; i < 2; ++i) REQUIRE(leaf.send(Note{}));  // queued behind the blocked handler
  }
  branch.gate.reset();

  const auto report = rt.shutdown(300ms);
  CHECK(report.abandoned == 3);  // the root and both children
  CHECK(report.stopped == 0);
  CHECK(report.messages_discarded == 2);
  CHECK(branch.destroyed.wait_for(0s) ==
        std::future_status::timeout);  // a worker is inside the leaf
  branch.release.set_value();
  // Every process of the family is freed once the handler returns: the chain's references
  // reached the runtime's keep and were dropped with it (a leaked child keeps the gate).
  REQUIRE(branch.destroyed.wait_for(10s) == std::future_status::ready);
  check_laws(rt);
}

TEST_CASE("~Runtime waits at most RuntimeOptions::shutdown_timeout for a blocked handler") {
  std::promise<void> release;
  auto gate = std::make_shared<Gate>();
  gate->release = release.get_future().share();
  auto entered = gate->entered.get_future();
  auto destroyed = gate->destroyed.get_future();
  std::optional<phyx::Runtime> rt;
  rt.emplace(phyx::RuntimeOptions{.clock = phyx::create_system_clock(), .workers = 2, .shutdown_timeout = 200ms});
  auto blocker = rt->spawn(phyx::ProcessSpec<BlockMsg, int, std::shared_ptr<Gate>>{
                               .name = "blocker",
                               .init = [](const std::shared_ptr<Gate>&) { return 0; },
                               .handle =
                                   [](int&, BlockMsg& m, auto& tools) {
                                     if (std::holds_alternative<Block>(m)) {
                                       tools.ctx()->entered.set_value();
                                       (void)tools.ctx()->release.wait_for(std::chrono::seconds(30));
                                     }
                                   },
                           },
                           std::move(gate));
  REQUIRE(blocker.send(Block{}));
  REQUIRE(entered.wait_for(10s) == std::future_status::ready);
  const auto t0 = std::chrono::steady_clock::now();
  rt.reset();  // ~Runtime = shutdown(shutdown_timeout)
  const auto took = std::chrono::steady_clock::now() - t0;
  release.set_value();
  CHECK(took >= 199ms);
  CHECK(took < 200ms + 2s);
  CHECK(blocker.status() == phyx::Status::stopped);
  blocker = {};
  REQUIRE(destroyed.wait_for(10s) == std::future_status::ready);
}
