// engine/sched/local_queue.hpp: one owner pushes and pops, stealers steal, concurrently.
// Every test ends with the accounting law: every item pushed is popped, stolen or
// overflowed exactly once.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <thread>
#include <vector>

#include "sched/local_queue.hpp"
#include "support/scale.hpp"

using phyx::detail::LocalQueue;
using phyx::detail::RunRing;
using phyx::detail::Stealer;

using phyx_test::scale;

namespace {

struct Item {
  std::atomic<int> seen{0};
};

}  // namespace

TEST_CASE("single thread: FIFO order, empty pop, size") {
  LocalQueue<Item> q;
  std::vector<Item> items(10);
  std::vector<Item*> overflow;
  CHECK(q.pop() == nullptr);
  for (auto& i : items) CHECK(q.push_back(&i, overflow));
  CHECK(q.size() == 10);
  for (auto& i : items) CHECK(q.pop() == &i);
  CHECK(q.pop() == nullptr);
  CHECK(overflow.empty());
}

TEST_CASE("peek_front shows what pop returns next, and takes nothing") {
  LocalQueue<Item> q;
  std::vector<Item> items(3);
  std::vector<Item*> overflow;
  CHECK(q.peek_front() == nullptr);
  for (auto& i : items) REQUIRE(q.push_back(&i, overflow));
  CHECK(q.peek_front() == &items[0]);
  CHECK(q.peek_front() == &items[0]);
  CHECK(q.size() == 3);
  CHECK(q.pop() == &items[0]);
  CHECK(q.peek_front() == &items[1]);
  LocalQueue<Item> thief;
  Stealer<Item> s = q.stealer();
  CHECK(s.steal_into(thief) == &items[1]);  // half of 2, the last of the batch runs now
  CHECK(q.peek_front() == &items[2]);
  CHECK(q.pop() == &items[2]);
  CHECK(q.peek_front() == nullptr);
}

TEST_CASE("a full ring overflows half of itself plus the new item, oldest first") {
  LocalQueue<Item> q;
  std::vector<Item> items(RunRing<Item>::kCapacity + 1);
  std::vector<Item*> overflow;
  for (std::uint32_t i = 0; i < RunRing<Item>::kCapacity; ++i) REQUIRE(q.push_back(&items[i], overflow));
  CHECK_FALSE(q.push_back(&items.back(), overflow));
  REQUIRE(overflow.size() == RunRing<Item>::kCapacity / 2 + 1);
  CHECK(overflow.front() == &items[0]);
  CHECK(overflow.back() == &items.back());
  CHECK(q.size() == RunRing<Item>::kCapacity / 2);
  CHECK(q.pop() == &items[RunRing<Item>::kCapacity / 2]);
}

TEST_CASE("steal_into takes about half and returns one to run") {
  LocalQueue<Item> victim;
  LocalQueue<Item> thief;
  std::vector<Item> items(9);
  std::vector<Item*> overflow;
  for (auto& i : items) victim.push_back(&i, overflow);
  Stealer<Item> s = victim.stealer();
  Item* got = s.steal_into(thief);
  REQUIRE(got != nullptr);
  CHECK(thief.size() + 1 + victim.size() == 9);
  CHECK(thief.size() + 1 == 5);  // ceil(9 / 2)
  CHECK(got == &items[4]);       // the last of the stolen batch runs now
  CHECK(thief.pop() == &items[0]);
}

TEST_CASE("stress: owner pushes and pops while stealers steal; every item exactly once") {
  const int kStealers = 3;
  const long n = 200'000 * scale();
  std::vector<Item> items(static_cast<std::size_t>(n));
  LocalQueue<Item> owner;
  std::vector<Item*> overflow;
  std::atomic<bool> done{false};
  std::atomic<long> stolen{0};
  long popped = 0;

  std::vector<std::thread> thieves;
  for (int t = 0; t < kStealers; ++t) {
    thieves.emplace_back([&, stealer = owner.stealer()]() mutable {
      LocalQueue<Item> mine;
      long local = 0;
      auto take = [&](Item* i) {
        i->seen.fetch_add(1, std::memory_order_relaxed);  // checked after the joins
        ++local;
      };
      while (!done.load(std::memory_order_acquire)) {  // pairs with the release store below
        if (Item* i = stealer.steal_into(mine)) {
          take(i);
          while (Item* j = mine.pop()) take(j);
        }
      }
      while (Item* i = stealer.steal_into(mine)) {
        take(i);
        while (Item* j = mine.pop()) take(j);
      }
      stolen.fetch_add(local, std::memory_order_relaxed);  // read after join
    });
  }
  long pushed = 0;
  for (long i = 0; i < n; ++i) {
    if (owner.push_back(&items[static_cast<std::size_t>(i)], overflow)) ++pushed;
    if (i % 3 == 0) {
      if (Item* p = owner.pop()) {
        p->seen.fetch_add(1, std::memory_order_relaxed);
        ++popped;
      }
    }
  }
  while (Item* p = owner.pop()) {
    p->seen.fetch_add(1, std::memory_order_relaxed);
    ++popped;
  }
  done.store(true, std::memory_order_release);
  for (auto& t : thieves) t.join();
  for (Item* p : overflow) p->seen.fetch_add(1, std::memory_order_relaxed);

  // The accounting law: pushed + overflowed == popped + stolen + overflowed, each item once.
  long once = 0;
  for (auto& i : items) once += i.seen.load(std::memory_order_relaxed) == 1 ? 1 : 0;
  CHECK(once == n);
  CHECK(popped + stolen.load(std::memory_order_relaxed) + static_cast<long>(overflow.size()) == n);  // after the joins
  CHECK(pushed + static_cast<long>(overflow.size()) >= n);
}
