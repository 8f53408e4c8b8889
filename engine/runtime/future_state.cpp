// engine/runtime/future_state.cpp — blocking, driving and continuations of futures
// (protocol in phyx/detail/future_state.hpp).
#include "phyx/detail/future_state.hpp"

#include <thread>

#include "phyx/detail/runtime_core.hpp"
#include "phyx/errors.hpp"
#include "sched/thread_context.hpp"

namespace phyx::detail {
namespace {

constexpr const char* kWouldBlock =
    "Future::get() would block an engine thread (a worker, a timer callback or a handler); use co_await or "
    "tools.pipe inside handlers";

constexpr int kSpinsBeforeBlocking = 64;  // 20-60 us of yields here; more gained nothing

}  // namespace

FutureStateBase::~FutureStateBase() {
  // Never settled (its last holder gave up on it): the continuations go unrun.
  Continuation* c = continuations_.load(std::memory_order_acquire);  // pairs with push_continuation's CAS
  if (c == settled_mark()) return;
  while (c != nullptr) {
    Continuation* next = c->next;
    delete c;
    c = next;
  }
}

void FutureStateBase::publish() {
  on_settled();
  // Step 4's publisher half: seq_cst store, then seq_cst load of waiters_. Pairs with the
  // waiter's seq_cst increment and load in wait() / wait_for().
  settled_.store(true, std::memory_order_seq_cst);
  if (waiters_.load(std::memory_order_seq_cst) != 0) {
    { std::lock_guard lock(mutex_); }  // a counted waiter is inside cv_.wait now, or saw settled_
    cv_.notify_all();
  }
  // Step 2/3: take the list, leave the mark. acq_rel: acquire sees the pushed nodes
  // (pairs with push_continuation's release CAS); release publishes the result to a push
  // that finds the mark.
  Continuation* list = continuations_.exchange(settled_mark(), std::memory_order_acq_rel);
  Continuation* ordered = nullptr;  // the stack is newest first: reverse it
  while (list != nullptr) {
    Continuation* next = list->next;
    list->next = ordered;
    ordered = list;
    list = next;
  }
  while (ordered != nullptr) {
    Continuation* next = ordered->next;
    ordered->run();
    delete ordered;
    ordered = next;
  }
}

void FutureStateBase::push_continuation(Continuation* c) {
  Continuation* head = continuations_.load(std::memory_order_acquire);  // pairs with publish's exchange
  for (;;) {
    if (head == settled_mark()) {
      c->run();  // settled: run on the caller
      delete c;
      return;
    }
    c->next = head;
    // release: publishes the node to publish()'s exchange; acquire on failure: a mark
    // found then carries the result with it. Pairs with publish's exchange.
    if (continuations_.compare_exchange_weak(head, c, std::memory_order_release, std::memory_order_acquire)) return;
  }
}

void FutureStateBase::wait() {
  if (ready()) return;
  if (thread_context().engine_depth > 0) throw WouldBlockError(kWouldBlock);
  if (auto rt = driver_.lock(); rt && rt->deterministic()) {
    while (!ready()) {
      if (!rt->drive_step() && !ready()) {
        throw WouldBlockError("Future::get(): the deterministic runtime went idle before the future settled");
      }
    }
    return;
  }
  // A reply usually takes a few microseconds: look for it a little while before paying for
  // a sleep and a wake-up (two context switches, the whole cost of an outside thread's ask).
  for (int spin = 0; spin < kSpinsBeforeBlocking; ++spin) {
    if (ready()) return;
    std::this_thread::yield();  // lets a worker on this core run the handler meanwhile
  }
  std::unique_lock lock(mutex_);
  waiters_.fetch_add(1, std::memory_order_seq_cst);  // step 4: pairs with publish's seq_cst load
  cv_.wait(lock, [&] { return settled_.load(std::memory_order_seq_cst); });  // pairs with publish's store
  waiters_.fetch_sub(1, std::memory_order_relaxed);  // a count; only its being non-zero matters
}

bool FutureStateBase::wait_for(std::chrono::nanoseconds d) {
  if (ready()) return true;
  if (thread_context().engine_depth > 0) return false;
  if (auto rt = driver_.lock(); rt && rt->deterministic()) {
    const auto until = std::chrono::steady_clock::now() + d;
    while (!ready() && std::chrono::steady_clock::now() < until && rt->drive_step()) {
    }
    return ready();
  }
  std::unique_lock lock(mutex_);
  waiters_.fetch_add(1, std::memory_order_seq_cst);  // step 4: pairs with publish's seq_cst load
  const bool settled =
      cv_.wait_for(lock, d, [&] { return settled_.load(std::memory_order_seq_cst); });  // pairs with publish's store
  waiters_.fetch_sub(1, std::memory_order_relaxed);  // a count; only its being non-zero matters
  return settled;
}

}  // namespace phyx::detail
