// engine/runtime/process_table.hpp — the live top-level processes of a runtime, for
// shutdown and stats, without a runtime-wide lock on spawn and stop. Children are not in
// it: their parents' lists reach them (RuntimeCore::live_processes()).
//
// Protocol:
//  1. insert (spawn, any thread): lock the shard of the process's id; unless the table is
//     closed (shutdown began), link the process at the shard's tail (the table holds one
//     reference); unlock.
//  2. erase (the process reached `stopped`, any thread): lock the same shard, unlink, and
//     drop the reference after unlocking (the last reference may delete the process).
//  3. snapshot (shutdown, stats): lock each shard in turn and copy references out.
// Invariants: a root is in at most one shard list, the one of id % kShards; its links
// are touched only under that shard's lock (or by clear() once it is out). A child's same
// two fields link it among its siblings instead, under its parent's control_.
// Locks: a SpinLock per shard (SpinLock's yield while held elsewhere), not a std::mutex:
// every critical section is a few pointer writes but the snapshot's copy, and a root spawn
// paid ~8 % of its time in pthread_mutex_lock + unlock (session 14's spawn profile).
// Rejected: one std::unordered_map + std::map under one mutex (the previous design: on
// skynet, 1.1 M spawns and stops from two workers spent ~20 % of the run contending for
// it, and the two nodes cost ~100 bytes per idle process); a lock-free list (erasure
// from the middle needs hazard pointers or epochs, for a path that is not hot once sharded);
// every process in the table, children too (the design until session 7: on skynet the
// shards' mutexes, which both workers take, were ~16 % of the run).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "phyx/detail/process_core.hpp"
#include "phyx/detail/spin_lock.hpp"

namespace phyx::detail {

class ProcessTable {
 public:
  static constexpr std::size_t kShards = 64;

  ProcessTable() = default;
  ProcessTable(const ProcessTable&) = delete;
  ProcessTable& operator=(const ProcessTable&) = delete;
  ~ProcessTable() { clear(); }

  /// Any thread. Takes a reference and returns true, unless `closed` (read under the
  /// shard's lock, which shutdown takes after setting it) is set: then false, and `p` is
  /// not in the table. Does not allocate; blocks (yielding) only while the shard is locked.
  bool insert_unless(ProcessCore* p, const std::atomic<bool>& closed);
  /// Any thread. Drops the table's reference if `p` was in it; true if it was.
  bool erase(ProcessCore* p);
  /// Any thread. References to every live process (allocates the vector).
  std::vector<ProcessHandle> snapshot() const;
  /// Drops every reference (shutdown's end).
  void clear();

 private:
  struct alignas(64) Shard {
    mutable SpinLock lock;
    ProcessCore* head = nullptr;
    ProcessCore* tail = nullptr;
  };
  Shard& shard_of(const ProcessCore* p) noexcept { return shards_[p->id().value % kShards]; }

  std::array<Shard, kShards> shards_;
};

}  // namespace phyx::detail
