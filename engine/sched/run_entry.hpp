// engine/sched/run_entry.hpp — what a run queue holds: a process, and whether the entry
// holds a reference on it (work_stealing.cpp step 10).
//
// A process that has not finished is kept alive by its anchor (the runtime's table for a
// top-level process, its parent's list for a child) until finish_stop() lets go of it, and
// finish_stop() runs inside a turn, which takes a reference for itself first. So an entry
// for an unfinished process needs no reference of its own: enqueueing and running it touch
// no count. Only an entry made for a finished process (a system message after its end)
// holds one (ProcessCore::anchored()). The entry says which, in its pointer's low bit,
// so that whoever drops an entry without running it (shutdown's drain) releases exactly
// the references that exist, and touches no process it does not hold.
//
// Typed: a RunEntry* is opaque (RunEntry is never defined), so a bare ProcessCore* cannot
// be queued without deciding the reference, and an entry cannot be run without unpacking.
// Rejected: a reference per entry (the design until session 19: a locked increment at every
// wake-up and a locked decrement after every turn, ~19 % of the ring's samples); a
// second word beside the pointer (the queues' slots would double; moodycamel's items too).
#pragma once

#include <cstdint>

namespace phyx::detail {

class ProcessCore;
struct RunEntry;  // opaque: never defined, never dereferenced

/// A process in hand, unpacked from an entry.
struct Runnable {
  ProcessCore* process = nullptr;
  bool holds_ref = false;  // the entry holds one reference, which its taker now owns
};

/// Any thread; never allocates. `p` is at least 2-aligned (it is a ProcessCore).
inline RunEntry* pack_entry(ProcessCore* p, bool holds_ref) noexcept {
  return reinterpret_cast<RunEntry*>(reinterpret_cast<std::uintptr_t>(p) | (holds_ref ? 1u : 0u));
}

inline Runnable unpack_entry(RunEntry* e) noexcept {
  const auto bits = reinterpret_cast<std::uintptr_t>(e);
  return {reinterpret_cast<ProcessCore*>(bits & ~std::uintptr_t{1}), (bits & 1u) != 0};
}

}  // namespace phyx::detail
