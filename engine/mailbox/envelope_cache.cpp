#include "mailbox/envelope_cache.hpp"

#include <new>

namespace phyx::detail {

EnvelopeCache::~EnvelopeCache() {
  for (std::size_t c = 0; c < kClasses; ++c) {
    while (Block* b = free_[c]) {
      free_[c] = b->next;
      ::operator delete(static_cast<void*>(b), (c + 1) * kGranule);
    }
  }
}

void* EnvelopeCache::allocate(std::size_t size) {
  const std::size_t bytes = block_size(size);
  if (size == 0 || bytes > kGranule * kClasses) return ::operator new(bytes);
  const std::size_t c = class_of(size);
  if (Block* b = free_[c]) {
    free_[c] = b->next;
    --count_[c];
    return b;
  }
  return ::operator new(bytes);
}

void EnvelopeCache::deallocate(void* p, std::size_t size) noexcept {
  const std::size_t bytes = block_size(size);
  if (size == 0 || bytes > kGranule * kClasses) {
    ::operator delete(p, bytes);
    return;
  }
  const std::size_t c = class_of(size);
  if (count_[c] >= kPerClass) {
    ::operator delete(p, bytes);
    return;
  }
  auto* b = static_cast<Block*>(p);
  b->next = free_[c];
  free_[c] = b;
  ++count_[c];
}

std::size_t EnvelopeCache::held() const noexcept {
  std::size_t n = 0;
  for (auto c : count_) n += c;
  return n;
}

}  // namespace phyx::detail
