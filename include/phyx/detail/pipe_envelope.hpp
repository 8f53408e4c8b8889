// phyx/detail/pipe_envelope.hpp — a pipe's continuation and the envelope it sends, in one
// block (not for users; tools.pipe makes them).
//
// Protocol:
//  1. tools.pipe (the piping process's handler) makes the envelope with no message in it,
//     holding a reference to the process, the future's state and the conversion, and
//     hands it to the state as a continuation node (FutureStateBase::on_ready_node).
//  2. Whoever settles the state runs it (run_and_dispose(), future_state.hpp step 3): the
//     message is built in place from a copy of the result (or from the result, moved,
//     when it cannot be copied), then the envelope is sent to the process like any other
//     pipe's message. The send hands the block over: the receiver may free it at once,
//     so the reference to the process is moved out to the stack first.
//  3. A conversion that throws sends nothing and frees the block (as a throwing `then`
//     callback is dropped); a state destroyed unsettled frees it unrun, no message built.
// Invariant: the message exists only between step 2's build and the receiver's
// destroy_message(); the envelope is in a mailbox only after its message was built.
// Rejected: a continuation node that allocates the envelope when it runs (until session
// 30): two blocks to allocate and free per pipe instead of one, and one more object in
// flight per outstanding ask (ask-many on one worker: 1,586 -> 1,552 instructions per
// round trip with this file; on the wall clock within the host's noise, 1.01-1.04x).
#pragma once

#include <type_traits>
#include <utility>

#include "phyx/detail/envelope.hpp"
#include "phyx/detail/future_state.hpp"
#include "phyx/detail/process_core.hpp"
#include "phyx/result.hpp"

namespace phyx::detail {

template <class Msg, class T, class ToMsg>
class PipeEnvelope final : public TypedEnvelope<Msg>, public FutureContinuation {
 public:
  /// Step 1: `to` is the piping process's reference (handed over); `state` owns this node
  /// until it runs (so it outlives the run).
  PipeEnvelope(ProcessHandle to, FutureState<T>* state, ToMsg to_msg)
      : TypedEnvelope<Msg>(MessageLater{}),
        to_(std::move(to)),
        state_(state),
        to_msg_(std::move(to_msg)) {}

  /// Step 2 (the settling thread). Allocates nothing itself; what to_msg allocates, and what
  /// a refused send's dead letter does.
  void run_and_dispose() noexcept override {
    const ProcessHandle to = std::move(to_);  // step 2: the block is not ours after the send
    try {
      this->build_message([&]() -> Msg {
        if constexpr (std::is_copy_constructible_v<Result<T>>) {
          return to_msg_(Result<T>(state_->result()));
        } else {
          return to_msg_(std::move(state_->result()));
        }
      });
    } catch (...) {
      delete this;  // step 3
      return;
    }
    try {
      to->send_user(this, Origin::pipe);
    } catch (...) {  // as any continuation's: dropped (the send owns the envelope by now)
    }
  }

 private:
  ProcessHandle to_;
  FutureState<T>* state_;
  [[no_unique_address]] ToMsg to_msg_;
};

}  // namespace phyx::detail
