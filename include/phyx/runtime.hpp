// phyx/runtime.hpp — Runtime, the root supervisor (SPEC section 2).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "phyx/clock.hpp"
#include "phyx/detail/runtime_core.hpp"
#include "phyx/detail/typed_process.hpp"
#include "phyx/event.hpp"
#include "phyx/process_ref.hpp"
#include "phyx/spec.hpp"
#include "phyx/stats.hpp"

namespace phyx {

struct RuntimeOptions {
  std::shared_ptr<Clock> clock;  // default: create_system_clock()
  EmitFn emit;                   // empty = no events, no cost
  unsigned workers = 0;          // 0 = std::thread::hardware_concurrency()
  bool deterministic = false;    // no worker threads; the caller drives (SPEC 9)
  std::uint64_t seed = 0;        // jitter, and run order in deterministic mode
  std::chrono::milliseconds shutdown_timeout{5000};
};

/// The root supervisor. Not copyable, not movable. Worker threads start in the
/// constructor (none in deterministic mode); the destructor is shutdown(shutdown_timeout).
class Runtime {
 public:
  explicit Runtime(RuntimeOptions options = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;
  Runtime(Runtime&&) = delete;
  Runtime& operator=(Runtime&&) = delete;

  /// Any thread (inside a handler it makes a sibling under the root; prefer tools.spawn).
  /// Allocates. Throws SpecError for an invalid spec, phyx::Error after shutdown began.
  template <class Msg, class State, class Ctx>
  ProcessRef<Msg> spawn(ProcessSpec<Msg, State, Ctx> spec, Ctx ctx = {}) {
    return ProcessRef<Msg>(detail::spawn_process(*core_, nullptr, std::move(spec), std::move(ctx)));
  }
  /// As spawn(spec, ctx), from a spec prepared by phyx::share: validated once, and its
  /// name, settings and functions shared by every process spawned from it (no copies;
  /// an idle process is ~40% smaller). Any thread; allocates the process only.
  template <class Msg, class State, class Ctx>
  ProcessRef<Msg> spawn(const SharedSpec<Msg, State, Ctx>& spec, Ctx ctx = {}) {
    return ProcessRef<Msg>(detail::spawn_shared(*core_, nullptr, spec.behaviour_, std::move(ctx)));
  }

  /// Any non-worker thread; blocks up to `deadline`. Idempotent (later calls return the
  /// first report).
  ShutdownReport shutdown(std::chrono::milliseconds deadline);
  /// Any thread; takes a short lock per process-table shard to read `queued`.
  Stats stats() const;
  const Clock& clock() const noexcept;

  /// Deterministic mode only (else phyx::Error). The calling thread runs every runnable
  /// message; returns the number of user messages whose handler ran.
  std::size_t run_until_idle();
  /// Deterministic mode with a ManualClock only: runs until idle, then fires each timer up
  /// to now + d in deadline order, running until idle after each (SPEC 14.8).
  void advance_by(std::chrono::milliseconds d);

  /// The engine behind this runtime, for phyx's own tests and tools (internals, not part
  /// of the contract: it may change in any release). Any thread.
  detail::RuntimeCore& engine_for_tests() const noexcept { return *core_; }

 private:
  std::shared_ptr<detail::RuntimeCore> core_;
};

/// The seed's name for constructing a Runtime.
inline Runtime create_root_supervisor(RuntimeOptions options = {}) { return Runtime(std::move(options)); }

}  // namespace phyx
