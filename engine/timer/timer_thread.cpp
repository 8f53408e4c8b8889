#include "timer/timer_thread.hpp"

#include <chrono>

#include "sched/thread_context.hpp"

namespace phyx::detail {

TimerThread::TimerThread(TimerQueue& queue, std::shared_ptr<Clock> clock)
    : shared_(std::make_shared<Shared>()), thread_(&TimerThread::run, shared_, &queue, std::move(clock)) {}

TimerThread::~TimerThread() { stop(); }

void TimerThread::poke() {
  {
    std::lock_guard lock(shared_->mutex);
    shared_->poked = true;
  }
  shared_->cv.notify_one();
}

void TimerThread::stop() {
  {
    std::lock_guard lock(shared_->mutex);
    shared_->stopping = true;
  }
  shared_->cv.notify_one();
  if (!thread_.joinable()) return;
  if (thread_.get_id() == std::this_thread::get_id()) {
    thread_.detach();  // we are inside one of its callbacks: it leaves when the callback returns
  } else {
    thread_.join();
  }
}

void TimerThread::run(std::shared_ptr<Shared> shared, TimerQueue* queue, std::shared_ptr<Clock> clock) {
  EngineThreadScope engine_thread;  // callbacks (future continuations) must not block here
  std::unique_lock lock(shared->mutex);
  while (!shared->stopping) {
    shared->poked = false;
    lock.unlock();
    std::int64_t now = clock->now().mono_ns;
    for (;;) {
      auto due = queue->pop_due(now);
      if (!due) break;
      (*due)();
      {
        // A callback may have shut the runtime down (and freed the queue): look before
        // touching the queue again.
        std::lock_guard check(shared->mutex);
        if (shared->stopping) return;
      }
      now = clock->now().mono_ns;
    }
    const auto next = queue->announce_next_deadline();
    lock.lock();
    if (shared->stopping || shared->poked) continue;
    if (next) {
      shared->cv.wait_for(lock, std::chrono::nanoseconds(*next - now),
                          [&] { return shared->stopping || shared->poked; });
    } else {
      shared->cv.wait(lock, [&] { return shared->stopping || shared->poked; });
    }
  }
}

}  // namespace phyx::detail
