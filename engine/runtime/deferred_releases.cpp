// engine/runtime/deferred_releases.cpp — a worker's deferred drops of process references
// (deferred_releases.hpp), and ProcessCore's retain / release, which use them.
#include "runtime/deferred_releases.hpp"

#include "phyx/detail/process_core.hpp"
#include "sched/thread_context.hpp"

namespace phyx::detail {

unsigned DeferredReleases::slot_of(const ProcessCore* p) noexcept {
  return static_cast<unsigned>(p->id().value & (kSlots - 1));
}

bool DeferredReleases::defer(ProcessCore* p) noexcept {
  Entry& e = entries_[slot_of(p)];
  if (e.process == p) {
    ++e.drops;
    return true;
  }
  // Step 2: a slot held by another process stays its; step 4: another runtime's process.
  if (e.process != nullptr || &p->runtime() != owner_) return false;
  e.process = p;
  e.drops = 1;
  ++occupied_;
  return true;
}

bool DeferredReleases::defer_many(ProcessCore* p, std::uint32_t n) noexcept {
  Entry& e = entries_[slot_of(p)];
  // Only into a free slot: a slot that held `p` would have cancelled instead (step 3a).
  if (e.process != nullptr || &p->runtime() != owner_) return false;
  e.process = p;
  e.drops = n;
  ++occupied_;
  return true;
}

void DeferredReleases::flush(Entry& e) noexcept {
  ProcessCore* p = e.process;
  const std::uint32_t drops = e.drops;
  e.process = nullptr;  // step 5: empty first, the deletes below may defer more
  e.drops = 0;
  --occupied_;
  p->drop_refs(drops);
}

bool DeferredReleases::flush_all() noexcept {
  bool any = false;
  while (occupied_ != 0) {  // a flush's deletes may defer more: walk until none is left
    for (Entry& e : entries_) {
      if (e.process == nullptr) continue;
      flush(e);
      any = true;
    }
  }
  return any;
}

DeferredReleasesScope::DeferredReleasesScope(RuntimeCore& owner) noexcept
    : releases_(owner), saved_(thread_context().releases) {
  thread_context().releases = &releases_;
}

void DeferredReleasesScope::close() noexcept {
  if (!open_) return;
  open_ = false;
  releases_.flush_all();
  thread_context().releases = saved_;
}

void ProcessCore::retain() noexcept {
  ThreadContext& tc = thread_context();
  DeferredReleases* deferred = tc.releases;
  std::uint32_t take = 1;
  if (deferred != nullptr) {
    if (deferred->cancel(this)) return;  // step 3
    // Step 3a: the process whose turn this is takes a batch and owes the rest.
    if (tc.process == this && deferred->defer_many(this, DeferredReleases::kSelfBatch - 1)) {
      take = DeferredReleases::kSelfBatch;
    }
  }
  // relaxed: a new reference is made from an existing one, which keeps the count above
  // zero; nothing is published. Its partner is the acq_rel fetch_sub of drop_refs(),
  // which orders this holder's writes before the delete.
  refs_.fetch_add(take, std::memory_order_relaxed);
}

void ProcessCore::release() noexcept {
  DeferredReleases* deferred = thread_context().releases;
  if (deferred != nullptr && deferred->defer(this)) return;  // step 2
  drop_refs(1);
}

void ProcessCore::drop_refs(std::uint32_t n) noexcept {
  // acq_rel: release publishes this holder's writes to the process; the acquire of the
  // last drop (pairs with every other drop's release) sees them all before the delete.
  if (refs_.fetch_sub(n, std::memory_order_acq_rel) == n) delete this;
}

}  // namespace phyx::detail
