// engine/runtime/root_stop_chain.hpp — shutdown's stop of the top-level processes, one
// after another, passed along by the workers.
//
// SPEC 2 orders shutdown: among siblings, reverse spawn order, each stop complete before
// the next begins (as an OTP supervisor terminates its children). The first version had
// the shutting-down thread request each stop and wait for it: two cross-thread wake-ups
// per top-level process (the worker's for the stop, the waiter's for the future), ~28 µs
// a process on the 2-core host, so 1,000,000 idle top-level processes took ~28 s to shut
// down (1.2-1.5 s now; engine/runtime/README.md).
//
// Protocol:
//  1. shutdown() builds the chain over the top-level processes in spawn order and calls
//     advance() once on its own thread.
//  2. advance() requests the stop of the youngest process not yet asked. If that stop is
//     complete at once (the process was already stopped), it goes on to the next one in a
//     loop; otherwise it hangs itself on the stop's future and returns.
//  3. The thread that completes that stop (the worker running finish_stop(), or abandon())
//     runs the continuation, which is advance() again: the next stop is posted from the
//     worker, into its own run queue, with no wake-up of another thread.
//  4. After the oldest process's stop, advance() settles `all_stopped`, the one future the
//     shutting-down thread waits on (bounded by the deadline).
//  5. At the deadline shutdown() calls cut(): later advances ask nothing, and cut() asks
//     every process not yet asked at once, youngest first, without waiting (they may still
//     stop while the workers wind down; the rest are abandoned). An advance() already past
//     its check may ask one more beside it: each claims its process with a CAS on `next_`,
//     so none is asked twice, and request_stop() and abandon() decide under the process's
//     control_ lock, as they do for a user's stop() racing shutdown.
// Invariants: a process is asked to stop once; before the cut, only after every younger
// one's stop completed or was found complete. roots_[i] is touched only by the thread that
// claimed i.
// Rejected: requesting every stop at once (the order is SPEC's, and observable through
// on_stop and the process:stop events); a dedicated thread (the same two wake-ups per
// process). The continuation may run inline when the stop completes between the check
// and the hanging (future_state.hpp step 3): that nests one advance() per such race,
// never per process.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <vector>

#include "phyx/detail/future_state.hpp"
#include "phyx/detail/process_core.hpp"
#include "phyx/future.hpp"

namespace phyx::detail {

class RootStopChain : public std::enable_shared_from_this<RootStopChain> {
 public:
  /// `roots` in spawn order. Allocates the completion future.
  explicit RootStopChain(std::vector<ProcessHandle> roots);

  /// Step 2: asks the next stop. Any thread (shutdown's, or the one completing a stop);
  /// never blocks; allocates a continuation node per stop that is not complete at once.
  void advance();
  /// Step 5: later advances ask nothing; the processes not yet asked are asked now. Any
  /// thread; never blocks; allocates what request_stop() allocates.
  void cut();
  /// Settled when every process was asked and its stop completed (or after cut()).
  const StateRef<FutureState<void>>& all_stopped() const noexcept { return all_stopped_; }

 private:
  bool claim(std::size_t& index) noexcept;  // the youngest not yet asked, if any
  Future<void> ask(std::size_t index);      // a claimed process: its stop, reason shutdown

  std::vector<ProcessHandle> roots_;  // spawn order; emptied from the back
  std::atomic<std::size_t> next_;     // roots_[next_ - 1] is the next to ask
  std::atomic<bool> cut_{false};
  StateRef<FutureState<void>> all_stopped_;
};

}  // namespace phyx::detail
