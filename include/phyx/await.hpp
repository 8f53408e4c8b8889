/// \file
/// phyx/await.hpp — what a coroutine handler (Task<void>, SPEC 3 and 7) can co_await:
/// any Future<T> (ref.ask, tools.ask, ...) and tools.sleep(d).
//
// Protocol (the handler runs on the thread that runs its process, inside run_slice()):
//  1. co_await on something not ready suspends the coroutine; the handler's call returns
//     to the process, which keeps the handler and its message and takes no other user
//     message (engine/process/process_core.cpp, "suspended coroutine handlers").
//  2. Before suspending, the awaiter arranges one `resume` system message to that process:
//     a continuation on the future (run by whichever thread settles it), or a timer on
//     the runtime's wheel (sleep).
//  3. The process handles `resume` like any system message, on its own thread: the
//     coroutine goes on there, with its state to itself, on whichever worker runs it.
// Invariant: one suspension, one resume message; a future that is ready when awaited
// does not suspend.
// Rejected: resuming the coroutine directly from the settling thread (the handler would
// run beside the process's next turn on another worker: two threads on one state);
// polling the future from the process (a busy process for every outstanding ask).
#pragma once

#include <chrono>
#include <coroutine>
#include <utility>

#include "phyx/detail/process_core.hpp"
#include "phyx/errors.hpp"
#include "phyx/future.hpp"

namespace phyx {

namespace detail {

/// The process whose coroutine handler is suspending, retained; throws WouldBlockError
/// when called outside a process's handler (nothing would resume the coroutine).
ProcessHandle suspending_process();

template <class T>
class FutureAwaiter {
 public:
  explicit FutureAwaiter(StateRef<FutureState<T>> state) noexcept : state_(std::move(state)) {}
  bool await_ready() const noexcept { return state_->ready(); }
  void await_suspend(std::coroutine_handle<>) {
    // Step 2: may run at once (settled meanwhile); the resume is then simply queued.
    state_->on_ready([process = suspending_process()] { process->post_resume(); });
  }
  T await_resume() { return state_->value(); }

 private:
  StateRef<FutureState<T>> state_;
};

}  // namespace detail

/// `co_await future` inside a coroutine handler: the value, or the failure rethrown. The
/// process handles no other message meanwhile; its worker is free for other processes.
/// The process's own handler only: awaiting a future that is not ready anywhere else throws
/// WouldBlockError (nothing would resume the coroutine). An empty future throws phyx::Error.
/// Suspending allocates the continuation; a ready future does not suspend.
template <class T>
detail::FutureAwaiter<T> operator co_await(const Future<T>& f) {
  if (!f.valid()) throw Error("Future is empty (default-constructed or moved from)");
  return detail::FutureAwaiter<T>(f.state());
}

/// The awaitable of tools.sleep(d): resumes the handler after `d` on the runtime's timer
/// wheel (a ManualClock's time in tests). A stop of the process does not cancel it: the
/// handler in hand runs to its end (SPEC 14.3).
class Sleep {
 public:
  /// Made by Tools::sleep, which checks `d`; not by users.
  Sleep(detail::ProcessCore* self, std::chrono::milliseconds d) noexcept : self_(self), d_(d) {}
  /// Never ready: even `sleep(0ms)` suspends, and resumes after the timer fires.
  bool await_ready() const noexcept { return false; }
  /// Starts the timer (allocates it): the handler resumes, on its process's turn, once it
  /// fires.
  void await_suspend(std::coroutine_handle<>) { self_->start_sleep(d_.count()); }
  /// Nothing to return.
  void await_resume() const noexcept {}

 private:
  detail::ProcessCore* self_;
  std::chrono::milliseconds d_;
};

}  // namespace phyx
