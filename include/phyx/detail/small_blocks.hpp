// phyx/detail/small_blocks.hpp — the engine's small short-lived blocks (not for users):
// envelopes, coroutine frames, ask and promise states, continuation nodes, timer nodes.
//
// On a worker they come from, and go back to, that worker's size-class cache
// (engine/mailbox/envelope_cache.hpp); elsewhere from the allocator. A block made on one
// worker and freed on another lands in the freeing worker's cache, and magazines of them
// travel back through the depot, instead of each going through the allocator's
// cross-thread free list (which the owning thread must later walk, one miss per block:
// 8 % of `ask-many` before the ask states and nodes came here). ASan builds take every
// block straight from the allocator (engine/mailbox/envelope_alloc_plain.cpp), so that a
// reused block cannot hide a use-after-free.
#pragma once

#include <cstddef>

namespace phyx::detail {

/// Any thread; never blocks. A block of at least `size` bytes, aligned to 16. Throws
/// std::bad_alloc like operator new.
void* allocate_small(std::size_t size);
/// Any thread; never blocks. `size` must be the size given to allocate_small.
void free_small(void* p, std::size_t size) noexcept;

/// A base that gives a class (and, through its virtual destructor, every class derived
/// from it) the small-block operator new and sized operator delete.
struct SmallBlocks {
  static void* operator new(std::size_t size) { return allocate_small(size); }
  static void operator delete(void* p, std::size_t size) noexcept { free_small(p, size); }
};

}  // namespace phyx::detail
