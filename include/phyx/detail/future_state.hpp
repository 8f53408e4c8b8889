// phyx/detail/future_state.hpp — the shared state behind Future<T>, Reply<R> and Resolve<T>.
//
// Protocol (settling is single-winner, waiting is any number of threads):
//  1. A settler calls claim(): an acq_rel exchange on `claimed_`; only the first caller
//     gets true. Later settlers (a reply after a timeout) get false and count a late reply.
//  2. The winner stores the result (plain write, it is the only writer), then publish():
//     under `mutex_` it sets `settled_` (release; pairs with the acquire load in ready()),
//     takes the continuation, and notifies waiters; then it runs the continuation outside
//     the lock.
//  3. Readers check ready() (acquire) before touching the result, so the plain write of
//     step 2 happens-before their read.
// Invariant: the result is written once, before `settled_` becomes true, and never again.
// Rejected: a lock-free waiter list (futex on `settled_`) — worth it only once asks are on
// the hot path of the scheduler issue; a mutex + condvar is correct and small enough here.
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
#include <vector>

#include "phyx/result.hpp"
#include "phyx/detail/timer_node.hpp"

namespace phyx::detail {

class RuntimeCore;

class FutureStateBase {
 public:
  FutureStateBase() = default;
  virtual ~FutureStateBase() = default;
  FutureStateBase(const FutureStateBase&) = delete;
  FutureStateBase& operator=(const FutureStateBase&) = delete;

  /// Any thread; never blocks.
  bool ready() const noexcept {
    return settled_.load(std::memory_order_acquire);  // pairs with the release store in publish()
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
  /// settling thread. Any number of continuations run in registration order.
  void on_ready(std::function<void()> k);
  /// Any thread: settles with `e` if not settled yet. True if this call settled it.
  virtual bool fail(std::exception_ptr e) = 0;
  /// Attaches the deterministic runtime that wait() drives.
  void set_driver(std::weak_ptr<RuntimeCore> driver) { driver_ = std::move(driver); }

 protected:
  /// Called once by publish() before waiters wake (an ask cancels its timeout here).
  virtual void on_settled() noexcept {}

 private:
  std::atomic<bool> claimed_{false};
  std::atomic<bool> settled_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::function<void()>> continuations_;  // in registration order
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
