// engine/timer/timer_thread.hpp — fires a TimerQueue's timers on a dedicated thread, for
// runtimes on a real clock (not a ManualClock, not deterministic).
//
// Protocol:
//  1. The thread sleeps on `cv_` until the earliest deadline (or forever if none).
//  2. A timer added ahead of the earliest one calls poke(): under `mutex_` it sets `poked_`
//     and notifies, so the sleeper re-reads the deadline. Setting the flag under the lock
//     the sleeper holds when it tests it means a poke is never lost.
//  3. Due timers are popped one at a time and fired outside every lock, so a callback may
//     add or cancel timers.
// Rejected: workers polling the queue between slices (adds a lock to every slice, and an
// idle runtime would have to wake up to look); the timer-wheel issue revisits this.
#pragma once

#include <condition_variable>
#include <mutex>
#include <memory>
#include <thread>

#include "phyx/clock.hpp"
#include "timer/timer_queue.hpp"

namespace phyx::detail {

class TimerThread {
 public:
  TimerThread(TimerQueue& queue, std::shared_ptr<Clock> clock);
  ~TimerThread();
  /// Any thread: the earliest deadline moved earlier.
  void poke();
  /// Stops the thread and joins it. Idempotent. Called from the timer thread itself (a
  /// callback that shuts its runtime down), it detaches instead: the thread then leaves at
  /// once, touching only the shared state it owns.
  void stop();

 private:
  struct Shared {
    std::mutex mutex;
    std::condition_variable cv;
    bool poked = false;
    bool stopping = false;
  };
  static void run(std::shared_ptr<Shared> shared, TimerQueue* queue, std::shared_ptr<Clock> clock);

  std::shared_ptr<Shared> shared_;
  std::thread thread_;
};

}  // namespace phyx::detail
