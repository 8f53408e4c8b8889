// engine/mailbox/envelope_alloc_cached.cpp — Envelope's operator new/delete, and coroutine
// frames', through the calling worker's EnvelopeCache (envelope_cache.hpp). The default;
// sanitizer builds with ASan compile envelope_alloc_plain.cpp instead (CMake chooses).
#include "mailbox/envelope_cache.hpp"
#include "phyx/detail/mailbox.hpp"
#include "phyx/task.hpp"
#include "sched/thread_context.hpp"

namespace phyx::detail {
namespace {

void* cached_allocate(std::size_t size) {
  EnvelopeCache* cache = thread_context().envelopes;
  return cache != nullptr ? cache->allocate(size) : ::operator new(EnvelopeCache::block_size(size));
}

void cached_free(void* p, std::size_t size) noexcept {
  EnvelopeCache* cache = thread_context().envelopes;
  if (cache != nullptr) {
    cache->deallocate(p, size);
  } else {
    ::operator delete(p, EnvelopeCache::block_size(size));
  }
}

}  // namespace

void* Envelope::operator new(std::size_t size) { return cached_allocate(size); }
void Envelope::operator delete(void* p, std::size_t size) noexcept { cached_free(p, size); }

// Coroutine frames (phyx/task.hpp) share the size classes: a small frame freed by one
// handler is reused by the next, as envelopes are.
void* allocate_frame(std::size_t size) { return cached_allocate(size); }
void free_frame(void* p, std::size_t size) noexcept { cached_free(p, size); }

}  // namespace phyx::detail
