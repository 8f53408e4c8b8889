// phyx/detail/future_state.hpp — the shared state behind Future<T>, Reply<R> and Resolve<T>.
//
// Protocol (settling is single-winner; waiting and continuations are any number):
//  1. A settler calls claim(): an acq_rel exchange on `claimed_`; only the first caller
//     gets true. Later settlers (a reply after a timeout) get false and count a late reply.
//  2. The winner stores the result (plain write, it is the only writer), then publish():
//     sets `settled_` (seq_cst; ready()'s acquire loads pair with it), wakes blocked
//     waiters if a Parking was made (step 4), then takes the continuation list with an
//     exchange that leaves the "settled" mark in it, and runs the continuations in
//     registration order, outside every lock.
//  3. A continuation is pushed on `continuations_` with a CAS (a Treiber stack: one
//     allocation, the callable inline, no lock); a push that finds the mark runs at once
//     on the caller instead. Either way it runs exactly once, after the result is written.
//  4. A thread that must block finds the state's Parking (a mutex and a condvar), or makes
//     it and installs it with a CAS on `parking_` (seq_cst; a loser deletes its own and
//     uses the winner's), then, under its mutex, looks at `settled_` (seq_cst) before
//     sleeping on its condvar. publish stores `settled_` (seq_cst) before it loads
//     `parking_` (seq_cst). That StoreLoad pair means either the publisher sees the Parking
//     (and takes its mutex to notify) or the waiter sees the result. A future nobody
//     blocks on (every ask answered to a handler, every stop whose future is dropped)
//     never makes one: no mutex and condvar to build and destroy, 80 bytes less.
//  5. Readers check ready() (acquire) before touching the result, so the plain write of
//     step 2 happens-before their read.
// Invariant: the result is written once, before `settled_` becomes true, and never again.
// Rejected: a mutex and a condvar in every state (until session 8: pthread_cond_destroy's
// atomic RMW on every ask and every stop, ~1.6 % of the ask workload); a mutex around a
// vector of std::function (the first version: every pipe and every reply took the mutex
// twice and allocated twice; 5-10% of an ask); a futex on `settled_` instead of the
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

#include "phyx/result.hpp"
#include "phyx/detail/small_blocks.hpp"
#include "phyx/detail/timer_node.hpp"

namespace phyx::detail {

class RuntimeCore;

class FutureStateBase {
 public:
  FutureStateBase() = default;
  virtual ~FutureStateBase();
  FutureStateBase(const FutureStateBase&) = delete;
  FutureStateBase& operator=(const FutureStateBase&) = delete;

  /// Any thread; never blocks.
  bool ready() const noexcept {
    return settled_.load(std::memory_order_acquire);  // pairs with the (seq_cst) store in publish()
  }
  /// Step 1: true for exactly one caller.
  bool claim() noexcept {
    return !claimed_.exchange(true, std::memory_order_acq_rel);  // pairs with other claim()s
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
  /// Any thread: settles with `e` if not settled yet. True if this call settled it.
  virtual bool fail(std::exception_ptr e) = 0;
  /// Attaches the deterministic runtime that wait() drives.
  void set_driver(std::weak_ptr<RuntimeCore> driver) { driver_ = std::move(driver); }

 protected:
  /// Called once by publish() before waiters wake (an ask cancels its timeout here).
  virtual void on_settled() noexcept {}

 private:
  /// A continuation: a node of the list of step 3, its callable inline.
  struct Continuation : SmallBlocks {  // often freed on another worker than its maker's
    virtual ~Continuation() = default;
    virtual void run() noexcept = 0;
    Continuation* next = nullptr;
  };
  template <class F>
  struct ContinuationOf final : Continuation {
    explicit ContinuationOf(F f) : fn(std::move(f)) {}
    void run() noexcept override {
      try {
        fn();
      } catch (...) {
      }
    }
    F fn;
  };
  static Continuation* settled_mark() noexcept { return reinterpret_cast<Continuation*>(alignof(Continuation)); }
  void push_continuation(Continuation* c);  // step 3

  std::atomic<bool> claimed_{false};
  std::atomic<bool> settled_{false};
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
  /// Any thread. First settle wins; returns false when already settled.
  bool settle(Result<T> r) {
    return settle(std::move(r), [] {});
  }
  /// As settle(r), running `before_publish` after winning but before anyone can see the
  /// result (so counters it bumps are visible to whoever observes the settlement).
  template <class F>
  bool settle(Result<T> r, F before_publish) {
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
  TimedFutureState() noexcept = default;
  ~TimedFutureState() override {
    TimerNode* t = timer_.load(std::memory_order_acquire);  // pairs with set_timer's CAS
    if (t != nullptr && t != settled_mark()) drop_timer(t);
  }
  /// Once, by the asker, right after starting the timer: hands over the holder's
  /// reference. If the future settled first, the timer is cancelled here.
  void set_timer(TimerNode* node) noexcept {
    TimerNode* expected = nullptr;
    // acq_rel: release publishes the node to on_settled(); acquire (on failure) sees the
    // settlement. Pairs with the exchange in on_settled().
    if (!timer_.compare_exchange_strong(expected, node, std::memory_order_acq_rel, std::memory_order_acquire)) {
      drop_timer(node);
    }
  }

 protected:
  void on_settled() noexcept override {
    // acq_rel: pairs with set_timer's CAS; each timer is cancelled at most once.
    TimerNode* t = timer_.exchange(settled_mark(), std::memory_order_acq_rel);
    if (t != nullptr && t != settled_mark()) drop_timer(t);
  }

 private:
  static TimerNode* settled_mark() noexcept { return reinterpret_cast<TimerNode*>(alignof(TimerNode)); }
  static void drop_timer(TimerNode* t) noexcept {
    t->cancel_and_release();  // false when it fired (the timeout settled us): nothing to undo
  }
  std::atomic<TimerNode*> timer_{nullptr};
};

}  // namespace phyx::detail
