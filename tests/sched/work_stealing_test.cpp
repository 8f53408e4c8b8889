// engine/sched/work_stealing.cpp through the public API, under stress (meant for TSan):
// parking without lost wake-ups, fairness of the per-turn budget, stealing under skew, and
// bursts from outside threads. Every test ends with the accounting law of SPEC 8.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <future>
#include <memory>
#include <thread>
#include <variant>
#include <vector>

#include <phyx/phyx.hpp>

#include "support/accounting.hpp"
#include "support/scale.hpp"

using namespace std::chrono_literals;
using phyx_test::check_laws;

using phyx_test::scale;

namespace {

phyx::RuntimeOptions threads(unsigned workers = 2) {
  phyx::RuntimeOptions o;
  o.clock = phyx::create_system_clock();
  o.workers = workers;
  return o;
}

struct Ping {
  phyx::Reply<int> reply;
};

phyx::ProcessSpec<Ping, int> echo_spec() {
  return {
      .name = "echo",
      .init = [](const phyx::Empty&) { return 0; },
      .handle = [](int& n, Ping& p, auto&) { p.reply(++n); },
  };
}

}  // namespace

TEST_CASE("no lost wake-up: 2,000 times, a runtime whose workers are all parked gets one message from outside and handles it") {
  phyx::Runtime rt(threads());
  auto echo = rt.spawn(echo_spec());
  for (int i = 1; i <= 2000 * scale(); ++i) {
    // Each ask finds both workers parked: a lost wake-up would leave the message unhandled
    // and the bounded wait below would fail. (A bounded spin on the parking count, not a
    // sleep: it ends as soon as both workers have parked.)
    const unsigned workers = rt.engine_for_tests().worker_count();  // 1 in systematic mode
    // The count is read once per round: a parked worker may wake (a spurious wake-up, a
    // timer tick) and park again between two reads, so a second read could see it awake
    // and fail a run that found every worker parked.
    const auto until = std::chrono::steady_clock::now() + 10s;
    bool all_parked = false;
    while (!(all_parked = rt.engine_for_tests().parked_workers() == workers) &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::yield();
    }
    REQUIRE(all_parked);
    auto f = echo.ask<int>([](phyx::Reply<int> r) { return Ping{std::move(r)}; });
    REQUIRE(f.wait_for(10s));
    REQUIRE(f.get() == i);
  }
  rt.shutdown(5s);
  check_laws(rt);
}

namespace {

struct Spin {};
struct Probe {
  phyx::Reply<int> reply;
};
using FloodMsg = std::variant<Spin, Probe>;

struct FloodCtx {
  std::shared_ptr<std::atomic<bool>> stop;
};

}  // namespace

TEST_CASE("fairness: a process that floods itself cannot starve others on a single worker") {
  phyx::Runtime rt(threads(1));
  auto stop = std::make_shared<std::atomic<bool>>(false);
  // The flooder re-sends to itself forever: with one worker, only the per-turn budget
  // lets anybody else run.
  auto flooder = rt.spawn(phyx::ProcessSpec<FloodMsg, long, FloodCtx>{
                              .name = "flooder",
                              .init = [](const FloodCtx&) { return 0L; },
                              .handle =
                                  [](long& n, FloodMsg& m, auto& tools) {
                                    if (auto* p = std::get_if<Probe>(&m)) {
                                      p->reply(static_cast<int>(n > 0));
                                      return;
                                    }
                                    ++n;
                                    if (!tools.ctx().stop->load(std::memory_order_acquire)) {  // pairs with the store below
                                      tools.self().send(Spin{});
                                    }
                                  },
                          },
                          FloodCtx{stop});
  auto echo = rt.spawn(echo_spec());
  REQUIRE(flooder.send(Spin{}));
  for (int i = 1; i <= 200; ++i) {
    auto f = echo.ask<int>([](phyx::Reply<int> r) { return Ping{std::move(r)}; });
    REQUIRE(f.wait_for(10s));
    CHECK(f.get() == i);
  }
  auto flooding = flooder.ask<int>([](phyx::Reply<int> r) { return FloodMsg{Probe{std::move(r)}}; });
  REQUIRE(flooding.wait_for(10s));
  CHECK(flooding.get() == 1);  // it was flooding all along
  stop->store(true, std::memory_order_release);  // pairs with the flooder's acquire
  rt.shutdown(5s);
  check_laws(rt);
}

namespace {

struct Hop {
  int left;
};
struct RingCtx {
  std::shared_ptr<std::vector<phyx::ProcessRef<Hop>>> ring;
  std::size_t index;
  std::shared_ptr<std::atomic<long>> hops;
  std::shared_ptr<std::promise<void>> done;
  std::shared_ptr<std::atomic<int>> finished;
  int tokens;
};

}  // namespace

TEST_CASE("stealing under skew: 64 tokens circling 200 processes, started from one place, all arrive") {
  phyx::Runtime rt(threads());
  constexpr int kProcs = 200;
  constexpr int kTokens = 64;
  const int hops_each = static_cast<int>(2000 * scale());
  auto ring = std::make_shared<std::vector<phyx::ProcessRef<Hop>>>();
  auto hops = std::make_shared<std::atomic<long>>(0);
  auto done = std::make_shared<std::promise<void>>();
  auto finished = std::make_shared<std::atomic<int>>(0);
  phyx::ProcessSpec<Hop, int, RingCtx> spec{
      .name = "node",
      .init = [](const RingCtx&) { return 0; },
      .handle =
          [](int&, Hop& h, auto& tools) {
            const RingCtx& c = tools.ctx();
            c.hops->fetch_add(1, std::memory_order_relaxed);  // a tally, read after done
            if (h.left == 0) {
              if (c.finished->fetch_add(1, std::memory_order_acq_rel) + 1 == c.tokens) c.done->set_value();
              return;
            }
            const auto& next = (*c.ring)[(c.index + 1) % c.ring->size()];
            REQUIRE(next.send(Hop{h.left - 1}));
          },
  };
  for (std::size_t i = 0; i < kProcs; ++i) {
    ring->push_back(rt.spawn(spec, RingCtx{ring, i, hops, done, finished, kTokens}));
  }
  // All tokens start at one process (one worker's queue): the other worker must steal.
  for (int t = 0; t < kTokens; ++t) REQUIRE((*ring)[0].send(Hop{hops_each}));
  REQUIRE(done->get_future().wait_for(60s) == std::future_status::ready);
  CHECK(hops->load(std::memory_order_relaxed) == static_cast<long>(kTokens) * (hops_each + 1));
  ring->clear();  // the ctx holds the ring: break the cycle before shutdown
  rt.shutdown(5s);
  check_laws(rt);
}

namespace {

struct Burst {
  phyx::ProcessRef<int> to;
  int n = 0;
};

}  // namespace

TEST_CASE(
    "convoys: a handler's burst of 100 messages to an idle process is offered to the other worker "
    "while it idles, and every message is handled once") {
  phyx::Runtime rt(threads());
  const unsigned workers = rt.engine_for_tests().worker_count();  // 1 in systematic mode
  auto handled = std::make_shared<std::atomic<long>>(0);
  auto sink = rt.spawn(phyx::ProcessSpec<int, int, std::shared_ptr<std::atomic<long>>>{
                           .name = "sink",
                           .init = [](const std::shared_ptr<std::atomic<long>>&) { return 0; },
                           .handle =
                               [](int&, int&, auto& tools) {
                                 tools.ctx()->fetch_add(
                                     1, std::memory_order_relaxed);  // a tally, read below
                               },
                       },
                       handled);
  auto burst = rt.spawn(phyx::ProcessSpec<Burst, int>{
      .name = "burst",
      .init = [](const phyx::Empty&) { return 0; },
      .handle =
          [](int&, Burst& b, auto&) {
            for (int i = 0; i < b.n; ++i) REQUIRE(b.to.send(i));
          },
  });
  // Each round starts with every worker parked; the burst wakes the sink into the burst's
  // worker's LIFO slot with 100 queued, and the other worker idles (parked, or searching
  // after the wake-up): step 4a runs half and offers the rest. A round whose other worker
  // was between searching and parking at that instant does not, so the rounds repeat until
  // one has (the next test checks that the other worker takes such offers).
  long sent = 0;
  for (int round = 0; round < 200 && rt.engine_for_tests().convoy_offers() == 0; ++round) {
    const auto until = std::chrono::steady_clock::now() + 10s;
    bool all_parked = false;
    while (!(all_parked = rt.engine_for_tests().parked_workers() == workers) &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::yield();
    }
    REQUIRE(all_parked);
    REQUIRE(burst.send(Burst{sink, 100}));
    sent += 100;
    // Bounded wait for the round's messages (a spin on the tally, no sleep).
    while (handled->load(std::memory_order_relaxed) < sent &&
           std::chrono::steady_clock::now() < until + 10s) {
      std::this_thread::yield();
    }
    REQUIRE(handled->load(std::memory_order_relaxed) == sent);
  }
  if (workers >= 2) {
    CHECK(rt.engine_for_tests().convoy_offers() >= 1);
  } else {
    CHECK(rt.engine_for_tests().convoy_offers() == 0);  // nobody to split for
  }
  rt.shutdown(5s);
  CHECK(handled->load(std::memory_order_relaxed) == sent);
  check_laws(rt);
}

namespace {

struct ConvoyCtx {
  std::shared_ptr<std::vector<phyx::ProcessRef<Hop>>> ring;
  std::size_t index;
  std::shared_ptr<std::atomic<long>> hops;
  std::shared_ptr<std::atomic<long>> elsewhere;  // hops handled off the first hop's thread
  std::shared_ptr<std::atomic<std::thread::id>> first;
  std::shared_ptr<std::promise<void>> done;
  std::shared_ptr<std::atomic<int>> finished;
  int tokens;
  bool tally_threads;  // whether `first` and `elsewhere` are kept (a CAS on every hop)
};
struct Start {
  phyx::ProcessRef<Hop> to;
  int tokens;
  int hops_each;
};

// What every node of a ring shares, with `index` still to set.
ConvoyCtx convoy_ctx(int tokens, bool tally_threads) {
  return ConvoyCtx{std::make_shared<std::vector<phyx::ProcessRef<Hop>>>(),
                   0,
                   std::make_shared<std::atomic<long>>(0),
                   std::make_shared<std::atomic<long>>(0),
                   std::make_shared<std::atomic<std::thread::id>>(std::thread::id{}),
                   std::make_shared<std::promise<void>>(),
                   std::make_shared<std::atomic<int>>(0),
                   tokens,
                   tally_threads};
}

// A ring node: counts the hop, optionally tallies hops handled off the first hop's thread,
// then passes the token on, or counts it finished and sets `done` after the last one.
phyx::ProcessSpec<Hop, int, ConvoyCtx> convoy_node_spec() {
  return phyx::ProcessSpec<Hop, int, ConvoyCtx>{
      .name = "node",
      .init = [](const ConvoyCtx&) { return 0; },
      .handle =
          [](int&, Hop& h, auto& tools) {
            const ConvoyCtx& c = tools.ctx();
            c.hops->fetch_add(1, std::memory_order_relaxed);  // a tally, read after done
            if (c.tally_threads) {
              const std::thread::id me = std::this_thread::get_id();
              std::thread::id none{};
              // relaxed: the first thread to get here is recorded once; only ids are compared.
              if (!c.first->compare_exchange_strong(none, me, std::memory_order_relaxed) &&
                  none != me) {
                c.elsewhere->fetch_add(1, std::memory_order_relaxed);  // a tally, read after done
              }
            }
            if (h.left == 0) {
              if (c.finished->fetch_add(1, std::memory_order_acq_rel) + 1 == c.tokens)
                c.done->set_value();
              return;
            }
            REQUIRE((*c.ring)[(c.index + 1) % c.ring->size()].send(Hop{h.left - 1}));
          },
  };
}

// Spawns `procs` nodes into `shared.ring`, node i with index i.
void spawn_ring(phyx::Runtime& rt, std::size_t procs, const ConvoyCtx& shared) {
  for (std::size_t i = 0; i < procs; ++i) {
    ConvoyCtx own = shared;
    own.index = i;
    shared.ring->push_back(rt.spawn(convoy_node_spec(), std::move(own)));
  }
}

}  // namespace

TEST_CASE(
    "convoys: 64 tokens that one handler sends at once travel a ring of 100 processes as a batch, "
    "and both workers carry them") {
  phyx::Runtime rt(threads());
  const unsigned workers = rt.engine_for_tests().worker_count();  // 1 in systematic mode
  constexpr int kProcs = 100;
  constexpr int kTokens = 64;
  const int hops_each = static_cast<int>(2000 * scale());
  const ConvoyCtx shared = convoy_ctx(kTokens, /*tally_threads=*/true);
  spawn_ring(rt, kProcs, shared);
  auto starter = rt.spawn(phyx::ProcessSpec<Start, int>{
      .name = "starter",
      .init = [](const phyx::Empty&) { return 0; },
      .handle =
          [](int&, Start& s, auto&) {
            for (int t = 0; t < s.tokens; ++t) REQUIRE(s.to.send(Hop{s.hops_each}));
          },
  });
  // One handler's burst: the first node wakes in its worker's LIFO slot with all 64 queued,
  // and each node passes the batch on in one turn. Only step 4a spreads such a batch over
  // two workers while each turn is short (in release builds: no worker looks stuck and no
  // turn is long; under a sanitizer, turns of 32 messages can pass step 5's long-turn
  // mark, so there the check below is weaker).
  REQUIRE(starter.send(Start{(*shared.ring)[0], kTokens, hops_each}));
  REQUIRE(shared.done->get_future().wait_for(60s) == std::future_status::ready);
  CHECK(shared.hops->load(std::memory_order_relaxed) ==
        static_cast<long>(kTokens) * (hops_each + 1));
  if (workers >= 2) {
    CHECK(rt.engine_for_tests().convoy_offers() >= 1);
    CHECK(rt.engine_for_tests().convoy_offers_taken() >= 1);  // the other worker took one
    CHECK(shared.elsewhere->load(std::memory_order_relaxed) > 0);
  }
  shared.ring->clear();  // the ctx holds the ring: break the cycle before shutdown
  rt.shutdown(5s);
  check_laws(rt);
}

namespace {
struct Spread {
  std::shared_ptr<std::vector<phyx::ProcessRef<Hop>>> ring;
  int tokens;
  int gap;
  int hops_each;
};
}  // namespace

TEST_CASE(
    "convoys form: 10 tokens started 10 processes apart on one worker merge, so most turns "
    "carry several") {
  // Step 4 (kLifoStreak): a token runs up to 16 turns in the LIFO slot before the others
  // get one, so it reaches the next token's process, which still holds that token, and the
  // two are handled in one turn from then on. With a streak shorter than the gap (3 until
  // session 23) every token advanced as far per pass over the queue as the others, kept
  // its distance, and each turn carried one token: turns == hops (ring-multi's slow runs).
  // One worker and one starter handler: every hop's enqueue is local. The ring's inits and
  // the starter's turn may run before or after the snapshot of the turns (at most 101 of
  // them, well inside the bound).
  phyx::Runtime rt(threads(1));
  constexpr int kProcs = 100;
  constexpr int kTokens = 10;
  constexpr int kHopsEach = 1000;
  const ConvoyCtx shared = convoy_ctx(kTokens, /*tally_threads=*/false);
  spawn_ring(rt, kProcs, shared);
  auto starter = rt.spawn(phyx::ProcessSpec<Spread, int>{
      .name = "starter",
      .init = [](const phyx::Empty&) { return 0; },
      .handle =
          [](int&, Spread& s, auto&) {
            for (int t = 0; t < s.tokens; ++t) {
              REQUIRE((*s.ring)[static_cast<std::size_t>(t * s.gap)].send(Hop{s.hops_each}));
            }
          },
  });
  const std::uint64_t turns_before = rt.engine_for_tests().turns_started();
  REQUIRE(starter.send(Spread{shared.ring, kTokens, kProcs / kTokens, kHopsEach}));
  REQUIRE(shared.done->get_future().wait_for(60s) == std::future_status::ready);
  const long handled = shared.hops->load(std::memory_order_relaxed);  // read after done
  CHECK(handled == static_cast<long>(kTokens) * (kHopsEach + 1));
  const std::uint64_t turns = rt.engine_for_tests().turns_started() - turns_before;
  INFO("turns=" << turns << " hops=" << handled);
  // The seed of a systematic build picks budgets and sources: the fixed rules are not run.
  if (!rt.engine_for_tests().systematic()) CHECK(turns * 4 < static_cast<std::uint64_t>(handled));
  shared.ring->clear();  // the ctx holds the ring: break the cycle before shutdown
  rt.shutdown(5s);
  check_laws(rt);
}

TEST_CASE("bursts from 3 outside threads into 100 idle processes: every accepted message is handled once") {
  phyx::Runtime rt(threads());
  std::vector<phyx::ProcessRef<Ping>> echoes;
  for (int i = 0; i < 100; ++i) echoes.push_back(rt.spawn(echo_spec()));
  const int per_thread = static_cast<int>(3000 * scale());
  std::vector<std::thread> senders;
  std::atomic<long> answered{0};
  for (int t = 0; t < 3; ++t) {
    senders.emplace_back([&, t] {
      std::vector<phyx::Future<int>> inflight;
      for (int i = 0; i < per_thread; ++i) {
        const auto& target = echoes[static_cast<std::size_t>((i * 7 + t) % 100)];
        inflight.push_back(target.ask<int>([](phyx::Reply<int> r) { return Ping{std::move(r)}; }));
        if (inflight.size() == 64) {  // bursts of 64, then the runtime may go idle again
          for (auto& f : inflight) {
            if (f.wait_for(10s) && f.try_get()->ok()) answered.fetch_add(1, std::memory_order_relaxed);  // a tally
          }
          inflight.clear();
        }
      }
      for (auto& f : inflight) {
        if (f.wait_for(10s) && f.try_get()->ok()) answered.fetch_add(1, std::memory_order_relaxed);  // a tally
      }
    });
  }
  for (auto& s : senders) s.join();
  CHECK(answered.load(std::memory_order_relaxed) == 3L * per_thread);  // threads joined
  rt.shutdown(5s);
  const auto s = rt.stats();
  CHECK(s.handled == static_cast<std::uint64_t>(3L * per_thread));
  check_laws(rt);
}

namespace {
struct Busy {};
}  // namespace

TEST_CASE("fairness: 1,000 always-runnable processes started from outside all get to run") {
  // Each process re-sends itself a message every turn, so it is runnable for ever; they are
  // started from this thread, through the global queue. The local rings (256 each)
  // overflow into the global queue while the workers run: a worker that took one process
  // at a time from it, from the producer with the most items, left hundreds never run
  // (the regression this guards). A liveness check with a generous bound, not a speed one.
  phyx::Runtime rt(threads());
  constexpr int kProcesses = 1000;
  auto ran = std::make_shared<std::atomic<int>>(0);
  auto all_ran = std::make_shared<std::promise<void>>();
  auto stop = std::make_shared<std::atomic<bool>>(false);
  struct Ctx {
    std::shared_ptr<std::atomic<int>> ran;
    std::shared_ptr<std::promise<void>> all_ran;
    std::shared_ptr<std::atomic<bool>> stop;
  };
  const auto spec = phyx::share(phyx::ProcessSpec<Busy, bool, Ctx>{
      .name = "busy",
      .init = [](const Ctx&) { return false; },
      .handle =
          [](bool& started, Busy&, auto& tools) {
            const Ctx& c = tools.ctx();
            if (!std::exchange(started, true) &&
                c.ran->fetch_add(1, std::memory_order_acq_rel) + 1 == kProcesses) {  // a tally
              c.all_ran->set_value();
            }
            if (!c.stop->load(std::memory_order_relaxed)) tools.self().send(Busy{});  // a flag
          },
  });
  std::vector<phyx::ProcessRef<Busy>> refs;
  for (int i = 0; i < kProcesses; ++i) refs.push_back(rt.spawn(spec, Ctx{ran, all_ran, stop}));
  for (auto& r : refs) r.send(Busy{});
  const bool every_one_ran = all_ran->get_future().wait_for(60s) == std::future_status::ready;
  stop->store(true, std::memory_order_relaxed);  // partner: the handlers' relaxed loads
  CHECK(every_one_ran);
  CHECK(ran->load(std::memory_order_acquire) == kProcesses);  // pairs with the fetch_adds
  rt.shutdown(30s);
  check_laws(rt);
}

namespace {

struct Ball {
  int left = 0;
  phyx::ProcessRef<Ball> back;
  std::shared_ptr<std::promise<void>> done;
};

}  // namespace

TEST_CASE(
    "references (step 10): two processes that traded messages and stopped are freed, behaviour and "
    "all, once their worker runs dry") {
  // A finished process's last reference can be its final turn's (finish_stop() takes one
  // for the entry in hand), released after that turn; its shared behaviour's last units
  // can be a worker's credits, returned when that worker runs dry. Nothing of a stopped
  // process outlives its object but its spec's behaviour: once the SharedSpec is gone, the
  // behaviour (and what its handler captured) goes with the last process.
  phyx::Runtime rt(threads());
  auto captured = std::make_shared<int>(0);
  std::weak_ptr<int> watch = captured;
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  {
    auto spec = phyx::share(phyx::ProcessSpec<Ball, int>{
        .name = "player",
        .init = [](const phyx::Empty&) { return 0; },
        .handle =
            [captured](int&, Ball& b, auto& tools) {
              if (b.left == 0) {
                b.done->set_value();
              } else {
                b.back.send(Ball{b.left - 1, tools.self(), std::move(b.done)});
              }
            },
    });
    captured.reset();  // the behaviour holds the only copy now
    auto a = rt.spawn(spec);
    auto b = rt.spawn(spec);
    REQUIRE(a.send(Ball{static_cast<int>(10'000 * scale()), b, done}));
    done.reset();
    REQUIRE(finished.wait_for(30s) == std::future_status::ready);
    REQUIRE(a.stop().wait_for(10s));
    REQUIRE(b.stop().wait_for(10s));
  }  // the refs and the SharedSpec go: what is left is held by turns and workers' credits
  // A bounded wait (no sleep): the workers run dry, give back what they hold, and park.
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (!watch.expired() && std::chrono::steady_clock::now() < until) std::this_thread::yield();
  CHECK(watch.expired());
  rt.shutdown(5s);
  check_laws(rt);
}

namespace {

// A server that holds every reply until Release answers them all.
struct Hold {
  phyx::Reply<int> reply;
};
struct Release {};
using HolderMsg = std::variant<Hold, Release>;

struct FullCtx {
  phyx::ProcessRef<HolderMsg> holder;
};
struct Retry {};
struct RetryCtx {
  phyx::ProcessRef<int> target;
  std::shared_ptr<std::promise<void>> through;
};
struct Step {
  int k;
};
struct StepCtx {
  int last;
  const phyx::Runtime* rt;
  std::shared_ptr<std::promise<std::uint64_t>> refused_at_last;  // read by the last step
};

}  // namespace

TEST_CASE("backpressure: a handler whose send a full mailbox refuses ends its process's turn") {
  // One worker, five processes. `full` has a one-message lane; its handler of message 1
  // awaits a reply that `holder` keeps until Release, and it takes no message meanwhile,
  // so message 2 fills its lane. `retrier` sends to it and, refused, sends itself Retry to
  // try again; `stepper` sends itself kSteps messages. If a refusal did not end the
  // retrier's turn, each of its turns would spend its whole budget on refusals (about as
  // many refusals as the stepper's steps over the run); ended, each turn costs one.
  // `starter` sends the first Retry and the first Step from a handler.
  phyx::Runtime rt(threads(1));
  auto holder = rt.spawn(phyx::ProcessSpec<HolderMsg, std::vector<phyx::Reply<int>>>{
      .name = "holder",
      .init = [](const phyx::Empty&) { return std::vector<phyx::Reply<int>>{}; },
      .handle =
          [](std::vector<phyx::Reply<int>>& held, HolderMsg& m, auto&) {
            if (auto* h = std::get_if<Hold>(&m)) held.push_back(std::move(h->reply));
            if (std::holds_alternative<Release>(m)) {
              for (auto& r : held) r(0);
              held.clear();
            }
          },
  });
  auto full = rt.spawn(phyx::ProcessSpec<int, int, FullCtx>{
                           .name = "full",
                           .init = [](const FullCtx&) { return 0; },
                           .handle = [](int&, int& m, auto& tools) -> phyx::Task<void> {
                             if (m != 1) co_return;
                             co_await tools.ctx().holder.template ask<int>(
                                 [](phyx::Reply<int> r) { return HolderMsg{Hold{std::move(r)}}; },
                                 60'000ms);
                           },
                           .max_inbox = 1,
                       },
                       FullCtx{holder});
  REQUIRE(full.send(1));
  // Message 2 is accepted once message 1 is in hand (the lane holds one).
  const auto until = std::chrono::steady_clock::now() + 10s;
  bool second = false;
  while (!(second = full.send(2)) && std::chrono::steady_clock::now() < until)
    std::this_thread::yield();
  REQUIRE(second);
  const std::uint64_t refused_before = rt.stats().refused_full;

  auto through = std::make_shared<std::promise<void>>();
  auto got_through = through->get_future();
  auto retrier = rt.spawn(phyx::ProcessSpec<Retry, int, RetryCtx>{
                              .name = "retrier",
                              .init = [](const RetryCtx&) { return 0; },
                              .handle =
                                  [](int&, Retry&, auto& tools) {
                                    if (tools.ctx().target.send(3)) {
                                      tools.ctx().through->set_value();
                                    } else {
                                      tools.self().send(Retry{});
                                    }
                                  },
                          },
                          RetryCtx{full, through});
  constexpr int kSteps = 20 * 128;  // 20 turns of the full budget
  auto done = std::make_shared<std::promise<std::uint64_t>>();
  auto stepped = done->get_future();
  auto stepper = rt.spawn(
      phyx::ProcessSpec<Step, int, StepCtx>{
          .name = "stepper",
          .init = [](const StepCtx&) { return 0; },
          .handle =
              [](int&, Step& s, auto& tools) {
                if (s.k == tools.ctx().last) {
                  // Read here: after the last step the retrier runs alone.
                  tools.ctx().refused_at_last->set_value(tools.ctx().rt->stats().refused_full);
                } else {
                  tools.self().send(Step{s.k + 1});
                }
              },
      },
      StepCtx{kSteps, &rt, done});
  // Both start from one handler, so both are in the worker's own queue (the injection
  // queue, looked at less often, would let the retrier run alone for a while).
  auto starter = rt.spawn(phyx::ProcessSpec<int, int>{
      .name = "starter",
      .init = [](const phyx::Empty&) { return 0; },
      .handle =
          [retrier, stepper](int&, int&, auto&) {
            retrier.send(Retry{});
            stepper.send(Step{0});
          },
  });
  REQUIRE(starter.send(0));
  REQUIRE(stepped.wait_for(30s) == std::future_status::ready);
  const std::uint64_t refused = stepped.get() - refused_before;
  INFO("refusals while the stepper took " << kSteps << " steps: " << refused);
  CHECK(refused >= 1);              // the retrier did run
  CHECK(refused < kSteps / 8);      // a turn per refusal, not a budget of refusals per turn
  REQUIRE(holder.send(Release{}));  // full takes 2, then the retrier's 3 gets through
  REQUIRE(got_through.wait_for(30s) == std::future_status::ready);
  rt.shutdown(5s);
  check_laws(rt);
}

namespace {

/// One round of the stuck-worker test: two signals to wait for, and the round's end.
struct StuckRound {
  std::atomic<int> signals{0};
  std::promise<void> both_signalled;
  std::promise<void> ended;
};
struct Block {
  std::shared_ptr<StuckRound> round;
};
struct Signal {
  std::shared_ptr<StuckRound> round;
};
struct BlockerCtx {
  std::vector<phyx::ProcessRef<Signal>> peers;
  std::shared_ptr<std::atomic<int>> rescued;
};

}  // namespace

TEST_CASE(
    "a stuck worker: what its handler made runnable runs on the other worker (step 5), 300 times") {
  // The blocker's handler sends to two peers, then spawns a child, which takes its
  // worker's LIFO slot (only the owner runs that slot, by design) and so leaves both peers
  // in the worker's local queue (or running elsewhere, if a peer's previous turn was not
  // over). Then it blocks its worker until both peers have run. The queue holds at most
  // two processes, far under the backlog rule's half ring: only the rule that a victim
  // which started no turn for 100 us is stuck gets them out (within the 1 ms watch). A
  // backlog-only rule fails this test (a 10 s wait per round).
  phyx::Runtime rt(threads());
  if (rt.engine_for_tests().worker_count() < 2) {  // systematic mode runs one worker
    MESSAGE("needs a second worker while the blocker holds one: skipped under one worker");
    return;
  }
  const auto peer_spec = phyx::share(phyx::ProcessSpec<Signal, int>{
      .name = "peer",
      .init = [](const phyx::Empty&) { return 0; },
      .handle =
          [](int&, Signal& s, auto&) {
            // acq_rel: the second of the two peers sees the first's increment (pairs with it).
            if (s.round->signals.fetch_add(1, std::memory_order_acq_rel) + 1 == 2)
              s.round->both_signalled.set_value();
          },
  });
  // The round ends when the child runs: after the blocker's turn, on the blocker's worker.
  const auto child_spec = phyx::share(phyx::ProcessSpec<Signal, int, std::shared_ptr<StuckRound>>{
      .name = "child",
      .init =
          [](const std::shared_ptr<StuckRound>& round) {
            round->ended.set_value();
            return 0;
          },
      .handle = [](int&, Signal&, auto&) {},
  });
  auto rescued = std::make_shared<std::atomic<int>>(0);
  BlockerCtx ctx{{}, rescued};
  for (int i = 0; i < 2; ++i) ctx.peers.push_back(rt.spawn(peer_spec));
  auto blocker =
      rt.spawn(phyx::ProcessSpec<Block, int, BlockerCtx>{
                   .name = "blocker",
                   .init = [](const BlockerCtx&) { return 0; },
                   .handle =
                       [child_spec](int&, Block& b, auto& tools) {
                         const BlockerCtx& c = tools.ctx();
                         auto both = b.round->both_signalled.get_future();
                         c.peers[0].send(Signal{b.round});
                         c.peers[1].send(Signal{b.round});
                         tools.spawn(child_spec, b.round);
                         // Blocks this worker: a test's bounded wait, not a sleep.
                         if (both.wait_for(10s) == std::future_status::ready) {
                           // relaxed: a tally, read after shutdown (the workers have left).
                           c.rescued->fetch_add(1, std::memory_order_relaxed);
                         }
                       },
               },
               ctx);
  const int rounds = static_cast<int>(300 * scale());
  int ended = 0;
  for (int i = 0; i < rounds; ++i) {
    auto round = std::make_shared<StuckRound>();
    auto end = round->ended.get_future();
    REQUIRE(blocker.send(Block{round}));
    if (end.wait_for(30s) != std::future_status::ready) break;
    ++ended;
  }
  CHECK(ended == rounds);
  ctx.peers.clear();
  rt.shutdown(30s);
  CHECK(rescued->load(std::memory_order_relaxed) == ended);  // a tally; the workers have left
  check_laws(rt);
}

namespace {

/// An identity for the calling thread, comparable across threads.
std::uintptr_t this_thread_tag() {
  thread_local char tag;
  return reinterpret_cast<std::uintptr_t>(&tag);
}
struct Placement {
  std::int64_t total = 0;
  std::atomic<std::uintptr_t> counter_thread{0};  // the thread that ran the counter last
  std::atomic<std::int64_t> followed{0};  // turns after a refusal apart, on the counter's thread
  std::atomic<std::int64_t> left{0};      // turns after a refusal apart, elsewhere
  std::promise<void> counted;
};
struct More {};
struct ProducerCtx {
  phyx::ProcessRef<int> counter;
  std::int64_t to_send;
  std::shared_ptr<Placement> placement;
};
struct ProducerState {
  std::int64_t left = 0;
  bool refused_apart = false;  // the last turn was refused while the counter ran elsewhere
};

}  // namespace

TEST_CASE(
    "placement (step 12): producers moved to their counter's worker: every message counted once") {
  // fan-in in small: two producers send to a counter whose lane holds 64 messages, and a
  // refused producer sends itself More and tries again on its next turn, so producers
  // move between the workers all the time (step 12, and thieves taking them back from a
  // worker that looks stuck). Every message must be counted once (SPEC 8), and no
  // producer may be lost in an inbox (the count completes). A producer refused while the
  // counter last ran on another thread notes where its next turn runs: on the counter's
  // thread (it followed) or not. That share is printed, not checked: it is a speed
  // property (a preempted worker looks stuck, and rightly loses what was moved to it),
  // measured by `phyx-bench --workload fan-in`. Rounds repeat (a fresh runtime each, at
  // most 40) until 20 such refusals were seen: a round whose processes share one worker
  // from the start and are never split has none.
  std::int64_t followed = 0;
  std::int64_t left = 0;
  for (int round = 0; round < 40 && followed + left < 20; ++round) {
    phyx::Runtime rt(threads());
    if (rt.engine_for_tests().worker_count() < 2) {  // systematic mode runs one worker
      MESSAGE("placement needs two workers: skipped under one worker");
      return;
    }
    auto placement = std::make_shared<Placement>();
    placement->total = static_cast<std::int64_t>(2 * 20'000 * scale());
    auto counted = placement->counted.get_future();
    auto counter =
        rt.spawn(phyx::ProcessSpec<int, std::int64_t, std::shared_ptr<Placement>>{
                     .name = "counter",
                     .init = [](const std::shared_ptr<Placement>&) { return std::int64_t{0}; },
                     .handle =
                         [](std::int64_t& n, int& m, auto& tools) {
                           Placement& pl = *tools.ctx();
                           // relaxed: a tag for the producers to compare with (pairs with their
                           // loads); nothing else is published through it.
                           pl.counter_thread.store(this_thread_tag(), std::memory_order_relaxed);
                           n += m;
                           if (n == pl.total) pl.counted.set_value();
                         },
                     .max_inbox = 64,
                 },
                 placement);
    const auto producer_spec = phyx::share(phyx::ProcessSpec<More, ProducerState, ProducerCtx>{
        .name = "producer",
        .init =
            [](const ProducerCtx& c) {
              return ProducerState{c.to_send, false};
            },
        .handle =
            [](ProducerState& st, More&, auto& tools) {
              const ProducerCtx& c = tools.ctx();
              Placement& pl = *c.placement;
              // relaxed: the tag as above; the tallies are read after shutdown.
              const bool beside =
                  pl.counter_thread.load(std::memory_order_relaxed) == this_thread_tag();
              if (std::exchange(st.refused_apart, false)) {
                (beside ? pl.followed : pl.left).fetch_add(1, std::memory_order_relaxed);
              }
              for (int i = 0; i < 256 && st.left > 0; ++i) {
                if (!c.counter.send(1)) {  // refused: this turn ends; again on the next
                  st.refused_apart =
                      pl.counter_thread.load(std::memory_order_relaxed) != this_thread_tag();
                  break;
                }
                --st.left;
              }
              if (st.left > 0) tools.self().send(More{});
            },
    });
    std::vector<phyx::ProcessRef<More>> producers;
    for (int i = 0; i < 2; ++i) {
      producers.push_back(
          rt.spawn(producer_spec, ProducerCtx{counter, placement->total / 2, placement}));
    }
    for (auto& p : producers) REQUIRE(p.send(More{}));
    REQUIRE(counted.wait_for(60s) == std::future_status::ready);
    rt.shutdown(30s);
    followed += placement->followed.load(std::memory_order_relaxed);  // the workers have left
    left += placement->left.load(std::memory_order_relaxed);
    check_laws(rt);
  }
  MESSAGE("turns after a refusal apart from the counter: on its thread " << followed
                                                                         << ", elsewhere " << left);
  CHECK(followed + left > 0);  // refusals apart happened: producers were moved
}

namespace {

struct RescueRound {
  std::promise<void> blocking;   // the receiver's handler holds its worker now
  std::promise<void> came_back;  // the refused sender took its next turn
  std::shared_future<void> came_back_seen = came_back.get_future().share();  // for both waiters
  std::promise<bool>
      released;  // the receiver's handler ended: true if the sender came back in time
};
struct ReceiverMsg {
  std::shared_ptr<RescueRound> round;  // null: a filler
};
struct SenderMsg {
  std::shared_ptr<RescueRound> round;
  bool back = false;  // the sender's own note: its turn after the refusal
};
struct RescueCtx {
  phyx::ProcessRef<ReceiverMsg> receiver;
};

}  // namespace

TEST_CASE(
    "placement (step 12): a sender moved to a stuck worker is taken back by the other worker, 50 "
    "times") {
  // The receiver's handler blocks its worker until the sender has taken the turn after its
  // refusal. The sender (on the other worker: the receiver's is blocked) fills the
  // receiver's 4-message lane, is refused, and so moves to the receiver's worker (step
  // 12), where the blocked owner cannot run it. Only a thief that takes what waits in a
  // stuck worker's inbox (step 5 on inboxes) runs it; without that the round waits out
  // the receiver's 10 s bound and the test fails.
  phyx::Runtime rt(threads());
  if (rt.engine_for_tests().worker_count() < 2) {  // systematic mode runs one worker
    MESSAGE("needs a second worker while the receiver holds one: skipped under one worker");
    return;
  }
  auto receiver = rt.spawn(phyx::ProcessSpec<ReceiverMsg, int>{
      .name = "receiver",
      .init = [](const phyx::Empty&) { return 0; },
      .handle =
          [](int&, ReceiverMsg& m, auto&) {
            if (m.round == nullptr) return;  // a filler
            m.round->blocking.set_value();
            // Blocks this worker: a test's bounded wait, not a sleep.
            m.round->released.set_value(m.round->came_back_seen.wait_for(10s) ==
                                        std::future_status::ready);
          },
      .max_inbox = 4,
  });
  auto sender =
      rt.spawn(phyx::ProcessSpec<SenderMsg, int, RescueCtx>{
                   .name = "sender",
                   .init = [](const RescueCtx&) { return 0; },
                   .handle =
                       [](int&, SenderMsg& m, auto& tools) {
                         if (m.back) {
                           m.round->came_back.set_value();
                           return;
                         }
                         tools.self().send(SenderMsg{m.round, true});  // the next turn's note
                         // At most 4 fit (the receiver takes none meanwhile); the
                         // refusal ends this turn.
                         for (int i = 0; i < 5; ++i) {
                           if (!tools.ctx().receiver.send(ReceiverMsg{})) break;
                         }
                       },
               },
               RescueCtx{receiver});
  const std::uint64_t refused_before = rt.stats().refused_full;
  const int rounds = static_cast<int>(50 * scale());
  int in_time = 0;
  for (int i = 0; i < rounds; ++i) {
    auto round = std::make_shared<RescueRound>();
    auto blocking = round->blocking.get_future();
    auto released = round->released.get_future();
    // The last round's fillers may still fill the lane: a bounded retry, not a sleep.
    const auto until = std::chrono::steady_clock::now() + 10s;
    bool sent = false;
    while (!(sent = receiver.send(ReceiverMsg{round})) && std::chrono::steady_clock::now() < until)
      std::this_thread::yield();
    REQUIRE(sent);
    REQUIRE(blocking.wait_for(30s) == std::future_status::ready);
    REQUIRE(sender.send(SenderMsg{round, false}));
    REQUIRE(released.wait_for(30s) == std::future_status::ready);
    if (!released.get()) break;  // the sender stayed stranded for 10 s
    ++in_time;
  }
  CHECK(in_time == rounds);
  CHECK(rt.stats().refused_full - refused_before >=
        static_cast<std::uint64_t>(in_time));  // each round was refused
  rt.shutdown(30s);
  check_laws(rt);
}

namespace {

// The gap closed by step 6b: a process whose budget ran out goes back to its worker's
// queue without a wake-up (its worker runs it soon). If that worker's next handler blocks,
// only a worker that looks again can run it.
struct StrandRound {
  phyx::detail::RuntimeCore* engine = nullptr;
  std::promise<void> drained;   // the requeued process handled its last message
  std::promise<bool> released;  // the blocking handler ended: true if drained came in time
  unsigned others = 1;          // workers other than the requeued process's
  bool other_parked = false;    // the requeued process saw every other worker parked
};
struct StrandBlock {
  std::shared_ptr<StrandRound> round;
};
struct StrandGo {
  std::shared_ptr<StrandRound> round;
};
struct StrandWork {
  std::shared_ptr<StrandRound> round;
  bool last = false;
};
using RequeuedMsg = std::variant<StrandGo, StrandWork>;
struct RequeuedCtx {
  phyx::ProcessRef<StrandBlock> blocker;
};
constexpr int kMoreThanABudget = 300;  // the per-turn budget is 128 (work_stealing.cpp)

// Each round builds the interleaving exactly. The requeued process R runs on one worker
// and waits until every other worker has parked (their last looks found every queue
// empty: R was running). Then R wakes the blocker B (into its own worker's LIFO slot: no
// wake-up) and sends itself more than a budget of messages (R is running: no enqueue).
// R's budget runs out, it goes back to the queue (no wake-up), and B runs and blocks until
// R has handled its last message. Only a parked worker can run R now: without step 6b
// nothing wakes one and each round waits out B's 10 s bound.
void requeued_not_stranded(unsigned workers) {
  phyx::Runtime rt(threads(workers));
  if (rt.engine_for_tests().worker_count() != workers) {  // systematic mode runs one worker
    MESSAGE("needs " << workers << " workers: skipped");
    return;
  }
  auto blocker = rt.spawn(phyx::ProcessSpec<StrandBlock, int>{
      .name = "blocker",
      .init = [](const phyx::Empty&) { return 0; },
      .handle =
          [](int&, StrandBlock& m, auto&) {
            // Blocks this worker: a test's bounded wait, not a sleep.
            auto drained = m.round->drained.get_future();
            m.round->released.set_value(drained.wait_for(10s) == std::future_status::ready);
          },
  });
  auto requeued =
      rt.spawn(phyx::ProcessSpec<RequeuedMsg, int, RequeuedCtx>{
                   .name = "requeued",
                   .init = [](const RequeuedCtx&) { return 0; },
                   .handle =
                       [](int&, RequeuedMsg& m, auto& tools) {
                         if (auto* w = std::get_if<StrandWork>(&m)) {
                           if (w->last) w->round->drained.set_value();
                           return;
                         }
                         const auto& round = std::get<StrandGo>(m).round;
                         // A bounded spin until every other worker sleeps.
                         const auto until = std::chrono::steady_clock::now() + 10s;
                         while (!(round->other_parked =
                                      round->engine->parked_workers() == round->others) &&
                                std::chrono::steady_clock::now() < until) {
                           std::this_thread::yield();
                         }
                         tools.ctx().blocker.send(StrandBlock{round});
                         for (int i = 1; i <= kMoreThanABudget; ++i) {
                           tools.self().send(StrandWork{round, i == kMoreThanABudget});
                         }
                       },
               },
               RequeuedCtx{blocker});
  const int rounds = static_cast<int>(20 * scale());
  int in_time = 0;
  for (int i = 0; i < rounds; ++i) {
    auto round = std::make_shared<StrandRound>();
    round->engine = &rt.engine_for_tests();
    round->others = workers - 1;
    auto released = round->released.get_future();
    REQUIRE(requeued.send(StrandGo{round}));
    REQUIRE(released.wait_for(30s) == std::future_status::ready);
    REQUIRE(round->other_parked);  // read after released: ordered by the promises
    if (!released.get()) break;    // R stayed stranded for 10 s
    ++in_time;
  }
  CHECK(in_time == rounds);
  rt.shutdown(30s);
  check_laws(rt);
}

}  // namespace

TEST_CASE(
    "step 6b: a process requeued after its budget is not stranded behind a blocking handler "
    "while the other worker sleeps, 20 times") {
  requeued_not_stranded(2);
}

TEST_CASE(
    "step 6b with 3 workers: one of the two sleeping workers is on watch duty, and it takes "
    "the requeued process, 20 times") {
  requeued_not_stranded(3);
}
