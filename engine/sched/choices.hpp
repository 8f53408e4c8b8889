// engine/sched/choices.hpp — the scheduling decisions a seed may take over (systematic mode).
//
// In a normal build, make_scheduling_choices() returns nullptr (engine/sched/choices_fixed.cpp)
// and the runtime follows its fixed rules at a cost of one predictable branch per decision.
// With -DPHYX_SYSTEMATIC=ON, engine/sched/choices_systematic.cpp is compiled instead (a
// CMake option and a separate file, not an #ifdef): the runtime then runs ONE worker, and
// at every yield point a seeded generator decides:
//  1. per turn: the step budget (1..128 instead of 128), and whether the worker looks at
//     its LIFO slot, its local queue or the global queue first;
//  2. in a send, between counting a message in and linking it (the window where the owner
//     sees a counted message that is not there yet), and before waking the receiver:
//     whether the sending thread yields its CPU;
//  3. between the steps of a slice: whether the worker yields its CPU.
// The seed comes from PHYX_SEED in the environment, else RuntimeOptions::seed; the runtime
// prints it ("phyx systematic: seed=N") so that a failing run can be replayed with
// PHYX_SEED=N. Replay is exact for the worker's own decisions (one worker, one generator
// stream per decision point, consumed in the worker's order); where other threads (the
// test's senders, the timer thread) interleave, the seed replays their yield decisions in
// the order the draws are taken, which the OS may still vary.
// Rejected: Pony's token-passing (every thread, including the test's and each blocking
// call, would have to be scheduled by the controller: every mutex and condition variable
// of the runtime and of the tests becomes a yield point); randomising inside the
// deterministic scheduler only (it never runs the work-stealing code or a real MPSC race).
#pragma once

#include <cstdint>
#include <memory>

namespace phyx::detail {

class SchedulingChoices {
 public:
  virtual ~SchedulingChoices() = default;
  /// Construction: the number of workers to start for `requested`.
  virtual unsigned workers(unsigned requested) = 0;
  /// The worker, once per turn: steps for this turn, given the normal budget.
  virtual unsigned budget(unsigned normal) = 0;
  /// The worker, once per turn: 0 = LIFO slot first (the fixed rule), 1 = local queue
  /// first, 2 = global queue first.
  virtual unsigned first_source() = 0;
  /// Any thread, at a yield point (decision 2 or 3): may yield the CPU. Never blocks.
  virtual void yield_point() noexcept = 0;
  virtual std::uint64_t seed() const noexcept = 0;
};

/// nullptr in a normal build; the seeded choices with -DPHYX_SYSTEMATIC=ON. Allocates.
std::unique_ptr<SchedulingChoices> make_scheduling_choices(std::uint64_t seed);

}  // namespace phyx::detail
