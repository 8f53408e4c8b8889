// phyx/detail/mpsc_queue.hpp — an intrusive multi-producer single-consumer FIFO.
//
// Dmitry Vyukov's non-blocking intrusive MPSC queue (the one Pony's messageq and many
// actor runtimes use). Nodes are linked through their own `next` field: pushing allocates
// nothing, and an empty queue is three words (head, tail, stub).
//
// Protocol:
//  1. push (any thread): clear n->next; swap n into `tail_` (one atomic exchange: this is
//     the linearisation point, so FIFO order across producers is the exchange order);
//     then link the previous tail to n.
//  2. pop (the consumer only): follow `head_->next`. Between a producer's exchange and its
//     link the chain is broken for an instant; pop() then returns nullptr although the
//     queue is not empty ("in flight"). Callers that know a node is there (a counter said
//     so) call pop() again; the producer is two instructions from finishing.
//  3. The stub node keeps the list non-empty, so push never touches `head_`.
// Invariants: only the consumer reads or writes `head_`; a node returned by pop() is no
// longer reachable from the queue, so the consumer may free or reuse it at once.
// Rejected: a mutex + deque (a lock on every send, ~600 bytes per empty deque); a
// Treiber stack reversed by the consumer (CAF's inbox; LIFO batches make "evict the
// oldest" from a sender impossible without taking the whole stack); a bounded ring
// (preallocates max_inbox slots per process).
#pragma once

#include <atomic>

namespace phyx::detail {

/// A queue node. Derive from it; the queue never owns or frees nodes.
struct MailNode {
  std::atomic<MailNode*> next{nullptr};
};

/// Step 1, the producer's side of this queue and of the user lane (user_lane.hpp): clears
/// n->next, swaps n into `tail`, then links the previous tail to n. The exchange is acq_rel
/// (release publishes n and the message in it to the consumer; acquire orders our store to
/// prev->next after whoever last wrote it), or seq_cst with `TailOrder::seq_cst` (push_seq_cst()).
/// Any thread; wait-free (one exchange, one store); never allocates.
enum class TailOrder : bool { acq_rel, seq_cst };
template <TailOrder kOrder>
inline void link_at_tail(std::atomic<MailNode*>& tail, MailNode* n) noexcept {
  // relaxed: published by the release half of the exchange below.
  n->next.store(nullptr, std::memory_order_relaxed);
  MailNode* prev;
  if constexpr (kOrder == TailOrder::seq_cst) {
    // seq_cst: also one half of push_seq_cst()'s StoreLoad pair with empty_seq_cst();
    // pairs with the consumer's loads of the tail, as below.
    prev = tail.exchange(n, std::memory_order_seq_cst);
  } else {
    prev =
        tail.exchange(n, std::memory_order_acq_rel);  // pairs with the consumer's loads of the tail
  }
  // release: pairs with the consumer's acquire loads of `next`.
  prev->next.store(n, std::memory_order_release);
}

class MpscQueue {
 public:
  MpscQueue() noexcept = default;
  MpscQueue(const MpscQueue&) = delete;
  MpscQueue& operator=(const MpscQueue&) = delete;

  /// Any thread. Never blocks, never allocates; wait-free (one exchange, one store).
  void push(MailNode* n) noexcept { link_at_tail<TailOrder::acq_rel>(tail_, n); }

  /// As push(), with the exchange seq_cst: it is then also ordered before the caller's
  /// later seq_cst loads, one half of a StoreLoad (Dekker) pair whose other half is
  /// empty_seq_cst() after a seq_cst store (engine/timer/timer_service.hpp step 4). On
  /// x86 the exchange is the same instruction.
  void push_seq_cst(MailNode* n) noexcept {
    link_at_tail<TailOrder::seq_cst>(tail_, n);  // the exchange pairs with empty_seq_cst()
  }

  /// Consumer only. The oldest node, or nullptr when the queue is empty or its oldest
  /// push is in flight (step 2). Never blocks, never allocates.
  MailNode* pop() noexcept {
    MailNode* head = head_;
    MailNode* next = head->next.load(std::memory_order_acquire);  // pairs with push()'s release store
    if (head == &stub_) {
      if (next == nullptr) return nullptr;
      head_ = next;
      head = next;
      next = next->next.load(std::memory_order_acquire);  // pairs with push()'s release store
    }
    if (next != nullptr) {
      head_ = next;
      // The next node was written by a producer on another core: start fetching its line
      // now, so the next pop()'s first load overlaps the caller's work on this one.
      __builtin_prefetch(next, 1);
      return head;
    }
    // `head` is the last linked node. Unless another push is in flight, put the stub
    // behind it so that `head` can be handed out.
    if (tail_.load(std::memory_order_acquire) != head) return nullptr;  // pairs with push()'s exchange
    push(&stub_);
    next = head->next.load(std::memory_order_acquire);  // pairs with push()'s release store
    if (next != nullptr) {
      head_ = next;
      return head;
    }
    return nullptr;  // a producer slipped in before the stub: it is in flight
  }

  /// Consumer only: as empty(), with the tail read seq_cst (see push_seq_cst).
  bool empty_seq_cst() const noexcept {
    return head_ == &stub_ && stub_.next.load(std::memory_order_acquire) == nullptr &&  // pairs with push()
           tail_.load(std::memory_order_seq_cst) == &stub_;  // pairs with push_seq_cst()'s exchange
  }

  /// Consumer only: true when nothing is queued and no push is in flight.
  bool empty() const noexcept {
    return head_ == &stub_ && stub_.next.load(std::memory_order_acquire) == nullptr &&  // pairs with push()
           tail_.load(std::memory_order_acquire) == &stub_;                             // pairs with push()
  }

 private:
  MailNode stub_;
  MailNode* head_ = &stub_;  // consumer-owned
  std::atomic<MailNode*> tail_{&stub_};
};

}  // namespace phyx::detail
