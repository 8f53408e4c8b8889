// engine/sched/placement.hpp — where a process goes when its turn ends: a pure function
// of what the turn reported, tested without threads (tests/sched/placement_test.cpp).
//
// A turn ends in one of three ways (work_stealing.cpp, steps 5, 10 and 12):
//  1. The process has nothing left to do: the worker keeps its reference (step 10).
//  2. Its budget ran out: the back of this worker's local queue, others first.
//  3. A send of its handler was refused by a full lane (the backpressure rule ended the
//     turn): it moves to the worker that last ran the receiver, if that is another
//     worker of this runtime (step 12). There the receiver drains its lane and the sender
//     refills it on one core, as a blocked Go sender is readied on its receiver's P;
//     spread over two cores, every message and the lane's count cross between them
//     (fan-in on two workers ran at 7-9 M msg/s against 16-21 M on one).
// Rejected: moving the receiver to the sender (a receiver has many senders, on many
// workers, and would chase them); blocking the sender (SPEC 4: send never blocks);
// moving only after several refusals (one refused turn is the signal: the lane is full
// and its owner is elsewhere, and each refused turn spent apart is a wasted turn).
#pragma once

#include <cstddef>
#include <cstdint>

#include "phyx/detail/mailbox.hpp"

namespace phyx::detail {

enum class AfterTurn : std::uint8_t { idle, requeue_here, move_to_receiver };

/// `again`: the turn left work (budget or refusal). `refused_full` and `receiver_worker`:
/// the thread context's note of a refused send in this turn (the receiver's
/// Mailbox::last_worker(), a hint: Mailbox::kNoWorker, which is checked apart, because in
/// a runtime of 256 workers or more it is also a worker's index).
constexpr AfterTurn after_turn(bool again, bool refused_full, unsigned receiver_worker,
                               unsigned this_worker, unsigned workers) noexcept {
  if (!again) return AfterTurn::idle;  // went idle: nothing to place
  if (refused_full && receiver_worker != Mailbox::kNoWorker && receiver_worker < workers &&
      receiver_worker != this_worker) {
    return AfterTurn::move_to_receiver;
  }
  return AfterTurn::requeue_here;
}

/// Step 4a of work_stealing.cpp: the budget of a turn taken from the LIFO slot, and what it
/// offers an idle worker (the scheduler applies it only while one idles). A process that arrives
/// there with many user messages queued heads a convoy (one handler's burst of sends: in
/// ring-multi, 100 tokens travel as one batch from process to process, so one process is runnable
/// at a time and one worker does all the work).
///  - `split_at` or more queued, and half of them within the budget: the turn runs half
///    and ends early; the rest goes to the back of the local queue, offered to the idle
///    worker, and the two halves travel on apart (`Offer::rest`).
///  - A quarter as many or more, while other processes wait in the local queue (other
///    convoys, typically: halves that met again on one worker, and the pieces a partial
///    merge leaves, too small to split): the turn runs as usual and the local queue is
///    offered (`Offer::queue`).
///  - Otherwise the usual budget, nothing offered. A queue the full budget cannot hold is a
///    flooded process (fan-in's counter), not a convoy: its turn ends by budget anyway.
enum class Offer : std::uint8_t { none, rest, queue };
struct TurnBudget {
  unsigned budget;
  Offer offer;
};
constexpr TurnBudget lifo_turn_budget(std::size_t queued, bool others_queued, unsigned budget,
                                      std::size_t split_at) noexcept {
  if (queued >= split_at && queued / 2 < budget)
    return {static_cast<unsigned>(queued / 2), Offer::rest};
  if (queued >= split_at / 4 && queued < budget && others_queued) return {budget, Offer::queue};
  return {budget, Offer::none};
}

}  // namespace phyx::detail
