// phyx/detail/spin_lock.hpp — a one-byte lock for rare, short critical sections.
//
// Guards a process's control state (stop request, timer set): taken by stop(), schedule,
// cancel and the restart path, never by a send or by message handling, and never held
// across user code. A std::mutex would cost 40 bytes in every process for that.
// Waiting: test-and-test-and-set, yielding the thread while the lock is held elsewhere.
#pragma once

#include <atomic>
#include <thread>

namespace phyx::detail {

class SpinLock {
 public:
  /// Any thread; blocks (yielding) while another thread holds the lock.
  void lock() noexcept {
    while (locked_.exchange(true, std::memory_order_acquire)) {  // pairs with unlock()'s release
      while (locked_.load(std::memory_order_relaxed)) std::this_thread::yield();  // wait without writing
    }
  }
  bool try_lock() noexcept {
    return !locked_.load(std::memory_order_relaxed) &&               // a hint; the exchange decides
           !locked_.exchange(true, std::memory_order_acquire);       // pairs with unlock()'s release
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }  // pairs with lock()'s acquire

 private:
  std::atomic<bool> locked_{false};
};

}  // namespace phyx::detail
