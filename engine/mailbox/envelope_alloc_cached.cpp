// engine/mailbox/envelope_alloc_cached.cpp — the small blocks (phyx/detail/small_blocks.hpp:
// envelopes, coroutine frames, ask and promise states, continuation and timer nodes)
// through the calling worker's EnvelopeCache (envelope_cache.hpp). The default; sanitizer
// builds with ASan compile envelope_alloc_plain.cpp instead (CMake chooses).
#include "mailbox/envelope_cache.hpp"
#include "phyx/detail/mailbox.hpp"
#include "phyx/detail/small_blocks.hpp"
#include "sched/thread_context.hpp"

namespace phyx::detail {
namespace {

// One body, inlined into each entry point below: with a single out-of-line
// allocate_small() called from everywhere, LTO stopped inlining it into the envelope's
// operator new, and the extra call level cost ring 2-3 % (side by side).
inline void* cached_allocate(std::size_t size) {
  EnvelopeCache* cache = thread_context().envelopes;
  return cache != nullptr ? cache->allocate(size) : ::operator new(EnvelopeCache::block_size(size));
}

inline void cached_free(void* p, std::size_t size) noexcept {
  EnvelopeCache* cache = thread_context().envelopes;
  if (cache != nullptr) {
    cache->deallocate(p, size);
  } else {
    ::operator delete(p, EnvelopeCache::block_size(size));
  }
}

}  // namespace

void* allocate_small(std::size_t size) { return cached_allocate(size); }
void free_small(void* p, std::size_t size) noexcept { cached_free(p, size); }

void* Envelope::operator new(std::size_t size) { return cached_allocate(size); }
void Envelope::operator delete(void* p, std::size_t size) noexcept { cached_free(p, size); }

}  // namespace phyx::detail
