// engine/timer/timer_thread.hpp — drives a TimerService on a dedicated thread, for
// runtimes on a real clock (not a ManualClock, not deterministic).
//
// Protocol:
//  1. Awake: tell the service (its starts stop announcing), fire every timer due now, one
//     at a time, outside every lock (a callback may start or cancel timers).
//  2. Ask the service for the time to sleep until (timer_service.hpp step 4: it announces
//     it, so a start with an earlier deadline calls poke()); nullopt means a timer arrived
//     meanwhile: go to 1.
//  3. Sleep on `cv` until then, or until poked or stopped. poke() sets `poked` under the
//     mutex the sleeper holds when it tests it, so a poke is never lost.
// The sleep is relative to the runtime's clock (wait_for the difference), so a wall-clock
// jump moves nothing: the system clock's mono time is CLOCK_MONOTONIC.
// Rejected: workers driving the wheel between slices (Tokio's way: a worker that parks
// with a timeout becomes the driver). It saves a thread and a wake-up per firing, but every
// parked worker would need a timed park and the driver role would move between threads;
// the dedicated thread keeps parking simple and costs ~0 CPU while idle (measured by
// phyx-bench idle-cpu).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "phyx/clock.hpp"
#include "timer/timer_service.hpp"

namespace phyx::detail {

class TimerThread {
 public:
  TimerThread(std::shared_ptr<TimerService> service, std::shared_ptr<Clock> clock);
  ~TimerThread();
  /// Any thread; takes a mutex briefly: the earliest deadline moved earlier, or the driver
  /// sleeps deeply and timers arrived (timer_service.hpp step 5).
  void poke();
  /// Stops the thread and joins it. Idempotent. Called from the timer thread itself (a
  /// callback that shuts its runtime down), it detaches instead: the thread then leaves at
  /// once, touching only what it holds shared.
  void stop();

 private:
  struct Shared {
    std::mutex mutex;
    std::condition_variable cv;
    bool poked = false;
    bool stopping = false;
  };
  static void run(std::shared_ptr<Shared> shared, std::shared_ptr<TimerService> service,
                  std::shared_ptr<Clock> clock);

  std::shared_ptr<Shared> shared_;
  std::thread thread_;
};

}  // namespace phyx::detail
