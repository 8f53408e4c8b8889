// engine/sched/placement.hpp: where a process goes when its turn ends, as a pure function.
#include "sched/placement.hpp"

#include <doctest/doctest.h>

#include "phyx/detail/mailbox.hpp"

using phyx::detail::after_turn;
using phyx::detail::AfterTurn;
using phyx::detail::Mailbox;

TEST_CASE("a process with nothing left to do goes idle, whatever its turn reported") {
  CHECK(after_turn(false, false, Mailbox::kNoWorker, 0, 2) == AfterTurn::idle);
  CHECK(after_turn(false, true, 1, 0, 2) == AfterTurn::idle);
}

TEST_CASE("a process whose budget ran out goes to the back of its own worker's queue") {
  CHECK(after_turn(true, false, 1, 0, 2) == AfterTurn::requeue_here);
  CHECK(after_turn(true, false, Mailbox::kNoWorker, 1, 4) == AfterTurn::requeue_here);
}

TEST_CASE("a refused sender moves to the worker that last ran its receiver") {
  CHECK(after_turn(true, true, 1, 0, 2) == AfterTurn::move_to_receiver);
  CHECK(after_turn(true, true, 0, 3, 4) == AfterTurn::move_to_receiver);
}

TEST_CASE(
    "a refused sender stays when its receiver ran here, never ran, or ran on a worker this runtime "
    "lacks") {
  CHECK(after_turn(true, true, 0, 0, 2) == AfterTurn::requeue_here);  // already together
  CHECK(after_turn(true, true, Mailbox::kNoWorker, 0, 2) == AfterTurn::requeue_here);  // no hint
  CHECK(after_turn(true, true, 2, 0, 2) == AfterTurn::requeue_here);  // out of range
  CHECK(after_turn(true, true, 0, 0, 1) == AfterTurn::requeue_here);  // one worker
  // 300 workers: the byte's "no worker" is also index 255, which must not be taken for it.
  CHECK(after_turn(true, true, Mailbox::kNoWorker, 0, 300) == AfterTurn::requeue_here);
}

TEST_CASE("the hint byte: worker indices it cannot hold read as no worker") {
  Mailbox m(false);
  CHECK(m.last_worker() == Mailbox::kNoWorker);
  m.note_worker(3);
  CHECK(m.last_worker() == 3);
  m.note_worker(254);
  CHECK(m.last_worker() == 254);
  m.note_worker(255);
  CHECK(m.last_worker() == Mailbox::kNoWorker);
  m.note_worker(100'000);
  CHECK(m.last_worker() == Mailbox::kNoWorker);
}

using phyx::detail::lifo_turn_budget;
using phyx::detail::Offer;

TEST_CASE("a LIFO turn with a convoy queued runs half of it and offers the rest") {
  for (const bool others : {false, true}) {
    const auto t = lifo_turn_budget(100, others, 128, 64);
    CHECK(t.budget == 50);
    CHECK(t.offer == Offer::rest);
  }
  const auto at = lifo_turn_budget(64, false, 128, 64);  // the threshold itself splits
  CHECK(at.budget == 32);
  CHECK(at.offer == Offer::rest);
  const auto big = lifo_turn_budget(255, false, 128, 64);  // half still fits in the budget
  CHECK(big.budget == 127);
  CHECK(big.offer == Offer::rest);
}

TEST_CASE("a convoy too small to split runs whole and offers the queue when others wait there") {
  const auto t = lifo_turn_budget(50, true, 128, 64);
  CHECK(t.budget == 128);
  CHECK(t.offer == Offer::queue);
  const auto alone = lifo_turn_budget(50, false, 128, 64);  // nothing else to offer
  CHECK(alone.budget == 128);
  CHECK(alone.offer == Offer::none);
}

TEST_CASE("a LIFO turn keeps the usual budget and offers nothing: too few queued, or a flood") {
  for (const bool others : {false, true}) {
    for (const auto& t :
         {lifo_turn_budget(15, others, 128, 64),         // too few to pay for a move
          lifo_turn_budget(0, others, 128, 64),          // nothing queued
          lifo_turn_budget(256, others, 128, 64),        // the budget ends it anyway
          lifo_turn_budget(100000, others, 128, 64)}) {  // a flooded hub, not a convoy
      CHECK(t.budget == 128);
      CHECK(t.offer == Offer::none);
    }
  }
}

TEST_CASE("the convoy rule's boundaries: 15, 16 and 63 queued, and 128, half of which still fits") {
  CHECK(lifo_turn_budget(63, true, 128, 64).offer == Offer::queue);
  CHECK(lifo_turn_budget(63, false, 128, 64).offer == Offer::none);
  CHECK(lifo_turn_budget(16, true, 128, 64).offer == Offer::queue);
  CHECK(lifo_turn_budget(16, false, 128, 64).offer == Offer::none);
  CHECK(lifo_turn_budget(15, true, 128, 64).offer == Offer::none);
  const auto t = lifo_turn_budget(128, false, 128, 64);
  CHECK(t.offer == Offer::rest);
  CHECK(t.budget == 64);
}
