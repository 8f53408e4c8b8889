/// \file
/// phyx/tools.hpp — Tools<Msg, State, Ctx>, the third argument of every handler (SPEC 7).
///
/// A Tools object belongs to one process and is used only on the thread running that
/// process's handler (init, handle, on_stop). Nothing here blocks (emit waits only for a
/// sink call in progress on another thread).
#pragma once

#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <utility>

#include "phyx/await.hpp"
#include "phyx/clock.hpp"
#include "phyx/detail/envelope.hpp"
#include "phyx/detail/pipe_envelope.hpp"
#include "phyx/detail/process_core.hpp"
#include "phyx/detail/runtime_core.hpp"
#include "phyx/errors.hpp"
#include "phyx/event.hpp"
#include "phyx/future.hpp"
#include "phyx/process_ref.hpp"
#include "phyx/spec.hpp"

namespace phyx {

namespace detail {
/// Shared by every copy of a Resolve / Reject pair; the last copy destroyed unanswered
/// fails the future with NoReplyError (SPEC 14.13).
template <class T>
struct Settler {
  StateRef<FutureState<T>> state;
  ~Settler() {
    if (!state->ready()) state->fail(std::make_exception_ptr(NoReplyError("Reply dropped without an answer")));
  }
};
}  // namespace detail

/// Settles a tools.ask future with a value. Copyable; any thread; first settle wins.
template <class T>
class Resolve {
 public:
  /// Made by Tools::ask; not by users.
  explicit Resolve(std::shared_ptr<detail::Settler<T>> s) : s_(std::move(s)) {}
  /// Settles the future with `value` unless it is settled already. Any thread; never
  /// blocks; runs the future's continuations on the calling thread.
  void operator()(T value) const { s_->state->settle(Result<T>(std::move(value))); }

 private:
  std::shared_ptr<detail::Settler<T>> s_;
};
/// Settles a tools.ask<void> future with success. Copyable; any thread; first settle wins.
template <>
class Resolve<void> {
 public:
  /// Made by Tools::ask; not by users.
  explicit Resolve(std::shared_ptr<detail::Settler<void>> s) : s_(std::move(s)) {}
  /// Settles the future with success unless it is settled already. Any thread; never
  /// blocks; runs the future's continuations on the calling thread.
  void operator()() const { s_->state->settle(Result<void>()); }

 private:
  std::shared_ptr<detail::Settler<void>> s_;
};

/// Settles a tools.ask future with an error. Copyable; any thread; first settle wins.
class Reject {
 public:
  /// Made by Tools::ask; not by users.
  explicit Reject(std::shared_ptr<void> keep, detail::FutureStateBase* state)
      : keep_(std::move(keep)), state_(state) {}
  /// Fails the future with `e` unless it is settled already. Any thread; never blocks; runs
  /// the future's continuations on the calling thread.
  void operator()(std::exception_ptr e) const { state_->fail(std::move(e)); }

 private:
  std::shared_ptr<void> keep_;  // the Settler: keeps the state alive and counts copies
  detail::FutureStateBase* state_;
};

/// The third argument of every handler: what a process can do to itself and its children
/// (SPEC 7). Owner only: use it on the thread running this process's handler, during the
/// call it was given to (a coroutine handler may keep it across co_await). Nothing here
/// blocks but emit, as said there.
template <class Msg, class State, class Ctx>
class Tools {
 public:
  /// Made by the process for each handler call; not by users.
  Tools(detail::ProcessCore* self, const Ctx* ctx) noexcept : self_(self), ctx_(ctx) {}

  /// The runtime's clock.
  const Clock& clock() const noexcept { return self_->runtime().clock(); }
  /// clock().now().
  Instant now() const { return clock().now(); }
  /// The ctx given at spawn (the same for every incarnation).
  const Ctx& ctx() const noexcept { return *ctx_; }
  /// A ref to this process. Never allocates (one relaxed increment).
  ProcessRef<Msg> self() const {
    self_->retain();
    return ProcessRef<Msg>(detail::ProcessHandle(self_));
  }

  /// A user event with this process's id and name; a no-op (nothing built) without a sink.
  /// With one, allocates the event and calls the sink on this thread, after any sink call
  /// in progress on another thread (the sink is never called concurrently).
  void emit(std::string type, Fields fields = {}) const {
    auto& rt = self_->runtime();
    if (rt.telemetry_on()) rt.emit(type, self_, std::move(fields));
  }

  /// A child of this process: stopped when this process stops or restarts; its supervision
  /// is applied by this process. Allocates. Throws SpecError for an invalid spec, as
  /// Runtime::spawn does.
  template <class M, class S, class C>
  ProcessRef<M> spawn(ProcessSpec<M, S, C> spec, C ctx = {}) const;
  /// As spawn(spec, ctx), from a spec prepared by phyx::share (validated already; the
  /// child shares its behaviour instead of copying it).
  template <class M, class S, class C>
  ProcessRef<M> spawn(const SharedSpec<M, S, C>& spec, C ctx = {}) const;

  /// A message to self after `after` (0 = after what is already queued). Cancelled when
  /// the process stops or crashes. A negative delay throws SpecError. Allocates the timer
  /// and the envelope. During a stop the message is refused at once (a dead letter, reason
  /// `stopped`) and the id is TimerId{}. When it fires, the user lane's bound and policy apply.
  TimerId schedule(std::chrono::milliseconds after, Msg msg) const {
    if (after.count() < 0) detail::throw_bad_timeout("schedule delay", after);
    return self_->schedule_self(after.count(), new detail::TypedEnvelope<Msg>(std::move(msg)));
  }
  /// True if the timer had not fired (it never will now). False for a timer of another
  /// process, one that fired or was cancelled, and TimerId{}.
  bool cancel(TimerId id) const { return self_->cancel_timer(id); }

  /// Turns a callback-style operation into a Future: f(Resolve<T>, Reject). First settle
  /// wins; the timeout fails it with TimeoutError("Ask 'desc' timeout"); an exception
  /// thrown by f fails it with that exception; every copy of resolve/reject destroyed
  /// without a call fails it with NoReplyError.
  /// f runs at once, on this thread; resolve and reject may be called later from any thread.
  /// Allocates the future's state and its timeout timer. A timeout <= 0 throws SpecError.
  template <class T, class F>
  Future<T> ask(std::string desc, F f, std::chrono::milliseconds timeout = std::chrono::milliseconds{5000}) const {
    if (timeout.count() <= 0) detail::throw_bad_timeout("tools.ask timeout", timeout);
    auto& rt = self_->runtime();
    auto state = detail::make_state<detail::TimedFutureState<T>>();
    if (rt.deterministic()) state->set_driver(self_->runtime_ptr());
    auto settler = std::make_shared<detail::Settler<T>>();
    settler->state = state;
    // The callback holds the state until it fires or a settle cancels it (which destroys
    // the callback at once: phyx/detail/state_ref.hpp).
    detail::TimerNode* timer = detail::make_timer_node([s = state, desc](TimerId) {
      s->fail(std::make_exception_ptr(TimeoutError("Ask '" + desc + "' timeout")));
    });
    rt.start_timer(timeout.count(), timer);
    state->set_timer(timer);
    Future<T> future(state);
    try {
      f(Resolve<T>(settler), Reject(settler, state.get()));
    } catch (...) {
      state->fail(std::current_exception());
    }
    return future;
  }

  /// When `future` settles, sends to_msg(Result<T>) to self (refused during a stop drain).
  /// to_msg runs on the thread that settles the future, and must not block; what it throws
  /// is dropped, and nothing is sent. Allocates the envelope now (it waits on the future as
  /// its continuation: phyx/detail/pipe_envelope.hpp); an empty future throws phyx::Error.
  template <class T, class ToMsg>
  void pipe(Future<T> future, ToMsg to_msg) const {
    if (!future.valid()) detail::throw_empty_future();
    // Taken here and moved in: a copy and the local's release would be two more locked
    // RMWs on this process's count per pipe (~5 % of an ask round trip).
    self_->retain();
    detail::ProcessHandle me(self_);  // adopts; released here if the allocation throws
    auto* node = new detail::PipeEnvelope<Msg, T, ToMsg>(std::move(me), future.state().get(),
                                                         std::move(to_msg));
    future.state()->on_ready_node(node);
  }

  /// For coroutine handlers: `co_await tools.sleep(d)` resumes after `d` on the timer
  /// wheel; meanwhile the process handles no other message. Owner only; allocates the
  /// timer at the co_await. A negative `d` throws SpecError.
  Sleep sleep(std::chrono::milliseconds d) const {
    if (d.count() < 0) detail::throw_bad_timeout("sleep duration", d);
    return Sleep(self_, d);
  }

 private:
  detail::ProcessCore* self_;
  const Ctx* ctx_;
};

}  // namespace phyx
