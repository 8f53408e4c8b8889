// engine/mailbox/mailbox.cpp: the lock-free bounded mailbox, alone (no process, no runtime).
// Single-thread behaviour first, then stress runs (meant for TSan) in which producers,
// one owner and an observer race. Every stress test ends with the accounting law: every
// message offered is taken, evicted, refused or discarded exactly once; and the observer
// never sees more than max_inbox queued.
#include "phyx/detail/mailbox.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <semaphore>
#include <string_view>
#include <thread>
#include <vector>

#include "platform/asymmetric_fence.hpp"
#include "support/scale.hpp"

using phyx::MailboxPolicy;
using phyx::detail::asymmetric_fence_heavy;
using phyx::detail::DropChain;
using phyx::detail::Envelope;
using phyx::detail::Mailbox;
using phyx::detail::MailNode;

using phyx_test::scale;

namespace {

struct Item final : Envelope {
  Item(int p, int n) : producer(p), number(n) {}
  std::string_view msg_type() const noexcept override { return "Item"; }
  void destroy_message() noexcept override {}  // two ints: nothing to destroy
  int producer;
  int number;
};

/// The process's destructor's loop: what is left in the lane, and its retired dummy.
void free_lane(Mailbox& mb) {
  while (Envelope* e = mb.pop_user_at_destruction()) delete e;
}

/// Offers one item the way ProcessCore::send_user does. Returns the offer's outcome;
/// evicted items are appended to `evicted` (the caller frees them).
Mailbox::Admission send(Mailbox& mb, Item* item, std::size_t max, MailboxPolicy policy, DropChain& evicted) {
  const Mailbox::Admission a = mb.offer(max, policy);
  if (a.offer != Mailbox::Offer::accepted) {
    delete item;
    return a;
  }
  if (a.holds_head) mb.evict_owed(evicted);
  mb.push(item);
  if (a.holds_head) mb.release_head(evicted);
  return a;
}

std::vector<int> numbers(DropChain& chain) {
  std::vector<int> out;
  while (!chain.empty()) {
    auto* e = static_cast<Item*>(chain.pop_front());
    out.push_back(e->number);
    delete e;
  }
  return out;
}

Item* take(Mailbox& mb, MailboxPolicy policy) {
  Envelope* out = nullptr;
  DropChain evicted;
  const auto t = mb.take(out, evicted, policy);
  REQUIRE(evicted.empty());
  return t == Mailbox::Take::message ? static_cast<Item*>(out) : nullptr;
}

}  // namespace

TEST_CASE("reject: FIFO up to the bound, then refusals; seq numbers follow the lane order") {
  Mailbox mb(false);
  mb.set_wants_user(true);
  DropChain evicted;
  const auto first = send(mb, new Item(0, 1), 2, MailboxPolicy::reject, evicted);
  CHECK(first.offer == Mailbox::Offer::accepted);
  CHECK(first.wake);  // idle and willing: this sender enqueues the process
  CHECK(first.queued == 1);
  const auto second = send(mb, new Item(0, 2), 2, MailboxPolicy::reject, evicted);
  CHECK_FALSE(second.wake);
  const auto third = send(mb, new Item(0, 3), 2, MailboxPolicy::reject, evicted);
  CHECK(third.offer == Mailbox::Offer::refused_full);
  CHECK(third.queued == 2);
  CHECK(mb.queued() == 2);

  Item* a = take(mb, MailboxPolicy::reject);
  Item* b = take(mb, MailboxPolicy::reject);
  REQUIRE(a != nullptr);
  REQUIRE(b != nullptr);
  CHECK(a->number == 1);
  CHECK(b->number == 2);
  CHECK(a->seq == 0);
  CHECK(b->seq == 1);
  CHECK(take(mb, MailboxPolicy::reject) == nullptr);
  CHECK(mb.try_idle());
  mb.retire(a);  // no longer the lane's dummy (b is): freed at once
  mb.retire(b);  // the dummy: the lane keeps it
  free_lane(mb);
}

// A reject lane's counts run mod 2^32 (lane_word.hpp): a long-lived server at a million
// messages a second wraps them in ~72 minutes. The bound, the order, queued() and a stop's
// discards must not notice.
TEST_CASE("reject: across the 2^32 wrap of both counts, the bound, FIFO and discards hold") {
  Mailbox mb(false);
  mb.preset_reject_counts_for_tests(0xffff'ffffU - 2);  // the wrap comes with the 3rd send
  mb.set_wants_user(true);
  DropChain evicted;
  int next = 1;
  auto offer = [&] {
    return send(mb, new Item(0, next++), 4, MailboxPolicy::reject, evicted).offer;
  };
  for (int i = 0; i < 4; ++i) REQUIRE(offer() == Mailbox::Offer::accepted);
  CHECK(offer() == Mailbox::Offer::refused_full);
  CHECK(offer() == Mailbox::Offer::refused_full);
  CHECK(mb.queued() == 4);
  CHECK(mb.queued_as_owner() == 4);
  std::vector<int> got;
  for (int i = 0; i < 3; ++i) {  // the owner's count wraps with its 3rd take
    Item* it = take(mb, MailboxPolicy::reject);
    REQUIRE(it != nullptr);
    got.push_back(it->number);
    mb.retire(it);
  }
  CHECK(mb.queued() == 1);
  for (int i = 0; i < 3; ++i) REQUIRE(offer() == Mailbox::Offer::accepted);  // 7, 8, 9
  CHECK(offer() == Mailbox::Offer::refused_full);
  CHECK(mb.queued() == 4);
  Item* it = take(mb, MailboxPolicy::reject);
  REQUIRE(it != nullptr);
  got.push_back(it->number);
  mb.retire(it);
  CHECK(got == std::vector<int>{1, 2, 3, 4});
  mb.close();
  DropChain discarded;
  mb.discard_all(evicted, discarded);
  CHECK(numbers(discarded) == std::vector<int>{7, 8, 9});
  CHECK(evicted.empty());
  CHECK(mb.queued() == 0);
  CHECK(mb.queued_as_owner() == 0);
  CHECK(offer() == Mailbox::Offer::refused_closed);
  free_lane(mb);
}

TEST_CASE("drop_oldest: the sender evicts the oldest at once, never its own message") {
  Mailbox mb(false);
  mb.set_wants_user(true);
  DropChain evicted;
  for (int i = 1; i <= 5; ++i) send(mb, new Item(0, i), 2, MailboxPolicy::drop_oldest, evicted);
  CHECK(numbers(evicted) == std::vector<int>{1, 2, 3});
  CHECK(mb.queued() == 2);
  Item* a = take(mb, MailboxPolicy::drop_oldest);
  Item* b = take(mb, MailboxPolicy::drop_oldest);
  REQUIRE(a != nullptr);
  REQUIRE(b != nullptr);
  CHECK(a->number == 4);
  CHECK(b->number == 5);
  CHECK(a->seq == 3);  // the evicted took seq 0..2: the n-th message out of the lane has seq n-1
  mb.retire(a);
  mb.retire(b);
  free_lane(mb);
}

TEST_CASE("the message in hand is never evicted: a taken message stops counting at once") {
  Mailbox mb(true);
  mb.set_wants_user(true);
  DropChain evicted;
  send(mb, new Item(0, 1), 1, MailboxPolicy::drop_oldest, evicted);
  Item* in_hand = take(mb, MailboxPolicy::drop_oldest);
  REQUIRE(in_hand != nullptr);
  send(mb, new Item(0, 2), 1, MailboxPolicy::drop_oldest, evicted);
  send(mb, new Item(0, 3), 1, MailboxPolicy::drop_oldest, evicted);
  CHECK(numbers(evicted) == std::vector<int>{2});
  CHECK(in_hand->number == 1);
  mb.retire(in_hand);  // still the dummy: the next take frees it
  Item* next = take(mb, MailboxPolicy::drop_oldest);
  REQUIRE(next != nullptr);
  CHECK(next->number == 3);
  mb.retire(next);
  free_lane(mb);
}

TEST_CASE("starting (not wanting user messages): sends queue without waking; system posts wake") {
  Mailbox mb(false);
  DropChain evicted;
  const auto a = send(mb, new Item(0, 1), 4, MailboxPolicy::reject, evicted);
  CHECK(a.offer == Mailbox::Offer::accepted);
  CHECK_FALSE(a.wake);
  CHECK(take(mb, MailboxPolicy::reject) == nullptr);  // not wanted yet

  MailNode sys;
  CHECK(mb.post_system(&sys));  // idle -> scheduled
  MailNode sys2;
  CHECK_FALSE(mb.post_system(&sys2));  // already scheduled
  CHECK_FALSE(mb.try_idle());  // sys_pending: look again
  CHECK(mb.pop_system() == &sys);
  CHECK(mb.pop_system() == &sys2);
  CHECK(mb.pop_system() == nullptr);
  CHECK(mb.try_idle());

  mb.set_wants_user(true);  // init done (the owner would be scheduled here)
  Item* i = take(mb, MailboxPolicy::reject);
  REQUIRE(i != nullptr);
  mb.retire(i);
  free_lane(mb);
}

TEST_CASE("close refuses; discard_all empties; abandon_all keeps the head so the owner can never take") {
  Mailbox mb(true);
  mb.set_wants_user(true);
  DropChain evicted;
  for (int i = 1; i <= 3; ++i) send(mb, new Item(0, i), 8, MailboxPolicy::reject, evicted);
  mb.close();
  CHECK(mb.closed());
  CHECK(send(mb, new Item(0, 4), 8, MailboxPolicy::reject, evicted).offer == Mailbox::Offer::refused_closed);
  DropChain discarded;
  mb.discard_all(evicted, discarded);
  CHECK(numbers(discarded) == std::vector<int>{1, 2, 3});
  CHECK(mb.queued() == 0);

  Mailbox stuck(true);
  stuck.set_wants_user(true);
  send(stuck, new Item(0, 1), 8, MailboxPolicy::drop_oldest, evicted);
  stuck.abandon_all(evicted, discarded, MailboxPolicy::drop_oldest);
  CHECK(numbers(discarded) == std::vector<int>{1});
  CHECK(stuck.closed());
  Envelope* out = nullptr;
  CHECK(stuck.take(out, evicted, MailboxPolicy::drop_oldest) == Mailbox::Take::busy);
  stuck.discard_all(evicted, discarded);  // returns at once: the lane is abandoned
  CHECK(discarded.empty());
}

// ---- stress ---------------------------------------------------------------------------

namespace {

struct StressResult {
  long offered = 0, refused = 0, evicted = 0, taken = 0, discarded = 0;
  std::size_t max_seen = 0;
  std::size_t max_owner_seen = 0;  // the owner's exact count after each take
  int max_runnable = 0;
  bool fifo_per_producer = true;
};

/// `producers` threads offer `per_producer` items each; one owner takes them while it
/// holds the consumer role (woken through a semaphore exactly like a run queue would),
/// an observer samples queued(). The owner is slow enough that the lane fills up.
/// `start`: where a reject lane's counts begin (preset_reject_counts_for_tests), 0 for a new lane.
StressResult stress(MailboxPolicy policy, std::size_t max_inbox, int producers, long per_producer,
                    std::uint32_t start = 0) {
  Mailbox mb(false);
  if (start != 0) mb.preset_reject_counts_for_tests(start);
  mb.set_wants_user(true);
  std::counting_semaphore<> run_queue(0);
  std::atomic<int> runnable{0};      // holders of the consumer role (woken or running): at most 1
  std::atomic<int> max_runnable{0};  // the largest value seen
  std::atomic<long> evicted_total{0};
  std::atomic<bool> producers_done{false};
  StressResult r;

  auto wake = [&] {
    const int now = runnable.fetch_add(1, std::memory_order_acq_rel) + 1;  // pairs with the owner's fetch_sub
    int seen = max_runnable.load(std::memory_order_relaxed);               // a max; no data
    while (now > seen && !max_runnable.compare_exchange_weak(seen, now, std::memory_order_relaxed)) {
    }
    run_queue.release();
  };

  MailNode end_marker;
  std::thread owner([&] {
    std::vector<int> last(static_cast<std::size_t>(producers), 0);
    bool saw_end = false;
    for (;;) {
      run_queue.acquire();
      for (;;) {  // one "slice"
        if (MailNode* n = mb.pop_system()) {
          saw_end = saw_end || n == &end_marker;
          continue;
        }
        Envelope* out = nullptr;
        DropChain evicted;
        const auto t = mb.take(out, evicted, policy);
        evicted_total.fetch_add(static_cast<long>(evicted.size), std::memory_order_relaxed);  // a tally
        while (!evicted.empty()) delete evicted.pop_front();
        if (t == Mailbox::Take::message) {
          auto* item = static_cast<Item*>(out);
          auto& prev = last[static_cast<std::size_t>(item->producer)];
          if (item->number <= prev) r.fifo_per_producer = false;
          prev = item->number;
          ++r.taken;
          r.max_owner_seen = std::max(r.max_owner_seen, mb.queued_as_owner());
          mb.retire(item);  // the lane's dummy until the next take frees it
          continue;
        }
        if (t == Mailbox::Take::busy) {
          std::this_thread::yield();
          continue;
        }
        if (saw_end) return;
        // Give up the role before the CAS that makes it available again: while `scheduled`
        // is still set no sender can wake us, so a 2 can only come from a double wake-up.
        runnable.fetch_sub(1, std::memory_order_acq_rel);  // pairs with wake()'s fetch_add
        if (mb.try_idle()) break;  // idle: wait to be woken
        runnable.fetch_add(1, std::memory_order_acq_rel);  // still ours: work arrived

      }
    }
  });

  std::thread observer([&] {
    std::size_t max_seen = 0;
    while (!producers_done.load(std::memory_order_acquire)) {  // pairs with the release below
      max_seen = std::max(max_seen, mb.queued());
    }
    r.max_seen = max_seen;
  });

  std::vector<std::thread> threads;
  std::vector<long> refused(static_cast<std::size_t>(producers), 0);
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (long i = 1; i <= per_producer; ++i) {
        DropChain evicted;
        const auto a = send(mb, new Item(p, static_cast<int>(i)), max_inbox, policy, evicted);
        if (a.offer == Mailbox::Offer::refused_full) ++refused[static_cast<std::size_t>(p)];
        if (a.wake) wake();
        evicted_total.fetch_add(static_cast<long>(evicted.size), std::memory_order_relaxed);  // a tally
        while (!evicted.empty()) delete evicted.pop_front();
      }
    });
  }
  for (auto& t : threads) t.join();
  producers_done.store(true, std::memory_order_release);  // pairs with the observer's acquire
  observer.join();
  if (mb.post_system(&end_marker)) wake();
  owner.join();

  mb.close();
  DropChain evicted, discarded;
  mb.discard_all(evicted, discarded);
  r.discarded = static_cast<long>(discarded.size);
  r.evicted = evicted_total.load(std::memory_order_relaxed) + static_cast<long>(evicted.size);  // threads joined
  while (!evicted.empty()) delete evicted.pop_front();
  while (!discarded.empty()) delete discarded.pop_front();
  free_lane(mb);
  for (long x : refused) r.refused += x;
  r.offered = producers * per_producer;
  r.max_runnable = max_runnable.load(std::memory_order_relaxed);  // threads joined
  return r;
}

void check_accounting(const StressResult& r, std::size_t max_inbox) {
  INFO("offered=" << r.offered << " taken=" << r.taken << " evicted=" << r.evicted
                  << " refused=" << r.refused << " discarded=" << r.discarded
                  << " max_seen=" << r.max_seen << " max_owner_seen=" << r.max_owner_seen);
  CHECK(r.offered == r.taken + r.evicted + r.refused + r.discarded);
  CHECK(r.max_seen <= max_inbox);        // the observer's snapshots (a lower bound when busy)
  CHECK(r.max_owner_seen <= max_inbox);  // the owner's exact view, right after each take
  CHECK(r.max_runnable == 1);  // never two holders of the consumer role: one wake per idle -> busy edge
  CHECK(r.fifo_per_producer);
}

}  // namespace

TEST_CASE("stress: reject under 4 producers keeps the bound and loses nothing") {
  for (std::size_t max : {std::size_t{1}, std::size_t{16}, std::size_t{100000}}) {
    const auto r = stress(MailboxPolicy::reject, max, 4, 20000 * scale());
    check_accounting(r, max);
    CHECK(r.evicted == 0);
  }
}

// The concurrent side of the wrap: stale readings, refusals re-read and the owner's hand-off
// of its count, with both counts crossing 2^32 while the lane is busy. The arithmetic itself
// is pinned by the single-threaded case above: a count that forgets the wrap misreads the
// lane only while the messages in it straddle the wrap (at most max_inbox sends), which a
// run like this one need not hit (a mutation that drops the mask passes here, fails there).
TEST_CASE("stress: reject across the 2^32 wrap of its counts keeps the bound and loses nothing") {
  for (std::size_t max : {std::size_t{1}, std::size_t{16}, std::size_t{100000}}) {
    // The wrap comes a quarter of the way in, with the lane busy on every side of it.
    const long per_producer = 20000 * scale();
    const auto r = stress(MailboxPolicy::reject, max, 4, per_producer,
                          static_cast<std::uint32_t>(0x1'0000'0000LL - per_producer));
    check_accounting(r, max);
    CHECK(r.evicted == 0);
  }
}

TEST_CASE("stress: drop_oldest under 4 producers keeps the bound and loses nothing") {
  for (std::size_t max : {std::size_t{1}, std::size_t{16}, std::size_t{100000}}) {
    const auto r = stress(MailboxPolicy::drop_oldest, max, 4, 20000 * scale());
    check_accounting(r, max);
    CHECK(r.refused == 0);
  }
}

// A reject lane's owner takes without any atomic RMW (mailbox.cpp step 3a), so shutdown's
// abandon_all() cannot learn from the word that a take is under way; it pairs an
// asymmetric fence with the owner's in_take_ (step 6). Here it lands while the owner takes
// as fast as it can and producers keep the lane busy, round after round: every message is
// taken or discarded exactly once (ASan: no double unlink; TSan: no race), the owner takes
// nothing after the abandonment, and what it took stays in order. It exercises shutdown's
// wait on the owner's flag (without it, it hangs at once); the fence's own window is a few
// cycles, which tests/platform/asymmetric_fence_test.cpp covers. Odd rounds abandon in
// shutdown's two halves (seal, fence, finish), as runtime_core.cpp does for a batch.
TEST_CASE(
    "stress: abandon_all beside a reject lane's owner in mid-take loses and doubles nothing") {
  constexpr int kProducers = 2;
  const long rounds = 60 * scale();
  for (long round = 0; round < rounds; ++round) {
    Mailbox mb(true);  // the owner holds the consumer role throughout: it never idles here
    // Rounds 2 and 3 of every 4 start the counts just short of their 2^32 wrap.
    if (round % 4 >= 2)
      mb.preset_reject_counts_for_tests(0xffff'ffffU - static_cast<std::uint32_t>(round % 200));
    mb.set_wants_user(true);
    std::atomic<bool> abandoned{false};
    std::atomic<long> taken_before_abandon{0};
    long taken = 0;
    long taken_after = 0;
    bool in_order = true;
    std::thread owner([&] {
      std::vector<int> last(kProducers, 0);
      for (;;) {
        // acquire: pairs with the release below; read before the take it judges.
        const bool was_abandoned = abandoned.load(std::memory_order_acquire);
        Envelope* out = nullptr;
        DropChain evicted;
        const auto t = mb.take(out, evicted, MailboxPolicy::reject);
        if (t == Mailbox::Take::busy) return;  // the head is shutdown's for good
        if (t != Mailbox::Take::message) continue;
        auto* item = static_cast<Item*>(out);
        auto& prev = last[static_cast<std::size_t>(item->producer)];
        in_order = in_order && item->number > prev;
        prev = item->number;
        ++taken;
        if (was_abandoned) ++taken_after;
        // relaxed: a tally the main thread waits on; no data.
        taken_before_abandon.store(taken, std::memory_order_relaxed);
        mb.retire(item);
      }
    });
    std::vector<std::thread> producers;
    std::vector<long> accepted(kProducers, 0);
    for (int p = 0; p < kProducers; ++p) {
      producers.emplace_back([&, p] {
        DropChain evicted;
        for (int i = 1;; ++i) {
          const auto a = send(mb, new Item(p, i), 64, MailboxPolicy::reject, evicted);
          if (a.offer == Mailbox::Offer::refused_closed) return;
          if (a.offer == Mailbox::Offer::accepted) ++accepted[static_cast<std::size_t>(p)];
        }
      });
    }
    // Let the owner get going (a bounded wait on its progress, not a sleep), then abandon
    // it after a round-dependent number of takes, so the claim lands at varied points.
    const long target = 50 + (round % 7) * 40;
    // relaxed: the tally above.
    while (taken_before_abandon.load(std::memory_order_relaxed) < target) std::this_thread::yield();
    DropChain evicted, discarded;
    if (round % 2 == 0) {
      mb.abandon_all(evicted, discarded, MailboxPolicy::reject);
    } else {  // as shutdown does for a batch: seal, one fence, finish
      REQUIRE(mb.seal_abandoned());
      REQUIRE_FALSE(mb.seal_abandoned());  // abandoned already
      asymmetric_fence_heavy();
      mb.finish_abandoned(evicted, discarded, MailboxPolicy::reject);
    }
    abandoned.store(true, std::memory_order_release);  // pairs with the owner's acquire
    owner.join();
    for (auto& t : producers) t.join();
    const long discarded_count = static_cast<long>(discarded.size);
    const long accepted_total = accepted[0] + accepted[1];
    while (!discarded.empty()) delete discarded.pop_front();
    free_lane(mb);
    INFO("round " << round << ": accepted=" << accepted_total << " taken=" << taken
                  << " discarded=" << discarded_count);
    REQUIRE(evicted.empty());
    REQUIRE(accepted_total == taken + discarded_count);
    REQUIRE(taken_after == 0);
    REQUIRE(in_order);
  }
}
