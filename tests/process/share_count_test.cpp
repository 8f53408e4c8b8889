// engine/process/share_count.cpp (phyx/detail/share_count.hpp): a shared behaviour's two
// counts, without threads first (who empties, who deletes, in which order), then a worker's
// credits, then two threads trading processes, ending with the accounting law: every unit
// taken is given back once, the functions are emptied once, the behaviour deleted once and
// after the emptying.
#include "phyx/detail/share_count.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

using phyx::detail::BehaviourShare;
using phyx::detail::ShareCount;
using phyx::detail::ShareCredits;
using phyx::detail::ShareCreditsScope;

namespace {

/// What happened to one counted behaviour. Outlives it. The hooks may run on any of the
/// test's threads; the checks read after a join, or on the thread that ran them.
struct Fate {
  std::atomic<int> emptied{0};
  std::atomic<int> deleted{0};
  std::atomic<bool> deleted_before_emptied{false};
  // relaxed: the join (or program order) orders the hooks before these reads.
  int times_emptied() const { return emptied.load(std::memory_order_relaxed); }
  int times_deleted() const { return deleted.load(std::memory_order_relaxed); }
  bool out_of_order() const { return deleted_before_emptied.load(std::memory_order_relaxed); }
};

class Counted final : public ShareCount {
 public:
  explicit Counted(Fate& fate) : fate_(fate) {}

 private:
  ~Counted() override {
    if (fate_.emptied.load(std::memory_order_relaxed) == 0)
      fate_.deleted_before_emptied.store(true, std::memory_order_relaxed);  // read as above
    fate_.deleted.fetch_add(1, std::memory_order_relaxed);
  }
  void empty_functions() noexcept override {
    fate_.emptied.fetch_add(1, std::memory_order_relaxed);
  }
  Fate& fate_;
};

}  // namespace

TEST_CASE(
    "without credits: the last stop empties, the last destruction deletes, the spec counts as a "
    "holder") {
  Fate fate;
  auto* count = new Counted(fate);
  {
    BehaviourShare a(count);
    BehaviourShare b(count);
    CHECK(count->live_units() == 3);  // the spec's and two processes'
    CHECK(count->active_units() == 3);
    a.stop();
    a.stop();  // idempotent
    b.stop();
    CHECK(count->active_units() == 1);  // the spec is alive: nothing emptied
    CHECK(fate.times_emptied() == 0);
    count->drop_spec();  // the spec goes after its processes stopped: it empties (no cycle)
    CHECK(fate.times_emptied() == 1);
    CHECK(fate.times_deleted() == 0);  // the stopped processes still read the name
  }
  CHECK(fate.times_emptied() == 1);
  CHECK(fate.times_deleted() == 1);
  CHECK_FALSE(fate.out_of_order());
}

TEST_CASE(
    "without credits: the spec dropped first; a process destroyed without a stop gives both units "
    "back") {
  Fate fate;
  auto* count = new Counted(fate);
  auto* a = new BehaviourShare(count);
  {
    BehaviourShare b(count);
    count->drop_spec();
    b.stop();
    CHECK(fate.times_emptied() == 0);  // `a` is active
  }
  CHECK(count->live_units() == 1);
  delete a;  // never stopped (abandoned at shutdown): active, then live
  CHECK(fate.times_emptied() == 1);
  CHECK(fate.times_deleted() == 1);
  CHECK_FALSE(fate.out_of_order());
}

TEST_CASE("a worker's credits: one batch per kBatch processes, returned when it runs dry") {
  Fate fate;
  auto* count = new Counted(fate);
  {
    ShareCreditsScope scope;
    std::vector<BehaviourShare*> made;
    made.push_back(new BehaviourShare(count));
    CHECK(count->live_units() == 1 + ShareCount::kBatch);  // one batch taken at once
    for (std::uint32_t i = 1; i < ShareCount::kBatch; ++i)
      made.push_back(new BehaviourShare(count));
    CHECK(count->live_units() == 1 + ShareCount::kBatch);  // no more touches of the count
    made.push_back(new BehaviourShare(count));
    CHECK(count->live_units() == 1 + 2 * ShareCount::kBatch);
    count->drop_spec();
    for (BehaviourShare* s : made) delete s;  // stops and destructions land in the credits
    CHECK(fate.times_emptied() == 0);         // the credits are units: nothing can reach zero
    CHECK(scope.credits().owner == count);
    // Holding more than 2 * kBatch, the worker gave a batch back each time it reached it.
    CHECK(count->active_units() < 2 * ShareCount::kBatch);
    scope.credits().return_all();  // the worker runs dry
    CHECK(scope.credits().owner == nullptr);
    CHECK(fate.times_emptied() == 1);
    CHECK(fate.times_deleted() == 1);
    CHECK_FALSE(fate.out_of_order());
  }
}

TEST_CASE(
    "credits with active units but no live ones: the return holds a live unit while it empties") {
  Fate fate;
  auto* count = new Counted(fate);
  ShareCreditsScope scope;
  std::vector<BehaviourShare*> made;
  for (std::uint32_t i = 0; i < ShareCount::kBatch; ++i) made.push_back(new BehaviourShare(count));
  for (BehaviourShare* s : made) s->stop();  // active units back to this worker's credits
  CHECK(scope.credits().live == 0);
  CHECK(scope.credits().active == ShareCount::kBatch);
  std::thread elsewhere([&] {  // destroyed off the worker: live units back to the count
    for (BehaviourShare* s : made) delete s;
  });
  elsewhere.join();
  count->drop_spec();
  CHECK(count->live_units() == 0);  // live is zero, but the credits keep it from deletion
  CHECK(count->active_units() == ShareCount::kBatch);
  CHECK(fate.times_deleted() == 0);
  scope.credits().return_all();  // takes a live unit, empties, gives it back: deleted
  CHECK(fate.times_emptied() == 1);
  CHECK(fate.times_deleted() == 1);
  CHECK_FALSE(fate.out_of_order());
}

TEST_CASE(
    "two workers trading processes: every unit given back once, emptied once, deleted after") {
  // Each thread makes processes, stops half of what it receives and destroys the rest;
  // the other half is stopped here and destroyed there. The spec is dropped midway.
  constexpr int kPerThread = 20'000;
  Fate fate;
  auto* count = new Counted(fate);
  std::mutex mutex;
  std::deque<BehaviourShare*> to_thread[2];  // under mutex
  std::atomic<int> destroyed{0};
  auto worker = [&](int me) {
    ShareCreditsScope scope;
    int made = 0;
    bool spec_dropped = false;  // thread 0 only
    while (destroyed.load(std::memory_order_acquire) < 2 * kPerThread) {
      if (made < kPerThread) {
        auto* s = new BehaviourShare(count);
        if (++made % 2 == 0) s->stop();
        std::lock_guard lock(mutex);
        to_thread[1 - me].push_back(s);
      }
      if (me == 0 && made == kPerThread / 2 && !spec_dropped) {
        spec_dropped = true;
        count->drop_spec();
      }
      BehaviourShare* got = nullptr;
      {
        std::lock_guard lock(mutex);
        if (!to_thread[me].empty()) {
          got = to_thread[me].front();
          to_thread[me].pop_front();
        }
      }
      if (got != nullptr) {
        got->stop();
        delete got;
        destroyed.fetch_add(1, std::memory_order_acq_rel);
      } else if (made == kPerThread) {
        scope.credits().return_all();  // runs dry
        std::this_thread::yield();
      }
    }
  };
  std::thread a(worker, 0);
  std::thread b(worker, 1);
  a.join();
  b.join();
  // The law: 2 * kPerThread processes each took and gave back both units; the spec's went
  // back once; the functions were emptied exactly once, and the behaviour deleted after.
  CHECK(destroyed.load(std::memory_order_relaxed) == 2 * kPerThread);  // after the joins
  CHECK(fate.times_emptied() == 1);
  CHECK(fate.times_deleted() == 1);
  CHECK_FALSE(fate.out_of_order());
}
