/// \file
/// phyx/runtime.hpp — Runtime, the root supervisor (SPEC section 2).
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

/// How a Runtime is built (SPEC 2). Every field has a default: `Runtime rt;` works.
struct RuntimeOptions {
  std::shared_ptr<Clock> clock;  ///< default: create_system_clock()
  EmitFn emit;                   ///< empty = no events, no cost
  unsigned workers = 0;          ///< 0 = std::thread::hardware_concurrency()
  bool deterministic = false;    ///< no worker threads; the caller drives (SPEC 9)
  std::uint64_t seed = 0;        ///< jitter, and run order in deterministic mode
  std::chrono::milliseconds shutdown_timeout{5000};  ///< the deadline ~Runtime gives shutdown
};

/// The root supervisor. Not copyable, not movable. Worker threads start in the
/// constructor (none in deterministic mode); the destructor is shutdown(shutdown_timeout).
class Runtime {
 public:
  /// Starts `workers` worker threads and, unless the clock is a ManualClock, a timer
  /// thread; in deterministic mode no thread at all. Any thread; allocates. Throws what
  /// thread creation throws (std::system_error).
  explicit Runtime(RuntimeOptions options = {});
  /// shutdown(options.shutdown_timeout): blocks up to that. Like shutdown(), for a thread
  /// outside the runtime (not checked here).
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
    return ProcessRef<Msg>(detail::spawn_shared(*core_, nullptr, *spec.behaviour_, std::move(ctx)));
  }

  /// Stops every process, children before parents, siblings youngest first, with their
  /// on_stop; fails pending asks with StoppedError; joins the workers (SPEC 2). What is
  /// still running at `deadline` is abandoned and counted. A deterministic runtime is
  /// driven by the calling thread meanwhile.
  /// Any non-worker thread; blocks up to `deadline`. Idempotent (later calls return the
  /// first report). From inside the runtime (a handler, a continuation or a timer callback)
  /// throws phyx::Error: it would wait for its own thread.
  ShutdownReport shutdown(std::chrono::milliseconds deadline);
  /// The counters now (SPEC 8). Any thread; takes a short lock per process-table shard to
  /// read `queued`; allocates a snapshot of the table.
  Stats stats() const;
  /// The runtime's clock (RuntimeOptions::clock, or the system clock). Any thread.
  const Clock& clock() const noexcept;

  /// Deterministic mode only (else phyx::Error). The calling thread runs every runnable
  /// message; returns the number of user messages whose handler ran.
  /// Fires the timers due first, and those that fall due meanwhile (SPEC 14.8). One
  /// thread drives at a time; from inside a handler throws phyx::Error.
  std::size_t run_until_idle();
  /// Deterministic mode with a ManualClock only: runs until idle, then fires each timer up
  /// to now + d in deadline order, running until idle after each (SPEC 14.8).
  /// Otherwise, for a negative `d`, or from inside a handler, throws phyx::Error.
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
