// engine/runtime/deferred_releases.hpp — how a worker drops and takes process references
// without a locked instruction when the two meet on its thread.
//
// A ProcessHandle's copy and destruction are a locked add and a locked subtract on the
// process's count (ProcessCore::refs_). An ask's round trip made four of them, all on one
// worker and in pairs: the ask's state takes a reference to its target and drops it when
// it is freed, a pipe takes one to its asker and the continuation drops it (~12 % of the
// round trip, session 20). So a worker defers the drops it makes and lets a later take of
// the same process on the same thread cancel one.
//
// Protocol:
//  1. A worker owns one DeferredReleases for its life (DeferredReleasesScope), for the
//     processes of its own runtime: kSlots entries of (process, n), n >= 1 deferred drops;
//     a process's slot is its id modulo kSlots.
//  2. release() on that worker, of one of its runtime's processes: if the process's slot
//     is free or holds it, the entry counts one more (no atomic). A slot held by another
//     process is left alone and the count is lowered at once, as on any thread: the drop
//     can then free only the process it names, never an unrelated one.
//  3. retain() on that worker: if the process's slot holds it, one deferred drop is
//     cancelled instead (no atomic); else the count is raised as on any thread.
// 3a. A retain() that cancels nothing, of the process whose turn this worker runs (a
//     handler's tools.self(), a spawn's reference to its parent), raises the count by
//     kSelfBatch at once and defers kSelfBatch - 1 drops in the process's free slot: the
//     next takes of it in this turn cancel those. skynet's spawning turn takes 20
//     references to itself (each child's ctx and parent link): two locked adds, not 20.
//     The flush after the turn gives back what was not used, in the one fetch_sub that the
//     turn's other drops of the process already needed, if any (a leaf's self() and its
//     end: one add and one subtract, as before).
//  4. Any other thread, or a process of another runtime: the count itself, as before.
//  5. A flush of an entry empties the slot first, then subtracts its n at once (one
//     fetch_sub; whoever reaches zero deletes the process). Emptying first makes the flush
//     reentrant: a process's destructor drops other handles, which land in the slots.
//  6. The worker flushes all its entries (until none is left, since a flush's deletes can
//     defer more) only between turns: after a turn whenever it flushes its timer stage
//     (every 2-4 ms while it asks); before it searches or parks, once more after its
//     stage's flush and its share credits' return (both drop references); and when it
//     leaves, before its keep and share credits go back (the processes it frees give
//     units back to them). A count of the slots in use (plain, the worker's) lets a flush
//     of an empty table skip the walk.
// Invariants: a process's count = the references that exist + the drops deferred on it,
// so a deferral keeps a process alive longer, never shorter; a deferred drop is cancelled
// only by a take on the same thread; the slots are touched by their worker's thread alone;
// a worker that parks or leaves has nothing deferred.
// What it costs: up to kSlots processes outlive their last reference until their worker
// runs dry or flushes its stage; a process's destructor may run on a worker after the
// turn that dropped it rather than inside it (never inside another process's drop: step 2).
// Rejected: deferring takes as well (a deferred add leaves the count below the references
// that exist: another thread's drop could free a process still in use); a per-worker
// count in every process (a line per worker in every process, against an idle process of
// ~200 bytes); biased counting, with the owner's counts plain and others' atomic (phyx's
// processes have no owning thread: a ProcessRef moves between workers with every message);
// flushing after every turn (the ask's two pairs straddle turns: the continuation's drop
// runs in the server's turn and the pipe's take in the client's next one); evicting a
// slot's holder for a newcomer (the holder's delete would run inside an unrelated drop,
// e.g. a child's erase from its parent's list under the parent's spin lock, whose
// continuations could stop that parent); a slot chosen by the process's address (ASLR
// moves it from run to run, and with it which drops are deferred: a systematic-mode seed
// would no longer replay the same destructor timing; ids are given in spawn order).
#pragma once

#include <cstdint>

namespace phyx::detail {

class ProcessCore;
class RuntimeCore;

/// A worker's deferred drops (protocol above). Worker only: touched by its thread alone.
class DeferredReleases {
 public:
  // 128, not 8 (until session 25): ask-many's 100 clients took 8 slots in turn, so most of
  // their pipes' takes and drops were locked RMWs again (kSlots 8 -> 128: ask-many +12 %,
  // ABBA rounds on one worker; engine/runtime/README.md). 16 bytes a slot, 2 KiB a worker.
  static constexpr unsigned kSlots = 128;
  // Step 3a: references a turn's process takes to itself at once. 16: a spawning turn of
  // skynet (10 children, 2 references each) needs two batches.
  static constexpr std::uint32_t kSelfBatch = 16;

  /// Any thread (the worker that will own it); never allocates, never blocks.
  explicit DeferredReleases(RuntimeCore& owner) noexcept : owner_(&owner) {}
  DeferredReleases(const DeferredReleases&) = delete;
  DeferredReleases& operator=(const DeferredReleases&) = delete;

  /// Step 2: defers one drop of `p`'s count; false if `p` is not this runtime's or its
  /// slot holds another process (the caller subtracts). Never touches a count, never
  /// allocates, never blocks.
  bool defer(ProcessCore* p) noexcept;
  /// Step 3a: records `n` drops of `p` owed for references its caller is about to take
  /// at once; false if `p`'s slot is not free (the caller takes one). Never touches a
  /// count, never allocates, never blocks.
  bool defer_many(ProcessCore* p, std::uint32_t n) noexcept;
  /// Step 3: cancels one deferred drop of `p`; false if none is deferred here (the caller
  /// adds). Never blocks, never touches `p`'s count.
  bool cancel(ProcessCore* p) noexcept {
    Entry& e = entries_[slot_of(p)];
    if (e.process != p) return false;
    if (--e.drops == 0) {
      e.process = nullptr;
      --occupied_;
    }
    return true;
  }
  /// Step 6: flushes every entry, until none is left; true if there was any (one load
  /// when none is: a worker that parks often does not walk the slots). Between
  /// turns only: the deletes run destructors, which may allocate, send, run a failed
  /// ask's continuation and wait as a destructor may (an event sink's turn).
  bool flush_all() noexcept;

  /// Tests only: the drops deferred on `p` now.
  std::uint32_t deferred(const ProcessCore* p) const noexcept {
    const Entry& e = entries_[slot_of(p)];
    return e.process == p ? e.drops : 0;
  }

 private:
  struct Entry {
    ProcessCore* process = nullptr;
    std::uint32_t drops = 0;
  };
  // Step 1: by id, not address (rejected alternatives above); ids rise by one per spawn, so
  // the processes spawned together spread over the slots.
  static unsigned slot_of(const ProcessCore* p) noexcept;
  static_assert((kSlots & (kSlots - 1)) == 0, "slot_of masks the id");
  void flush(Entry& e) noexcept;  // step 5

  RuntimeCore* owner_;
  unsigned occupied_ = 0;  // slots holding a process: flush_all() skips the walk at zero
  Entry entries_[kSlots];
};

/// Installs a worker's DeferredReleases on its thread for the scope (the worker's whole
/// life); flushes and uninstalls it on exit. Worker only. Installing never allocates or
/// blocks; closing flushes (see flush_all()).
class DeferredReleasesScope {
 public:
  explicit DeferredReleasesScope(RuntimeCore& owner) noexcept;
  ~DeferredReleasesScope() { close(); }
  DeferredReleasesScope(const DeferredReleasesScope&) = delete;
  DeferredReleasesScope& operator=(const DeferredReleasesScope&) = delete;

  /// The installed releases. Its worker only; never allocates, never blocks.
  DeferredReleases& releases() noexcept { return releases_; }
  /// Step 6, on leaving: flushes, then uninstalls, so that later drops on this thread
  /// (the global queue's drain) subtract at once. Idempotent.
  void close() noexcept;

 private:
  DeferredReleases releases_;
  DeferredReleases* saved_;
  bool open_ = true;
};

}  // namespace phyx::detail
