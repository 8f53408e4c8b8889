// engine/process/share_count.cpp — the shared behaviour's counts (phyx/detail/share_count.hpp).
#include "phyx/detail/share_count.hpp"

#include <cassert>

#include "sched/thread_context.hpp"

namespace phyx::detail {
namespace {

/// This thread's credits on `count`, claiming the slot if it is free; nullptr when the
/// thread is not a worker or its credits are another behaviour's (step 2).
ShareCredits* credits_for(ShareCount* count, bool claim) noexcept {
  ShareCredits* credits = thread_context().shares;
  if (credits == nullptr) return nullptr;
  if (credits->owner == count) return credits;
  if (claim && credits->owner == nullptr) {
    credits->owner = count;
    return credits;
  }
  return nullptr;
}

}  // namespace

void ShareCount::add(std::uint64_t units) noexcept {
  // relaxed: made from a unit the caller holds (its SharedSpec, or credits), as a
  // shared_ptr's copy is; nothing is published by taking a hold.
  const std::uint64_t before = units_.fetch_add(units, std::memory_order_relaxed);
  assert((before & 0xffffffffu) != 0 && "a spawn from a behaviour whose functions were emptied");
  (void)before;
}

void ShareCount::take() noexcept {
  if (ShareCredits* c = credits_for(this, true)) {  // step 2
    if (c->live == 0 || c->active == 0) {
      add(kBatch * (kLive + kActive));
      c->live += kBatch;
      c->active += kBatch;
    }
    --c->live;
    --c->active;
    return;
  }
  add(kLive + kActive);
}

void ShareCount::give_back_active() noexcept {
  if (!credit_back(&ShareCredits::active, kActive)) release_active(1);
}

void ShareCount::give_back_live() noexcept {
  if (!credit_back(&ShareCredits::live, kLive)) release_live(1);
}

bool ShareCount::credit_back(std::uint32_t ShareCredits::*half, std::uint64_t unit) noexcept {
  ShareCredits* c = credits_for(this, false);
  if (c == nullptr) return false;
  if (++(c->*half) < 2 * kBatch) return true;  // step 2
  c->*half -= kBatch;
  // acq_rel, as in release_active() / release_live(); never the last unit (the worker
  // keeps kBatch of this half).
  units_.fetch_sub(kBatch * unit, std::memory_order_acq_rel);
  return true;
}

void ShareCount::drop_spec() noexcept {
  release_active(1);  // step 1: active first, while the spec's live unit is still held
  release_live(1);
}

void ShareCount::release_active(std::uint32_t n) noexcept {
  // acq_rel: the release publishes this holder's calls of the functions; the acquire of
  // the decrement that reaches zero (pairs with every other decrement's release) orders
  // them all before the emptying (step 4).
  const std::uint64_t before = units_.fetch_sub(n * kActive, std::memory_order_acq_rel);
  if ((before & 0xffffffffu) == n) empty_functions();
}

void ShareCount::release_live(std::uint32_t n) noexcept {
  // acq_rel: as above, for every holder's reads of the behaviour before the delete (step 5).
  const std::uint64_t before = units_.fetch_sub(n * kLive, std::memory_order_acq_rel);
  if (before == n * kLive) delete this;
}

std::uint32_t ShareCount::live_units() const noexcept {
  return static_cast<std::uint32_t>(units_.load(std::memory_order_acquire) >> 32);  // a snapshot
}

std::uint32_t ShareCount::active_units() const noexcept {
  return static_cast<std::uint32_t>(units_.load(std::memory_order_acquire));  // a snapshot
}

void ShareCredits::return_all() noexcept {
  ShareCount* count = owner;
  if (count == nullptr) return;
  // The slot is free first: what the emptying destroys may give units back, and they must
  // not land in credits being returned.
  const std::uint32_t active_n = active;
  std::uint32_t live_n = live;
  owner = nullptr;
  live = 0;
  active = 0;
  if (active_n > 0) {
    if (live_n == 0) {  // step 3: hold a live unit while `active` may reach zero
      count->add(ShareCount::kLive);
      live_n = 1;
    }
    count->release_active(active_n);
  }
  if (live_n > 0) count->release_live(live_n);
}

ShareCreditsScope::ShareCreditsScope() noexcept : saved_(thread_context().shares) {
  thread_context().shares = &credits_;
}

ShareCreditsScope::~ShareCreditsScope() {
  // Step 3, while the slot is still ours. A destructor run by the emptying may spawn from a
  // behaviour again and so claim the slot anew: return until it stays free.
  while (credits_.owner != nullptr) credits_.return_all();
  thread_context().shares = saved_;
}

}  // namespace phyx::detail
