// engine/runtime/id_blocks.cpp — process ids (id_blocks.hpp).
#include "runtime/id_blocks.hpp"

#include "phyx/detail/runtime_core.hpp"
#include "sched/thread_context.hpp"

namespace phyx::detail {

IdBlockScope::IdBlockScope(RuntimeCore& owner) noexcept : saved_(thread_context().ids) {
  block_.owner = &owner;
  thread_context().ids = &block_;
}

IdBlockScope::~IdBlockScope() { thread_context().ids = saved_; }  // step 4: unused ids are dropped

std::uint64_t RuntimeCore::next_process_id(bool child) noexcept {
  IdBlock* block = thread_context().ids;
  if (child && block != nullptr && block->owner == this) {  // step 2
    if (block->next == block->end) {
      // relaxed: only uniqueness matters, which the RMW gives.
      block->next = next_id_.fetch_add(IdBlock::kBlock, std::memory_order_relaxed);
      block->end = block->next + IdBlock::kBlock;
    }
    return block->next++;
  }
  return next_id_.fetch_add(1, std::memory_order_relaxed);  // step 3; relaxed as above
}

}  // namespace phyx::detail
