// engine/mailbox/envelope_alloc_plain.cpp — Envelope's operator new/delete straight to the
// allocator, no recycling: for ASan builds, where a reused block would hide a
// use-after-free (CMake chooses this file or envelope_alloc_cached.cpp).
#include <new>

#include "phyx/detail/mailbox.hpp"
#include "phyx/task.hpp"

namespace phyx::detail {

void* Envelope::operator new(std::size_t size) { return ::operator new(size); }

void Envelope::operator delete(void* p, std::size_t size) noexcept { ::operator delete(p, size); }

void* allocate_frame(std::size_t size) { return ::operator new(size); }
void free_frame(void* p, std::size_t size) noexcept { ::operator delete(p, size); }

}  // namespace phyx::detail
