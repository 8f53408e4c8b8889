// phyx::share / SharedSpec: a spec prepared once for many spawns. Processes spawned from it
// behave exactly as ones spawned from the spec (own state, own init, own restarts), share
// its behaviour, and keep it alive after the SharedSpec is gone.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "support/accounting.hpp"
#include "support/counter.hpp"

using namespace std::chrono_literals;
using phyx_test::check_laws;
using phyx_test::CounterMsg;
using phyx_test::get_count;
using phyx_test::Increment;

namespace {

phyx::RuntimeOptions deterministic() {
  return phyx::RuntimeOptions{.clock = phyx::create_manual_clock(), .deterministic = true, .seed = 1};
}

}  // namespace

TEST_CASE("processes spawned from one SharedSpec each have their own state") {
  phyx::Runtime rt(deterministic());
  const auto shared = phyx::share(phyx_test::counter_spec("counter"));
  CHECK(shared.name() == "counter");
  std::vector<phyx::ProcessRef<CounterMsg>> refs;
  for (int i = 0; i < 5; ++i) refs.push_back(rt.spawn(shared));
  for (int i = 0; i < 5; ++i) {
    for (int k = 0; k <= i; ++k) refs[static_cast<std::size_t>(i)].send(Increment{});
  }
  rt.run_until_idle();
  for (int i = 0; i < 5; ++i) CHECK(get_count(refs[static_cast<std::size_t>(i)]).get() == i + 1);
  CHECK(refs[0].id() != refs[1].id());
  check_laws(rt);
}

TEST_CASE("share validates once: a bad spec throws SpecError naming the field, from share itself") {
  auto bad = phyx_test::counter_spec("");
  CHECK_THROWS_WITH_AS(phyx::share(bad), doctest::Contains("name"), phyx::SpecError);
  auto zero = phyx_test::counter_spec("zero");
  zero.max_inbox = 0;
  CHECK_THROWS_WITH_AS(phyx::share(zero), doctest::Contains("max_inbox"), phyx::SpecError);
}

TEST_CASE("the behaviour outlives the SharedSpec; settings (max_inbox, policy) apply to every process") {
  phyx::Runtime rt(deterministic());
  phyx::ProcessRef<CounterMsg> a;
  phyx::ProcessRef<CounterMsg> b;
  {
    auto spec = phyx_test::counter_spec("bounded");
    spec.max_inbox = 2;
    const auto shared = phyx::share(spec);
    a = rt.spawn(shared);
    b = rt.spawn(shared);
  }  // the SharedSpec is gone; the processes hold the behaviour
  rt.run_until_idle();
  CHECK(a.send(Increment{}));
  CHECK(a.send(Increment{}));
  CHECK_FALSE(a.send(Increment{}));  // max_inbox = 2, reject
  CHECK(b.send(Increment{}));
  rt.run_until_idle();
  CHECK(get_count(a).get() == 2);
  CHECK(get_count(b).get() == 1);
  CHECK(rt.stats().refused_full == 1);
  check_laws(rt);
}

namespace {

struct Boom {};
struct Ping {};
using CrashMsg = std::variant<Boom, Ping>;

}  // namespace

TEST_CASE("a process of a SharedSpec restarts with a fresh state from the shared init; tools.spawn takes one too") {
  phyx::Runtime rt(deterministic());
  auto inits = std::make_shared<int>(0);
  const auto child_kind = phyx::share(phyx::ProcessSpec<CrashMsg, int>{
      .name = "child",
      .init = [inits](const phyx::Empty&) { return ++*inits; },
      .handle =
          [](int&, CrashMsg& m, auto&) {
            if (std::holds_alternative<Boom>(m)) throw std::runtime_error("boom");
          },
  });
  struct Spawn {};
  auto children = std::make_shared<std::vector<phyx::ProcessRef<CrashMsg>>>();
  auto parent = rt.spawn(phyx::ProcessSpec<Spawn, int>{
      .name = "parent",
      .init = [](const phyx::Empty&) { return 0; },
      .handle = [child_kind, children](int&, Spawn&, auto& tools) { children->push_back(tools.spawn(child_kind)); },
  });
  parent.send(Spawn{});
  parent.send(Spawn{});
  rt.run_until_idle();
  REQUIRE(children->size() == 2);
  CHECK(*inits == 2);
  (*children)[0].send(Boom{});
  rt.run_until_idle();
  CHECK(*inits == 3);  // the crashed child ran the shared init again
  CHECK((*children)[0].status() == phyx::Status::running);
  CHECK((*children)[1].status() == phyx::Status::running);
  parent.stop();
  rt.run_until_idle();
  CHECK((*children)[0].status() == phyx::Status::stopped);  // children stop with their parent
  check_laws(rt);
}

namespace {

/// What a shared behaviour's functions capture: refs to processes of that behaviour, a cycle
/// (behaviour -> Peers -> ref -> process -> behaviour) that only the emptying can break.
struct Peers {
  std::vector<phyx::ProcessRef<CounterMsg>> refs;
};

phyx::SharedSpec<CounterMsg, int> peer_kind(const std::shared_ptr<Peers>& peers) {
  return phyx::share(phyx::ProcessSpec<CounterMsg, int>{
      .name = "peer",
      // init captures the peers too, but does not read the list: the test thread is still
      // filling it while the first processes start.
      .init = [peers](const phyx::Empty&) { return peers != nullptr ? 0 : -1; },
      .handle = [peers](int& n, CounterMsg&, auto&) { n += static_cast<int>(peers->refs.size()); },
  });
}

}  // namespace

TEST_CASE(
    "a SharedSpec dropped after its processes stopped empties its functions: no cycle through "
    "them") {
  std::weak_ptr<Peers> watch;
  phyx::Runtime rt(deterministic());
  {
    auto peers = std::make_shared<Peers>();
    watch = peers;
    auto kind = peer_kind(peers);
    for (int i = 0; i < 3; ++i) peers->refs.push_back(rt.spawn(kind));
    for (const auto& r : peers->refs) CHECK(r.send(Increment{}));
    rt.run_until_idle();
    for (const auto& r : peers->refs) (void)r.stop();
    rt.run_until_idle();
    for (const auto& r : peers->refs) CHECK(r.status() == phyx::Status::stopped);
    CHECK_FALSE(watch.expired());  // the SharedSpec still holds the functions
  }  // the SharedSpec goes last: its drop empties the functions, which frees the peers
  CHECK(watch.expired());
  CHECK(rt.stats().handled == 3);
  check_laws(rt);
}

TEST_CASE(
    "a dropped SharedSpec whose processes stop on two workers at once: emptied once, nothing "
    "leaks") {
  std::weak_ptr<Peers> watch;
  std::int64_t handled = 0;
  {
    phyx::Runtime rt({.workers = 2});
    auto peers = std::make_shared<Peers>();
    watch = peers;
    {
      auto kind = peer_kind(peers);
      for (int i = 0; i < 64; ++i) peers->refs.push_back(rt.spawn(kind));
    }  // the SharedSpec goes first: the processes hold the behaviour
    for (int round = 0; round < 10; ++round) {
      for (const auto& r : peers->refs) CHECK(r.send(Increment{}));
    }
    std::vector<phyx::Future<void>> stops;
    for (const auto& r : peers->refs)
      stops.push_back(r.stop(phyx::StopReason::normal(), phyx::StopMode::drain));
    for (auto& f : stops) CHECK(f.wait_for(10s));
    for (const auto& r : peers->refs) CHECK(r.status() == phyx::Status::stopped);
    peers.reset();  // the functions' copy is the only one left: the last stop emptied it
    handled = rt.stats().handled;
    check_laws(rt);
  }
  CHECK(handled == 640);
  CHECK(watch.expired());
}
