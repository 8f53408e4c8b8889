// engine/platform/asymmetric_fence.cpp — the heavy side of the asymmetric fence (the
// protocol is in asymmetric_fence.hpp).
#include "platform/asymmetric_fence.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <exception>

namespace phyx::detail {
namespace {

long membarrier(int cmd) noexcept {
  return ::syscall(__NR_membarrier, cmd, 0U, 0);
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
  // A seccomp filter or a kernel without the expedited commands: the global one waits for
  // an RCU grace period (milliseconds), on every architecture, with no registration.
  if (membarrier(MEMBARRIER_CMD_GLOBAL) == 0) return;
  // No way left to fence the other threads. Going on could let two threads unlink the same
  // message (mailbox.cpp step 6); a kernel without membarrier (Linux < 4.3) cannot run
  // this library.
  std::terminate();
}

}  // namespace phyx::detail
