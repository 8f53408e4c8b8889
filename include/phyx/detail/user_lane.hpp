// phyx/detail/user_lane.hpp — the user lane's queue: Vyukov's intrusive MPSC queue whose
// consumer keeps the node it took last as the queue's dummy (not for users).
//
// mpsc_queue.hpp's queue hands out every node detached, so taking the last node costs an
// exchange: the stub is pushed behind it first, so that a later push cannot write into a
// node its consumer has freed. A mailbox empties at almost every message in ping-pong,
// ring and ask, so that was one of the five locked RMWs each message paid. Here the taken
// node stays linked as the dummy instead, as in Vyukov's non-intrusive queue, until the
// next take moves past it: a take is one load and one plain store, with no RMW.
//
// Protocol:
//  1. push (any thread): link_at_tail() of mpsc_queue.hpp, as MpscQueue::push: clear
//     n->next; exchange n into `tail_`; link the previous tail to n. The exchange orders
//     the producers (FIFO).
//  2. `head_` is the dummy: the stub, or the node taken last. The oldest queued node is
//     head_->next; nullptr means empty, or the oldest push is between its two steps ("in
//     flight": callers that counted a message retry, its producer is two instructions away).
//  3. take_retaining (the consumer: the mailbox's owner, under the head or, on a reject lane,
//     between its look at the state word and its count; mailbox.cpp step 3): n = head_->next;
//     head_ = n; returns n, and the previous dummy, which no push can reach any more: its
//     `next` was written, so it is not the tail, and only the push that replaced it in
//     `tail_` ever writes it. The caller
//     owns n's contents but not its memory: the lane does, from retire() on, until a later
//     take moves past it (a retired dummy is then the caller's to free).
//  4. take_detached (the head holder: evictions, discards, destruction): n = head_->next is
//     unlinked and left to the caller entirely. If n has a successor m, head_->next = m (no
//     push writes head_->next: head_ is not the tail). If n is the last node, head_->next is
//     cleared and `tail_` is swung from n back to head_ with a CAS; if a push took the tail
//     first, the link is put back and the caller retries (n's successor is in flight).
//  5. retire (the consumer, for the node it took last, once its contents are gone):
//     marks the dummy as the lane's to free. A node retired after a take moved past it (no
//     path does that today) is returned to be freed at once.
// Invariants: only the consumer writes `head_` (a take, which the mailbox keeps apart from
// every other head holder: mailbox.cpp steps 3 and 6; a retire, which changes only the
// retired bit), and other head holders only read it; only head holders and a take touch
// head_->next, except the push that links a node behind a dummy that is the tail; a node
// is the dummy, queued, or handed out; a handed-out node that is still the dummy is freed
// exactly once, by the take that passes it (if retired) or by whoever retires it after that.
// Rejected: pushing the stub behind the last node (mpsc_queue.hpp: an exchange per take
// that empties the lane); a CAS of the tail back to the stub (the same RMW). A consumer
// count of taken messages beside the state word, rejected here in session 18 (shutdown
// must know the owner is not mid-take), was built in session 28 with an asymmetric fence
// (mailbox.cpp steps 3a and 6).
// Cost: an idle process that has handled a message keeps that message's envelope (its
// payload destroyed) until the next one arrives or the process is freed: one small block,
// 48-64 bytes for the usual message. A process that never got a message keeps nothing.
#pragma once

#include <atomic>
#include <cstdint>

#include "phyx/detail/mpsc_queue.hpp"

namespace phyx::detail {

class UserLane {
 public:
  UserLane() noexcept = default;
  UserLane(const UserLane&) = delete;
  UserLane& operator=(const UserLane&) = delete;

  /// Any thread. Step 1: never blocks, never allocates; wait-free (one exchange, one store).
  /// The exchange's acquire also orders our link after take_detached()'s clearing of a
  /// dummy's link when its CAS swung the tail back (that CAS's release).
  void push(MailNode* n) noexcept { link_at_tail<TailOrder::acq_rel>(tail_, n); }

  /// The result of take_retaining(): the oldest node, and the dummy it replaced when the
  /// lane owned that one (retired) and the caller must now free it.
  struct Taken {
    MailNode* node;
    MailNode* to_free;
  };
  /// Head holder. Step 3: the oldest node, left linked as the dummy, or {nullptr, nullptr}
  /// (empty or in flight). No RMW; never blocks or allocates.
  Taken take_retaining() noexcept {
    MailNode* dummy = head();
    MailNode* n = dummy->next.load(std::memory_order_acquire);  // pairs with push()'s release store
    if (n == nullptr) return {nullptr, nullptr};
    MailNode* to_free = retired() ? dummy : nullptr;  // never the stub: it is never retired
    // Not retired: n's contents are the caller's. relaxed: see head_word().
    head_.store(reinterpret_cast<std::uintptr_t>(n), std::memory_order_relaxed);
    return {n, to_free};
  }

  /// Head holder. Step 4: the oldest node, unlinked and the caller's (its memory too), or
  /// nullptr (empty or in flight). At most one CAS, when the node is the last; never
  /// blocks or allocates.
  MailNode* take_detached() noexcept {
    MailNode* dummy = head();
    MailNode* n = dummy->next.load(std::memory_order_acquire);  // pairs with push()'s release store
    if (n == nullptr) return nullptr;
    MailNode* after = n->next.load(std::memory_order_acquire);  // pairs with push()'s release store
    if (after != nullptr) {
      // relaxed: the dummy is not the tail, so only head holders read this link, and they
      // hand over through the mailbox word's acquire/release.
      dummy->next.store(after, std::memory_order_relaxed);
      return n;
    }
    // n is the last linked node: the dummy becomes the tail again, with an empty link.
    dummy->next.store(nullptr, std::memory_order_relaxed);  // published by the CAS below
    MailNode* expected = n;
    // acq_rel: release publishes the cleared link to the next push, whose exchange reads
    // our value; acquire pairs with the exchange that beat us when it fails. Pairs with
    // push()'s exchange.
    if (tail_.compare_exchange_strong(expected, dummy, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
      return n;
    }
    dummy->next.store(n, std::memory_order_relaxed);  // a push follows n: put n back; retry
    return nullptr;
  }

  /// The consumer, for the node take_retaining() returned last, once its contents are
  /// destroyed. Step 5: nullptr when the lane keeps it (it is still the dummy), else the
  /// node, for the caller to free now. Never blocks.
  MailNode* retire(MailNode* n) noexcept {
    const std::uintptr_t word = head_word();
    if (reinterpret_cast<MailNode*>(word) != n) return n;     // (a retired word never equals n)
    head_.store(word | kRetired, std::memory_order_relaxed);  // see head_word()
    return nullptr;
  }

  /// Destruction only (no other thread can reach the lane), once take_detached() found it
  /// empty: the retired dummy, now the caller's to free, or nullptr. The stub is the dummy
  /// afterwards.
  MailNode* take_retired_dummy() noexcept {
    if (!retired()) return nullptr;
    MailNode* dummy = head();
    head_.store(reinterpret_cast<std::uintptr_t>(&stub_), std::memory_order_relaxed);  // see head_
    stub_.next.store(nullptr, std::memory_order_relaxed);  // no push is left
    tail_.store(&stub_, std::memory_order_relaxed);
    return dummy;
  }

 private:
  // The retired bit lives in head_'s low bit (nodes are pointer-aligned): a flag of its own
  // would grow the mailbox by 8 bytes, and every idle process with it.
  static constexpr std::uintptr_t kRetired = 1;
  static_assert(alignof(MailNode) > 1);
  // relaxed, here and in every access to head_: only the owner writes it (a take, a
  // retire), and other head holders only read the pointer, which a retire leaves as it is;
  // the holders hand over through the mailbox word. Atomic only because retire() runs
  // without the head, beside an evicting sender's take_detached().
  std::uintptr_t head_word() const noexcept { return head_.load(std::memory_order_relaxed); }
  MailNode* head() const noexcept { return reinterpret_cast<MailNode*>(head_word() & ~kRetired); }
  bool retired() const noexcept { return (head_word() & kRetired) != 0; }

  MailNode stub_;
  std::atomic<std::uintptr_t> head_{
      reinterpret_cast<std::uintptr_t>(&stub_)};  // the dummy | kRetired
  std::atomic<MailNode*> tail_{&stub_};
};

}  // namespace phyx::detail
