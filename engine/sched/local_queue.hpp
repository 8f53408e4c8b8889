// engine/sched/local_queue.hpp — a worker's run queue: one owner, many stealers.
//
// A fixed ring of kCapacity process pointers (Tokio's design, tokio/src/runtime/scheduler/
// multi_thread/queue.rs). Indices are 32-bit and wrap.
//   tail_ : written only by the owner (release), read by stealers (acquire).
//   head_ : 64 bits packing (steal, real). `real` is the next slot to pop; `steal` is where
//           an in-progress steal started (== real when no steal is in progress). Owner and
//           stealers move it with CAS.
//
// Protocol:
//  1. push_back (owner): if tail - steal < capacity, write slot[tail], then
//     tail_.store(tail + 1, release) — pairs with the acquire loads of tail_ in pop and
//     steal, so the slot write is visible before the slot can be claimed. If the ring is
//     full, the caller gets the process back (and half the ring, moved out) to inject
//     globally.
//  2. pop (owner): CAS head_ from (steal, real) to (steal', real + 1) with acq_rel; a steal
//     in progress keeps its `steal` value. Success claims slot[real].
//  3. steal_into (another worker): only when no steal is in progress (steal == real):
//     a. CAS head_ (steal, real) -> (steal, real + n) with acq_rel: claims n = half the
//        items; the owner can no longer pop them, and no other stealer can start.
//     b. copy the n pointers into the stealer's own ring (its tail region, unpublished);
//     c. CAS head_ (steal, real') -> (real', real') to end the steal (loop: the owner may
//        have popped meanwhile and moved `real`).
//     d. publish the copied items with its own tail_.store(release); return the last one
//        to run now.
//     While a steal is in progress, the owner's push_back counts the claimed slots as
//     occupied (tail - steal), so it never overwrites slots that are being copied.
// Invariants: an item is returned by exactly one of pop, steal_into, or drain (the
// accounting law the stress tests check). Only the owner writes tail_.
// Handles by role: LocalQueue is the owner's end (push_back, pop; move-only, one per
// worker), Stealer is everyone else's (steal_into; copyable). Calling pop from a stealer
// does not compile.
// Rejected: Chase-Lev deque (LIFO pops hurt fairness here; the LIFO slot gives the locality
// we want, separately); a mutex per queue (stealers would contend with the owner on every
// pop); moodycamel ConcurrentQueue per worker (heavier, and its producer tokens do not give
// one-owner semantics).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace phyx::detail {

template <class T>
class RunRing {
 public:
  static constexpr std::uint32_t kCapacity = 256;
  static constexpr std::uint32_t kMask = kCapacity - 1;

  static constexpr std::uint64_t pack(std::uint32_t steal, std::uint32_t real) noexcept {
    return (static_cast<std::uint64_t>(steal) << 32) | real;
  }
  static constexpr std::uint32_t steal_of(std::uint64_t h) noexcept { return static_cast<std::uint32_t>(h >> 32); }
  static constexpr std::uint32_t real_of(std::uint64_t h) noexcept { return static_cast<std::uint32_t>(h); }

  alignas(64) std::atomic<std::uint64_t> head_{0};
  alignas(64) std::atomic<std::uint32_t> tail_{0};
  // Slots are atomics so a stealer's read of a slot the owner is about to overwrite (it
  // cannot: see step 3) is not a data race in the model either; relaxed, ordered by tail_/head_.
  std::array<std::atomic<T*>, kCapacity> slots_{};
};

template <class T>
class Stealer;

/// The owner's end. Owner thread only.
template <class T>
class LocalQueue {
 public:
  LocalQueue() : ring_(std::make_shared<RunRing<T>>()) {}
  LocalQueue(LocalQueue&&) noexcept = default;
  LocalQueue& operator=(LocalQueue&&) noexcept = default;
  LocalQueue(const LocalQueue&) = delete;
  LocalQueue& operator=(const LocalQueue&) = delete;

  Stealer<T> stealer() const noexcept;

  /// Step 1. True when queued; false when the ring was full or a steal was in progress:
  /// then `overflow` received `item` (and, when full, half of the ring, oldest first), to
  /// be injected into the global queue.
  /// Never blocks, never allocates unless it overflows.
  bool push_back(T* item, std::vector<T*>& overflow) noexcept {
    auto& r = *ring_;
    for (;;) {
      std::uint64_t head = r.head_.load(std::memory_order_acquire);  // pairs with pop/steal CAS (release part)
      const std::uint32_t steal = RunRing<T>::steal_of(head);
      const std::uint32_t tail = r.tail_.load(std::memory_order_relaxed);  // only we write it
      if (tail - steal < RunRing<T>::kCapacity) {
        r.slots_[tail & RunRing<T>::kMask].store(item, std::memory_order_relaxed);  // published by the release below
        r.tail_.store(tail + 1, std::memory_order_release);  // pairs with acquire loads of tail_ in pop / steal_into
        return true;
      }
      if (steal != RunRing<T>::real_of(head)) {
        overflow.push_back(item);  // a steal is in progress: it will make room; inject this one
        return false;
      }
      // Full: move half to the global queue, claiming it as a pop would.
      const std::uint32_t real = RunRing<T>::real_of(head);
      const std::uint32_t half = RunRing<T>::kCapacity / 2;
      // acq_rel: claims the slots as a pop would; pairs with the stealers' CAS on head_.
      const std::uint64_t claimed = RunRing<T>::pack(real + half, real + half);
      if (!r.head_.compare_exchange_strong(head, claimed, std::memory_order_acq_rel, std::memory_order_acquire)) {
        continue;  // a stealer took some: retry the fast path
      }
      for (std::uint32_t i = 0; i < half; ++i) {
        overflow.push_back(r.slots_[(real + i) & RunRing<T>::kMask].load(std::memory_order_relaxed));
      }
      overflow.push_back(item);
      return false;
    }
  }

  /// Step 2. nullptr when empty.
  T* pop() noexcept {
    auto& r = *ring_;
    std::uint64_t head = r.head_.load(std::memory_order_acquire);  // pairs with stealers' CAS
    for (;;) {
      const std::uint32_t steal = RunRing<T>::steal_of(head);
      const std::uint32_t real = RunRing<T>::real_of(head);
      const std::uint32_t tail = r.tail_.load(std::memory_order_relaxed);  // only we write it
      if (real == tail) return nullptr;
      const std::uint32_t next_real = real + 1;
      const std::uint64_t next = steal == real ? RunRing<T>::pack(next_real, next_real) : RunRing<T>::pack(steal, next_real);
      // acq_rel: claims slot[real] against stealers (pairs with their CAS on head_).
      if (r.head_.compare_exchange_weak(head, next, std::memory_order_acq_rel, std::memory_order_acquire)) {
        return r.slots_[real & RunRing<T>::kMask].load(std::memory_order_relaxed);
      }
    }
  }

  /// The item pop() would return now, without taking it: a hint (a stealer may take it the
  /// next instant), for a prefetch only. nullptr when empty. Never blocks.
  T* peek_front() const noexcept {
    const auto& r = *ring_;
    // relaxed: a hint; nothing read through the pointer depends on it (pop's CAS claims).
    const std::uint32_t real = RunRing<T>::real_of(r.head_.load(std::memory_order_relaxed));
    if (real == r.tail_.load(std::memory_order_relaxed)) return nullptr;  // only we write tail_
    return r.slots_[real & RunRing<T>::kMask].load(
        std::memory_order_relaxed);  // a hint, as head_ above
  }

  /// Items queued now (owner's view; stealers may be taking some).
  std::uint32_t size() const noexcept {
    const std::uint64_t head = ring_->head_.load(std::memory_order_acquire);  // pairs with pop/steal CAS
    return ring_->tail_.load(std::memory_order_relaxed) - RunRing<T>::real_of(head);  // only we write tail_
  }
  bool empty() const noexcept { return size() == 0; }

  /// Owner, at shutdown: takes everything left.
  template <class F>
  void drain(F f) noexcept {
    while (T* item = pop()) f(item);
  }

 private:
  friend class Stealer<T>;
  std::shared_ptr<RunRing<T>> ring_;
};

/// Everyone else's end: may only steal. Any thread; copyable.
template <class T>
class Stealer {
 public:
  Stealer() = default;
  explicit Stealer(std::shared_ptr<RunRing<T>> ring) noexcept : ring_(std::move(ring)) {}

  bool empty() const noexcept {
    const std::uint64_t head = ring_->head_.load(std::memory_order_acquire);  // pairs with pop/steal CAS
    return ring_->tail_.load(std::memory_order_acquire) == RunRing<T>::real_of(head);  // pairs with push_back's release
  }

  /// Items queued now, as a thief sees them: a snapshot, stale as soon as it is read.
  std::uint32_t size() const noexcept {
    const std::uint64_t head =
        ring_->head_.load(std::memory_order_acquire);  // pairs with pop/steal CAS
    const std::uint32_t tail =
        ring_->tail_.load(std::memory_order_acquire);  // pairs with push_back's release
    return tail - RunRing<T>::real_of(head);
  }

  /// Step 3: moves about half of this queue into `dst` (the caller's own queue) and returns
  /// one item to run now, or nullptr. `dst` must be the calling worker's LocalQueue.
  T* steal_into(LocalQueue<T>& dst) noexcept {
    auto& src = *ring_;
    auto& d = *dst.ring_;
    const std::uint32_t dst_tail = d.tail_.load(std::memory_order_relaxed);  // we own dst
    {
      // Only steal when dst has room for half a ring (it is normally empty when stealing).
      const std::uint32_t dst_steal = RunRing<T>::steal_of(d.head_.load(std::memory_order_acquire));  // pairs with CAS on d.head_
      if (dst_tail - dst_steal > RunRing<T>::kCapacity / 2) return nullptr;
    }
    // 3a: claim.
    std::uint64_t head = src.head_.load(std::memory_order_acquire);  // pairs with owner/stealer CAS
    std::uint32_t n;
    std::uint32_t first;
    for (;;) {
      const std::uint32_t steal = RunRing<T>::steal_of(head);
      const std::uint32_t real = RunRing<T>::real_of(head);
      if (steal != real) return nullptr;  // another steal in progress
      const std::uint32_t tail = src.tail_.load(std::memory_order_acquire);  // pairs with push_back's release
      n = tail - real;
      n -= n / 2;
      if (n == 0) return nullptr;
      if (n > RunRing<T>::kCapacity / 2) n = RunRing<T>::kCapacity / 2;
      // acq_rel: claims slots [real, real + n) (pairs with the owner's pop CAS and push_back's overflow CAS).
      if (src.head_.compare_exchange_weak(head, RunRing<T>::pack(steal, real + n), std::memory_order_acq_rel,
                                          std::memory_order_acquire)) {
        first = real;
        break;
      }
    }
    // 3b: copy into our unpublished tail region.
    for (std::uint32_t i = 0; i < n; ++i) {
      T* item = src.slots_[(first + i) & RunRing<T>::kMask].load(std::memory_order_relaxed);  // claimed above
      d.slots_[(dst_tail + i) & RunRing<T>::kMask].store(item, std::memory_order_relaxed);  // published in 3d
    }
    // 3c: end the steal.
    head = src.head_.load(std::memory_order_acquire);  // pairs with the owner's pop CAS
    for (;;) {
      const std::uint32_t real = RunRing<T>::real_of(head);
      // release: our slot reads happen-before the owner reuses those slots (pairs with push_back's acquire).
      if (src.head_.compare_exchange_weak(head, RunRing<T>::pack(real, real), std::memory_order_acq_rel,
                                          std::memory_order_acquire)) {
        break;
      }
    }
    // 3d: keep the last one to run now; publish the rest.
    T* run_now = d.slots_[(dst_tail + n - 1) & RunRing<T>::kMask].load(std::memory_order_relaxed);
    if (n > 1) d.tail_.store(dst_tail + n - 1, std::memory_order_release);  // pairs with acquire loads of tail_
    return run_now;
  }

 private:
  std::shared_ptr<RunRing<T>> ring_;
};

template <class T>
Stealer<T> LocalQueue<T>::stealer() const noexcept {
  return Stealer<T>(ring_);
}

}  // namespace phyx::detail
