// engine/mailbox/envelope_cache.hpp — a worker's free lists of envelope-sized blocks.
//
// Why: a message is allocated by its sender and freed by its receiver, usually on another
// worker. mimalloc then takes the block back through the owning page's cross-thread free
// list, which the owner walks later: in ask-many that walk was ~17% of the run. A receiver
// that sends too (request/reply, rings, pipelines) can reuse the blocks it frees for its
// own sends: each worker keeps a few hundred recently freed envelope blocks per size class
// and allocates from them first.
//
// Protocol (single thread: the worker that owns the cache; no atomics):
//  1. Envelope::operator new (any thread) asks the calling thread's cache, if it has one
//     (workers do; outside threads and the deterministic driver do not): a block of the
//     size class (16-byte steps up to 256 bytes) from its list, else from mimalloc.
//  2. Envelope::operator delete (any thread) gives the block to the calling thread's cache
//     unless its class is full (kPerClass), else back to mimalloc.
//  3. The worker's thread ends: the cache frees every block it holds.
// Invariants: a cached block has exactly its class's size (allocated as such), so blocks
// of one class are interchangeable across threads; a cache holds at most kClasses x
// kPerClass blocks (<= 1 MiB).
// Rejected: one shared pool (a contended free list); a cache keyed by message type (most
// request/reply pairs differ in type but not in size class); recycling under ASan (it
// would hide use-after-free: ASan builds use envelope_alloc_plain.cpp, a CMake choice).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace phyx::detail {

class EnvelopeCache {
 public:
  static constexpr std::size_t kGranule = 16;
  static constexpr std::size_t kClasses = 16;  // up to 256 bytes
  static constexpr std::uint32_t kPerClass = 256;

  EnvelopeCache() = default;
  ~EnvelopeCache();
  EnvelopeCache(const EnvelopeCache&) = delete;
  EnvelopeCache& operator=(const EnvelopeCache&) = delete;

  /// The size a block of `size` bytes is allocated with (its class), or `size` itself
  /// beyond the largest class.
  static std::size_t block_size(std::size_t size) noexcept {
    return size <= kGranule * kClasses ? (size + kGranule - 1) / kGranule * kGranule : size;
  }
  /// Step 1. Owner thread only. Allocates from mimalloc when the class is empty.
  void* allocate(std::size_t size);
  /// Step 2. Owner thread only.
  void deallocate(void* p, std::size_t size) noexcept;
  /// Blocks held now (for tests).
  std::size_t held() const noexcept;

 private:
  struct Block {
    Block* next;
  };
  static std::size_t class_of(std::size_t size) noexcept { return (size + kGranule - 1) / kGranule - 1; }
  std::array<Block*, kClasses> free_{};
  std::array<std::uint32_t, kClasses> count_{};
};

}  // namespace phyx::detail
