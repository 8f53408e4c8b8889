// engine/mailbox/envelope_alloc_plain.cpp — the small blocks (phyx/detail/small_blocks.hpp)
// straight from the allocator, no recycling: for ASan builds, where a reused block would
// hide a use-after-free (CMake chooses this file or envelope_alloc_cached.cpp).
#include <new>

#include "phyx/detail/mailbox.hpp"
#include "phyx/detail/small_blocks.hpp"

namespace phyx::detail {

void* allocate_small(std::size_t size) { return ::operator new(size); }
void free_small(void* p, std::size_t size) noexcept { ::operator delete(p, size); }

void* Envelope::operator new(std::size_t size) { return allocate_small(size); }
void Envelope::operator delete(void* p, std::size_t size) noexcept { free_small(p, size); }

}  // namespace phyx::detail
