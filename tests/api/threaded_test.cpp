// The engine on real worker threads: many senders, ping-pong, concurrent asks, concurrent
// spawns, drop_oldest under contention, an idle runtime. Every test ends with the laws.
//
// PHYX_TEST_SCALE (a positive number, default 1) scales the message counts, e.g. 0.1 for a
// quicker run under a sanitizer.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "support/accounting.hpp"
#include "support/counter.hpp"


/// prefix + std::to_string(n), built by appending (GCC 12 warns falsely on "lit" + string).
inline std::string cat(const char* prefix, long long n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

using namespace std::chrono_literals;
using phyx_test::check_laws;
using phyx_test::counter_spec;
using phyx_test::CounterMsg;
using phyx_test::get_count;
using phyx_test::Increment;

namespace {

int scaled(int n) {
  double scale = 1.0;
  if (const char* s = std::getenv("PHYX_TEST_SCALE")) {
    const double v = std::atof(s);
    if (v > 0) scale = v;
  }
  const int r = static_cast<int>(n * scale);
  return r < 1 ? 1 : r;
}

phyx::RuntimeOptions threaded(unsigned workers = 4) {
  return phyx::RuntimeOptions{.clock = phyx::create_system_clock(), .workers = workers};
}

}  // namespace

TEST_CASE("4 threads x 200,000 sends to 50 counters: every accepted send is counted once") {
  const int kThreads = 4;
  const int kSends = scaled(200'000);
  const int kProcs = 50;
  phyx::Runtime rt(threaded());
  std::vector<phyx::ProcessRef<CounterMsg>> procs;
  for (int i = 0; i < kProcs; ++i) {
    auto spec = counter_spec(cat("c", i));
    spec.max_inbox = static_cast<std::size_t>(kThreads * kSends);  // large enough: nothing refused
    procs.push_back(rt.spawn(spec));
  }
  std::atomic<std::uint64_t> accepted{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < kThreads; ++t) {
    senders.emplace_back([&, t] {
      std::uint64_t mine = 0;
      for (int i = 0; i < kSends; ++i) {
        if (procs[static_cast<std::size_t>((i + t * 7) % kProcs)].send(Increment{})) ++mine;
      }
      accepted += mine;
    });
  }
  for (auto& s : senders) s.join();
  CHECK(accepted.load(std::memory_order_acquire) == static_cast<std::uint64_t>(kThreads) * static_cast<std::uint64_t>(kSends));
  // Each Get is queued behind every Increment sent to that process (the senders are joined).
  std::uint64_t sum = 0;
  for (auto& p : procs) sum += static_cast<std::uint64_t>(get_count(p, 60s).get());
  CHECK(sum == accepted.load(std::memory_order_acquire));
  rt.shutdown(10s);  // counted once the workers stopped (a replying handler may still be returning)
  const auto s = rt.stats();
  CHECK(s.refused_full == 0);
  CHECK(s.handled == accepted.load(std::memory_order_acquire) + kProcs);
  CHECK(s.queued == 0);
  check_laws(rt);
}

TEST_CASE("many senders into small mailboxes: refusals are counted, the laws hold") {
  const int kThreads = 4;
  const int kSends = scaled(50'000);
  const int kProcs = 8;
  phyx::Runtime rt(threaded());
  std::vector<phyx::ProcessRef<CounterMsg>> procs;
  for (int i = 0; i < kProcs; ++i) {
    auto spec = counter_spec(cat("small", i));
    spec.max_inbox = 16;
    procs.push_back(rt.spawn(spec));
  }
  std::atomic<std::uint64_t> accepted{0}, refused{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < kThreads; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < kSends; ++i) {
        if (procs[static_cast<std::size_t>((i + t) % kProcs)].send(Increment{})) {
          ++accepted;
        } else {
          ++refused;
        }
      }
    });
  }
  for (auto& s : senders) s.join();
  std::uint64_t sum = 0;
  for (auto& p : procs) {
    // a Get can be refused by a full lane too; the lanes drain, so retry until accepted
    bool answered = false;
    for (int attempt = 0; attempt < 1'000'000 && !answered; ++attempt) {
      auto f = get_count(p, 60s);
      try {
        sum += static_cast<std::uint64_t>(f.get());
        answered = true;
      } catch (const phyx::ProcessError&) {
      }
    }
    REQUIRE(answered);
  }
  CHECK(sum == accepted.load(std::memory_order_acquire));
  const auto s = rt.stats();
  CHECK(s.refused_full >= refused.load(std::memory_order_acquire));  // + refused Gets
  rt.shutdown(10s);
  check_laws(rt);
}

namespace {

struct Ball {
  int left = 0;
};
struct Peer {
  phyx::ProcessRef<Ball> other;
  std::shared_ptr<std::promise<int>> done;
};

}  // namespace

TEST_CASE("ping-pong between two processes, 100,000 times") {
  const int kHops = scaled(100'000);
  phyx::Runtime rt(threaded(2));
  auto done = std::make_shared<std::promise<int>>();
  auto finished = done->get_future();
  auto peers = std::make_shared<std::vector<phyx::ProcessRef<Ball>>>();
  auto make = [&](std::string name) {
    return phyx::ProcessSpec<Ball, int, std::size_t>{
        .name = std::move(name),
        .init = [](const std::size_t&) { return 0; },
        .handle =
            [peers, done](int& hits, Ball& b, auto& tools) {
              ++hits;
              if (b.left == 0) {
                done->set_value(hits);
                return;
              }
              (*peers)[tools.ctx()].send(Ball{b.left - 1});
            },
    };
  };
  peers->push_back(rt.spawn(make("ping"), std::size_t{1}));
  peers->push_back(rt.spawn(make("pong"), std::size_t{0}));
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE((*peers)[0].send(Ball{kHops}));
  REQUIRE(finished.wait_for(60s) == std::future_status::ready);
  const auto took = std::chrono::steady_clock::now() - t0;
  MESSAGE("ping-pong: " << kHops << " hops in "
                        << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  CHECK(finished.get() == kHops / 2 + 1);  // the finishing side handled every other ball
  rt.shutdown(10s);  // the last handler may still be returning: count after the workers stopped
  CHECK(rt.stats().handled == static_cast<std::uint64_t>(kHops) + 1);
  peers->clear();  // the handlers hold `peers`: break the cycle
  check_laws(rt);
}

namespace {

struct Echo {
  int value = 0;
  phyx::Reply<int> reply;
};

}  // namespace

TEST_CASE("many asks from several threads") {
  const int kThreads = 4;
  const int kAsks = scaled(5'000);
  phyx::Runtime rt(threaded());
  std::vector<phyx::ProcessRef<Echo>> servers;
  for (int i = 0; i < 3; ++i) {
    servers.push_back(rt.spawn(phyx::ProcessSpec<Echo, int>{
        .name = cat("echo", i),
        .init = [](const phyx::Empty&) { return 0; },
        .handle =
            [](int& n, Echo& e, auto&) {
              ++n;
              e.reply(e.value * 2);
            },
    }));
  }
  std::atomic<int> wrong{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < kAsks; ++i) {
        const int v = t * 1'000'000 + i;
        auto& server = servers[static_cast<std::size_t>((i + t) % 3)];
        const int got = server.ask<int>([v](phyx::Reply<int> r) { return Echo{v, std::move(r)}; }, 60s).get();
        if (got != 2 * v) ++wrong;
      }
    });
  }
  for (auto& c : clients) c.join();
  CHECK(wrong.load(std::memory_order_acquire) == 0);
  rt.shutdown(10s);
  const auto s = rt.stats();
  CHECK(s.asks == static_cast<std::uint64_t>(kThreads * kAsks));
  CHECK(s.ask_timeouts == 0);
  CHECK(s.late_replies == 0);
  CHECK(s.handled == static_cast<std::uint64_t>(kThreads * kAsks));
  check_laws(rt);
}

namespace {

struct KeepReply {
  phyx::Reply<int> reply;
};
struct Release {};
using KeeperMsg = std::variant<KeepReply, Release>;

/// Keeps every Reply it is asked with until told to Release (answers 7).
phyx::ProcessSpec<KeeperMsg, std::vector<phyx::Reply<int>>> keeper_spec() {
  return phyx::ProcessSpec<KeeperMsg, std::vector<phyx::Reply<int>>>{
      .name = "keeper",
      .init = [](const phyx::Empty&) { return std::vector<phyx::Reply<int>>{}; },
      .handle =
          [](std::vector<phyx::Reply<int>>& kept, KeeperMsg& m, auto&) {
            if (auto* k = std::get_if<KeepReply>(&m)) {
              kept.push_back(std::move(k->reply));
            } else {
              for (auto& r : kept) r(7);
              kept.clear();
            }
          },
  };
}

}  // namespace

TEST_CASE("Future::get() on a worker thread throws WouldBlockError instead of deadlocking") {
  phyx::Runtime rt(threaded(2));
  auto keeper = rt.spawn(keeper_spec());
  std::promise<std::string> outcome;
  auto got = outcome.get_future();
  std::promise<phyx::Future<int>> kept_future;
  auto kept = kept_future.get_future();
  auto asker = rt.spawn(phyx::ProcessSpec<int, int>{
      .name = "asker",
      .init = [](const phyx::Empty&) { return 0; },
      .handle =
          [&outcome, &kept_future, keeper](int&, int&, auto&) {
            // the keeper answers only when released: this future cannot settle meanwhile
            auto f = keeper.ask<int>([](phyx::Reply<int> r) { return KeeperMsg{KeepReply{std::move(r)}}; }, 60s);
            try {
              (void)f.get();
              outcome.set_value("returned");
            } catch (const phyx::WouldBlockError&) {
              outcome.set_value("would block");
            } catch (...) {
              outcome.set_value("other");
            }
            kept_future.set_value(f);
          },
  });
  asker.send(1);
  REQUIRE(got.wait_for(30s) == std::future_status::ready);
  CHECK(got.get() == "would block");
  REQUIRE(kept.wait_for(30s) == std::future_status::ready);
  auto f = kept.get();
  keeper.send(Release{});
  CHECK(f.get() == 7);  // the call was not used up; from this thread it blocks and returns
  rt.shutdown(10s);
  check_laws(rt);
}

namespace {

struct SpawnChild {
  phyx::Reply<phyx::ProcessRef<CounterMsg>> reply;
};
struct SpawnSibling {
  phyx::Reply<phyx::ProcessRef<CounterMsg>> reply;
};
using SpawnerMsg = std::variant<SpawnChild, SpawnSibling>;

}  // namespace

TEST_CASE("spawning from handlers (tools.spawn and Runtime::spawn) and from other threads at once") {
  const int kThreads = 3;
  const int kPerThread = scaled(300);
  const int kFromHandler = scaled(300);
  phyx::Runtime rt(threaded());
  auto spawner = rt.spawn(phyx::ProcessSpec<SpawnerMsg, int, phyx::Runtime*>{
                              .name = "spawner",
                              .init = [](phyx::Runtime* const&) { return 0; },
                              .handle =
                                  [](int& n, SpawnerMsg& m, auto& tools) {
                                    ++n;
                                    const std::string name = cat("h", n);
                                    if (auto* c = std::get_if<SpawnChild>(&m)) {
                                      auto child = tools.spawn(counter_spec(name));
                                      child.send(Increment{});
                                      c->reply(child);
                                    } else {
                                      auto& s = std::get<SpawnSibling>(m);
                                      auto sibling = tools.ctx()->spawn(counter_spec(name));
                                      sibling.send(Increment{});
                                      s.reply(sibling);
                                    }
                                  },
                          },
                          &rt);
  std::vector<phyx::Future<phyx::ProcessRef<CounterMsg>>> from_handler;
  std::mutex mutex;
  std::vector<phyx::ProcessRef<CounterMsg>> from_threads;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<phyx::ProcessRef<CounterMsg>> mine;
      for (int i = 0; i < kPerThread; ++i) {
        auto p = rt.spawn(counter_spec(cat("t", t) + cat("-", i)));
        p.send(Increment{});
        mine.push_back(p);
      }
      std::lock_guard lock(mutex);
      from_threads.insert(from_threads.end(), mine.begin(), mine.end());
    });
  }
  for (int i = 0; i < kFromHandler; ++i) {
    if (i % 2 == 0) {
      from_handler.push_back(spawner.ask<phyx::ProcessRef<CounterMsg>>(
          [](phyx::Reply<phyx::ProcessRef<CounterMsg>> r) { return SpawnerMsg{SpawnChild{std::move(r)}}; }, 60s));
    } else {
      from_handler.push_back(spawner.ask<phyx::ProcessRef<CounterMsg>>(
          [](phyx::Reply<phyx::ProcessRef<CounterMsg>> r) { return SpawnerMsg{SpawnSibling{std::move(r)}}; }, 60s));
    }
  }
  for (auto& t : threads) t.join();
  std::vector<phyx::ProcessRef<CounterMsg>> all = from_threads;
  for (auto& f : from_handler) all.push_back(f.get());
  REQUIRE(all.size() == static_cast<std::size_t>(kThreads * kPerThread + kFromHandler));
  std::vector<std::uint64_t> ids;
  for (auto& p : all) {
    CHECK(get_count(p, 60s).get() == 1);
    ids.push_back(p.id().value);
  }
  std::sort(ids.begin(), ids.end());
  CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());  // ids are unique
  const auto s = rt.stats();
  CHECK(s.spawned == static_cast<std::uint64_t>(1 + kThreads * kPerThread + kFromHandler));
  CHECK(s.processes_alive == s.spawned);
  const auto report = rt.shutdown(10s);
  CHECK(report.stopped == s.spawned);
  CHECK(report.abandoned == 0);
  CHECK(rt.stats().processes_alive == 0);
  check_laws(rt);
}

TEST_CASE("drop_oldest under concurrent senders: never more than max_inbox queued, every send accepted") {
  const int kThreads = 4;
  const int kSends = scaled(20'000);
  const std::size_t kMax = 8;
  phyx::Runtime rt(threaded(2));
  auto spec = counter_spec("lossy");
  spec.max_inbox = kMax;
  spec.mailbox_policy = phyx::MailboxPolicy::drop_oldest;
  auto p = rt.spawn(spec);
  std::atomic<int> refused{0};
  std::atomic<std::uint64_t> samples{0}, max_seen{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < kThreads; ++t) {
    senders.emplace_back([&] {
      for (int i = 0; i < kSends; ++i) {
        if (!p.send(Increment{})) ++refused;
        if (i % 64 == 0) {  // sanity check only: sampled while the others send, not proven
          const std::uint64_t q = rt.stats().queued;
          std::uint64_t seen = max_seen.load(std::memory_order_acquire);
          while (q > seen && !max_seen.compare_exchange_weak(seen, q, std::memory_order_acq_rel, std::memory_order_acquire)) {
          }
          ++samples;
        }
      }
    });
  }
  for (auto& s : senders) s.join();
  MESSAGE("sampled queued " << samples.load(std::memory_order_acquire) << " times, max " << max_seen.load(std::memory_order_acquire));
  CHECK(max_seen.load(std::memory_order_acquire) <= kMax);
  CHECK(refused.load(std::memory_order_acquire) == 0);  // drop_oldest accepts every send to a running process
  const int count = get_count(p, 60s).get();  // the newest message: nothing evicts it
  const auto s = rt.stats();
  CHECK(s.accepted == static_cast<std::uint64_t>(kThreads * kSends) + 1);
  CHECK(static_cast<std::uint64_t>(count) + s.dropped_oldest == static_cast<std::uint64_t>(kThreads * kSends));
  CHECK(s.queued == 0);
  CHECK(s.queued <= kMax);
  rt.shutdown(10s);
  check_laws(rt);
}

TEST_CASE("an idle runtime starts and shuts down quickly; its workers are parked") {
  const auto t0 = std::chrono::steady_clock::now();
  phyx::Runtime rt(threaded(8));
  const auto report = rt.shutdown(10s);
  const auto took = std::chrono::steady_clock::now() - t0;
  CHECK(report.stopped == 0);
  CHECK(report.abandoned == 0);
  CHECK(report.messages_discarded == 0);
  CHECK(took < 5s);
  check_laws(rt);
}

TEST_CASE("several runtimes at once, each with its own workers") {
  phyx::Runtime a(threaded(2));
  phyx::Runtime b(threaded(2));
  auto ca = a.spawn(counter_spec("a"));
  auto cb = b.spawn(counter_spec("b"));
  for (int i = 0; i < 100; ++i) {
    ca.send(Increment{});
    if (i % 2 == 0) cb.send(Increment{});
  }
  CHECK(get_count(ca).get() == 100);
  CHECK(get_count(cb).get() == 50);
  a.shutdown(10s);
  b.shutdown(10s);
  CHECK(a.stats().handled == 101);
  CHECK(b.stats().handled == 51);
  check_laws(a);
  check_laws(b);
}
