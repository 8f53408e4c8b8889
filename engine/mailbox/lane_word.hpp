// engine/mailbox/lane_word.hpp — the mailbox's state word and its transitions, as pure
// functions of a 64-bit value (tested in tests/mailbox/lane_word_test.cpp without threads).
//
// Every decision a sender or the owner makes about a mailbox is one compare-and-swap on
// one word, so "is there room", "who wakes the process" and "may the owner go idle" are
// answered together, atomically, and cannot disagree.
//
// Layout (bit 0 = least significant):
//   0..31  physical  messages counted into the user lane (pushes still in flight and
//                    messages owed to eviction included), mod 2^32. A `reject` lane's owner
//                    does not count its takes here but in its own count beside the word,
//                    `taken` (mailbox.cpp step 3): there physical only grows (mod 2^32), but
//                    for the discards of a stop. A `drop_oldest` lane's owner takes with the
//                    head, by a CAS that counts the message out here; its `taken` stays 0.
//   32..55 owed      drop_oldest evictions decided but not yet carried out; whoever holds
//                    `head` carries them out before letting go of it
//   56     scheduled the process is in a run queue or running (the consumer role)
//   57     wants_user the owner handles user messages now (running or draining); exact
//                    while the process is idle, which is when senders read it (a wake-up
//                    needs it); while it is scheduled the owner keeps its intent in the
//                    mailbox and installs it with its idle CAS (plan_idle)
//   58     closed    sends are refused (stopping, stopped, failed)
//   59     sys_pending a system message was posted since the owner last looked
//   60     head      someone is unlinking from the head of the user lane without the owner's
//                    count: a sender evicting or the owner taking (drop_oldest), a stop's
//                    discard, or shutdown discarding an abandoned process
//   61     abandoned shutdown holds `head` for good (set together with it)
// queued = physical - taken - owed (mod 2^32) is what SPEC 5 bounds: queued <= max_inbox at
// every instant.
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
/// The largest max_inbox the word can bound (physical must fit max_inbox + owed).
inline constexpr std::uint64_t kMaxInbox = (1ULL << 31) - 1;

constexpr std::uint64_t physical(std::uint64_t w) noexcept { return w & kPhysicalMask; }
constexpr std::uint64_t owed(std::uint64_t w) noexcept { return (w >> kOwedShift) & kOwedMax; }
/// The largest physical - taken a lane can hold: max_inbox plus the evictions owed.
inline constexpr std::uint64_t kInLaneMax = kMaxInbox + kOwedMax;
/// Messages counted into the lane and not taken (queued plus owed), exact when `taken` is
/// the owner's own, current count.
constexpr std::uint64_t in_lane(std::uint64_t w, std::uint32_t taken = 0) noexcept {
  return (w - taken) & kPhysicalMask;
}
/// Messages queued, given `taken`, the owner's count of the messages it took from a reject
/// lane (0 for drop_oldest, where physical - owed is exact). A sender reads `taken` after
/// the word, so the owner may by then have taken messages counted after that word was
/// read; physical - taken is then "below zero" (a wrapped value beyond kInLaneMax). Such a
/// reading is stale and counts as nothing queued: what the sender then decides, it decides
/// by a CAS that fails on the word that moved, or, for a refusal, after reading the word
/// again (mailbox.cpp step 1). Nothing is owed on a reject lane, so a stale reading never
/// meets `owed`; a drop_oldest lane's `taken` is 0, and its physical count includes what it
/// owes.
constexpr std::uint64_t queued(std::uint64_t w, std::uint32_t taken = 0) noexcept {
  const std::uint64_t counted = in_lane(w, taken);
  return counted > kInLaneMax ? 0 : counted - owed(w);
}
/// One more message counted in physical, mod 2^32: a reject lane's physical only grows, and
/// its wrap must not carry into `owed`.
constexpr std::uint64_t plus_one(std::uint64_t w) noexcept {
  return (w & ~kPhysicalMask) | ((w + 1) & kPhysicalMask);
}
/// One message counted out of physical (a discard), mod 2^32, without borrowing from `owed`.
constexpr std::uint64_t minus_one(std::uint64_t w) noexcept {
  return (w & ~kPhysicalMask) | ((w - 1) & kPhysicalMask);
}
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
  std::uint64_t queued = 0;  // queued after this plan (before it when refused): for reports
};

/// `taken`: the owner's count, read after `w` (mailbox.cpp step 1); 0 for drop_oldest.
constexpr AdmitPlan plan_admit(std::uint64_t w, std::uint64_t max_inbox, MailboxPolicy policy,
                               std::uint32_t taken = 0) noexcept {
  const std::uint64_t before = queued(w, taken);
  if (has(w, kClosed)) return {Admit::refused_closed, w, false, false, before};
  std::uint64_t next = plus_one(w);
  Admit admit = Admit::accepted;
  bool took_head = false;
  std::uint64_t after = before + 1;
  switch (decide_overflow(before, max_inbox, policy)) {
    case Overflow::reject:
      return {Admit::refused_full, w, false, false, before};
    case Overflow::evict_oldest_then_accept:
      if (owed(w) == kOwedMax) return {Admit::owed_saturated, w, false, false, before};
      next += kOwedOne;
      admit = Admit::accepted_evicting;
      after = before;  // one in, one owed to eviction
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
  return {admit, next, wake, took_head, after};
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

/// A drop_oldest lane's owner claims the head to take one message (when `take` and one is
/// queued) and to carry out owed evictions. The taken message stops counting at once: it
/// is "in hand". (A reject lane's owner takes without the word: mailbox.cpp step 3.)
constexpr ClaimPlan plan_claim(std::uint64_t w, bool take) noexcept {
  if (has(w, kHead)) return {Claim::busy, w, false};
  const bool takes = take && queued(w) > 0;
  if (!takes && owed(w) == 0) return {Claim::nothing, w, false};
  const std::uint64_t next = (takes ? minus_one(w) : w) | kHead;
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
/// `taken`: the owner's own count (exact: only the owner writes it).
constexpr IdlePlan plan_idle(std::uint64_t w, bool wants_user, std::uint32_t taken = 0) noexcept {
  if (has(w, kSysPending)) return {Idle::recheck_system, w & ~kSysPending};
  if (wants_user && in_lane(w, taken) > owed(w)) return {Idle::has_work, w};  // exact: no clamp
  return {Idle::idle, (w & ~(kScheduled | kWantsUser)) | (wants_user ? kWantsUser : 0)};
}

}  // namespace phyx::detail::lane
