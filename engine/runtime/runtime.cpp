// engine/runtime/runtime.cpp — the public Runtime: a thin owner of its RuntimeCore.
#include "phyx/runtime.hpp"

#include "sched/thread_context.hpp"

namespace phyx {

Runtime::Runtime(RuntimeOptions options) : core_(detail::RuntimeCore::create(options)) {}

Runtime::~Runtime() { core_->shutdown(core_->shutdown_timeout()); }

ShutdownReport Runtime::shutdown(std::chrono::milliseconds deadline) {
  if (detail::thread_context().engine_depth > 0) {
    // From a handler, a continuation or a timer callback, shutdown would wait for the very
    // thread it runs on (and report everything abandoned). Erlang's init:stop() is
    // asynchronous for the same reason; here the caller is told.
    throw Error("Runtime::shutdown called from inside the runtime (a handler, a continuation or a timer "
                "callback): call it from a thread that is not the runtime's");
  }
  return core_->shutdown(deadline);
}

Stats Runtime::stats() const { return core_->stats(); }

const Clock& Runtime::clock() const noexcept { return core_->clock(); }

std::size_t Runtime::run_until_idle() { return core_->run_until_idle(); }

void Runtime::advance_by(std::chrono::milliseconds d) { core_->advance_by(d); }

}  // namespace phyx
