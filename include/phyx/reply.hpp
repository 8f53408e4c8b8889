/// \file
/// phyx/reply.hpp — Reply<R>: the answer channel of an ask (SPEC 4, 14.2, 14.11, 14.19).
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <string_view>
#include <utility>

#include "phyx/detail/process_core.hpp"
#include "phyx/detail/runtime_core.hpp"
#include "phyx/detail/staged_timeout.hpp"
#include "phyx/errors.hpp"
#include "phyx/future.hpp"

namespace phyx {
namespace detail {

/// An ask's future state: also knows the asked process, for late-reply accounting, and
/// owns the start of its timeout. Made with its three holders counted (kHolders): the
/// Future, the Reply, and the stage or the timer that will time it out.
template <class R>
class AskState final : public TimedFutureState<R>, public StagedTimeout, public SmallBlocks {
 public:
  static constexpr std::uint32_t kHolders = 3;
  AskState(ProcessHandle target, std::int64_t timeout_ms)
      : TimedFutureState<R>(kHolders), target_(std::move(target)), timeout_ms_(timeout_ms) {}
  const ProcessHandle& target() const noexcept { return target_; }
  std::int64_t timeout_ms() const noexcept { return timeout_ms_; }
  std::string_view msg_type{};  // of the ask message, for the late_reply dead letter

  /// The asker, once, right after making the state, while it holds the Future's
  /// reference (so the state outlives this call): starts the timeout with `keep`, the
  /// third holder's reference. On a worker of the target's runtime it is staged without
  /// a timer node (phyx/detail/staged_timeout.hpp step 1); elsewhere it gets its node now,
  /// and the node's callback takes `keep`. Allocates the node when not staged; never blocks.
  void start_timeout(StateRef<AskState> keep) {
    RuntimeCore& rt = target_->runtime();
    keep_ = std::move(keep);  // before the push, which publishes it
    if (rt.stage_timeout(*this, timeout_ms_)) return;
    arm(std::move(keep_), rt);
  }

  /// staged_timeout.hpp step 2b: answered, and the answer published (ready()'s acquire
  /// pairs with publish()'s exchange).
  bool settled() const noexcept override { return this->ready(); }

  /// staged_timeout.hpp step 2.
  void unstage(bool arm_pending) noexcept override {
    StateRef<AskState> keep = std::move(keep_);
    // The deadline counts from now, the first time known to be after the ask (step 2). The
    // timer's callback gets a reference of its own: `keep` must hold the state through
    // set_timer(), and a timer that fires at once may drop the callback's before that.
    if (arm_pending && !this->ready()) arm(StateRef<AskState>(keep), target_->runtime());
  }  // the keep goes last: it may free this state

 private:
  /// A timer node that settles the state with TimeoutError, `timeout_ms_` from now. The
  /// node's callback holds `self`, a reference the caller hands over; the caller must hold
  /// another one until this returns. A settle cancels the node, which destroys the
  /// callback and its reference at once (phyx/detail/state_ref.hpp).
  void arm(StateRef<AskState> self, RuntimeCore& rt) {
    TimerNode* timer = make_timer_node([s = std::move(self)](TimerId) {
      // Counted and reported before the failure is visible to the asker.
      s->settle(Result<R>(std::make_exception_ptr(
                    TimeoutError("Ask timeout after " + std::to_string(s->timeout_ms()) + "ms"))),
                [&] { s->target()->runtime().on_ask_timeout(s->target().get(), s->timeout_ms()); });
    });
    rt.start_timer_unstaged(timeout_ms_, timer);
    this->set_timer(timer);
  }

  ProcessHandle target_;
  std::int64_t timeout_ms_;
  StateRef<AskState> keep_;  // while staged (staged_timeout.hpp): the stage's reference
};

template <class R>
class ReplyBase {
 public:
  ReplyBase() = default;
  explicit ReplyBase(StateRef<AskState<R>> s) noexcept : state_(std::move(s)) {}
  ReplyBase(ReplyBase&&) noexcept = default;
  ReplyBase& operator=(ReplyBase&& o) noexcept {
    if (this != &o) {
      drop();
      state_ = std::move(o.state_);
    }
    return *this;
  }
  ReplyBase(const ReplyBase&) = delete;
  ReplyBase& operator=(const ReplyBase&) = delete;
  ~ReplyBase() { drop(); }

  /// Fails the ask with `e`. Any thread; a second answer is ignored.
  void fail(std::exception_ptr e) { settle(Result<R>(std::move(e))); }
  /// True until the reply was answered or moved from.
  bool pending() const noexcept { return state_ != nullptr; }
  explicit operator bool() const noexcept { return pending(); }

 protected:
  void settle(Result<R>&& r) {
    if (!state_) return;  // answered already: ignored
    auto s = std::move(state_);
    if (!s->settle(std::move(r))) s->target()->runtime().on_late_reply(s->target().get(), s->msg_type);
  }

 private:
  void drop() noexcept {
    if (!state_) return;
    auto s = std::move(state_);
    try {
      s->settle(Result<R>(dropped_reply_error()));  // NoReplyError, or StoppedError at stop
    } catch (...) {
    }
  }
  StateRef<AskState<R>> state_;
};

}  // namespace detail

/// Move-only and callable once: reply(value) answers, reply.fail(e) makes the ask throw e.
/// Destroyed unanswered, it fails the ask with NoReplyError (StoppedError when its holder
/// stops). Any thread may answer; answering allocates nothing.
/// Also: `reply.fail(std::exception_ptr)`, and `reply.pending()` (or `bool(reply)`), true
/// until answered or moved from. An answer after the ask timed out is dropped and counted
/// (Stats::late_replies, a `late_reply` dead letter). Answering runs the future's
/// continuations (then, pipe, a co_await's resume) on the answering thread.
template <class R>
class Reply : public detail::ReplyBase<R> {
 public:
  using detail::ReplyBase<R>::ReplyBase;
  /// Answers the ask with `value`; a second answer is ignored. Any thread; never blocks.
  void operator()(R value) { this->settle(Result<R>(std::move(value))); }
};

/// The Reply of an ask that answers with no value (`Future<void>`): `reply()` answers.
template <>
class Reply<void> : public detail::ReplyBase<void> {
 public:
  using detail::ReplyBase<void>::ReplyBase;
  /// Answers the ask; a second answer is ignored. Any thread; never blocks.
  void operator()() { this->settle(Result<void>()); }
};

}  // namespace phyx
