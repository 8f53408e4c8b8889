// phyx/detail/user_lane.hpp: the user lane's queue, whose consumer keeps the node it took
// last as the dummy. Alone (each step of the protocol), then under threads (meant for TSan
// and ASan): producers push while one consumer mixes retaining takes, retires and detached
// takes, and the run ends with the accounting: every node pushed is taken exactly once, in
// each producer's order, and freed exactly once, never while the lane can still reach it.
#include "phyx/detail/user_lane.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include "support/scale.hpp"

using phyx::detail::MailNode;
using phyx::detail::UserLane;

namespace {

struct Node : MailNode {
  Node(int p, int n) : producer(p), number(n) {}
  int producer;
  int number;
};

Node* as_node(MailNode* n) {
  return static_cast<Node*>(n);
}

/// Takes with take_retaining() and checks that nothing is handed back to free.
Node* take_kept(UserLane& lane) {
  const UserLane::Taken t = lane.take_retaining();
  CHECK(t.to_free == nullptr);
  return as_node(t.node);
}

}  // namespace

TEST_CASE(
    "step 3: a taken node stays the dummy; once retired, the next take hands it back to free") {
  UserLane lane;
  Node a(0, 1), b(0, 2), c(0, 3);
  lane.push(&a);
  lane.push(&b);
  CHECK(take_kept(lane) == &a);
  CHECK(lane.retire(&a) == nullptr);  // still the dummy: the lane keeps it
  const UserLane::Taken tb = lane.take_retaining();
  CHECK(tb.node == &b);
  CHECK(tb.to_free == &a);                       // passed: a is the caller's to free now
  CHECK(lane.take_retaining().node == nullptr);  // empty; b stays the dummy, not retired
  lane.push(&c);  // links behind b, the tail: b is still alive, as it must be
  CHECK(b.next.load(std::memory_order_relaxed) == &c);
  CHECK(take_kept(lane) == &c);  // b was never retired: its holder frees it
  CHECK(lane.retire(&b) == &b);  // retired after it was passed: handed back at once
  CHECK(lane.retire(&c) == nullptr);
  CHECK(lane.take_detached() == nullptr);
  CHECK(lane.take_retired_dummy() == &c);
  CHECK(lane.take_retired_dummy() == nullptr);  // the stub is the dummy again
  Node d(0, 4);
  lane.push(&d);
  CHECK(lane.take_detached() == &d);
}

TEST_CASE("step 4: a detached take unlinks from the middle and from the end, around the dummy") {
  UserLane lane;
  Node a(0, 1), b(0, 2), c(0, 3), d(0, 4);
  lane.push(&a);
  CHECK(take_kept(lane) == &a);  // a is the dummy, in hand
  lane.push(&b);
  lane.push(&c);
  CHECK(lane.take_detached() == &b);  // from the middle: a now links to c
  CHECK(a.next.load(std::memory_order_relaxed) == &c);
  CHECK(lane.take_detached() == &c);  // the last one: the tail swings back to a
  CHECK(a.next.load(std::memory_order_relaxed) == nullptr);
  CHECK(lane.take_detached() == nullptr);
  lane.push(&d);  // links behind a, the tail again
  CHECK(a.next.load(std::memory_order_relaxed) == &d);
  CHECK(lane.retire(&a) == nullptr);  // the message in hand was never unlinked
  const UserLane::Taken td = lane.take_retaining();
  CHECK(td.node == &d);
  CHECK(td.to_free == &a);
}

TEST_CASE("steps 1-5 under threads: every node taken once, in each producer's order, freed once") {
  const int producers = 3;
  const int per_producer = static_cast<int>(20000 * phyx_test::scale());
  UserLane lane;
  std::atomic<long> pushed{0};  // published with each push's release; the consumer's bound
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 1; i <= per_producer; ++i) {
        lane.push(new Node(p, i));
        // release: a count after the push; pairs with the consumer's acquire load.
        pushed.fetch_add(1, std::memory_order_release);
      }
    });
  }
  // The consumer: a retaining take and a retire (as a process handles a message), or a
  // detached take (as an eviction or a discard), chosen at random; a seeded choice.
  std::mt19937 rng(42);
  std::vector<int> last(producers, 0);
  long taken = 0;
  long freed = 0;
  bool in_order = true;
  const long total = static_cast<long>(producers) * per_producer;
  while (taken < total) {
    // acquire: pairs with the producers' fetch_add (a counted node is pushed, maybe in flight).
    if (pushed.load(std::memory_order_acquire) == taken) {
      std::this_thread::yield();
      continue;
    }
    Node* n = nullptr;
    if (rng() % 4 == 0) {
      n = as_node(lane.take_detached());
      if (n == nullptr) continue;  // in flight
      ++freed;
      if (n->number <= last[static_cast<std::size_t>(n->producer)]) in_order = false;
      last[static_cast<std::size_t>(n->producer)] = n->number;
      delete n;
    } else {
      const UserLane::Taken t = lane.take_retaining();
      if (t.node == nullptr) continue;  // in flight
      if (t.to_free != nullptr) {
        delete as_node(t.to_free);
        ++freed;
      }
      n = as_node(t.node);
      if (n->number <= last[static_cast<std::size_t>(n->producer)]) in_order = false;
      last[static_cast<std::size_t>(n->producer)] = n->number;
      if (MailNode* now = lane.retire(n)) {  // always the dummy here: the lane keeps it
        delete as_node(now);
        ++freed;
      }
    }
    ++taken;
  }
  for (auto& t : threads) t.join();
  CHECK(lane.take_detached() == nullptr);
  if (MailNode* d = lane.take_retired_dummy()) {
    delete as_node(d);
    ++freed;
  }
  // The accounting: every node pushed was taken once, in order, and freed once.
  CHECK(in_order);
  CHECK(taken == total);
  CHECK(freed == total);
}
