// Unit tests of engine/mailbox/lane_word.hpp: the mailbox's state-word transitions as pure
// functions (no mailbox, no thread).
#include <doctest/doctest.h>

#include <cstdint>

#include "mailbox/lane_word.hpp"

using phyx::MailboxPolicy;
namespace lane = phyx::detail::lane;

namespace {

constexpr std::uint64_t word(std::uint64_t physical, std::uint64_t owed, std::uint64_t bits) {
  return physical | (owed << lane::kOwedShift) | bits;
}

}  // namespace

TEST_CASE("plan_admit: room counts the message in; the first sender to an idle, willing process wakes it") {
  const auto idle = lane::plan_admit(word(0, 0, lane::kWantsUser), 4, MailboxPolicy::reject);
  CHECK(idle.admit == lane::Admit::accepted);
  CHECK(idle.wake);
  CHECK_FALSE(idle.took_head);
  CHECK(idle.next == word(1, 0, lane::kWantsUser | lane::kScheduled));

  const auto busy = lane::plan_admit(idle.next, 4, MailboxPolicy::reject);
  CHECK(busy.admit == lane::Admit::accepted);
  CHECK_FALSE(busy.wake);  // already scheduled: exactly one wake per idle -> busy edge
  CHECK(busy.next == word(2, 0, lane::kWantsUser | lane::kScheduled));

  const auto starting = lane::plan_admit(word(0, 0, 0), 4, MailboxPolicy::reject);
  CHECK(starting.admit == lane::Admit::accepted);
  CHECK_FALSE(starting.wake);  // not wanting user messages (starting): queued, not woken
}

TEST_CASE("plan_admit: closed refuses under both policies; full rejects under reject") {
  for (auto policy : {MailboxPolicy::reject, MailboxPolicy::drop_oldest}) {
    const auto w = word(1, 0, lane::kClosed | lane::kWantsUser);
    const auto plan = lane::plan_admit(w, 4, policy);
    CHECK(plan.admit == lane::Admit::refused_closed);
    CHECK(plan.next == w);
  }
  const auto full = lane::plan_admit(word(4, 0, lane::kScheduled), 4, MailboxPolicy::reject);
  CHECK(full.admit == lane::Admit::refused_full);
  CHECK(full.next == word(4, 0, lane::kScheduled));
  CHECK(full.queued == 4);  // a refusal reports the full size
}

TEST_CASE("plan_admit: a full drop_oldest lane owes one eviction and keeps queued at the bound") {
  const auto first = lane::plan_admit(word(2, 0, lane::kScheduled), 2, MailboxPolicy::drop_oldest);
  CHECK(first.admit == lane::Admit::accepted_evicting);
  CHECK(first.took_head);  // nobody held the head: this sender evicts
  CHECK(first.next == word(3, 1, lane::kScheduled | lane::kHead));
  CHECK(lane::queued(first.next) == 2);
  CHECK(first.queued == 2);  // what the send reports: one in, one owed

  const auto second = lane::plan_admit(first.next, 2, MailboxPolicy::drop_oldest);
  CHECK(second.admit == lane::Admit::accepted_evicting);
  CHECK_FALSE(second.took_head);  // the holder evicts for it before letting go
  CHECK(second.next == word(4, 2, lane::kScheduled | lane::kHead));
  CHECK(lane::queued(second.next) == 2);

  const auto saturated = lane::plan_admit(word(2 + lane::kOwedMax, lane::kOwedMax, lane::kHead), 2,
                                          MailboxPolicy::drop_oldest);
  CHECK(saturated.admit == lane::Admit::owed_saturated);
}

TEST_CASE("plan_claim: the owner takes one message and the head together; busy while another holds it") {
  const auto take = lane::plan_claim(word(3, 0, lane::kScheduled | lane::kWantsUser), true);
  CHECK(take.claim == lane::Claim::claimed);
  CHECK(take.takes);
  CHECK(take.next == word(2, 0, lane::kScheduled | lane::kWantsUser | lane::kHead));

  CHECK(lane::plan_claim(word(3, 1, lane::kHead), true).claim == lane::Claim::busy);
  CHECK(lane::plan_claim(word(3, 0, lane::kHead | lane::kAbandoned), true).claim ==
        lane::Claim::busy);
  CHECK(lane::plan_claim(word(0, 0, lane::kScheduled), true).claim == lane::Claim::nothing);
  CHECK(lane::plan_claim(word(3, 0, lane::kScheduled), false).claim == lane::Claim::nothing);
  // Not wanting user messages, but evictions are owed: the head is claimed for them alone.
  const auto owed_only = lane::plan_claim(word(3, 1, lane::kScheduled), false);
  CHECK(owed_only.claim == lane::Claim::claimed);
  CHECK_FALSE(owed_only.takes);
  CHECK(owed_only.next == word(3, 1, lane::kScheduled | lane::kHead));
}

TEST_CASE("a reject lane counts in on the word and out beside it, both mod 2^32") {
  // 5 counted in, 2 taken by the owner: 3 queued.
  CHECK(lane::queued(word(5, 0, lane::kScheduled), 2) == 3);
  CHECK(lane::in_lane(word(5, 0, 0), 5) == 0);
  // The word's count wrapped past 2^32 and the owner's has not yet: still 3 queued.
  constexpr std::uint32_t near_wrap = 0xffff'fffeU;
  CHECK(lane::queued(word(1, 0, lane::kScheduled), near_wrap) == 3);
  // A count that wraps does not carry into `owed`, nor does a discard borrow from it.
  CHECK(lane::plus_one(word(lane::kPhysicalMask, 0, lane::kScheduled)) ==
        word(0, 0, lane::kScheduled));
  CHECK(lane::minus_one(word(0, 0, lane::kClosed)) == word(lane::kPhysicalMask, 0, lane::kClosed));
  CHECK(lane::owed(lane::plus_one(word(lane::kPhysicalMask, 0, 0))) == 0);
  // A full lane refuses, and one take later it has room again.
  const std::uint64_t full = word(9, 0, lane::kScheduled | lane::kWantsUser);
  CHECK(lane::plan_admit(full, 4, MailboxPolicy::reject, 5).admit == lane::Admit::refused_full);
  const auto room = lane::plan_admit(full, 4, MailboxPolicy::reject, 6);
  CHECK(room.admit == lane::Admit::accepted);
  CHECK(room.next == word(10, 0, lane::kScheduled | lane::kWantsUser));
  CHECK(room.queued == 4);  // what the send reports
  CHECK(lane::queued(room.next, 6) == 4);
  // Idle only once the owner's count caught up with the word's.
  CHECK(lane::plan_idle(full, true, 8).idle == lane::Idle::has_work);
  CHECK(lane::plan_idle(full, true, 9).idle == lane::Idle::idle);
}

TEST_CASE("a sender's stale reading counts as empty, never as a huge queue") {
  // The sender read the word at 5 counted in; by its read of `taken` the owner had taken 7
  // (two messages counted after that word). The difference is "negative": nothing queued,
  // so the sender tries its CAS, which fails on the word that moved, and reads both again.
  CHECK(lane::queued(word(5, 0, lane::kScheduled), 7) == 0);
  CHECK(lane::plan_admit(word(5, 0, lane::kScheduled), 1, MailboxPolicy::reject, 7).admit ==
        lane::Admit::accepted);
  // The largest real difference is still read as it is.
  CHECK(lane::queued(word(lane::kMaxInbox, 0, 0), 0) == lane::kMaxInbox);
}

TEST_CASE("plan_release: nothing owed lets go of the head; anything owed must be evicted first") {
  CHECK(lane::plan_release(word(2, 0, lane::kHead | lane::kScheduled)).next == word(2, 0, lane::kScheduled));
  CHECK(lane::plan_release(word(3, 1, lane::kHead)).must_evict);
  CHECK(word(3, 1, lane::kHead) - lane::kEvictedOne == word(2, 0, lane::kHead));
}

TEST_CASE("plan_idle: a posted system message or a wanted user message keeps the process scheduled") {
  const auto sys = lane::plan_idle(word(0, 0, lane::kScheduled | lane::kSysPending), true);
  CHECK(sys.idle == lane::Idle::recheck_system);
  CHECK(sys.next == word(0, 0, lane::kScheduled));

  CHECK(lane::plan_idle(word(1, 0, lane::kScheduled | lane::kWantsUser), true).idle ==
        lane::Idle::has_work);

  const auto starting =
      lane::plan_idle(word(1, 0, lane::kScheduled), false);  // queued, but not wanted yet
  CHECK(starting.idle == lane::Idle::idle);
  CHECK(starting.next == word(1, 0, 0));

  const auto evicting =
      lane::plan_idle(word(2, 2, lane::kScheduled | lane::kWantsUser | lane::kHead), true);
  CHECK(evicting.idle == lane::Idle::idle);  // owed messages are the head holder's, not the owner's
}

TEST_CASE("plan_idle: the owner's intent decides, and the idle word carries it to senders") {
  // The owner's init wanted user messages while scheduled; the word's bit is not set yet.
  CHECK(lane::plan_idle(word(1, 0, lane::kScheduled), true).idle == lane::Idle::has_work);
  const auto started = lane::plan_idle(word(0, 0, lane::kScheduled), true);
  CHECK(started.idle == lane::Idle::idle);
  CHECK(started.next == word(0, 0, lane::kWantsUser));  // a send now wakes the process
  CHECK(lane::plan_admit(started.next, 4, phyx::MailboxPolicy::reject).wake);
  // A stop cleared the intent while scheduled: the queued message does not keep it busy,
  // and the idle word no longer lets a send wake it.
  const auto stopped = lane::plan_idle(word(1, 0, lane::kScheduled | lane::kWantsUser), false);
  CHECK(stopped.idle == lane::Idle::idle);
  CHECK(stopped.next == word(1, 0, 0));
  CHECK_FALSE(lane::plan_admit(stopped.next, 4, phyx::MailboxPolicy::reject).wake);
}
