// engine/mailbox/envelope_alloc_cached.cpp — Envelope's operator new/delete through the
// calling worker's EnvelopeCache (envelope_cache.hpp). The default; sanitizer builds with
// ASan compile envelope_alloc_plain.cpp instead (CMake chooses).
#include "mailbox/envelope_cache.hpp"
#include "phyx/detail/mailbox.hpp"
#include "sched/thread_context.hpp"

namespace phyx::detail {

void* Envelope::operator new(std::size_t size) {
  EnvelopeCache* cache = thread_context().envelopes;
  return cache != nullptr ? cache->allocate(size) : ::operator new(EnvelopeCache::block_size(size));
}

void Envelope::operator delete(void* p, std::size_t size) noexcept {
  EnvelopeCache* cache = thread_context().envelopes;
  if (cache != nullptr) {
    cache->deallocate(p, size);
  } else {
    ::operator delete(p, EnvelopeCache::block_size(size));
  }
}

}  // namespace phyx::detail
