// engine/mailbox/mailbox.cpp — the lock-free bounded mailbox (SPEC 5).
//
// Two intrusive MPSC queues (user lane, system lane; mpsc_queue.hpp), one 64-bit state
// word (lane_word.hpp: physical count, owed evictions, scheduled, wants_user, closed,
// sys_pending, head) and, for a `reject` lane, the owner's count of taken messages beside
// it (`taken_`). Every decision a sender makes is one CAS on the word, so the bound, the
// policy and the wake-up are decided together.
//
// Protocol:
//  1. Send (any thread): offer() loads the word (acquire), then the owner's `taken_`, and
//     CASes physical + 1 into the word unless the lane is closed or full (reject:
//     physical - taken >= max_inbox). `taken_` only grows, and it is read after the word:
//     an acceptance by the CAS leaves at most max_inbox queued (the owner has taken at
//     least that many by then). A `taken_` that counts a take of a message the word did not
//     count yet makes the difference "negative"; lane::queued() reads that as empty, and
//     the CAS, on a word that has moved since, fails and reloads both. A refusal, which no
//     CAS checks, first reads the word again and starts over if it moved; if it did not,
//     the lane was full as of the count's load. At a full
//     drop_oldest lane the CAS adds 1 to physical AND to owed (queued stays max_inbox) and,
//     if nobody holds `head`, takes it. If the process was idle and wants user messages,
//     the same CAS sets `scheduled`: that sender, and only it, enqueues the process
//     ("became runnable" once per idle -> busy edge).
//  2. The sender links its envelope (push: one exchange). A sender holding `head` first
//     evicts everything owed (so its own message is never the one evicted), pushes, then
//     release_head() evicts whatever was owed meanwhile and lets go.
//  3. The owner (the thread that holds `scheduled`) takes a message:
//     a. `reject` (take_counted): no atomic RMW. It stores `in_take_` = true, passes the
//        light side of an asymmetric fence (platform/asymmetric_fence.hpp: a compiler
//        barrier), loads the word, and if no one holds `head` and physical - taken > 0,
//        unlinks the oldest message, then stores taken + 1 and `in_take_` = false
//        (release). The message is in hand from the count's store: until then it counts
//        as queued, which only makes a sender refuse a little sooner, never lets the lane
//        hold more than max_inbox. Only shutdown (step 6) and the owner's own discard
//        take `head` on a reject lane (nothing is ever owed there).
//     b. `drop_oldest` (take_claimed): one CAS takes physical - 1 and `head` together, so
//        no eviction can reach the message in hand; the owner evicts the owed messages that
//        precede its own, unlinks it, and lets go of `head`.
//     Either way the take leaves its message linked as the user lane's dummy (no RMW even
//     when the lane empties: user_lane.hpp), and the owner hands it back with retire()
//     once done; the next take frees it. Evictions and discards unlink detached
//     (take_detached).
//  4. Idle: the owner clears `scheduled` with a CAS that fails if sys_pending is set or a
//     wanted user message is counted (physical - taken > 0, with its own exact `taken_`); a
//     sender that counts its message after that CAS sees `scheduled` clear and enqueues
//     the process (step 1). No lost wake-up: the decision and the count live in one word
//     (the owner's count cannot move while it runs the CAS). The same CAS installs
//     `wants_user`: while it holds `scheduled` the owner changes its mind in a plain field
//     (init, stop and crash each did a locked RMW on the word for a bit no sender reads
//     until now).
//  5. System posts push first, then fetch_or(sys_pending | scheduled): the owner either
//     sees sys_pending in its idle CAS (and looks again) or the poster sees `scheduled`
//     clear and enqueues the process.
//  6. Stop / failure: close() refuses further offers; discard_all() takes `head` and
//     unlinks every counted message, each counted out of physical by a CAS (waiting for
//     pushes in flight: their offers were counted before the close). A closed lane with
//     nothing counted stays empty, so discard_all() then only loads the word. At the
//     shutdown deadline seal_abandoned() takes `head` and finish_abandoned() unlinks every
//     counted message from another thread; `head` is never let go of, so a worker still
//     inside the process can never take again. A reject lane's owner takes without `head`
//     (3a), so shutdown, after the seal's CAS on the word, passes the heavy side of the
//     asymmetric fence (membarrier: every thread of the process executes a full barrier)
//     and waits while `in_take_` is set (acquire, paired with 3a's release). The fence's
//     store-buffering argument: either the owner's look at the word comes after its
//     barrier and sees `head` (it takes nothing), or its `in_take_` = true was visible
//     before the fence returned and finish_abandoned() waits for the unlink to finish.
//     The fence orders every store the thread made before it, so a shutdown that
//     abandons many lanes splits the call: seal_abandoned() on each (the CAS), one heavy
//     fence for all, then finish_abandoned() on each (the wait and the unlinks);
//     abandon_all() is the three for one lane. With a worker spinning in a stuck handler
//     each fence interrupts its CPU (~15 us here): one per lane made a shutdown of 100,000
//     processes take a second past its deadline.
// Invariants: queued = physical - taken - owed <= max_inbox at every instant (senders only
// grow physical through the CAS that checks it, and `taken_` only grows); owed > 0 implies
// some thread holds `head` and will evict before letting go; only the `head` holder, or a
// reject lane's owner between its look at the word and `in_take_` = false, unlinks user
// messages or touches next_seq_; a message leaves the lane exactly once: taken, evicted or
// discarded; `taken_` is written only by a reject lane's owner (a drop_oldest lane's stays 0);
// every write to the word is an RMW, so each continues the release sequence a sender's CAS
// heads, and a word once replaced never comes back short of 2^32 sends: a sender's stale
// reading (step 1) can end only in a failed CAS or in a refusal it re-checks.
// Rejected: a mutex per mailbox (a lock on every send; the profile of the previous
// design spent 24 % of ping-pong in it); eviction only by the owner (an ask evicted while
// the owner runs a long handler would fail late, and evicted messages would pile up
// without bound); a Treiber stack (see mpsc_queue.hpp); a 128-bit CAS for wider counts
// (needs cmpxchg16b and libatomic, for a bound nobody needs beyond 2^31); for 3a, the
// owner's CAS on the word with a parity bit that shutdown waited for (sessions 11-27: one
// locked RMW per message; the count beside the word measured 1.15-1.18x on fan-in, 1.16x
// on ring-multi, 1.06x on ask, the rest within noise: engine/mailbox/README.md), and a full
// fence per take instead of the asymmetric one (it costs what the CAS did); for 3a on
// drop_oldest lanes too (an evicting sender must count the owner's take out of what it may
// evict, in its CAS).
// Waiting: unlinking waits (yields) only for a push between its two instructions, a
// sender spins only while 2^24 evictions are owed, and finish_abandoned() only while the owner
// is inside one take; none waits on a lock holder.
#include "phyx/detail/mailbox.hpp"

#include <thread>

#include "mailbox/lane_word.hpp"
#include "platform/asymmetric_fence.hpp"

namespace phyx::detail {

Mailbox::Mailbox(bool scheduled) noexcept : word_(scheduled ? lane::kScheduled : 0) {}

Mailbox::Admission Mailbox::offer(std::size_t max_inbox, MailboxPolicy policy) noexcept {
  // acquire: orders the load of `taken_` below after it (step 1), and pairs with the
  // release of the word's last writer; the CAS checks the value.
  std::uint64_t w = word_.load(std::memory_order_acquire);
  for (;;) {
    // relaxed: a count that only grows, read after the word (the acquire above, or the
    // failed CAS's acquire); no data comes with it. Written by take_counted()'s store.
    const std::uint32_t taken = taken_.load(std::memory_order_relaxed);
    const lane::AdmitPlan plan = lane::plan_admit(w, max_inbox, policy, taken);
    switch (plan.admit) {
      case lane::Admit::refused_closed:
        return {Offer::refused_closed, false, false, false, plan.queued};
      case lane::Admit::refused_full: {
        // A refusal has no CAS to check it: the word must not have moved since it was read,
        // or a `taken_` read after it might belong to a much later word (a sender preempted
        // between its two loads). Unmoved, the count read in between is no newer than the
        // word, and the refusal holds as of that read. acquire: as the first load.
        const std::uint64_t now = word_.load(std::memory_order_acquire);
        if (now != w) {
          w = now;
          continue;
        }
        return {Offer::refused_full, false, false, false, plan.queued};
      }
      case lane::Admit::owed_saturated:
        std::this_thread::yield();  // 2^24 evictions pending: let their holder catch up
        w = word_.load(std::memory_order_acquire);  // re-read, as above; the CAS checks it
        continue;
      case lane::Admit::accepted:
      case lane::Admit::accepted_evicting:
        break;
    }
    // acq_rel: acquire pairs with release_head()'s release CAS when this sender takes
    // `head` (it then sees the lane as the last holder left it) and with try_idle()'s
    // release when it takes `scheduled`; release keeps the load of `taken_` before it and
    // publishes nothing else yet (push does). Failure: acquire, as the first load.
    if (word_.compare_exchange_weak(w, plan.next, std::memory_order_acq_rel,
                                    std::memory_order_acquire)) {
      return {Offer::accepted, plan.admit == lane::Admit::accepted_evicting, plan.took_head,
              plan.wake, plan.queued};
    }
  }
}

Envelope* Mailbox::unlink_oldest() noexcept {
  for (;;) {
    if (MailNode* n = user_.take_detached()) return static_cast<Envelope*>(n);
    std::this_thread::yield();  // counted but in flight: its sender is two instructions from linking it
  }
}

// Inlined into both takes (LTO otherwise keeps it a call: ~25 instructions a message).
[[gnu::always_inline]] inline Envelope* Mailbox::take_oldest() noexcept {
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
  return policy == MailboxPolicy::reject ? take_counted(out) : take_claimed(out, evicted);
}

Mailbox::Take Mailbox::take_counted(Envelope*& out) noexcept {
  if (!wants_user_) return Take::nothing;  // nothing is ever owed on a reject lane
  // Step 3a. relaxed, then the light fence: the store-buffering pair with shutdown's seal
  // (seal_abandoned()'s CAS), heavy fence and load of in_take_ (finish_abandoned();
  // platform/asymmetric_fence.hpp).
  in_take_.store(true, std::memory_order_relaxed);
  asymmetric_fence_light();
  // acquire: pairs with offer()'s release CAS (the count; the node itself comes through the
  // lane's links). Shutdown's sealed head is seen through the fence pair, not this acquire.
  const std::uint64_t w = word_.load(std::memory_order_acquire);
  // relaxed: the owner's own count. The owner role may have moved here from another thread;
  // try_idle()'s release CAS, the waking sender's acquire CAS and the run queue carried it.
  const std::uint32_t taken = taken_.load(std::memory_order_relaxed);
  Take result = Take::nothing;
  if (lane::has(w, lane::kHead)) {
    result = Take::busy;  // shutdown holds it for good (our own discard runs on this thread)
  } else if (lane::in_lane(w, taken) > 0) {  // exact: our own count; nothing is owed here
    out = take_oldest();  // left linked as the lane's dummy: no RMW (user_lane.hpp step 3)
    out->seq = next_seq_++;
    // relaxed: the message is in hand from here. No data comes with the count: senders read
    // it after their acquire of the word (step 1), finish_abandoned() after its acquire of
    // in_take_ below, queued() between two acquire loads of the word.
    taken_.store(taken + 1, std::memory_order_relaxed);
    result = Take::message;
  }
  // release: pairs with finish_abandoned()'s acquire wait; our unlink is done and visible.
  in_take_.store(false, std::memory_order_release);
  return result;
}

Mailbox::Take Mailbox::take_claimed(Envelope*& out, DropChain& evicted) noexcept {
  std::uint64_t w = word_.load(std::memory_order_relaxed);  // a first guess; the CAS checks it
  lane::ClaimPlan plan{};
  for (;;) {
    plan = lane::plan_claim(w, wants_user_);
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
  release_head(evicted);
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
  // relaxed: the owner's own count, exact here (see take_counted() for its hand-off).
  const std::uint32_t taken = taken_.load(std::memory_order_relaxed);
  std::uint64_t w = word_.load(std::memory_order_acquire);  // pairs with post_system()'s fetch_or
  for (;;) {
    const lane::IdlePlan plan = lane::plan_idle(w, wants_user_, taken);
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

bool Mailbox::claim_head(std::uint64_t extra_bits) noexcept {
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
      return true;
    }
  }
}

void Mailbox::remove_all_held(DropChain& evicted, DropChain& discarded) noexcept {
  evict_owed(evicted);
  // Closed: no offer can count a new message, and those counted before the close are
  // linked within a few instructions (unlink_oldest() waits for them).
  // relaxed: the owner's count, stable here: we are the owner (discard_all()), or
  // finish_abandoned() read in_take_ clear with acquire, after the owner's last store of it.
  const std::uint32_t taken = taken_.load(std::memory_order_relaxed);
  // acquire: pairs with offer()'s CAS (the count of messages to wait for).
  std::uint64_t w = word_.load(std::memory_order_acquire);
  while (lane::queued(w, taken) > 0) {
    Envelope* e = unlink_oldest();
    e->seq = next_seq_++;
    // acq_rel: after the unlink; pairs with offer()'s CAS. A CAS, not a fetch_sub: a reject
    // lane's physical runs mod 2^32, and its wrap must not borrow from `owed`.
    while (!word_.compare_exchange_weak(w, lane::minus_one(w), std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
    }
    w = lane::minus_one(w);
    discarded.append(e);
  }
  evict_owed(evicted);  // an evicting offer counted just before the close
}

void Mailbox::discard_all(DropChain& evicted, DropChain& discarded) noexcept {
  // Step 6's fast path: closed with nothing counted stays so (no offer counts a message
  // on a closed lane, and owed evictions are counted in physical), so there is nothing to
  // unlink and no head to take: every stop discards, and most lanes are empty by then.
  // "Nothing counted" is physical - taken == 0: a reject lane's physical only grows.
  // acquire: pairs with the release of the last head holder and with offer()'s CAS.
  const std::uint64_t w = word_.load(std::memory_order_acquire);
  // relaxed: the owner's own count (discard_all() is the owner's), exact here.
  const std::uint32_t taken = taken_.load(std::memory_order_relaxed);
  if (lane::has(w, lane::kClosed) && lane::in_lane(w, taken) == 0) return;
  if (!claim_head(0)) return;  // abandoned: shutdown discarded the lane already
  remove_all_held(evicted, discarded);
  release_head(evicted);
}

void Mailbox::abandon_all(DropChain& evicted, DropChain& discarded, MailboxPolicy policy) noexcept {
  if (!seal_abandoned()) return;                                  // abandoned twice
  if (policy == MailboxPolicy::reject) asymmetric_fence_heavy();  // step 6: see finish_abandoned()
  finish_abandoned(evicted, discarded, policy);
}

bool Mailbox::seal_abandoned() noexcept {
  return claim_head(lane::kClosed | lane::kAbandoned);
}

void Mailbox::finish_abandoned(DropChain& evicted, DropChain& discarded,
                               MailboxPolicy policy) noexcept {
  // A drop_oldest lane's owner takes under the head, which seal_abandoned() waited for.
  if (policy == MailboxPolicy::reject) {
    // Step 6: the owner may be inside a take it began before our claim. The caller's heavy
    // fence, made after our claim's CAS, pairs with take_counted()'s light one (the
    // kernel's full barrier on entry orders our CAS before it): then its in_take_ is
    // visible, or its look at the word sees our head.
    // acquire: pairs with take_counted()'s release store (its unlink is then done and visible).
    while (in_take_.load(std::memory_order_acquire)) std::this_thread::yield();
  }
  remove_all_held(evicted, discarded);
  // `head` stays ours: a worker coming back from a stuck handler finds it busy and leaves.
}

void Mailbox::preset_reject_counts_for_tests(std::uint32_t start) noexcept {
  // relaxed: no other thread sees the mailbox yet; its publication orders these stores.
  const std::uint64_t w = word_.load(std::memory_order_relaxed);
  word_.store((w & ~lane::kPhysicalMask) | start, std::memory_order_relaxed);
  taken_.store(start, std::memory_order_relaxed);
}

std::size_t Mailbox::queued_as_owner() const noexcept {
  // relaxed: the owner's own count, exact (see take_counted() for its hand-off).
  const std::uint32_t taken = taken_.load(std::memory_order_relaxed);
  // acquire: pairs with offer()'s release CAS, so the count read is never above the bound.
  return lane::queued(word_.load(std::memory_order_acquire), taken);
}

std::size_t Mailbox::queued() const noexcept {
  // A snapshot of two words that move apart (a reject lane's count in and its owner's count
  // out), linearised at the load of the count out: it is exact if the word's count did not
  // move across that load. If it keeps moving (a busy lane), the word read before the
  // count gives a lower bound instead, as in offer() (step 1): a snapshot may be stale but
  // never shows more than max_inbox queued, as the count out read before the word could.
  // acquire (every load here): each keeps the next load after it; the word's pair with
  // offer()'s release CAS. The count needs no partner (no data comes with it).
  std::uint64_t before = word_.load(std::memory_order_acquire);
  for (int attempt = 0;; ++attempt) {
    const std::uint32_t taken = taken_.load(std::memory_order_acquire);
    const std::uint64_t after = word_.load(std::memory_order_acquire);
    if (lane::physical(after) == lane::physical(before) || attempt == 3)
      return lane::queued(before, taken);
    before = after;
  }
}

bool Mailbox::closed() const noexcept {
  return lane::has(word_.load(std::memory_order_relaxed), lane::kClosed);  // a snapshot
}

}  // namespace phyx::detail
