// phyx/detail/future_state.hpp — the shared state behind Future<T>, Reply<R> and Resolve<T>.
//
// Protocol (settling is single-winner; waiting and continuations are any number):
//  1. A settler calls claim(): an acq_rel exchange on `claimed_`; only the first caller
//     gets true. Later settlers (a reply after a timeout) get false and count a late reply.
//  2. The winner stores the result (plain write, it is the only writer), then publish():
//     sets `settled_` (seq_cst; ready()'s acquire loads pair with it), wakes blocked
//     waiters if any are counted in `waiters_`, then takes the continuation list with an
//     exchange that leaves the "settled" mark in it, and runs the continuations in
//     registration order, outside every lock.
//  3. A continuation is pushed on `continuations_` with a CAS (a Treiber stack: one
//     allocation, the callable inline, no lock); a push that finds the mark runs at once
//     on the caller instead. Either way it runs exactly once, after the result is written.
//  4. A thread that must block counts itself in `waiters_` (seq_cst) under `mutex_`, then
//     looks at `settled_` (seq_cst) before sleeping on `cv_`; publish stores `settled_`
//     (seq_cst) before it loads `waiters_` (seq_cst). That StoreLoad pair means either the
//     publisher sees the waiter (and takes `mutex_` to notify it) or the waiter sees the
//     result; a settle with nobody blocked touches neither the mutex nor the condvar.
//  5. Readers check ready() (acquire) before touching the result, so the plain write of
//     step 2 happens-before their read.
// Invariant: the result is written once, before `settled_` becomes true, and never again.
// Rejected: a mutex around a vector of std::function (the first version: every pipe and
// every reply took the mutex twice and allocated twice; 5-10% of an ask); a futex on
// `settled_` instead of the condvar (C++20 atomic wait): blocking is the rare path (an
// outside thread's get() after its spin), the condvar keeps wait_for simple.
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
  struct Continuation {
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
  std::atomic<std::uint32_t> waiters_{0};               // step 4
  std::atomic<Continuation*> continuations_{nullptr};  // step 3; settled_mark() once published
  std::mutex mutex_;
  std::condition_variable cv_;
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
