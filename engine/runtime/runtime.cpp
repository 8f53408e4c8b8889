// engine/runtime/runtime.cpp — the public Runtime: a thin owner of its RuntimeCore.
#include "phyx/runtime.hpp"

namespace phyx {

Runtime::Runtime(RuntimeOptions options) : core_(detail::RuntimeCore::create(options)) {}

Runtime::~Runtime() { core_->shutdown(core_->shutdown_timeout()); }

ShutdownReport Runtime::shutdown(std::chrono::milliseconds deadline) { return core_->shutdown(deadline); }

Stats Runtime::stats() const { return core_->stats(); }

const Clock& Runtime::clock() const noexcept { return core_->clock(); }

std::size_t Runtime::run_until_idle() { return core_->run_until_idle(); }

void Runtime::advance_by(std::chrono::milliseconds d) { core_->advance_by(d); }

}  // namespace phyx
