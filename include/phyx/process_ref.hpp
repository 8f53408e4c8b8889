/// \file
/// phyx/process_ref.hpp — ProcessRef<Msg>: the handle to a process (SPEC section 4).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "phyx/detail/envelope.hpp"
#include "phyx/detail/process_core.hpp"
#include "phyx/detail/runtime_core.hpp"
#include "phyx/errors.hpp"
#include "phyx/future.hpp"
#include "phyx/reply.hpp"
#include "phyx/status.hpp"

namespace phyx {

namespace detail {
void count_ask(RuntimeCore& rt) noexcept;
[[noreturn]] void throw_bad_timeout(const char* what, std::chrono::milliseconds timeout);
}  // namespace detail

/// The handle to a process taking messages of type Msg, from Runtime::spawn or
/// Tools::spawn; the same across restarts.
/// Cheap to copy (one relaxed increment); safe to use from any thread, also after its
/// Runtime is gone (SPEC 14.14). A default-constructed ref is empty: send returns false,
/// ask fails with ProcessError, stop is complete at once, status is stopped.
template <class Msg>
class ProcessRef {
 public:
  /// An empty ref (bool(ref) is false).
  ProcessRef() = default;
  /// Over an engine handle (for adapters; spawn makes refs).
  explicit ProcessRef(detail::ProcessHandle core) noexcept : core_(std::move(core)) {}

  /// Unique for the runtime's life, stable across restarts; ProcessId{} for an empty ref.
  /// Any thread; never blocks.
  ProcessId id() const noexcept { return core_ ? core_->id() : ProcessId{}; }
  /// The spec's name; an empty string for an empty ref (like the other methods, which
  /// all accept one). Any thread; never blocks; does not allocate.
  const std::string& name() const noexcept {
    static const std::string no_name;  // immutable: shared by every empty ref
    return core_ ? core_->name() : no_name;
  }

  /// True when the message is in the mailbox (SPEC 4: queued while starting, refused when
  /// stopping/stopped/failed or full under `reject`). Any thread; never blocks; allocates
  /// the envelope. A refused message is a dead letter (process:dead_letter, counted).
  bool send(Msg msg) const {
    if (!core_) return false;
    return core_->send_user(new detail::TypedEnvelope<Msg>(std::move(msg)), origin());
  }

  /// Builds the message with a fresh Reply<R> (`build`: Msg(Reply<R>)) and sends it. Any
  /// thread; never blocks; allocates the future's state, the timeout timer and the envelope
  /// (on a worker, from its recycled small blocks: phyx/detail/small_blocks.hpp).
  /// The future fails with ProcessError (refused), TimeoutError, NoReplyError or
  /// StoppedError (SPEC 4). A timeout <= 0 throws SpecError; what `build` throws
  /// propagates, and no ask was made.
  template <class R, class Build>
  Future<R> ask(Build build, std::chrono::milliseconds timeout = std::chrono::milliseconds{5000}) const {
    if (timeout.count() <= 0) detail::throw_bad_timeout("ask timeout", timeout);
    if (!core_) return make_ready_future<R>(Result<R>(std::make_exception_ptr(ProcessError("Failed to send ask message"))));
    auto& rt = core_->runtime();
    // Made with its three holders counted (AskState::kHolders), each adopted below with no
    // atomic operation; if build throws, the three references are dropped as it unwinds.
    auto* state = new detail::AskState<R>(core_, timeout.count());
    detail::StateRef<detail::AskState<R>> future_ref(state);
    detail::StateRef<detail::AskState<R>> timeout_ref(state);
    if (rt.deterministic()) state->set_driver(core_->runtime_ptr());
    // A local, not a temporary: if the envelope's allocation throws, its reference is dropped.
    Reply<R> reply{detail::StateRef<detail::AskState<R>>(state)};
    std::unique_ptr<detail::TypedEnvelope<Msg>> envelope(new detail::TypedEnvelope<Msg>(
        detail::BuiltBy{}, [&]() -> Msg { return build(std::move(reply)); }));
    envelope->ask = state;
    // After build: a build that throws made no ask, and started no timer.
    state->start_timeout(std::move(timeout_ref));
    detail::count_ask(rt);
    state->msg_type =
        detail::msg_type_name(envelope->msg);  // the type is known here: no virtual call
    core_->send_user(envelope.release(), origin());
    return Future<R>(std::move(future_ref));
  }

  /// Stops the process: the message in hand finishes, its children stop, on_stop runs
  /// (SPEC 4). Any thread; never blocks. Moves the process to `stopping` at once; the
  /// future completes when it is `stopped`. Idempotent: later calls return the same
  /// completion; only the first call's reason and mode count. Allocates the completion on
  /// the first call.
  Future<void> stop(StopReason reason = StopReason::normal(), StopMode mode = StopMode::discard) const {
    if (!core_) return make_ready_future<void>(Result<void>());
    return core_->request_stop(std::move(reason), mode);
  }

  /// Where the process is now (a snapshot). Any thread; never blocks.
  Status status() const noexcept { return core_ ? core_->status() : Status::stopped; }

  /// False for an empty (default-constructed) ref.
  explicit operator bool() const noexcept { return static_cast<bool>(core_); }
  /// The same process (or both empty).
  friend bool operator==(const ProcessRef& a, const ProcessRef& b) noexcept { return a.core_ == b.core_; }
  /// The engine's handle (for adapters; not needed by users).
  const detail::ProcessHandle& handle() const noexcept { return core_; }

 private:
  detail::Origin origin() const noexcept {
    return detail::current_process() == core_.get() ? detail::Origin::self : detail::Origin::external;
  }
  detail::ProcessHandle core_;
};

}  // namespace phyx
