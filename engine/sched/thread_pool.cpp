// engine/sched/thread_pool.cpp — the simple multi-threaded scheduler of the process-model
// issue: one shared run queue, N workers, parking on a condition variable.
//
// Protocol:
//  1. enqueue(p): retain p, push under `mutex_`; if a worker is parked (idle_ > 0),
//     notify one. The check of idle_ and the push happen under the same lock the parked
//     worker held when it decided to sleep, so a wake-up cannot be lost: either the worker
//     sees the new item before waiting, or it is counted in idle_ and is notified.
//  2. A worker pops under the lock, runs up to kBudget steps of the process outside it,
//     re-enqueues the process if run_slice() says it has more work, and releases its ref.
//  3. Idle workers block in cv_.wait (no spinning): an idle runtime uses ~0% CPU.
//  4. stop(): sets stopping_, wakes everyone; each worker exits after its current slice.
//     Workers still inside a handler at the deadline are detached (counted by the caller);
//     they hold the RuntimeCore alive until they return.
// Invariants: a process is in the queue at most once (its scheduled_ flag, set by the
// enqueuer, is cleared only by run_slice), so one process never runs on two workers.
// Rejected for this issue: per-worker queues with stealing and a LIFO slot (the scheduler
// issue); a lock-free injection queue without a parking protocol (would spin when idle).
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "phyx/detail/process_core.hpp"
#include "phyx/detail/runtime_core.hpp"
#include "sched/scheduler.hpp"
#include "sched/thread_context.hpp"

namespace phyx::detail {
namespace {

constexpr unsigned kBudget = 128;  // steps per turn: a flood to one process cannot starve others

class ThreadPool final : public Scheduler {
 public:
  ThreadPool(RuntimeCore& rt, unsigned workers) {
    auto keep = rt.shared_from_this();
    threads_.reserve(workers);
    for (unsigned i = 0; i < workers; ++i) {
      threads_.emplace_back([this, keep] { work(); });
    }
  }

  ~ThreadPool() override {
    stop(std::chrono::steady_clock::now() + std::chrono::hours(1));
  }

  void enqueue(ProcessCore* p) override {
    bool wake;
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return;  // after shutdown nothing runs; holding a ref would leak a cycle
      p->retain();           // released after the slice that runs it, or at stop
      queue_.push_back(p);
      wake = idle_ > 0;
    }
    if (wake) cv_.notify_one();
  }

  std::size_t stop(std::chrono::steady_clock::time_point deadline) override {
    std::deque<ProcessCore*> leftover;
    std::size_t busy = 0;
    {
      std::unique_lock lock(mutex_);
      if (stopped_) return 0;
      stopped_ = true;
      stopping_ = true;
      cv_.notify_all();
      exited_cv_.wait_until(lock, deadline, [&] { return exited_ == threads_.size(); });
      busy = threads_.size() - exited_;
      leftover.swap(queue_);
    }
    for (auto& t : threads_) {
      if (busy == 0) {
        t.join();
      } else {
        t.detach();  // a worker stuck in a handler: abandoned, holds the RuntimeCore alive
      }
    }
    for (ProcessCore* p : leftover) p->release();
    return busy;
  }

 private:
  void work() {
    EngineThreadScope engine_thread;
    std::unique_lock lock(mutex_);
    for (;;) {
      while (queue_.empty() && !stopping_) {
        ++idle_;
        cv_.wait(lock);
        --idle_;
      }
      if (stopping_) break;
      ProcessCore* p = queue_.front();
      queue_.pop_front();
      lock.unlock();
      const bool again = p->run_slice(kBudget);
      if (again) enqueue(p);
      p->release();
      lock.lock();
    }
    ++exited_;
    exited_cv_.notify_all();
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::condition_variable exited_cv_;
  std::deque<ProcessCore*> queue_;
  unsigned idle_ = 0;
  std::size_t exited_ = 0;
  bool stopping_ = false;
  bool stopped_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace

std::unique_ptr<Scheduler> make_thread_pool(RuntimeCore& rt, unsigned workers) {
  return std::make_unique<ThreadPool>(rt, workers);
}

}  // namespace phyx::detail
