// engine/mailbox/envelope_depot.cpp — the magazine depot (protocol: envelope_depot.hpp).
#include "mailbox/envelope_depot.hpp"

#include <concurrentqueue.h>

#include <new>

namespace phyx::detail {

struct EnvelopeDepot::Shelves {
  std::array<moodycamel::ConcurrentQueue<Block*>, kClasses> queues;
};

EnvelopeDepot::EnvelopeDepot() : shelves_(std::make_unique<Shelves>()) {}

EnvelopeDepot::~EnvelopeDepot() {
  for (std::size_t c = 0; c < kClasses; ++c) {
    Block* chain = nullptr;
    while (shelves_->queues[c].try_dequeue(chain)) free_chain(c, chain);
  }
}

bool EnvelopeDepot::put(std::size_t size_class, Block* magazine) noexcept {
  // relaxed: a bound, not a publication (the queue's enqueue publishes the chain to the
  // dequeuer); pairs with take()'s fetch_sub. Counting before the enqueue keeps the count
  // >= what the queue holds, so concurrent puts never overshoot kMaxMagazines.
  if (counts_[size_class].fetch_add(1, std::memory_order_relaxed) >= kMaxMagazines) {
    counts_[size_class].fetch_sub(1, std::memory_order_relaxed);  // undo; pairs with the add above
    return false;
  }
  if (!shelves_->queues[size_class].enqueue(magazine)) {  // out of memory for the queue's block
    counts_[size_class].fetch_sub(1, std::memory_order_relaxed);  // undo; pairs with the add above
    return false;
  }
  return true;
}

EnvelopeDepot::Block* EnvelopeDepot::take(std::size_t size_class) noexcept {
  // relaxed: a hint that skips the queue's scan when the shelf is empty; pairs with put()'s add.
  if (counts_[size_class].load(std::memory_order_relaxed) == 0) return nullptr;
  Block* magazine = nullptr;
  if (!shelves_->queues[size_class].try_dequeue(magazine)) return nullptr;
  // relaxed, after the dequeue: pairs with put()'s add (a bound, not a publication).
  counts_[size_class].fetch_sub(1, std::memory_order_relaxed);
  return magazine;
}

std::uint32_t EnvelopeDepot::magazines(std::size_t size_class) const noexcept {
  return counts_[size_class].load(std::memory_order_relaxed);  // a snapshot; publishes nothing
}

void EnvelopeDepot::free_chain(std::size_t size_class, Block* chain) noexcept {
  while (chain != nullptr) {
    Block* next = chain->next;
    ::operator delete(static_cast<void*>(chain), (size_class + 1) * kGranule);
    chain = next;
  }
}

}  // namespace phyx::detail
