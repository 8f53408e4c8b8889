// engine/mailbox/mailbox.cpp — the lock-free bounded mailbox (SPEC 5).
//
// Two intrusive MPSC queues (user lane, system lane; mpsc_queue.hpp) and one 64-bit state
// word (lane_word.hpp: physical count, owed evictions, scheduled, wants_user, closed,
// sys_pending, head). Every decision is one CAS on the word, so the bound, the policy and
// the wake-up are decided together.
//
// Protocol:
//  1. Send (any thread): offer() CASes physical + 1 into the word unless the lane is
//     closed or full (reject). At a full drop_oldest lane it adds 1 to physical AND to owed
//     (queued stays max_inbox) and, if nobody holds `head`, takes it. If the process was
//     idle and wants user messages, the same CAS sets `scheduled`: that sender, and only
//     it, enqueues the process ("became runnable" once per idle -> busy edge).
//  2. The sender links its envelope (push: one exchange). A sender holding `head` first
//     evicts everything owed (so its own message is never the one evicted), pushes, then
//     release_head() evicts whatever was owed meanwhile and lets go.
//  3. The owner (the thread that holds `scheduled`) takes a message by CASing physical - 1
//     and a flip of take_parity together: the message is "in hand" from that instant and
//     no eviction can reach it. Under drop_oldest the same CAS takes `head`; the owner
//     evicts the owed messages that precede its own, unlinks it, and lets go of `head`.
//     Under reject nothing is ever owed, so `head` is not taken (one atomic RMW per
//     message instead of two); the owner publishes the parity after the unlink instead.
//     The owner's take leaves its message linked as the user lane's dummy (no RMW even
//     when the lane empties: user_lane.hpp), and hands it back with retire() once done;
//     the next take frees it. Evictions and discards unlink detached (take_detached).
//  4. Idle: the owner clears `scheduled` with a CAS that fails if sys_pending is set or a
//     wanted user message is counted; a sender that counts its message after that CAS
//     sees `scheduled` clear and enqueues the process (step 1). No lost wake-up: the
//     decision and the count live in one word. The same CAS installs `wants_user`: while
//     it holds `scheduled` the owner changes its mind in a plain field (init, stop and
//     crash each did a locked RMW on the word for a bit no sender reads until now).
//  5. System posts push first, then fetch_or(sys_pending | scheduled): the owner either
//     sees sys_pending in its idle CAS (and looks again) or the poster sees `scheduled`
//     clear and enqueues the process.
//  6. Stop / failure: close() refuses further offers; discard_all() takes `head` and
//     unlinks every counted message (waiting for pushes in flight: their offers were
//     counted before the close). A closed lane with nothing counted stays empty, so
//     discard_all() then only loads the word. At the shutdown deadline abandon_all()
//     takes `head` and unlinks every counted message from another thread, and never lets
//     go of `head`, so a worker still inside the
//     process can never claim again. A reject-policy owner may have claimed just before
//     (without `head`): the owner claims only after finishing its previous unlink, so
//     its published parity is either that of the claim abandon_all() saw or the one
//     before; abandon_all() waits until it matches before unlinking.
// Invariants: queued = physical - owed <= max_inbox at every instant (senders only grow
// physical through the CAS that checks it); owed > 0 implies some thread holds `head` and
// will evict before letting go; only the `head` holder unlinks user messages or touches
// next_seq_; a message leaves the lane exactly once: taken, evicted or discarded.
// Rejected: a mutex per mailbox (a lock on every send; the profile of the previous
// design spent 24 % of ping-pong in it); eviction only by the owner (an ask evicted while
// the owner runs a long handler would fail late, and evicted messages would pile up
// without bound); a Treiber stack (see mpsc_queue.hpp); a 128-bit CAS for wider counts
// (needs cmpxchg16b and libatomic, for a bound nobody needs beyond 2^31).
// Waiting: unlinking waits (yields) only for a push between its two instructions, and a
// sender spins only while 2^24 evictions are owed; neither waits on a lock holder.
#include "phyx/detail/mailbox.hpp"

#include <thread>

#include "mailbox/lane_word.hpp"

namespace phyx::detail {

Mailbox::Mailbox(bool scheduled) noexcept : word_(scheduled ? lane::kScheduled : 0) {}

Mailbox::Admission Mailbox::offer(std::size_t max_inbox, MailboxPolicy policy) noexcept {
  std::uint64_t w = word_.load(std::memory_order_relaxed);  // a first guess; the CAS checks it
  for (;;) {
    const lane::AdmitPlan plan = lane::plan_admit(w, max_inbox, policy);
    switch (plan.admit) {
      case lane::Admit::refused_closed:
        return {Offer::refused_closed, false, false, false, lane::queued(w)};
      case lane::Admit::refused_full:
        return {Offer::refused_full, false, false, false, lane::queued(w)};
      case lane::Admit::owed_saturated:
        std::this_thread::yield();  // 2^24 evictions pending: let their holder catch up
        w = word_.load(std::memory_order_relaxed);  // re-read; the CAS checks it
        continue;
      case lane::Admit::accepted:
      case lane::Admit::accepted_evicting:
        break;
    }
    // acq_rel: acquire pairs with release_head()'s release CAS when this sender takes
    // `head` (it then sees the lane as the last holder left it) and with try_idle()'s
    // release when it takes `scheduled`; release publishes nothing yet (push does).
    if (word_.compare_exchange_weak(w, plan.next, std::memory_order_acq_rel, std::memory_order_relaxed)) {
      return {Offer::accepted, plan.admit == lane::Admit::accepted_evicting, plan.took_head, plan.wake,
              lane::queued(plan.next)};
    }
  }
}

Envelope* Mailbox::unlink_oldest() noexcept {
  for (;;) {
    if (MailNode* n = user_.take_detached()) return static_cast<Envelope*>(n);
    std::this_thread::yield();  // counted but in flight: its sender is two instructions from linking it
  }
}

Envelope* Mailbox::take_oldest() noexcept {
  for (;;) {
    const UserLane::Taken taken = user_.take_retaining();
    if (taken.node != nullptr) {
      // The previous message's envelope, retired (its message destroyed already): freeing
      // it runs no user code, so it may happen here, at the head.
      delete static_cast<Envelope*>(taken.to_free);
      return static_cast<Envelope*>(taken.node);
    }
    std::this_thread::yield();  // counted but in flight: its sender is two instructions from
                                // linking it
  }
}

void Mailbox::retire(Envelope* e) noexcept {
  e->destroy_message();
  delete static_cast<Envelope*>(user_.retire(e));  // nullptr (a no-op) while it is the dummy
}

Envelope* Mailbox::pop_user_at_destruction() noexcept {
  if (MailNode* n = user_.take_detached()) return static_cast<Envelope*>(n);
  return static_cast<Envelope*>(user_.take_retired_dummy());
}

void Mailbox::evict_one(DropChain& evicted) noexcept {
  Envelope* e = unlink_oldest();
  e->seq = next_seq_++;
  // acq_rel: orders the unlink before the count drops (a sender reading the new count
  // never races the node); pairs with offer()'s CAS.
  word_.fetch_sub(lane::kEvictedOne, std::memory_order_acq_rel);
  evicted.append(e);
}

void Mailbox::evict_owed(DropChain& evicted) noexcept {
  // acquire: pairs with the offers that added to owed (their counts, not their nodes:
  // unlink_oldest() waits for the nodes).
  while (lane::owed(word_.load(std::memory_order_acquire)) > 0) evict_one(evicted);
}

void Mailbox::release_head(DropChain& evicted) noexcept {
  std::uint64_t w = word_.load(std::memory_order_relaxed);  // a first guess; the CAS checks it
  for (;;) {
    const lane::ReleasePlan plan = lane::plan_release(w);
    if (plan.must_evict) {
      evict_one(evicted);
      w = word_.load(std::memory_order_relaxed);  // a first guess; the CAS checks it
      continue;
    }
    // release: pairs with the acquire CAS of the next head holder (offer, take,
    // claim_head), which then sees head_ and next_seq_ as we leave them.
    if (word_.compare_exchange_weak(w, plan.next, std::memory_order_release, std::memory_order_relaxed)) return;
  }
}

Mailbox::Take Mailbox::take(Envelope*& out, DropChain& evicted, MailboxPolicy policy) noexcept {
  std::uint64_t w = word_.load(std::memory_order_relaxed);  // a first guess; the CAS checks it
  const bool exclusive = policy != MailboxPolicy::reject;
  lane::ClaimPlan plan{};
  for (;;) {
    plan = lane::plan_claim(w, wants_user_, exclusive);
    if (plan.claim == lane::Claim::nothing) return Take::nothing;
    if (plan.claim == lane::Claim::busy) return Take::busy;
    // acquire: pairs with release_head()'s release (the previous head holder's unlinks).
    if (word_.compare_exchange_weak(w, plan.next, std::memory_order_acquire, std::memory_order_relaxed)) break;
  }
  // The owed evictions counted before our CAS precede our message in the lane; those
  // added after it follow it (our message had already stopped counting).
  for (std::uint64_t k = lane::owed(w); k > 0; --k) evict_one(evicted);
  if (plan.takes) {
    out = take_oldest();  // left linked as the lane's dummy: no RMW (user_lane.hpp step 3)
    out->seq = next_seq_++;
  }
  // release: pairs with abandon_all()'s acquire wait; a plain store on an owner-only word.
  unlinked_parity_.store(lane::has(plan.next, lane::kTakeParity), std::memory_order_release);
  if (exclusive) release_head(evicted);
  return plan.takes ? Take::message : Take::nothing;
}

bool Mailbox::post_system(MailNode* n) noexcept {
  system_.push(n);
  // acq_rel: release orders the push before sys_pending (the owner's acquire in try_idle()
  // then finds the node); acquire pairs with try_idle()'s release when we take `scheduled`.
  const std::uint64_t before = word_.fetch_or(lane::kSysPending | lane::kScheduled, std::memory_order_acq_rel);
  return !lane::has(before, lane::kScheduled);
}

bool Mailbox::try_idle() noexcept {
  if (own_note_) return false;  // the owner's note to itself is work (try_set_own_note())
  std::uint64_t w = word_.load(std::memory_order_acquire);  // pairs with post_system()'s fetch_or
  for (;;) {
    const lane::IdlePlan plan = lane::plan_idle(w, wants_user_);
    if (plan.idle == lane::Idle::has_work) return false;
    // acq_rel: acquire pairs with post_system()'s fetch_or (clearing sys_pending, we must
    // see its node); release hands what this owner did to the next one, who takes
    // `scheduled` in offer() or post_system() with acquire.
    if (word_.compare_exchange_weak(w, plan.next, std::memory_order_acq_rel, std::memory_order_acquire)) {
      return plan.idle == lane::Idle::idle;
    }
  }
}

void Mailbox::set_wants_user(bool on) noexcept {
  wants_user_ = on;
  // relaxed: only the owner clears `scheduled`, so while it holds it, this load sees it
  // set, and try_idle() installs the bit (step 4). Otherwise (a mailbox driven by hand in
  // tests) the bit is written now.
  if (lane::has(word_.load(std::memory_order_relaxed), lane::kScheduled)) return;
  // relaxed: a flag the senders' CAS reads to decide the wake-up; it publishes no data.
  if (on) {
    word_.fetch_or(lane::kWantsUser, std::memory_order_relaxed);
  } else {
    word_.fetch_and(~lane::kWantsUser, std::memory_order_relaxed);
  }
}

void Mailbox::close() noexcept {
  word_.fetch_or(lane::kClosed, std::memory_order_relaxed);  // publishes no data; offers read it in their CAS
}

void Mailbox::close_as_owner() noexcept {
  // relaxed: only the owner clears kClosed (reopen()), and it is the caller.
  if (lane::has(word_.load(std::memory_order_relaxed), lane::kClosed)) return;
  close();
}

void Mailbox::reopen() noexcept {
  std::uint64_t w = word_.load(std::memory_order_relaxed);  // a first guess; the CAS checks it
  // Open already: nothing to write (only the owner clears kClosed, and it is the caller).
  while (lane::has(w, lane::kClosed) && !lane::has(w, lane::kAbandoned)) {
    // relaxed: publishes no data (senders read only the bit, in their CAS; queued nodes
    // were published by their own pushes); pairs with nothing.
    if (word_.compare_exchange_weak(w, w & ~lane::kClosed, std::memory_order_relaxed, std::memory_order_relaxed)) return;
  }
}

bool Mailbox::claim_head(std::uint64_t extra_bits, std::uint64_t* claimed) noexcept {
  std::uint64_t w = word_.load(std::memory_order_relaxed);  // a first guess; the CAS checks it
  for (;;) {
    if (lane::has(w, lane::kAbandoned)) return false;  // shutdown took the lane for good
    if (lane::has(w, lane::kHead)) {
      std::this_thread::yield();  // an evicting sender or the owner mid-take: a few steps
      w = word_.load(std::memory_order_relaxed);  // a first guess; the CAS checks it
      continue;
    }
    // acquire: pairs with release_head()'s release (the previous holder's unlinks).
    if (word_.compare_exchange_weak(w, w | lane::kHead | extra_bits, std::memory_order_acquire,
                                    std::memory_order_relaxed)) {
      if (claimed != nullptr) *claimed = w;
      return true;
    }
  }
}

void Mailbox::remove_all_held(DropChain& evicted, DropChain& discarded) noexcept {
  evict_owed(evicted);
  // Closed: no offer can count a new message, and those counted before the close are
  // linked within a few instructions (unlink_oldest() waits for them).
  // acquire: pairs with offer()'s CAS (the count of messages to wait for).
  while (lane::queued(word_.load(std::memory_order_acquire)) > 0) {
    Envelope* e = unlink_oldest();
    e->seq = next_seq_++;
    word_.fetch_sub(1, std::memory_order_acq_rel);  // after the unlink; pairs with offer()'s CAS
    discarded.append(e);
  }
  evict_owed(evicted);  // an evicting offer counted just before the close
}

void Mailbox::discard_all(DropChain& evicted, DropChain& discarded) noexcept {
  // Step 6's fast path: closed with nothing counted stays so (no offer counts a message
  // on a closed lane, and owed evictions are counted in physical), so there is nothing to
  // unlink and no head to take: every stop discards, and most lanes are empty by then.
  // acquire: pairs with the release of the last head holder and with offer()'s CAS.
  const std::uint64_t w = word_.load(std::memory_order_acquire);
  if (lane::has(w, lane::kClosed) && lane::physical(w) == 0) return;
  if (!claim_head(0, nullptr)) return;  // abandoned: shutdown discarded the lane already
  remove_all_held(evicted, discarded);
  release_head(evicted);
}

void Mailbox::abandon_all(DropChain& evicted, DropChain& discarded) noexcept {
  std::uint64_t w = 0;
  if (!claim_head(lane::kClosed | lane::kAbandoned, &w)) return;  // abandoned twice
  // Step 6: a reject-policy owner's last claim may still be unlinking; wait for its parity.
  // acquire: pairs with take()'s release store (its unlink is then done and visible).
  while (unlinked_parity_.load(std::memory_order_acquire) != lane::has(w, lane::kTakeParity)) {
    std::this_thread::yield();
  }
  remove_all_held(evicted, discarded);
  // `head` stays ours: a worker coming back from a stuck handler finds it busy and leaves.
}

std::size_t Mailbox::queued() const noexcept {
  return lane::queued(word_.load(std::memory_order_relaxed));  // a snapshot; publishes nothing
}

bool Mailbox::closed() const noexcept {
  return lane::has(word_.load(std::memory_order_relaxed), lane::kClosed);  // a snapshot
}

}  // namespace phyx::detail
