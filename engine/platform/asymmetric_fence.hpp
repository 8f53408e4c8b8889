// engine/platform/asymmetric_fence.hpp — a StoreLoad barrier split unevenly between a hot
// side, which runs often and pays only a compiler barrier, and a cold side, which runs
// rarely and pays a system call that makes every thread of the process execute a full
// barrier (Linux `membarrier`, as liburcu and folly's asymmetric fences use it).
//
// Protocol (the store-buffering pattern, Dekker's):
//  1. The hot side stores its flag A, calls asymmetric_fence_light(), then loads B.
//  2. The cold side stores B (any store; an RMW is fine), calls asymmetric_fence_heavy(),
//     then loads A.
//  3. Then at least one side sees the other's store: both loads cannot return the old
//     values. The heavy fence interrupts every CPU that runs a thread of this process and
//     has it execute a full barrier somewhere in its instruction stream. If that point
//     comes before the hot side's store of A, the hot side's load of B comes after a full
//     barrier that came after B was stored, and sees it. If it comes after, the barrier
//     drained A from that CPU's store buffer before the heavy fence returned, so the cold
//     side's load of A sees it. A thread not running at that instant passes through the
//     scheduler's full barrier before it runs again.
// Invariants: the light side's compiler barrier keeps the compiler from moving its load
// above its store (the hardware may, and the heavy fence makes that harmless).
// Fallback: where `membarrier` is unavailable (a kernel before 4.14, or a seccomp filter
// that forbids it), the heavy fence changes the protection of a page every thread of the
// process may have in its TLB: the kernel's TLB shootdown interrupts the same CPUs, and on
// x86 an interrupt is serialising. That fallback holds on x86 only (the architecture this
// project builds for); `membarrier` holds everywhere.
// Rejected: a full fence on the hot side (mfence or a locked RMW: the cost this file exists
// to avoid); sys_membarrier's global MEMBARRIER_CMD_SHARED (waits for an RCU grace period,
// milliseconds); signals to each thread (needs the list of threads, and a handler).
// ThreadSanitizer does not model either fence. Used as in mailbox.cpp (step 6), it sees no
// race where the protocol holds: the direction in which the cold side waits for the hot side
// is also ordered by a release store and an acquire load it does see, and in the other
// direction the hot side touches nothing. Were the fence ever to fail, TSan would report the
// resulting race.
#pragma once

#include <atomic>

namespace phyx::detail {

/// The hot side (step 1): a compiler barrier, no instruction. Any thread; never blocks.
inline void asymmetric_fence_light() noexcept {
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

/// The cold side (step 2): every thread of the process executes a full barrier before this
/// returns. Any thread; blocks for a system call (~1-10 us: an interrupt to each CPU that
/// runs one of our threads). The first call in a process registers it with the kernel; the
/// fallback maps and unmaps a page. Never throws.
void asymmetric_fence_heavy() noexcept;

}  // namespace phyx::detail
