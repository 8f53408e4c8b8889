// engine/runtime/keep_credits.hpp — how processes keep their runtime alive without a line
// that every core writes.
//
// A RuntimeCore must outlive every one of its ProcessCores: a ref that outlives its Runtime
// still reaches the core through its process (SPEC 14.14). So the core counts its keeps.
//
// Protocol:
//  1. `RuntimeCore::keeps_` counts one for the Runtime's shared_ptrs together (their deleter
//     gives it back), one for each ProcessCore not yet destroyed (RuntimeKeep, its first
//     member, so it is given back after everything else in it), and the credits that
//     workers hold.
//  2. On a worker of this runtime, a keep is taken from the worker's credits; a worker with
//     none takes kBatch at once (one fetch_add). A keep given back there joins the credits;
//     above 2 * kBatch the worker returns kBatch (one fetch_sub, which cannot reach zero:
//     the worker still holds kBatch).
//  3. Any other thread (a user thread, the timer thread, a worker of another runtime) adds
//     or subtracts one.
//  4. A worker returns its credits when its thread leaves work(), while the thread's lambda
//     still holds a shared_ptr to the core: that return is never the last unit.
//  5. Whoever takes keeps_ to zero deletes the core.
// Invariants: keeps_ >= the ProcessCores alive + the credits held, and > 0 while either
// is; credits are touched only by their worker's thread (no atomics in steps 2 and 4 but
// the batch's own).
// Rejected: a std::shared_ptr in every process (the previous design: its control block's
// count is one line that every spawn and every destruction on every worker writes, ~9 % of
// skynet); a child borrowing its parent's reference (the parent's core must then outlive
// the child's, and a child_stopped message left in a finished parent's lane holds the
// child: a cycle); per-thread counts summed at the end (zero is then not detectable
// without a stop-the-world sum).
#pragma once

#include <cstdint>

namespace phyx::detail {

class RuntimeCore;

/// A worker's credits on its runtime's keep count (protocol step 2).
struct KeepCredits {
  static constexpr std::int64_t kBatch = 1024;
  RuntimeCore* owner = nullptr;
  std::int64_t count = 0;
};

/// A worker thread's credits for the scope (the worker's whole life); returns them on
/// exit (step 4). Worker only; never blocks, never allocates.
class KeepCreditsScope {
 public:
  explicit KeepCreditsScope(RuntimeCore& owner) noexcept;
  ~KeepCreditsScope();
  KeepCreditsScope(const KeepCreditsScope&) = delete;
  KeepCreditsScope& operator=(const KeepCreditsScope&) = delete;

 private:
  KeepCredits credits_;
  KeepCredits* saved_;
};

}  // namespace phyx::detail
