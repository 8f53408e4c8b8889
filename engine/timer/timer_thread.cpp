#include "timer/timer_thread.hpp"

#include <chrono>

#include "sched/thread_context.hpp"

namespace phyx::detail {

TimerThread::TimerThread(TimerQueue& queue, std::shared_ptr<Clock> clock)
    : queue_(queue), clock_(std::move(clock)), thread_([this] { run(); }) {}

TimerThread::~TimerThread() { stop(); }

void TimerThread::poke() {
  {
    std::lock_guard lock(mutex_);
    poked_ = true;
  }
  cv_.notify_one();
}

void TimerThread::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void TimerThread::run() {
  EngineThreadScope engine_thread;  // callbacks (future continuations) must not block here
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    poked_ = false;
    lock.unlock();
    std::int64_t now = clock_->now().mono_ns;
    while (auto due = queue_.pop_due(now)) {
      (*due)();
      now = clock_->now().mono_ns;
    }
    const auto next = queue_.next_deadline();
    lock.lock();
    if (stopping_ || poked_) continue;
    if (next) {
      cv_.wait_for(lock, std::chrono::nanoseconds(*next - now), [&] { return stopping_ || poked_; });
    } else {
      cv_.wait(lock, [&] { return stopping_ || poked_; });
    }
  }
}

}  // namespace phyx::detail
