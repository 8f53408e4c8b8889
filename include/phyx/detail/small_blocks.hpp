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

/// A standard allocator over the small blocks, for std::allocate_shared (the state and its
/// control block in one small block).
template <class T>
struct SmallAllocator {
  static_assert(alignof(T) <= 16, "small blocks are aligned to 16");
  using value_type = T;
  SmallAllocator() noexcept = default;
  template <class U>
  SmallAllocator(const SmallAllocator<U>&) noexcept {}  // NOLINT: rebinding is implicit
  T* allocate(std::size_t n) { return static_cast<T*>(allocate_small(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { free_small(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const SmallAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace phyx::detail
