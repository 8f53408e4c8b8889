// engine/runtime/keep_credits.cpp — the keep count's protocol (keep_credits.hpp).
#include "runtime/keep_credits.hpp"

#include "phyx/detail/runtime_core.hpp"
#include "sched/thread_context.hpp"

namespace phyx::detail {

KeepCreditsScope::KeepCreditsScope(RuntimeCore& owner) noexcept : saved_(thread_context().keeps) {
  credits_.owner = &owner;
  thread_context().keeps = &credits_;
}

KeepCreditsScope::~KeepCreditsScope() {
  thread_context().keeps = saved_;
  if (credits_.count > 0) credits_.owner->unkeep_many(credits_.count);  // step 4
}

void RuntimeCore::keep() noexcept {
  KeepCredits* credits = thread_context().keeps;
  if (credits != nullptr && credits->owner == this) {  // step 2
    if (credits->count == 0) {
      // relaxed: made from a keep or shared_ptr the caller holds, as shared_ptr's copy is.
      keeps_.fetch_add(KeepCredits::kBatch, std::memory_order_relaxed);
      credits->count = KeepCredits::kBatch;
    }
    --credits->count;
    return;
  }
  keeps_.fetch_add(1, std::memory_order_relaxed);  // step 3; relaxed as above
}

void RuntimeCore::unkeep() noexcept {
  KeepCredits* credits = thread_context().keeps;
  if (credits != nullptr && credits->owner == this) {  // step 2
    if (++credits->count < 2 * KeepCredits::kBatch) return;
    credits->count -= KeepCredits::kBatch;
    // acq_rel: pairs with the other decrements, as below; never the last (kBatch are held).
    keeps_.fetch_sub(KeepCredits::kBatch, std::memory_order_acq_rel);
    return;
  }
  unkeep_many(1);  // step 3
}

void RuntimeCore::unkeep_many(std::int64_t n) noexcept {
  // acq_rel: release publishes this holder's writes to the core; the acquire of the last
  // decrement (pairs with every other decrement's release) sees them all before the delete.
  if (keeps_.fetch_sub(n, std::memory_order_acq_rel) == n) delete this;  // step 5
}

}  // namespace phyx::detail
