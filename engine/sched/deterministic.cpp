// engine/sched/deterministic.cpp — the scheduler of deterministic mode (SPEC 9).
//
// No threads: the caller drives. run_one() picks a runnable process with a seeded PRNG
// (splitmix64) and runs exactly one step of it, so the same seed gives the same
// interleaving, event for event, and different seeds explore different interleavings
// (Pony's systematic-testing idea, on one thread). Only the driving thread touches the
// ready list; sends from other threads are a usage error in this mode and are still
// made safe by the mutex.
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
    bool again;
    {
      EngineThreadScope engine_thread;
      again = p->run_slice(1);
    }
    if (again) enqueue(p);
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
