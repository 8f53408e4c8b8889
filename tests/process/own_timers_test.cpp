// Unit tests of engine/process/own_timers.hpp: a process's timers by id, one thread.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "phyx/detail/timer_node.hpp"
#include "process/own_timers.hpp"
#include "timer/timer_service.hpp"

using phyx::TimerId;
using phyx::detail::OwnTimers;
using phyx::detail::TimerNode;
using phyx::detail::TimerService;

namespace {

constexpr std::int64_t kMs = 1'000'000;

TimerNode* start(TimerService& s, std::int64_t deadline_ns, TimerId* id) {
  TimerNode* n = phyx::detail::make_timer_node([](TimerId) {});
  *id = s.start(n, deadline_ns, nullptr);
  return n;
}

void fire_due(TimerService& s, std::int64_t now) {
  while (TimerNode* n = s.pop_due(now)) s.fire(n);
}

}  // namespace

TEST_CASE("take finds a held timer once; an unknown id finds nothing") {
  TimerService s(0);
  OwnTimers own;
  std::vector<TimerId> ids(5);
  for (auto& id : ids) {
    TimerNode* n = start(s, 10 * kMs, &id);
    own.add(id.value, n);
  }
  TimerNode* third = own.take(ids[2].value);
  REQUIRE(third != nullptr);
  CHECK(own.take(ids[2].value) == nullptr);  // taken
  CHECK(own.take(999'999) == nullptr);
  CHECK(third->cancel_and_release());
  for (TimerNode* n : own.take_all()) CHECK(n->cancel_and_release());
  CHECK(own.size() == 0);
  CHECK(s.pending() == 0);
}

TEST_CASE("a fired timer stays held until a sweep; take then finds it and cancel says it fired") {
  TimerService s(0);
  OwnTimers own;
  TimerId early{};
  TimerNode* n = start(s, 1 * kMs, &early);
  own.add(early.value, n);
  fire_due(s, 1 * kMs);
  TimerNode* taken = own.take(early.value);
  REQUIRE(taken == n);
  CHECK_FALSE(taken->cancel_and_release());  // it had fired
}

TEST_CASE("sweeps keep memory within about twice the live timers, and drop only fired ones") {
  TimerService s(0);
  OwnTimers own;
  std::vector<TimerId> live_ids;
  // Each round: one timer that fires, one that stays pending.
  for (int round = 0; round < 1'000; ++round) {
    TimerId fires{};
    TimerNode* f = start(s, round * kMs, &fires);
    own.add(fires.value, f);
    TimerId stays{};
    TimerNode* p = start(s, 1'000'000 * kMs, &stays);
    own.add(stays.value, p);
    live_ids.push_back(stays);
    fire_due(s, round * kMs);
    CHECK(own.size() <= 2 * (live_ids.size() + 1) + 32);
  }
  for (TimerId id : live_ids) {
    TimerNode* n = own.take(id.value);
    REQUIRE(n != nullptr);
    CHECK(n->cancel_and_release());  // still pending: the sweeps kept it
  }
  for (TimerNode* n : own.take_all()) CHECK_FALSE(n->cancel_and_release());  // fired ones
  CHECK(s.pending() == 0);
}
