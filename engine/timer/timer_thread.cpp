#include "timer/timer_thread.hpp"

#include <chrono>
#include <climits>

#include "sched/thread_context.hpp"

namespace phyx::detail {

TimerThread::TimerThread(std::shared_ptr<TimerService> service, std::shared_ptr<Clock> clock)
    : shared_(std::make_shared<Shared>()),
      thread_(&TimerThread::run, shared_, std::move(service), std::move(clock)) {}

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

void TimerThread::run(std::shared_ptr<Shared> shared, std::shared_ptr<TimerService> service,
                      std::shared_ptr<Clock> clock) {
  EngineThreadScope engine_thread;  // callbacks (future continuations) must not block here
  for (;;) {
    // Step 1.
    service->wake_up();
    std::int64_t now = clock->now().mono_ns;
    service->visit_stages(now);  // timer_service.hpp step 0c
    while (TimerNode* due = service->pop_due(now)) {
      service->fire(due);
      {
        std::lock_guard check(shared->mutex);  // a callback may have shut the runtime down
        if (shared->stopping) return;
      }
      now = clock->now().mono_ns;
    }
    // Step 2.
    const auto until = service->prepare_sleep(now);
    if (!until) continue;
    // Step 3.
    std::unique_lock lock(shared->mutex);
    if (shared->stopping) return;
    if (!shared->poked) {
      const auto woken = [&] { return shared->stopping || shared->poked; };
      if (*until == INT64_MAX) {
        shared->cv.wait(lock, woken);
      } else {
        shared->cv.wait_for(lock, std::chrono::nanoseconds(*until - now), woken);
      }
    }
    if (shared->stopping) return;
    shared->poked = false;
  }
}

}  // namespace phyx::detail
