// engine/platform/asymmetric_fence.cpp — the heavy side of the asymmetric fence (the
// protocol is in asymmetric_fence.hpp).
#include "platform/asymmetric_fence.hpp"

#include <linux/membarrier.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <exception>

namespace phyx::detail {
namespace {

long membarrier(int cmd) noexcept {
  return ::syscall(__NR_membarrier, cmd, 0U, 0);
}

/// The fallback: downgrading a present page's protection makes the kernel shoot down the
/// TLB entries of every CPU that runs this process (an interrupt each, serialising on x86).
bool tlb_shootdown_fence() noexcept {
  const long page_size = ::sysconf(_SC_PAGESIZE);
  const auto size = static_cast<std::size_t>(page_size > 0 ? page_size : 4096);
  void* page = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) return false;
  *static_cast<volatile char*>(page) = 1;  // present and writable: the downgrade must flush it
  const bool ok = ::mprotect(page, size, PROT_READ) == 0;
  ::munmap(page, size);
  return ok;
}

}  // namespace

void asymmetric_fence_heavy() noexcept {
  if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return;
  // Not registered yet (EPERM): the first heavy fence of this process registers it. The
  // registration is the kernel's, per process, and idempotent, so nothing is kept here.
  if (errno == EPERM && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0 &&
      membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) {
    return;
  }
  if (tlb_shootdown_fence()) return;
  // An RCU grace period: milliseconds, but it needs no registration and no memory.
  if (membarrier(MEMBARRIER_CMD_GLOBAL) == 0) return;
  // No way left to fence the other threads. Going on could let two threads unlink the same
  // message (mailbox.cpp step 6); a kernel without membarrier and without mmap cannot run
  // this library at all.
  std::terminate();
}

}  // namespace phyx::detail
