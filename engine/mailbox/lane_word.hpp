// engine/mailbox/lane_word.hpp — the mailbox's state word and its transitions, as pure
// functions of a 64-bit value (tested in tests/mailbox/lane_word_test.cpp without threads).
//
// Every decision a sender or the owner makes about a mailbox is one compare-and-swap on
// one word, so "is there room", "who wakes the process" and "may the owner go idle" are
// answered together, atomically, and cannot disagree.
//
// Layout (bit 0 = least significant):
//   0..31  physical  messages in the user lane, counting pushes still in flight and
//                    messages owed to eviction (see `owed`)
//   32..55 owed      drop_oldest evictions decided but not yet carried out; whoever holds
//                    `head` carries them out before letting go of it
//   56     scheduled the process is in a run queue or running (the consumer role)
//   57     wants_user the owner handles user messages now (running or draining); exact
//                    while the process is idle, which is when senders read it (a wake-up
//                    needs it); while it is scheduled the owner keeps its intent in the
//                    mailbox and installs it with its idle CAS (plan_idle)
//   58     closed    sends are refused (stopping, stopped, failed)
//   59     sys_pending a system message was posted since the owner last looked
//   60     head      someone is unlinking from the head of the user lane (the owner popping,
//                    a sender evicting, or shutdown discarding an abandoned process)
//   61     abandoned shutdown holds `head` for good (set together with it)
//   62     take_parity flipped by every owner claim; under `reject` the owner claims
//                    without `head` (nothing can be owed, so only shutdown competes at the
//                    head) and publishes the parity once its unlink is done, which is
//                    what shutdown waits for before it unlinks (mailbox.cpp step 6)
// queued = physical - owed is what SPEC 5 bounds: queued <= max_inbox at every instant.
#pragma once

#include <cstdint>

#include "mailbox/overflow.hpp"
#include "phyx/status.hpp"

namespace phyx::detail::lane {

inline constexpr std::uint64_t kPhysicalMask = 0xffff'ffffULL;
inline constexpr int kOwedShift = 32;
inline constexpr std::uint64_t kOwedOne = 1ULL << kOwedShift;
inline constexpr std::uint64_t kOwedMax = (1ULL << 24) - 1;
inline constexpr std::uint64_t kScheduled = 1ULL << 56;
inline constexpr std::uint64_t kWantsUser = 1ULL << 57;
inline constexpr std::uint64_t kClosed = 1ULL << 58;
inline constexpr std::uint64_t kSysPending = 1ULL << 59;
inline constexpr std::uint64_t kHead = 1ULL << 60;
inline constexpr std::uint64_t kAbandoned = 1ULL << 61;
inline constexpr std::uint64_t kTakeParity = 1ULL << 62;
/// The largest max_inbox the word can bound (physical must fit max_inbox + owed).
inline constexpr std::uint64_t kMaxInbox = (1ULL << 31) - 1;

constexpr std::uint64_t physical(std::uint64_t w) noexcept { return w & kPhysicalMask; }
constexpr std::uint64_t owed(std::uint64_t w) noexcept { return (w >> kOwedShift) & kOwedMax; }
constexpr std::uint64_t queued(std::uint64_t w) noexcept { return physical(w) - owed(w); }
constexpr bool has(std::uint64_t w, std::uint64_t bit) noexcept { return (w & bit) != 0; }

// ---- a sender offering one user message -------------------------------------------

enum class Admit : std::uint8_t {
  refused_closed,   // closed: a dead letter (not_running / stopped)
  refused_full,     // reject policy, lane full
  accepted,         // room: queued + 1
  accepted_evicting,  // drop_oldest, lane full: accepted, and one oldest message is owed
  owed_saturated,   // drop_oldest with kOwedMax evictions pending: retry shortly
};

struct AdmitPlan {
  Admit admit;
  std::uint64_t next;  // the word to install (== w when refused)
  bool wake;           // this send moved the process from idle to scheduled: enqueue it
  bool took_head;      // this sender now holds `head` and must carry out the owed evictions
};

constexpr AdmitPlan plan_admit(std::uint64_t w, std::uint64_t max_inbox, MailboxPolicy policy) noexcept {
  if (has(w, kClosed)) return {Admit::refused_closed, w, false, false};
  std::uint64_t next = w + 1;
  Admit admit = Admit::accepted;
  bool took_head = false;
  switch (decide_overflow(queued(w), max_inbox, policy)) {
    case Overflow::reject:
      return {Admit::refused_full, w, false, false};
    case Overflow::evict_oldest_then_accept:
      if (owed(w) == kOwedMax) return {Admit::owed_saturated, w, false, false};
      next += kOwedOne;
      admit = Admit::accepted_evicting;
      if (!has(w, kHead)) {
        next |= kHead;
        took_head = true;
      }
      break;
    case Overflow::accept:
      break;
  }
  const bool wake = !has(w, kScheduled) && has(w, kWantsUser);
  if (wake) next |= kScheduled;
  return {admit, next, wake, took_head};
}

// ---- the owner (or an evicting sender) at the head ---------------------------------

enum class Claim : std::uint8_t {
  nothing,  // no message for the caller and nothing owed
  busy,     // someone else holds `head`: try again shortly
  claimed,  // the caller holds `head`; `takes` says whether one message is now its own
};

struct ClaimPlan {
  Claim claim;
  std::uint64_t next;
  bool takes;  // one message was taken off the count (physical - 1) for the caller
};

/// The owner claims the head to take one message (when `take` and one is queued) and to
/// carry out owed evictions. The taken message stops counting at once: it is "in hand".
/// `exclusive` (drop_oldest): `head` is taken and must be released; otherwise (reject,
/// where no sender ever unlinks) only take_parity flips: one atomic operation per take.
constexpr ClaimPlan plan_claim(std::uint64_t w, bool take, bool exclusive) noexcept {
  if (has(w, kHead)) return {Claim::busy, w, false};
  const bool takes = take && queued(w) > 0;
  if (!takes && owed(w) == 0) return {Claim::nothing, w, false};
  std::uint64_t next = (w ^ kTakeParity) - (takes ? 1 : 0);
  if (exclusive) next |= kHead;
  return {Claim::claimed, next, takes};
}

/// The holder of `head` letting go of it: only once nothing is owed (else evict first).
struct ReleasePlan {
  bool must_evict;
  std::uint64_t next;
};
constexpr ReleasePlan plan_release(std::uint64_t w) noexcept {
  if (owed(w) > 0) return {true, w};
  return {false, w & ~kHead};
}

/// One owed eviction carried out: physical - 1, owed - 1.
inline constexpr std::uint64_t kEvictedOne = 1 + kOwedOne;

// ---- the owner going idle ------------------------------------------------------------

enum class Idle : std::uint8_t {
  recheck_system,  // a system message was posted: clear sys_pending and look again
  has_work,        // user messages are queued and wanted
  idle,            // install `next`: not scheduled any more
};

struct IdlePlan {
  Idle idle;
  std::uint64_t next;
};

/// `wants_user`: the owner's intent, which the word's bit may not show yet (see the layout).
constexpr IdlePlan plan_idle(std::uint64_t w, bool wants_user) noexcept {
  if (has(w, kSysPending)) return {Idle::recheck_system, w & ~kSysPending};
  if (wants_user && queued(w) > 0) return {Idle::has_work, w};
  return {Idle::idle, (w & ~(kScheduled | kWantsUser)) | (wants_user ? kWantsUser : 0)};
}

}  // namespace phyx::detail::lane
