// Unit tests of engine/telemetry/counters.hpp: the always-on counters behind Runtime::stats().
#include <doctest/doctest.h>

#include <cstdint>
#include <thread>
#include <vector>

#include "../../engine/telemetry/counters.hpp"

using phyx::detail::Counter;
using phyx::detail::Counters;

TEST_CASE("a fresh Counters is all zero") {
  Counters c;
  for (unsigned i = 0; i < static_cast<unsigned>(Counter::kCount); ++i) CHECK(c.sum(static_cast<Counter>(i)) == 0);
  const phyx::Stats s = c.snapshot();
  CHECK(s.sent == 0);
  CHECK(s.processes_alive == 0);
  CHECK(s.queued == 0);
}

TEST_CASE("add and sum on one thread; counters are independent") {
  Counters c;
  c.add(Counter::sent, 3);
  c.add(Counter::sent, 4);
  c.add(Counter::handled, 1);
  CHECK(c.sum(Counter::sent) == 7);
  CHECK(c.sum(Counter::handled) == 1);
  CHECK(c.sum(Counter::accepted) == 0);
}

TEST_CASE("snapshot maps every counter to its Stats member") {
  Counters c;
  std::uint64_t n = 1;
  for (unsigned i = 0; i < static_cast<unsigned>(Counter::kCount); ++i) {
    const auto which = static_cast<Counter>(i);
    c.add(which, which == Counter::processes_alive_down ? 5 : n);
    ++n;
  }
  // Counter order: sent=1 accepted=2 refused_full=3 refused_not_running=4 handled=5 crashed=6
  // dropped_oldest=7 discarded=8 restarts=9 giveups=10 asks=11 ask_timeouts=12 late_replies=13
  // timers_fired=14 processes_alive_up=15 processes_alive_down=5 dead_letters=17 sink_errors=18
  const phyx::Stats s = c.snapshot();
  CHECK(s.sent == 1);
  CHECK(s.accepted == 2);
  CHECK(s.refused_full == 3);
  CHECK(s.refused_not_running == 4);
  CHECK(s.handled == 5);
  CHECK(s.crashed == 6);
  CHECK(s.dropped_oldest == 7);
  CHECK(s.discarded == 8);
  CHECK(s.restarts == 9);
  CHECK(s.giveups == 10);
  CHECK(s.asks == 11);
  CHECK(s.ask_timeouts == 12);
  CHECK(s.late_replies == 13);
  CHECK(s.timers_fired == 14);
  CHECK(s.spawned == 15);
  CHECK(s.processes_alive == 15 - 5);
  CHECK(s.dead_letters == 17);
  CHECK(s.sink_errors == 18);
  CHECK(s.queued == 0);  // not a counter: read from the mailboxes by the runtime
}

TEST_CASE("processes_alive = spawned - (stopped or failed)") {
  Counters c;
  c.add(Counter::processes_alive_up, 10);
  c.add(Counter::processes_alive_down, 4);
  const phyx::Stats s = c.snapshot();
  CHECK(s.spawned == 10);
  CHECK(s.processes_alive == 6);
}

TEST_CASE("adds from many threads are all counted") {
  Counters c;
  constexpr int kThreads = 8;
  constexpr std::uint64_t kAdds = 20'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&c, t] {
      for (std::uint64_t i = 0; i < kAdds; ++i) {
        c.add(Counter::sent, 1);
        c.add(Counter::accepted, 2);
        if (t % 2 == 0) c.add(Counter::handled, 1);
      }
    });
  }
  // a concurrent reader sees monotonically growing, never overshooting sums
  std::uint64_t last = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t now = c.sum(Counter::sent);
    CHECK(now >= last);
    CHECK(now <= kThreads * kAdds);
    last = now;
  }
  for (auto& t : threads) t.join();
  CHECK(c.sum(Counter::sent) == kThreads * kAdds);
  CHECK(c.sum(Counter::accepted) == 2 * kThreads * kAdds);
  CHECK(c.sum(Counter::handled) == (kThreads / 2) * kAdds);
  const phyx::Stats s = c.snapshot();
  CHECK(s.sent == kThreads * kAdds);
  CHECK(s.accepted == 2 * kThreads * kAdds);
}
