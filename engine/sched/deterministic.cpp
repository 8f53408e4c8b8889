// engine/sched/deterministic.cpp — the scheduler of deterministic mode (SPEC 9).
//
// Protocol (one driving thread; no worker threads exist):
//  1. enqueue(p) appends p to the ready list (a process is there at most once: its
//     scheduled_ flag, as in every scheduler).
//  2. run_one() draws an index from a seeded splitmix64, swap-removes that process and runs
//     exactly one step of it (one system command, one init or one user message), as an
//     engine thread (a Future::get() inside the step throws WouldBlockError).
//  3. If the step left work, the process goes back to the ready list; the driver
//     (run_until_idle, advance_by, a deterministic Future::get()) repeats until the list is
//     empty and no timer is due.
// Invariants: the same seed and the same calls give the same sequence of steps, hence the
// same events. The ready list holds a reference per entry, anchored or not (one thread:
// the count is cheap here, and the list need not record which entries hold one). The mutex only
// makes sends from other threads safe (a usage error here). Rejected: FIFO order (explores one
// interleaving only); one slice per pick (hides the interleavings inside a slice from the seed).
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "phyx/detail/process_core.hpp"
#include "sched/scheduler.hpp"
#include "sched/thread_context.hpp"

namespace phyx::detail {
namespace {

class Deterministic final : public Scheduler {
 public:
  explicit Deterministic(std::uint64_t seed) : rng_state_(seed) {}
  ~Deterministic() override {
    for (ProcessCore* p : ready_) p->release();
  }

  void enqueue(ProcessCore* p) override {
    std::lock_guard lock(mutex_);
    if (stopped_) return;  // after shutdown nothing runs; holding a ref would leak a cycle
    p->retain();
    ready_.push_back(p);
  }

  bool run_one() override {
    ProcessCore* p;
    {
      std::lock_guard lock(mutex_);
      if (ready_.empty()) return false;
      const std::size_t i = next_random() % ready_.size();
      p = ready_[i];
      ready_[i] = ready_.back();
      ready_.pop_back();
    }
    ProcessCore::SliceEnd end;
    {
      EngineThreadScope engine_thread;
      end = p->run_slice(1);
    }
    if (end.again) enqueue(p);
    if (end.took_ref) p->release();  // the finished process's, beside the list's own below
    p->release();
    return true;
  }

  std::size_t stop(std::chrono::steady_clock::time_point) override {
    std::vector<ProcessCore*> leftover;
    {
      std::lock_guard lock(mutex_);
      stopped_ = true;
      leftover.swap(ready_);
    }
    for (ProcessCore* p : leftover) p->release();
    return 0;
  }

 private:
  std::uint64_t next_random() noexcept {  // splitmix64
    std::uint64_t z = (rng_state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  std::mutex mutex_;
  std::vector<ProcessCore*> ready_;
  bool stopped_ = false;
  std::uint64_t rng_state_;
};

}  // namespace

std::unique_ptr<Scheduler> make_deterministic(std::uint64_t seed) { return std::make_unique<Deterministic>(seed); }

}  // namespace phyx::detail
