// engine/sched/scheduler.hpp — where runnable processes wait for a thread.
//
// Two implementations behind one interface (CAF style: interface + factory, private
// implementations): WorkStealing (worker threads, parking when idle) and Deterministic
// (no threads; the caller drives, seeded run order).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace phyx::detail {

class ProcessCore;
class RuntimeCore;
class SchedulingChoices;

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  /// Any thread. `p` had its `scheduled` bit set by the caller: it is in no queue now.
  /// The entry holds a reference only if `p` is not anchored (ProcessCore::anchored(),
  /// run_entry.hpp); the slice that finishes a process hands one to its scheduler.
  virtual void enqueue(ProcessCore* p) = 0;
  /// Deterministic only: runs one step of one runnable process. False if none is runnable.
  virtual bool run_one() { return false; }
  /// Stops the workers after their current slice; waits for them until `deadline`
  /// (steady clock). Returns the number of workers still busy at the deadline (detached).
  virtual std::size_t stop(std::chrono::steady_clock::time_point deadline) = 0;
  /// After stop(), from its caller: destroys `keep` once no worker thread can be inside a
  /// process: now if every worker has left, else when the last detached one leaves (on
  /// its thread). Shutdown hands it the references of what it abandons, whose anchors it
  /// drops while a stuck handler may still run in one of them (an entry holds no
  /// reference of its own). Never blocks beyond a short lock.
  virtual void outlive_workers(std::shared_ptr<void> keep) { keep.reset(); }
  /// Any thread: workers parked right now (a snapshot, for tests of the parking protocol).
  virtual unsigned parked_workers() const { return 0; }
  /// Any thread: convoy offers made so far (work_stealing.cpp step 4a), taken or not; a
  /// sum of relaxed snapshots, for tests. Never blocks.
  virtual std::uint64_t convoy_offers() const { return 0; }
  /// Any thread: steals from a victim that had made such an offer since the thief's last
  /// look (step 4a); for tests. Never blocks.
  virtual std::uint64_t convoy_offers_taken() const { return 0; }
  /// Any thread: turns the workers started so far (work_stealing.cpp step 5's `turns`); a
  /// sum of relaxed snapshots, for tests. Never blocks.
  virtual std::uint64_t turns_started() const { return 0; }
  /// Any thread: worker threads started (0 = deterministic: the caller drives).
  virtual unsigned worker_count() const { return 0; }
};

/// The runtime's scheduler: per-worker queues, LIFO slot, stealing, parking.
/// `choices`: nullptr, or systematic mode's seeded decisions (sched/choices.hpp), which
/// must outlive the scheduler.
std::unique_ptr<Scheduler> make_work_stealing(RuntimeCore& rt, unsigned workers, SchedulingChoices* choices);
std::unique_ptr<Scheduler> make_deterministic(std::uint64_t seed);

}  // namespace phyx::detail
