// phyx/detail/future_state.hpp — the shared state behind Future<T>, Reply<R> and Resolve<T>.
//
// Protocol (settling is single-winner; waiting and continuations are any number):
//  1. A settler calls claim(): it sets the claimed bit of `claim_` (one acq_rel CAS); only
//     the first caller gets true. Later settlers (a reply after a timeout) get false and
//     count a late reply. The rest of that word is a TimedFutureState's timer node (step
//     6): the winner cancels the timer it finds there, so settling costs no second RMW.
//  2. The winner stores the result (plain write, it is the only writer), then publish():
//     takes the continuation list with one seq_cst exchange that leaves the "settled" mark
//     in it (the mark is what ready() reads: there is no separate flag), wakes blocked
//     waiters if a Parking was made (step 4), and runs the continuations in registration
//     order, outside every lock.
//  3. A continuation is pushed on `continuations_` with a CAS (a Treiber stack: one
//     allocation, the callable inline, no lock); a push that finds the mark runs at once
//     on the caller instead. Either way it runs exactly once, after the result is written,
//     and disposes of itself in the same call (run_and_dispose()): most nodes delete
//     themselves, a pipe's node is the envelope it sends (phyx/detail/pipe_envelope.hpp).
//  4. A thread that must block finds the state's Parking (a mutex and a condvar), or makes
//     it and installs it with a CAS on `parking_` (seq_cst; a loser deletes its own and
//     uses the winner's), then, under its mutex, looks for the mark in `continuations_`
//     (seq_cst) before sleeping on its condvar. publish's exchange (seq_cst) comes before
//     its load of `parking_` (seq_cst). That StoreLoad pair means either the publisher
//     sees the Parking (and takes its mutex to notify) or the waiter sees the result. A future
//     nobody blocks on (every ask answered to a handler, every stop whose future is dropped) never
//     makes one: no mutex and condvar to build and destroy, 80 bytes less.
//  5. Readers check ready() (acquire) before touching the result, so the plain write of
//     step 2 happens-before their read.
//  6. A timed future (TimedFutureState) keeps its timer node in `claim_`: set_timer() CASes
//     it in while the word is 0 (unclaimed, no node); a claim that finds it cancels it. A
//     node that comes after the claim finds the bit, and its setter cancels it at once.
//  7. Holders: the state counts its own references (`refs_`, phyx/detail/state_ref.hpp),
//     starting at the number of holders its maker is about to hand out (an ask: 3); the
//     last release deletes it, and with it any continuation never run.
// Invariant: the result is written once, before the mark is in `continuations_`, and never
// again.
// Rejected: std::shared_ptr for the holders (until session 18: a locked increment per holder
// made, 2 per ask, and a control block); a flag `settled_` and a flag `claimed_` of their own, and
// the timer in a word of its own (until session 17: four RMWs to settle an ask, claim, timer, flag
// and list, against two now); a mutex and a condvar in every state (until session 8:
// pthread_cond_destroy's atomic RMW on every ask and every stop, ~1.6 % of the ask workload); a
// mutex around a vector of std::function (the first version: every pipe and every reply took the
// mutex twice and allocated twice; 5-10% of an ask); a futex on `continuations_` instead of the
// condvar (C++20 atomic wait): blocking is the rare path (an outside thread's get() after
// its spin), the condvar keeps wait_for simple.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <vector>

#include "phyx/detail/small_blocks.hpp"
#include "phyx/detail/state_ref.hpp"
#include "phyx/detail/timer_node.hpp"
#include "phyx/result.hpp"

namespace phyx::detail {

class RuntimeCore;

/// A continuation (step 3): a node of a future state's list, which owns it until it runs.
/// An adapter may make one part of a bigger object (a pipe's is its envelope).
struct FutureContinuation {
  FutureContinuation() noexcept = default;
  FutureContinuation(const FutureContinuation&) = delete;
  FutureContinuation& operator=(const FutureContinuation&) = delete;
  /// Step 3: once, after the result is written (on the settling thread, or on the pusher
  /// when it was settled already); then disposes of the node: nothing may touch it after
  /// this call. Never throws.
  virtual void run_and_dispose() noexcept = 0;
  /// A node never run: its state was destroyed unsettled (step 7).
  virtual ~FutureContinuation() = default;
  FutureContinuation* next = nullptr;  // the state's list
};

class FutureStateBase {
 public:
  /// `holders`: the references about to be handed out (phyx/detail/state_ref.hpp), each as
  /// a StateRef that adopts it; counted here, before the state is shared, with no atomic
  /// operation.
  explicit FutureStateBase(std::uint32_t holders = 1) noexcept : refs_(holders) {}
  virtual ~FutureStateBase();
  FutureStateBase(const FutureStateBase&) = delete;
  FutureStateBase& operator=(const FutureStateBase&) = delete;

  /// Any thread, holding a reference already: one more (StateRef's copy). Never blocks.
  void add_ref() noexcept {
    // relaxed: the caller's own reference keeps the state alive, and the new one is
    // published with whatever carries it. Pairs with nothing.
    refs_.fetch_add(1, std::memory_order_relaxed);
  }
  /// Any thread: drops one reference; the last one destroys the state (and with it any
  /// continuation never run). Never blocks.
  void release() noexcept {
    // The last holder sees a count of 1 and deletes with no locked instruction: nobody else
    // holds a reference, so nobody can add one (add_ref needs one) or drop one. An answered
    // ask's stage keep is that last holder (staged_timeout.hpp step 2b): one locked RMW
    // less per ask round trip. acquire: pairs with the other holders' fetch_sub below
    // (their writes, a settle, happen-before the delete).
    if (refs_.load(std::memory_order_acquire) == 1) {
      delete this;
      return;
    }
    // acq_rel: release publishes this holder's writes (a settle, a result read) to the
    // destroyer; acquire, on the last decrement, sees every other holder's. Pairs with the
    // fetch_sub of the other holders and with the acquire load above.
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  /// Any thread; never blocks.
  bool ready() const noexcept {
    return continuations_.load(std::memory_order_acquire) ==
           settled_mark();  // pairs with publish()'s exchange
  }
  /// Step 1: true for exactly one caller. Cancels a timed future's timer (step 6).
  bool claim() noexcept {
    std::uintptr_t word = claim_.load(std::memory_order_relaxed);  // the CAS below decides
    do {
      if ((word & kClaimed) != 0) return false;
      // acq_rel: acquire takes the node set_timer() published; release orders the claim
      // before the result for other claimers' failed CAS. Pairs with set_timer()'s CAS.
    } while (!claim_.compare_exchange_weak(word, word | kClaimed, std::memory_order_acq_rel,
                                           std::memory_order_relaxed));
    if (word != 0) {
      // A timed future's timer: cancelled, or it fired (it is what settles us): nothing to undo.
      reinterpret_cast<TimerNode*>(word)->cancel_and_release();
    }
    return true;
  }
  /// Step 2: after the winner stored the result.
  void publish();

  /// Blocks the calling thread until settled. On an engine thread (a worker, or a handler in
  /// deterministic mode) throws WouldBlockError. When a deterministic runtime is attached,
  /// drives it instead of blocking and throws WouldBlockError if it goes idle first.
  void wait();
  /// As wait(), for at most `d`; returns ready(). Never throws WouldBlockError: on an
  /// engine thread it only polls.
  bool wait_for(std::chrono::nanoseconds d);
  /// Runs `k` once when settled: now, on the caller, if already settled; else on the
  /// settling thread. Any number of continuations run in registration order. Allocates
  /// one node (k inline); never blocks. `k` must not throw (what it throws is dropped).
  template <class F>
  void on_ready(F k) {
    push_continuation(new ContinuationOf<std::decay_t<F>>(std::move(k)));
  }
  /// As on_ready, with a node the caller made: the state owns `c` from now on and runs it
  /// once (FutureContinuation::run_and_dispose). Allocates nothing; never blocks.
  void on_ready_node(FutureContinuation* c) { push_continuation(c); }
  /// Any thread: settles with `e` if not settled yet. True if this call settled it.
  virtual bool fail(std::exception_ptr e) = 0;
  /// Attaches the deterministic runtime that wait() drives.
  void set_driver(std::weak_ptr<RuntimeCore> driver) { driver_ = std::move(driver); }

 protected:
  /// Step 6, for TimedFutureState: once, right after starting the timer, hands over the
  /// holder's reference. If the future was claimed first, the timer is cancelled here.
  void set_timer(TimerNode* node) noexcept {
    std::uintptr_t expected = 0;
    const auto desired = reinterpret_cast<std::uintptr_t>(node);
    // acq_rel: release publishes the node to claim(); acquire (on failure) sees the claim.
    // Pairs with claim()'s CAS.
    if (claim_.compare_exchange_strong(expected, desired, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
      return;
    }
    node->cancel_and_release();  // claimed first: the timer must not fire
  }
  /// For ~TimedFutureState: the node of a future never claimed, or nullptr.
  TimerNode* unclaimed_timer() const noexcept {
    const std::uintptr_t word =
        claim_.load(std::memory_order_acquire);  // pairs with set_timer()'s CAS
    return (word & kClaimed) != 0 ? nullptr : reinterpret_cast<TimerNode*>(word);
  }

 private:
  /// on_ready's node: the callable inline.
  template <class F>
  struct ContinuationOf final : FutureContinuation,
                                SmallBlocks {  // often freed on another worker than its maker's
    explicit ContinuationOf(F f) : fn(std::move(f)) {}
    void run_and_dispose() noexcept override {
      try {
        fn();
      } catch (...) {
      }
      delete this;
    }
    F fn;
  };
  using Continuation = FutureContinuation;
  static Continuation* settled_mark() noexcept { return reinterpret_cast<Continuation*>(alignof(Continuation)); }
  void push_continuation(Continuation* c);  // step 3
  bool settled_seq_cst() const noexcept {   // step 4's waiter half
    return continuations_.load(std::memory_order_seq_cst) ==
           settled_mark();  // pairs with publish()'s exchange
  }

  static constexpr std::uintptr_t kClaimed = 1;  // step 1; a TimerNode is aligned, bit 0 is free
  static_assert(alignof(TimerNode) > 1);
  std::atomic<std::uint32_t> refs_;       // holders (phyx/detail/state_ref.hpp)
  std::atomic<std::uintptr_t> claim_{0};  // steps 1 and 6: the claimed bit | a timer node
  struct Parking {  // step 4: made by the first thread that blocks
    std::mutex mutex;
    std::condition_variable cv;
  };
  Parking& parking();

  std::atomic<Continuation*> continuations_{nullptr};  // step 3; settled_mark() once published
  std::atomic<Parking*> parking_{nullptr};              // step 4; owned, freed with the state
  std::weak_ptr<RuntimeCore> driver_;
};

template <class T>
class FutureState : public FutureStateBase {
 public:
  explicit FutureState(std::uint32_t holders = 1) noexcept : FutureStateBase(holders) {}
  /// Any thread. First settle wins; returns false when already settled. Takes `r` by
  /// reference and moves it once, into the state: an answer passes through three calls on
  /// its way here (Reply, ReplyBase, this), and a copy per call was a move and a destructor
  /// of the Result each.
  bool settle(Result<T>&& r) {
    return settle(std::move(r), [] {});
  }
  /// As settle(r), running `before_publish` after winning but before anyone can see the
  /// result (so counters it bumps are visible to whoever observes the settlement).
  template <class F>
  bool settle(Result<T>&& r, F before_publish) {
    if (!claim()) return false;
    result_.emplace(std::move(r));
    before_publish();
    publish();
    return true;
  }
  bool fail(std::exception_ptr e) override { return settle(Result<T>(std::move(e))); }
  /// Only after ready() returned true.
  Result<T>& result() noexcept { return *result_; }
  /// Only after ready() returned true: the value (copied when T is copyable, else moved
  /// out: call once), or the failure rethrown. Future::get and co_await read it so.
  T value() {
    if constexpr (std::is_void_v<T>) {
      result_->value();
    } else if constexpr (std::is_copy_constructible_v<T>) {
      return result_->value();
    } else {
      return std::move(*result_).value();
    }
  }

 private:
  std::optional<Result<T>> result_;
};

/// A future with a timeout timer: whoever settles it first cancels the timer, so an
/// answered ask leaves no timer behind (SPEC 14.9).
template <class T>
class TimedFutureState : public FutureState<T> {
 public:
  explicit TimedFutureState(std::uint32_t holders = 1) noexcept : FutureState<T>(holders) {}
  ~TimedFutureState() override {
    // Never settled (its holders gave up on it) with a timer still armed: cancel it.
    if (TimerNode* t = this->unclaimed_timer()) t->cancel_and_release();
  }
  /// Once, by the asker, right after starting the timer: hands over the holder's
  /// reference. If the future settled first, the timer is cancelled here (step 6).
  using FutureStateBase::set_timer;
};

}  // namespace phyx::detail
