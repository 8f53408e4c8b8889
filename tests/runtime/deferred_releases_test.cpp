// engine/runtime/deferred_releases.hpp: a worker's deferred drops of process references.
// Driven by hand on the test thread, on processes of a deterministic runtime: a drop is
// deferred and a take cancels it without touching the count, a slot held by another
// process is left alone (the newcomer's drop subtracts at once), a flush frees what it
// must and nothing is freed before, and another runtime's processes are not deferred.
// Then through the public API: a worker that runs dry parks with nothing deferred (a
// process whose last reference an ask's state held is freed before it sleeps), and asks
// answered through pipes on two workers, whose references are the ones deferred, end
// with every message accounted for.
#include "runtime/deferred_releases.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <future>
#include <optional>
#include <phyx/phyx.hpp>
#include <thread>
#include <variant>
#include <vector>

#include "phyx/detail/process_core.hpp"
#include "sched/thread_context.hpp"
#include "support/accounting.hpp"
#include "support/counter.hpp"  // deterministic_options()
#include "support/scale.hpp"

using namespace std::chrono_literals;
using phyx::detail::DeferredReleases;
using phyx::detail::DeferredReleasesScope;
using phyx::detail::ProcessCore;
using phyx::detail::ProcessHandle;
using phyx_test::check_laws;
using phyx_test::deterministic_options;
using phyx_test::scale;

namespace {

phyx::ProcessSpec<int, int> idle_spec() {
  return {.name = "idle",
          .init = [](const phyx::Empty&) { return 0; },
          .handle = [](int&, int&, auto&) {}};
}

// A parent that spawns one child at init and hands its ref out.
struct ParentCtx {
  std::optional<phyx::ProcessRef<int>>* child;
};
phyx::ProcessSpec<int, int, ParentCtx> parent_spec() {
  return {.name = "parent",
          .init = [](const ParentCtx&) { return 0; },
          .handle = [](int&, int&, auto& tools) { *tools.ctx().child = tools.spawn(idle_spec()); }};
}

ProcessCore* core_of(const auto& ref) {
  return ref.handle().get();
}

}  // namespace

TEST_CASE("a deferred drop leaves the count alone, and a take on the same thread cancels it") {
  phyx::Runtime rt(deterministic_options());
  auto p = rt.spawn(idle_spec());
  rt.run_until_idle();
  ProcessCore* core = core_of(p);
  const std::uint32_t base = core->references();
  DeferredReleasesScope scope(core->runtime());
  DeferredReleases& deferred = scope.releases();
  {
    ProcessHandle copy = p.handle();  // nothing deferred yet: the count rises
    CHECK(core->references() == base + 1);
  }  // deferred, not subtracted
  CHECK(deferred.deferred(core) == 1);
  CHECK(core->references() == base + 1);
  {
    ProcessHandle copy = p.handle();  // cancels the deferred drop
    CHECK(deferred.deferred(core) == 0);
    CHECK(core->references() == base + 1);
    ProcessHandle second = copy;  // nothing left to cancel: the count rises
    CHECK(core->references() == base + 2);
  }
  CHECK(deferred.deferred(core) == 2);
  CHECK(core->references() == base + 2);
  deferred.flush_all();
  CHECK(deferred.deferred(core) == 0);
  CHECK(core->references() == base);
  scope.close();
  rt.shutdown(5s);
  check_laws(rt);
}

TEST_CASE("the process whose turn it is takes references to itself in a batch and owes the rest") {
  phyx::Runtime rt(deterministic_options());
  auto p = rt.spawn(idle_spec());
  rt.run_until_idle();
  ProcessCore* core = core_of(p);
  const std::uint32_t base = core->references();
  constexpr std::uint32_t kBatch = DeferredReleases::kSelfBatch;
  DeferredReleasesScope scope(core->runtime());
  DeferredReleases& deferred = scope.releases();
  {
    phyx::detail::CurrentProcessScope turn(core);  // as inside its own turn
    std::vector<ProcessHandle> held;
    held.push_back(p.handle());  // a batch: the count rises by kBatch, kBatch - 1 owed
    CHECK(core->references() == base + kBatch);
    CHECK(deferred.deferred(core) == kBatch - 1);
    for (std::uint32_t i = 1; i < kBatch; ++i) held.push_back(p.handle());  // cancel the owed
    CHECK(deferred.deferred(core) == 0);
    CHECK(core->references() == base + kBatch);
    held.push_back(p.handle());  // the next batch
    CHECK(core->references() == base + 2 * kBatch);
    CHECK(deferred.deferred(core) == kBatch - 1);
  }  // the kBatch + 1 handles' drops join the owed ones
  CHECK(deferred.deferred(core) == 2 * kBatch);
  CHECK(core->references() == base + deferred.deferred(core));  // the invariant
  {
    ProcessHandle outside = p.handle();  // not its turn: cancels one, no batch
    CHECK(deferred.deferred(core) == 2 * kBatch - 1);
  }
  deferred.flush_all();
  CHECK(core->references() == base);
  scope.close();
  rt.shutdown(5s);
  check_laws(rt);
}

TEST_CASE("a slot held by another process is left alone: the newcomer's drop subtracts at once") {
  phyx::Runtime rt(deterministic_options());
  constexpr unsigned kProcesses = 3 * DeferredReleases::kSlots;
  std::vector<phyx::ProcessRef<int>> refs;
  std::vector<std::uint32_t> base;
  for (unsigned i = 0; i < kProcesses; ++i) refs.push_back(rt.spawn(idle_spec()));
  rt.run_until_idle();
  for (auto& r : refs) base.push_back(core_of(r)->references());
  DeferredReleasesScope scope(core_of(refs[0])->runtime());
  DeferredReleases& deferred = scope.releases();
  for (auto& r : refs) {
    ProcessHandle a = r.handle();
    ProcessHandle b = r.handle();
  }
  // Ids rise by one per spawn, and a slot is the id modulo kSlots: the first kSlots
  // processes take every slot, each later one finds its slot held and subtracts.
  for (unsigned i = 0; i < kProcesses; ++i) {
    ProcessCore* core = core_of(refs[i]);
    const std::uint32_t d = deferred.deferred(core);
    CHECK(d == (i < DeferredReleases::kSlots ? 2u : 0u));
    CHECK(core->references() == base[i] + d);  // the invariant of the protocol
  }
  CHECK(deferred.flush_all());
  CHECK_FALSE(deferred.flush_all());
  for (unsigned i = 0; i < kProcesses; ++i) CHECK(core_of(refs[i])->references() == base[i]);
  scope.close();
  rt.shutdown(5s);
  check_laws(rt);
}

TEST_CASE("a flush frees a process whose last reference was deferred, not before") {
  phyx::Runtime rt(deterministic_options());
  std::optional<phyx::ProcessRef<int>> child;
  auto parent = rt.spawn(parent_spec(), ParentCtx{&child});
  parent.send(1);
  rt.run_until_idle();
  REQUIRE(child.has_value());
  (void)child->stop();
  rt.run_until_idle();
  REQUIRE(child->status() == phyx::Status::stopped);
  ProcessCore* child_core = core_of(*child);
  REQUIRE(child_core->references() == 1);  // ours alone: the child is finished
  phyx::detail::RuntimeCore& core = child_core->runtime();
  // This thread holds no keep credits: a process's destruction gives its keep back at once.
  const std::int64_t keeps = core.keeps();
  {
    DeferredReleasesScope scope(core);
    DeferredReleases& deferred = scope.releases();
    child.reset();  // its last reference, deferred
    CHECK(deferred.deferred(child_core) == 1);
    CHECK(core.keeps() == keeps);  // not destroyed
    deferred.flush_all();
    CHECK(core.keeps() == keeps - 1);       // destroyed by the flush
    { ProcessHandle p = parent.handle(); }  // deferred again, and flushed by the scope's end
    CHECK(deferred.deferred(core_of(parent)) == 1);
  }
  CHECK(core.keeps() == keeps - 1);  // the parent lives on: its anchor and our ref
  rt.shutdown(5s);
  check_laws(rt);
}

TEST_CASE("another runtime's processes are not deferred, and a closed scope defers nothing") {
  phyx::Runtime ours(deterministic_options());
  phyx::Runtime theirs(deterministic_options());
  auto mine = ours.spawn(idle_spec());
  auto other = theirs.spawn(idle_spec());
  ours.run_until_idle();
  theirs.run_until_idle();
  ProcessCore* other_core = core_of(other);
  const std::uint32_t base = other_core->references();
  DeferredReleasesScope scope(core_of(mine)->runtime());
  {
    ProcessHandle copy = other.handle();
    CHECK(other_core->references() == base + 1);
  }
  CHECK(scope.releases().deferred(other_core) == 0);
  CHECK(other_core->references() == base);
  scope.close();
  CHECK(phyx::detail::thread_context().releases == nullptr);
  ProcessCore* my_core = core_of(mine);
  const std::uint32_t my_base = my_core->references();
  { ProcessHandle copy = mine.handle(); }
  CHECK(my_core->references() == my_base);
  ours.shutdown(5s);
  theirs.shutdown(5s);
  check_laws(ours);
  check_laws(theirs);
}

// ---- through the public API, on two workers -----------------------------------------

namespace {

struct Add {
  std::int64_t x;
  phyx::Reply<std::int64_t> reply;
};
struct Go {};
struct Answer {
  phyx::Result<std::int64_t> result;
};
using ClientMsg = std::variant<Go, Answer>;
struct ClientCtx {
  phyx::ProcessRef<Add> server;
  std::int64_t asks;
  std::promise<std::int64_t>* done;
};

phyx::ProcessSpec<Add, int> server_spec() {
  return {.name = "server",
          .init = [](const phyx::Empty&) { return 0; },
          .handle = [](int&, Add& m, auto&) { m.reply(m.x + 1); }};
}

phyx::ProcessSpec<ClientMsg, std::int64_t, ClientCtx> client_spec() {
  return {.name = "client",
          .init = [](const ClientCtx& c) { return c.asks; },
          .handle =
              [](std::int64_t& left, ClientMsg& m, auto& tools) {
                if (auto* a = std::get_if<Answer>(&m)) {
                  if (!a->result.ok()) {
                    tools.ctx().done->set_value(-1);
                    return;
                  }
                  if (--left == 0) {
                    tools.ctx().done->set_value(a->result.value());
                    return;
                  }
                }
                // Each ask's state takes a reference to the server, each pipe one to us:
                // the pairs that meet on a worker's deferred drops.
                auto f = tools.ctx().server.template ask<std::int64_t>(
                    [x = left](phyx::Reply<std::int64_t> r) {
                      return Add{x, std::move(r)};
                    });
                tools.pipe(std::move(f), [](phyx::Result<std::int64_t> r) {
                  return ClientMsg{Answer{std::move(r)}};
                });
              }};
}

}  // namespace

namespace {

// Waits (bounded, no sleep) until every worker is parked; false if they never all are.
bool all_parked(phyx::Runtime& rt) {
  const unsigned workers = rt.engine_for_tests().worker_count();
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (rt.engine_for_tests().parked_workers() != workers) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace

TEST_CASE("a worker that runs dry parks with nothing deferred, its stage's drops included") {
  // One client asks one server once. The ask's state holds the server's reference; its
  // last holder is the worker's timer stage, flushed before the worker parks, and that
  // flush's drop of the reference is deferred: it must be flushed too before the park.
  phyx::Runtime rt({.workers = 1});
  auto server = rt.spawn(server_spec());
  std::promise<std::int64_t> answered;
  auto client = rt.spawn(client_spec(), ClientCtx{server, 1, &answered});
  REQUIRE(all_parked(rt));
  ProcessCore* server_core = core_of(server);
  const std::uint32_t base = server_core->references();
  CHECK(client.send(Go{}));
  auto f = answered.get_future();
  REQUIRE(f.wait_for(10s) == std::future_status::ready);
  CHECK(f.get() == 2);
  REQUIRE(all_parked(rt));
  // seq_cst load of the parking count (pairs with park()'s increment, after the flushes):
  // the count read here is the one the worker left.
  CHECK(server_core->references() == base);
  (void)client.stop();
  rt.shutdown(5s);
  const phyx::Stats s = rt.stats();
  CHECK(s.handled == 3);  // Go, the ask, the answer
  check_laws(s);
}

TEST_CASE(
    "asks through pipes on two workers: every answer arrives, every message is accounted for") {
  const std::int64_t asks = 20'000 * scale();
  constexpr int kClients = 12;  // more than a worker's slots: entries are flushed by others
  std::vector<std::promise<std::int64_t>> done(kClients);
  {
    phyx::Runtime rt({.workers = 2});
    std::vector<phyx::ProcessRef<Add>> servers{rt.spawn(server_spec()), rt.spawn(server_spec())};
    std::vector<phyx::ProcessRef<ClientMsg>> clients;
    for (int i = 0; i < kClients; ++i) {
      clients.push_back(rt.spawn(client_spec(), ClientCtx{servers[i % 2], asks, &done[i]}));
    }
    for (auto& c : clients) CHECK(c.send(Go{}));
    for (auto& d : done) {
      auto f = d.get_future();
      REQUIRE(f.wait_for(60s) == std::future_status::ready);  // a lost answer fails, not hangs
      CHECK(f.get() == 2);                                    // the last answer: 1 + 1
    }
    for (auto& c : clients) (void)c.stop();
    rt.shutdown(5s);
    const phyx::Stats s = rt.stats();
    CHECK(s.handled == static_cast<std::uint64_t>(kClients) * (2 * asks + 1));  // Go, answers, asks
    check_laws(s);
  }
}
