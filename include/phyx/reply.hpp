/// \file
/// phyx/reply.hpp — Reply<R>: the answer channel of an ask (SPEC 4, 14.2, 14.11, 14.19).
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <string_view>
#include <utility>

#include "phyx/detail/process_core.hpp"
#include "phyx/detail/runtime_core.hpp"
#include "phyx/future.hpp"

namespace phyx {
namespace detail {

/// An ask's future state: also knows the asked process, for late-reply accounting.
template <class R>
class AskState final : public TimedFutureState<R> {
 public:
  AskState(ProcessHandle target, std::int64_t timeout_ms)
      : target_(std::move(target)), timeout_ms_(timeout_ms) {}
  const ProcessHandle& target() const noexcept { return target_; }
  std::int64_t timeout_ms() const noexcept { return timeout_ms_; }
  std::string_view msg_type{};  // of the ask message, for the late_reply dead letter

 private:
  ProcessHandle target_;
  std::int64_t timeout_ms_;
};

template <class R>
class ReplyBase {
 public:
  ReplyBase() = default;
  explicit ReplyBase(std::shared_ptr<AskState<R>> s) noexcept : state_(std::move(s)) {}
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
  void settle(Result<R> r) {
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
  std::shared_ptr<AskState<R>> state_;
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
