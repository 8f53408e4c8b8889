// engine/runtime/future_state.cpp — blocking, driving and continuations of futures
// (protocol in phyx/detail/future_state.hpp).
#include "phyx/detail/future_state.hpp"

#include <thread>

#include "phyx/detail/runtime_core.hpp"
#include "phyx/errors.hpp"
#include "sched/thread_context.hpp"

namespace phyx::detail {
namespace {

constexpr const char* kWouldBlock =
    "Future::get() would block an engine thread (a worker, a timer callback or a handler); use co_await or "
    "tools.pipe inside handlers";

constexpr int kSpinsBeforeBlocking = 64;  // 20-60 us of yields here; more gained nothing

}  // namespace

void FutureStateBase::publish() {
  on_settled();
  std::vector<std::function<void()>> ks;
  {
    std::lock_guard lock(mutex_);
    settled_.store(true, std::memory_order_release);  // pairs with the acquire load in ready()
    ks.swap(continuations_);
  }
  cv_.notify_all();
  for (auto& k : ks) k();
}

void FutureStateBase::on_ready(std::function<void()> k) {
  {
    std::lock_guard lock(mutex_);
    if (!settled_.load(std::memory_order_relaxed)) {  // written under mutex_
      continuations_.push_back(std::move(k));
      return;
    }
  }
  k();
}

void FutureStateBase::wait() {
  if (ready()) return;
  if (thread_context().engine_depth > 0) throw WouldBlockError(kWouldBlock);
  if (auto rt = driver_.lock(); rt && rt->deterministic()) {
    while (!ready()) {
      if (!rt->drive_step() && !ready()) {
        throw WouldBlockError("Future::get(): the deterministic runtime went idle before the future settled");
      }
    }
    return;
  }
  // A reply usually takes a few microseconds: look for it a little while before paying for
  // a sleep and a wake-up (two context switches, the whole cost of an outside thread's ask).
  for (int spin = 0; spin < kSpinsBeforeBlocking; ++spin) {
    if (ready()) return;
    std::this_thread::yield();  // lets a worker on this core run the handler meanwhile
  }
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] { return settled_.load(std::memory_order_relaxed); });  // written under mutex_
}

bool FutureStateBase::wait_for(std::chrono::nanoseconds d) {
  if (ready()) return true;
  if (thread_context().engine_depth > 0) return false;
  if (auto rt = driver_.lock(); rt && rt->deterministic()) {
    const auto until = std::chrono::steady_clock::now() + d;
    while (!ready() && std::chrono::steady_clock::now() < until && rt->drive_step()) {
    }
    return ready();
  }
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, d, [&] { return settled_.load(std::memory_order_relaxed); });  // written under mutex_
}

}  // namespace phyx::detail
