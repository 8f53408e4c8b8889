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
// Fallback: where the expedited command is unavailable (a kernel before 4.14, or a seccomp
// filter that forbids it), MEMBARRIER_CMD_GLOBAL: the same guarantee after an RCU grace
// period (milliseconds), on every architecture.
// Rejected: a full fence on the hot side (mfence or a locked RMW: the cost this file exists
// to avoid); MEMBARRIER_CMD_GLOBAL first (milliseconds each); a TLB shootdown by mprotect as
// the fallback (a barrier only where remote flushes interrupt the other CPUs: x86, not
// arm64's broadcast invalidation); signals to each thread (needs the list of threads, and
// a handler).
// ThreadSanitizer does not model either fence, and it cannot verify this protocol: it
// reports only races that happen in its run, and it does not simulate store buffers. Used as
// in mailbox.cpp (step 6) it reports no false race: where the cold side waits for the hot
// side, a release store and an acquire load it sees order them too, and in the other
// direction the hot side touches nothing. tests/platform/asymmetric_fence_test.cpp checks the
// fence itself, on hardware that shows the reordering.
#pragma once

#include <atomic>

namespace phyx::detail {

/// The hot side (step 1): a compiler barrier, no instruction. Any thread; never blocks.
inline void asymmetric_fence_light() noexcept {
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

/// The cold side (step 2): every thread of the process executes a full barrier before this
/// returns. Any thread; blocks for a system call (~1-10 us: an interrupt to each CPU that
/// runs one of our threads; 0.2 us here with no other thread running). The first call in a
/// process also registers it with the kernel, which interrupts those CPUs once more; the
/// fallback waits milliseconds. Never throws; terminates only on a kernel without membarrier.
void asymmetric_fence_heavy() noexcept;

}  // namespace phyx::detail
