// engine/mailbox/envelope_cache.hpp — a worker's free lists of envelope-sized blocks.
//
// Why: a message is allocated by its sender and freed by its receiver, usually on another
// worker. mimalloc then takes the block back through the owning page's cross-thread free
// list, which the owner walks later: in ask-many that walk was ~17% of the run. A receiver
// that sends too (request/reply, rings, pipelines) can reuse the blocks it frees for its
// own sends: each worker keeps a few hundred recently freed envelope blocks per size class
// and allocates from them first.
//
// Protocol (single thread: the worker that owns the cache; no atomics of its own):
//  1. Envelope::operator new (any thread) asks the calling thread's cache, if it has one
//     (workers do; outside threads and the deterministic driver do not): a block of the
//     size class (16-byte steps up to 256 bytes) from its loaded magazine; when that is
//     empty, its spare (full) magazine becomes the loaded one; else a magazine from the
//     runtime's depot (envelope_depot.hpp); else mimalloc.
//  2. Envelope::operator delete (any thread) pushes the block onto the calling thread's
//     loaded magazine. A full loaded magazine becomes the spare; the spare it displaces
//     goes to the depot, or to mimalloc when the depot is at its bound.
//  3. The worker's thread ends: the cache frees every block it holds.
// Invariants: a cached block has exactly its class's size (allocated as such), so blocks
// of one class are interchangeable across threads; a spare is nullptr or exactly
// kMagazine blocks; a cache holds at most kPerClass = 2 x kMagazine blocks per class
// (<= 1 MiB in all). Two magazines, not one, so that a worker freeing and allocating
// around a magazine boundary does not trade with the depot on every block.
// Rejected: one shared pool (a contended free list on every message); a cache keyed by
// message type (most request/reply pairs differ in type but not in size class);
// recycling under ASan (it would hide use-after-free: ASan builds use
// envelope_alloc_plain.cpp, a CMake choice).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "mailbox/envelope_depot.hpp"

namespace phyx::detail {

class EnvelopeCache {
 public:
  static constexpr std::size_t kGranule = EnvelopeDepot::kGranule;
  static constexpr std::size_t kClasses = EnvelopeDepot::kClasses;  // up to 256 bytes
  static constexpr std::uint32_t kMagazine = EnvelopeDepot::kMagazine;
  static constexpr std::uint32_t kPerClass = 2 * kMagazine;

  /// `depot`: the runtime's, shared by its workers; nullptr trades with nobody.
  explicit EnvelopeCache(EnvelopeDepot* depot = nullptr) noexcept : depot_(depot) {}
  ~EnvelopeCache();
  EnvelopeCache(const EnvelopeCache&) = delete;
  EnvelopeCache& operator=(const EnvelopeCache&) = delete;

  /// The size a block of `size` bytes is allocated with (its class), or `size` itself
  /// beyond the largest class.
  static std::size_t block_size(std::size_t size) noexcept {
    return size <= kGranule * kClasses ? (size + kGranule - 1) / kGranule * kGranule : size;
  }
  /// Step 1. Owner thread only. Allocates from mimalloc when neither the cache nor the
  /// depot has a block of the class; never blocks.
  void* allocate(std::size_t size);
  /// Step 2. Owner thread only; never blocks.
  void deallocate(void* p, std::size_t size) noexcept;
  /// Blocks held now (for tests).
  std::size_t held() const noexcept;

 private:
  using Block = EnvelopeDepot::Block;
  struct Shelf {
    Block* loaded = nullptr;  // a partial magazine: loaded_count blocks
    Block* spare = nullptr;   // nullptr or a full magazine (kMagazine blocks)
    std::uint32_t loaded_count = 0;
  };
  static std::size_t class_of(std::size_t size) noexcept {
    return (size + kGranule - 1) / kGranule - 1;
  }

  EnvelopeDepot* depot_;
  std::array<Shelf, kClasses> shelves_{};
};

}  // namespace phyx::detail
