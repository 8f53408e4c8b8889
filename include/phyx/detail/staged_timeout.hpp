// phyx/detail/staged_timeout.hpp — a timeout staged on a worker without a timer node (not
// for users): an ask's, in the common case of an answer within milliseconds.
//
// Protocol (engine/timer/timer_service.hpp step 0d has the stage's side):
//  1. The asker, a worker of the target's runtime, with a timeout of at least
//     TimerService::kStageMinMs: the ask's state takes a reference to itself (its keep)
//     and is pushed on the worker's stage (one uncontended CAS). No node, no id, no count,
//     no clock read (only a push that fills an empty stage reads the clock, to announce
//     it): an ask answered before its stage is taken costs no timer at all (an answer
//     settles the state; there is nothing to cancel).
//  2. Whoever takes the stage's list to flush it (its worker after a turn once the epoch has
//     moved twice, and before it searches, parks or leaves; or the driver once it has moved
//     three times; timer_service.hpp 0a and 0c) calls unstage(true) on each entry, outside
//     every lock: a state still pending then gets its real timer, its timeout from now.
//     The taker's clock read is the first one known to come after the ask, so the timeout
//     is never early; it is late by the time the entry waited on the stage (1-2 stage
//     periods of 2 ms after a turn, at most ~4 when its worker is stuck in a handler and
//     the driver takes the stage). Then the keep is dropped, which may free the state.
//     b. The stage's owner also sweeps its own list after a turn every few dozen pushes
//     (timer_service.hpp 0e): it takes the list, unstages the entries already settled()
//     (their keep is dropped while the state is still in its cache) and pushes the others
//     back, where step 2 finds them as before.
//  3. ~TimerService calls unstage(false) on what is left: nothing, in practice, since every
//     worker takes its own stage as it leaves and stages nothing after that.
//  Dropping a keep can free a state, and with it the last handle on a process, whose
//  destructor can enqueue: the worker that flushed looks at its own queues again before
//  it searches (sched/work_stealing.cpp step 11).
// Invariants: an entry is on at most one stage, at most once at a time (a sweep, 2b, may
// push it back onto the same stage, never onto another); its keep is written before the
// first push (each push's release publishes it) and read only by the one who took the list
// (acquire); it is unstaged exactly once.
// Rejected: a deadline written at step 1 from a clock read per ask (26 ns in this VM, 5-8 %
// of an ask round trip: session 17 measured 2.48-2.78 M rt/s with it against 2.69-2.98 M
// without, 4 interleaved rounds), or from CLOCK_MONOTONIC_COARSE (5 ns, but it lags the precise
// clock by up to a tick, 4 ms here, and by more when a VM delays the tick: a timeout could fire
// early); a timer node per ask, staged (the design before session 12: a node to allocate and free,
// two ids and two counts, the cancel's CAS and the node's release: ~30 % of an ask round trip,
// measured by removing the timer); a weak reference in the entry (the taker could not tell a live
// state from a freed one); the driver alone taking stages (it would touch, and free on its own
// thread, every state).
#pragma once

#include <cstdint>

namespace phyx::detail {

class StagedTimeout {
 public:
  /// Step 2 (the taker of the stage's list, any thread, outside every lock), or 2b (the
  /// owner's sweep, for a settled entry, with `arm` false): once per entry.
  /// `arm`: start the real timer if still pending. Allocates a timer node when it arms (an
  /// allocation failure terminates: it runs where nothing could be told); never blocks.
  /// May free the object (the keep is dropped last).
  virtual void unstage(bool arm) noexcept = 0;
  /// Step 2b (the stage's owner, sweeping its own list): true once the ask is answered and
  /// its answer published, so that unstage(false) only drops the keep. Never blocks.
  virtual bool settled() const noexcept = 0;

  StagedTimeout* staged_next = nullptr;  // the stage's list

 protected:
  StagedTimeout() noexcept = default;
  ~StagedTimeout() = default;
};

}  // namespace phyx::detail
