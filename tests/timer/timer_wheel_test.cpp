// Unit tests of engine/timer/timer_wheel.hpp: the hierarchical wheel alone, one thread,
// no clock. Each test ends with every node out of the wheel and freed.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "phyx/detail/timer_node.hpp"
#include "timer/timer_wheel.hpp"

using phyx::TimerId;
using phyx::detail::TimerNode;
using phyx::detail::TimerWheel;

namespace {

constexpr std::int64_t kMs = 1'000'000;

/// Nodes for the wheel alone: made with both references, freed at the end.
struct Nodes {
  std::vector<TimerNode*> all;
  std::uint64_t next_id = 1;
  TimerNode* make(std::int64_t deadline_ns) {
    TimerNode* n = phyx::detail::make_timer_node([](TimerId) {});
    n->set_due(deadline_ns, TimerId{next_id++});
    all.push_back(n);
    return n;
  }
  ~Nodes() {
    for (TimerNode* n : all) {
      n->release();
      n->release();
    }
  }
};

/// Pops everything due at or before `limit`, in order.
std::vector<TimerNode*> pop_all(TimerWheel& w, std::int64_t limit) {
  std::vector<TimerNode*> out;
  while (TimerNode* n = w.pop_due(limit)) out.push_back(n);
  return out;
}

}  // namespace

TEST_CASE("an empty wheel has nothing due, no next deadline and no wake bound") {
  TimerWheel w(0);
  CHECK(w.empty());
  CHECK(w.pop_due(1'000 * kMs) == nullptr);
  CHECK_FALSE(w.next_deadline().has_value());
  CHECK_FALSE(w.wake_bound().has_value());
}

TEST_CASE("timers leave in deadline order, ties in id order, never before their deadline") {
  TimerWheel w(0);
  Nodes nodes;
  // Deadlines across levels 0..3, inserted out of order, with ties and sub-ms deadlines.
  const std::vector<std::int64_t> deadlines = {5 * kMs,       70 * kMs,          5 * kMs,     3 * kMs + 500'000,
                                               3 * kMs + 1,   5'000 * kMs,       63 * kMs,    64 * kMs,
                                               4'096 * kMs,   300'000 * kMs,     0,           5 * kMs};
  for (std::int64_t d : deadlines) w.insert(nodes.make(d));
  CHECK(w.size() == deadlines.size());

  std::vector<TimerNode*> expected = nodes.all;
  std::stable_sort(expected.begin(), expected.end(), [](const TimerNode* a, const TimerNode* b) {
    return a->deadline_ns() < b->deadline_ns();  // stable: ties stay in id (insertion) order
  });
  std::vector<TimerNode*> fired;
  for (std::int64_t now = 0; now <= 300'000 * kMs; now += kMs / 4) {
    for (TimerNode* n : pop_all(w, now)) {
      CHECK(n->deadline_ns() <= now);  // never early
      CHECK(n->deadline_ns() > now - kMs / 4);  // and found on the first look that could
      fired.push_back(n);
    }
    if (now > 6'000 * kMs) now += 1'000 * kMs;  // skip ahead through the far part
  }
  for (TimerNode* n : pop_all(w, 300'000 * kMs)) fired.push_back(n);
  CHECK(fired == expected);
  CHECK(w.empty());
}

TEST_CASE("a deadline of days, years and centuries is kept exactly and fires on time") {
  TimerWheel w(0);
  Nodes nodes;
  const std::int64_t day = 86'400'000 * kMs;
  TimerNode* three_days = nodes.make(3 * day + 7 * kMs);
  TimerNode* ten_years = nodes.make(3'650 * day + 1);
  TimerNode* far = nodes.make(INT64_MAX);  // farther than the levels reach (139 years)
  w.insert(far);
  w.insert(ten_years);
  w.insert(three_days);
  CHECK(w.next_deadline() == 3 * day + 7 * kMs);
  CHECK(w.pop_due(3 * day + 6 * kMs) == nullptr);
  CHECK(w.pop_due(3 * day + 7 * kMs) == three_days);
  CHECK(w.next_deadline() == 3'650 * day + 1);
  CHECK(w.pop_due(3'650 * day) == nullptr);
  CHECK(w.pop_due(3'650 * day + 1) == ten_years);
  CHECK(w.next_deadline() == INT64_MAX);
  CHECK(w.pop_due(INT64_MAX - 1) == nullptr);
  CHECK(w.pop_due(INT64_MAX) == far);
  CHECK(w.empty());
}

TEST_CASE("remove takes a timer out of any level; its slot is free again") {
  TimerWheel w(0);
  Nodes nodes;
  TimerNode* near = nodes.make(10 * kMs);
  TimerNode* mid = nodes.make(1'000 * kMs);
  TimerNode* far = nodes.make(10'000'000 * kMs);
  TimerNode* keep = nodes.make(1'000 * kMs);
  for (TimerNode* n : {near, mid, far, keep}) w.insert(n);
  w.remove(mid);
  w.remove(near);
  w.remove(far);
  CHECK(w.size() == 1);
  CHECK(w.next_deadline() == 1'000 * kMs);
  CHECK(pop_all(w, 20'000'000 * kMs) == std::vector<TimerNode*>{keep});
}

TEST_CASE("wake_bound is a lower bound of the next deadline and changes nothing") {
  TimerWheel w(0);
  Nodes nodes;
  w.insert(nodes.make(200 * kMs + 300'000));
  const auto bound = w.wake_bound();
  REQUIRE(bound.has_value());
  CHECK(*bound <= 200 * kMs + 300'000);
  CHECK(*bound >= 64 * kMs);  // the start of the slot that holds it, not 0
  CHECK(w.elapsed_tick() == 0);
  CHECK(w.next_deadline() == 200 * kMs + 300'000);
  CHECK(w.wake_bound() == 200 * kMs + 300'000);  // now in the due heap: exact
  CHECK(pop_all(w, 201 * kMs).size() == 1);
}

TEST_CASE("a timer inserted behind the wheel's time is due at once, in order with the rest") {
  TimerWheel w(0);
  Nodes nodes;
  w.insert(nodes.make(50 * kMs));
  CHECK(w.next_deadline() == 50 * kMs);  // moved the wheel's time to 50 ms
  TimerNode* late = nodes.make(20 * kMs);  // behind it (a ManualClock that jumped ahead)
  TimerNode* tie = nodes.make(50 * kMs);
  w.insert(late);
  w.insert(tie);
  CHECK(w.pop_due(19 * kMs) == nullptr);
  const auto out = pop_all(w, 50 * kMs);
  REQUIRE(out.size() == 3);
  CHECK(out[0] == late);
  CHECK(out[1] == nodes.all[0]);
  CHECK(out[2] == tie);
}

TEST_CASE("randomised: pops match a sorted reference, with removals, for many seeds") {
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    const std::int64_t start = static_cast<std::int64_t>(rng() % (1'000'000 * kMs));
    TimerWheel w(start);
    Nodes nodes;
    std::vector<TimerNode*> live;
    std::int64_t now = start;
    for (int step = 0; step < 400; ++step) {
      const auto op = rng() % 10;
      if (op < 6) {
        // Spread over every level: up to 64^k ms for a random k.
        const int k = static_cast<int>(rng() % 5) + 1;
        std::int64_t span = 1;
        for (int i = 0; i < k; ++i) span *= 64;
        TimerNode* n = nodes.make(now + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(span * kMs)));
        w.insert(n);
        live.push_back(n);
      } else if (op < 7 && !live.empty()) {
        const std::size_t i = rng() % live.size();
        if (live[i]->place == TimerNode::Place::slot) {
          w.remove(live[i]);
          live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
        }
      } else {
        now += static_cast<std::int64_t>(rng() % (5'000 * kMs));
        std::vector<TimerNode*> due;
        for (TimerNode* n : live) {
          if (n->deadline_ns() <= now) due.push_back(n);
        }
        std::sort(due.begin(), due.end(), [](const TimerNode* a, const TimerNode* b) {
          return std::pair(a->deadline_ns(), a->id().value) < std::pair(b->deadline_ns(), b->id().value);
        });
        const auto out = pop_all(w, now);
        CHECK(out == due);
        for (TimerNode* n : out) std::erase(live, n);
      }
      CHECK(w.size() == live.size());
    }
    w.drain([](TimerNode*) {});
  }
}
