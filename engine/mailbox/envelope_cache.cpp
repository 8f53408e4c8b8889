// engine/mailbox/envelope_cache.cpp — a worker's magazines (protocol: envelope_cache.hpp).
#include "mailbox/envelope_cache.hpp"

#include <new>
#include <utility>

namespace phyx::detail {

EnvelopeCache::~EnvelopeCache() {
  for (std::size_t c = 0; c < kClasses; ++c) {
    EnvelopeDepot::free_chain(c, shelves_[c].loaded);
    EnvelopeDepot::free_chain(c, shelves_[c].spare);
  }
}

void* EnvelopeCache::allocate(std::size_t size) {
  const std::size_t bytes = block_size(size);
  if (size == 0 || bytes > kGranule * kClasses) return ::operator new(bytes);
  const std::size_t c = class_of(size);
  Shelf& shelf = shelves_[c];
  if (shelf.loaded_count == 0) {
    if (shelf.spare != nullptr) {
      shelf.loaded = std::exchange(shelf.spare, nullptr);
    } else if (Block* magazine = depot_ != nullptr ? depot_->take(c) : nullptr) {
      shelf.loaded = magazine;
    } else {
      return ::operator new(bytes);
    }
    shelf.loaded_count = kMagazine;
  }
  Block* b = shelf.loaded;
  shelf.loaded = b->next;
  --shelf.loaded_count;
  // The next block was most likely freed by another worker (its line is in that core's
  // cache): fetch it for writing now, while the caller fills this one.
  if (shelf.loaded != nullptr) __builtin_prefetch(shelf.loaded, 1);
  return b;
}

void EnvelopeCache::deallocate(void* p, std::size_t size) noexcept {
  const std::size_t bytes = block_size(size);
  if (size == 0 || bytes > kGranule * kClasses) {
    ::operator delete(p, bytes);
    return;
  }
  const std::size_t c = class_of(size);
  Shelf& shelf = shelves_[c];
  if (shelf.loaded_count == kMagazine) {
    if (shelf.spare != nullptr && (depot_ == nullptr || !depot_->put(c, shelf.spare))) {
      EnvelopeDepot::free_chain(c, shelf.spare);
    }
    shelf.spare = std::exchange(shelf.loaded, nullptr);
    shelf.loaded_count = 0;
  }
  auto* b = static_cast<Block*>(p);
  b->next = shelf.loaded;
  shelf.loaded = b;
  ++shelf.loaded_count;
}

std::size_t EnvelopeCache::held() const noexcept {
  std::size_t n = 0;
  for (const Shelf& shelf : shelves_)
    n += shelf.loaded_count + (shelf.spare != nullptr ? kMagazine : 0);
  return n;
}

}  // namespace phyx::detail
