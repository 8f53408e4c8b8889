#include "sched/thread_context.hpp"

#include "phyx/detail/process_core.hpp"
#include "phyx/errors.hpp"

namespace phyx::detail {

ThreadContext& thread_context() noexcept {
  thread_local ThreadContext context;
  return context;
}

ProcessCore* current_process() noexcept { return thread_context().process; }

std::exception_ptr dropped_reply_error() {
  if (thread_context().drop == DropContext::stopping) {
    return std::make_exception_ptr(StoppedError("Process stopping"));
  }
  return std::make_exception_ptr(NoReplyError("Reply dropped without an answer"));
}

}  // namespace phyx::detail
