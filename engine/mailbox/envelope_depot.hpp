// engine/mailbox/envelope_depot.hpp — where workers trade full magazines of envelope blocks.
//
// Why: the per-worker caches (envelope_cache.hpp) pay only when a worker frees about as
// many envelopes as it allocates. In a one-way flow (fan-in: producers on one worker, the
// counter on the other; ring-multi; a pipeline) the receiver's cache fills and frees to
// mimalloc block by block (a cross-thread free: one CAS on the owning page each) while the
// sender's cache is empty and mallocs block by block. The depot lets the receiver hand a
// whole magazine (a chain of kMagazine blocks of one class) to the sender in one queue
// operation each way: Bonwick's magazine layer (Bonwick & Adams, USENIX 2001).
//
// Protocol (any worker thread; lock-free):
//  1. A cache whose class holds two full magazines and frees one more block puts its
//     spare magazine here (put). If the class already holds kMaxMagazines, put() refuses
//     and the cache frees the chain to mimalloc: the depot never grows without bound.
//  2. A cache whose class is empty takes a magazine (take) before it asks mimalloc.
//  3. The runtime's core is destroyed after its workers have left: the depot frees every
//     block it still holds.
// Invariants: a magazine is exactly kMagazine blocks of one class, linked through their
// first word; a class's count is >= the magazines in its queue (incremented before the
// enqueue, decremented after a successful dequeue), so the bound can only be conservative.
// Rejected: a Treiber stack of magazines (ABA on the chain head: a popped magazine can be
// reused and pushed back between a reader's load and its CAS; tags need a 128-bit CAS);
// one mutex-guarded vector per class (simple and fast enough at one operation per 128
// messages, but a worker preempted holding it stalls every other worker's refill);
// sending blocks back to their allocating worker (needs an owner tag per block and a
// queue per worker pair).
#pragma once
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace phyx::detail {

class EnvelopeDepot {
 public:
  static constexpr std::size_t kGranule = 16;
  static constexpr std::size_t kClasses = 16;         // the cache's classes: up to 256 bytes
  static constexpr std::uint32_t kMagazine = 128;     // blocks per magazine
  static constexpr std::uint32_t kMaxMagazines = 32;  // per class: <= 4,096 blocks, <= 1 MiB

  /// A chain of kMagazine blocks of one class, linked through their first word.
  struct Block {
    Block* next;
  };

  EnvelopeDepot();
  ~EnvelopeDepot();  // step 3: frees every block held
  EnvelopeDepot(const EnvelopeDepot&) = delete;
  EnvelopeDepot& operator=(const EnvelopeDepot&) = delete;

  /// Step 1. Any thread; lock-free; may allocate (the queue's blocks, rarely); never
  /// blocks. False when the class is at its bound: the chain stays the caller's.
  bool put(std::size_t size_class, Block* magazine) noexcept;
  /// Step 2. Any thread; lock-free; never allocates or blocks. A full magazine, or nullptr.
  Block* take(std::size_t size_class) noexcept;
  /// Magazines held now in a class (a snapshot, for tests and benchmarks).
  std::uint32_t magazines(std::size_t size_class) const noexcept;

  /// Frees a chain of blocks of a class to the allocator (the depot's destructor, and a
  /// cache whose magazine the depot refused).
  static void free_chain(std::size_t size_class, Block* chain) noexcept;

 private:
  struct Shelves;  // the per-class queues (envelope_depot.cpp)
  std::unique_ptr<Shelves> shelves_;
  std::array<std::atomic<std::uint32_t>, kClasses> counts_{};
};

}  // namespace phyx::detail
