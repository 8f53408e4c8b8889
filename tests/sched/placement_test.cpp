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
