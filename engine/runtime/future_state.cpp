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
  delete parking_.load(std::memory_order_acquire);  // pairs with parking()'s CAS (no waiter is left)
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
  // Step 2/3: take the list, leave the mark. seq_cst: acquire sees the pushed nodes (pairs
  // with push_continuation's release CAS); release publishes the result to ready()'s
  // acquire loads and to a push that finds the mark; and it is step 4's publisher half,
  // before the seq_cst load of parking_ (pairs with the waiter's seq_cst CAS or load of
  // parking_ and its seq_cst look at the mark in wait() / wait_for()).
  Continuation* list = continuations_.exchange(settled_mark(), std::memory_order_seq_cst);
  if (Parking* p = parking_.load(std::memory_order_seq_cst)) {  // step 4: pairs with parking()'s CAS
    { std::lock_guard lock(p->mutex); }  // a waiter is inside cv.wait now, or will see the mark
    p->cv.notify_all();
  }
  Continuation* ordered = nullptr;  // the stack is newest first: reverse it
  while (list != nullptr) {
    Continuation* next = list->next;
    list->next = ordered;
    ordered = list;
    list = next;
  }
  while (ordered != nullptr) {
    Continuation* next = ordered->next;  // read first: the node is gone after its run
    ordered->run_and_dispose();
    ordered = next;
  }
}

void FutureStateBase::push_continuation(Continuation* c) {
  Continuation* head = continuations_.load(std::memory_order_acquire);  // pairs with publish's exchange
  for (;;) {
    if (head == settled_mark()) {
      c->run_and_dispose();  // settled: run on the caller
      return;
    }
    c->next = head;
    // release: publishes the node to publish()'s exchange; acquire on failure: a mark
    // found then carries the result with it. Pairs with publish's exchange.
    if (continuations_.compare_exchange_weak(head, c, std::memory_order_release, std::memory_order_acquire)) return;
  }
}

FutureStateBase::Parking& FutureStateBase::parking() {
  Parking* p = parking_.load(std::memory_order_seq_cst);  // step 4: pairs with publish's seq_cst load
  if (p != nullptr) return *p;
  auto* mine = new Parking;
  // seq_cst: the waiter's half of step 4's StoreLoad pair (its look at the mark follows);
  // release publishes the new Parking to other waiters and to publish().
  if (parking_.compare_exchange_strong(p, mine, std::memory_order_seq_cst, std::memory_order_seq_cst)) return *mine;
  delete mine;  // another waiter installed one first: p is it
  return *p;
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
  Parking& p = parking();
  std::unique_lock lock(p.mutex);
  p.cv.wait(lock, [&] { return settled_seq_cst(); });
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
  Parking& p = parking();
  std::unique_lock lock(p.mutex);
  return p.cv.wait_for(lock, d, [&] { return settled_seq_cst(); });
}

}  // namespace phyx::detail
