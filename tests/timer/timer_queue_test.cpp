// Unit tests of engine/timer/timer_queue.hpp: the pending timers of one clock.
#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "../../engine/timer/timer_queue.hpp"

using phyx::TimerId;
using phyx::detail::TimerQueue;

namespace {

struct Log {
  std::vector<int> fired;
  TimerQueue::Callback cb(int tag) {
    return [this, tag](TimerId) { fired.push_back(tag); };
  }
};

/// Pops and runs every timer due at or before `limit`; returns how many ran.
int drain(TimerQueue& q, std::int64_t limit) {
  int n = 0;
  while (auto due = q.pop_due(limit)) {
    (*due)();
    ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("an empty queue") {
  TimerQueue q;
  CHECK(q.pending() == 0);
  CHECK_FALSE(q.next_deadline().has_value());
  CHECK_FALSE(q.pop_due(INT64_MAX).has_value());
  CHECK_FALSE(q.cancel(TimerId{1}));
  CHECK(q.clear() == 0);
}

TEST_CASE("ids are non-zero and unique") {
  TimerQueue q;
  Log log;
  const TimerId a = q.add(10, log.cb(1));
  const TimerId b = q.add(10, log.cb(2));
  const TimerId c = q.add(5, log.cb(3));
  CHECK(a.value != 0);
  CHECK(b.value != 0);
  CHECK(c.value != 0);
  CHECK(a != b);
  CHECK(b != c);
  CHECK(a != c);
}

TEST_CASE("timers fire in deadline order, ties in creation order") {
  TimerQueue q;
  Log log;
  q.add(300, log.cb(1));
  q.add(100, log.cb(2));
  q.add(200, log.cb(3));
  q.add(100, log.cb(4));
  q.add(100, log.cb(5));
  q.add(0, log.cb(6));
  q.add(200, log.cb(7));
  CHECK(q.pending() == 7);
  CHECK(drain(q, 1000) == 7);
  CHECK(log.fired == std::vector<int>{6, 2, 4, 5, 3, 7, 1});
  CHECK(q.pending() == 0);
}

TEST_CASE("pop_due returns only timers due at or before the limit") {
  TimerQueue q;
  Log log;
  q.add(100, log.cb(1));
  q.add(200, log.cb(2));
  q.add(201, log.cb(3));
  CHECK_FALSE(q.pop_due(99).has_value());
  CHECK(q.pending() == 3);
  auto due = q.pop_due(100);  // the limit is inclusive
  REQUIRE(due.has_value());
  CHECK(due->deadline_ns == 100);
  (*due)();
  CHECK(log.fired == std::vector<int>{1});
  CHECK(q.pending() == 2);
  CHECK(drain(q, 200) == 1);
  CHECK(log.fired == std::vector<int>{1, 2});
  CHECK(q.next_deadline() == std::optional<std::int64_t>{201});
  CHECK(q.pending() == 1);
  CHECK(drain(q, 201) == 1);
  CHECK(q.pending() == 0);
}

TEST_CASE("the callback receives its own id") {
  TimerQueue q;
  std::vector<TimerId> seen;
  const TimerId a = q.add(1, [&](TimerId id) { seen.push_back(id); });
  const TimerId b = q.add(2, [&](TimerId id) { seen.push_back(id); });
  drain(q, 10);
  CHECK(seen == std::vector<TimerId>{a, b});
  auto c = q.add(3, [](TimerId) {});
  auto due = q.pop_due(3);
  REQUIRE(due.has_value());
  CHECK(due->id == c);
}

TEST_CASE("cancel: true while pending, false once fired or cancelled") {
  TimerQueue q;
  Log log;
  const TimerId a = q.add(100, log.cb(1));
  const TimerId b = q.add(200, log.cb(2));
  const TimerId c = q.add(300, log.cb(3));
  CHECK(q.cancel(b));
  CHECK(q.pending() == 2);
  CHECK_FALSE(q.cancel(b));  // twice
  CHECK(q.pending() == 2);
  CHECK(drain(q, 150) == 1);
  CHECK_FALSE(q.cancel(a));  // already fired
  CHECK(drain(q, 1000) == 1);
  CHECK(log.fired == std::vector<int>{1, 3});
  CHECK_FALSE(q.cancel(c));
  CHECK_FALSE(q.cancel(TimerId{9999}));  // never existed
  CHECK(q.pending() == 0);
}

TEST_CASE("cancel after pop_due but before running returns false (the pop decided)") {
  TimerQueue q;
  Log log;
  const TimerId a = q.add(1, log.cb(1));
  auto due = q.pop_due(1);
  REQUIRE(due.has_value());
  CHECK_FALSE(q.cancel(a));
  (*due)();
  CHECK(log.fired == std::vector<int>{1});
}

TEST_CASE("a cancelled earliest timer does not hide the next deadline") {
  TimerQueue q;
  Log log;
  const TimerId a = q.add(10, log.cb(1));
  q.add(20, log.cb(2));
  CHECK(q.next_deadline() == std::optional<std::int64_t>{10});
  CHECK(q.cancel(a));
  CHECK(q.next_deadline() == std::optional<std::int64_t>{20});
  CHECK_FALSE(q.pop_due(15).has_value());
  CHECK(drain(q, 20) == 1);
  CHECK(log.fired == std::vector<int>{2});
}

TEST_CASE("became_earliest reports a new earliest deadline") {
  TimerQueue q;
  bool earliest = false;
  q.add(100, [](TimerId) {}, &earliest);
  CHECK(earliest);
  q.add(200, [](TimerId) {}, &earliest);
  CHECK_FALSE(earliest);
  q.add(50, [](TimerId) {}, &earliest);
  CHECK(earliest);
  q.add(50, [](TimerId) {}, &earliest);  // a tie is not earlier
  CHECK_FALSE(earliest);
}

TEST_CASE("pending is exact through adds, cancels, pops and clear") {
  TimerQueue q;
  std::vector<TimerId> ids;
  for (int i = 0; i < 100; ++i) ids.push_back(q.add(i % 10, [](TimerId) {}));
  CHECK(q.pending() == 100);
  for (int i = 0; i < 100; i += 2) CHECK(q.cancel(ids[static_cast<std::size_t>(i)]));
  CHECK(q.pending() == 50);
  // left: odd i, deadlines 1, 3, 5, 7, 9 (10 timers each); due by 4: deadlines 1 and 3
  CHECK(drain(q, 4) == 20);
  CHECK(q.pending() == 30);
  CHECK(q.clear() == 30);
  CHECK(q.pending() == 0);
  CHECK_FALSE(q.pop_due(INT64_MAX).has_value());
}

TEST_CASE("clear destroys callbacks without running them") {
  TimerQueue q;
  auto token = std::make_shared<int>(0);
  bool ran = false;
  q.add(1, [token, &ran](TimerId) { ran = true; });
  q.add(2, [token, &ran](TimerId) { ran = true; });
  CHECK(token.use_count() == 3);
  CHECK(q.clear() == 2);
  CHECK(token.use_count() == 1);
  CHECK_FALSE(ran);
}

TEST_CASE("cancel destroys the callback") {
  TimerQueue q;
  auto token = std::make_shared<int>(0);
  const TimerId id = q.add(1, [token](TimerId) {});
  CHECK(token.use_count() == 2);
  CHECK(q.cancel(id));
  CHECK(token.use_count() == 1);
}
