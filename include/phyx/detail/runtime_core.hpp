// phyx/detail/runtime_core.hpp — the engine object a Runtime owns (not for users).
//
// RuntimeCore owns every subsystem of one runtime: the scheduler (threads or the
// deterministic driver), the timer service, the process table, counters and the telemetry
// sink. Every process holds a keep on it (engine/runtime/keep_credits.hpp), so refs that
// outlive their Runtime stay safe (SPEC 14.14): after shutdown every process is stopped
// and refuses work.
// Everything here is implemented in engine/runtime/; templates in the public headers call
// only the members below.
#pragma once

#include <atomic>
#include <condition_variable>
#include <chrono>
#include <deque>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "phyx/clock.hpp"
#include "phyx/detail/process_core.hpp"
#include "phyx/detail/timer_node.hpp"
#include "phyx/event.hpp"
#include "phyx/stats.hpp"

namespace phyx {
struct RuntimeOptions;
}

namespace phyx::detail {

class Scheduler;
class SchedulingChoices;
/// Systematic builds only (engine/sched/choices.hpp): a seeded yield point.
void systematic_yield_point(SchedulingChoices& choices) noexcept;
class ProcessTable;
class TimerService;
class TimerThread;
class TimerStage;
class StagedTimeout;
/// engine/platform/system_clock.cpp: whether `clock` is create_system_clock()'s, and its
/// monotonic time alone.
bool is_system_clock(const Clock& clock) noexcept;
std::int64_t system_mono_ns() noexcept;
class Counters;
enum class Counter : unsigned;

class RuntimeCore : public std::enable_shared_from_this<RuntimeCore> {
 public:
  static std::shared_ptr<RuntimeCore> create(const RuntimeOptions& options);
  explicit RuntimeCore(const RuntimeOptions& options);
  ~RuntimeCore();

  // --- lifetime (engine/runtime/keep_credits.hpp) ------------------------------------
  /// Any thread; never blocks, never allocates. One keep per ProcessCore (RuntimeKeep),
  /// taken from the calling worker's credits when it is a worker of this runtime.
  void keep() noexcept;
  /// Any thread; never blocks. Gives a keep back; the last one deletes the core.
  void unkeep() noexcept;
  /// Any thread: gives `n` keeps back at once (a worker's credits, the shared_ptrs' one).
  void unkeep_many(std::int64_t n) noexcept;
  /// Tests only: the keeps now (a snapshot), one per ProcessCore not yet destroyed among them.
  std::int64_t keeps() const noexcept {
    return keeps_.load(std::memory_order_relaxed);  // a snapshot; pairs with nothing
  }

  // --- processes -------------------------------------------------------------------
  /// Any thread. Registers `p` (assigning its id) under `parent` (nullptr = root) and
  /// schedules its init. Throws phyx::Error after shutdown began.
  void adopt(ProcessCore* p, ProcessCore* parent);
  /// Worker: `p` reached stopped (removes it from the table).
  void retire(ProcessCore* p);
  /// Any thread: `p` became runnable (its scheduled_ flag was set by the caller).
  void schedule(ProcessCore* p);
  /// Any thread. A yield point of systematic mode (engine/sched/choices.hpp); in a normal
  /// build one never-taken branch.
  void yield_point() noexcept {
    if (choices_ != nullptr) systematic_yield_point(*choices_);
  }
  bool shutting_down() const noexcept {
    return shutting_down_.load(std::memory_order_acquire);  // pairs with the release store in shutdown()
  }

  // --- time ------------------------------------------------------------------------
  const Clock& clock() const noexcept { return *clock_; }
  Instant now() const { return clock_->now(); }
  /// Any thread: monotonic time only. On the system clock one clock_gettime instead of
  /// now()'s two (wall time is not read): every ask's timeout starts here.
  std::int64_t mono_ns() const { return system_clock_ ? system_mono_ns() : clock_->now().mono_ns; }
  /// Any thread; never blocks, allocates nothing (the node is made by make_timer_node).
  /// Arms `node` to fire `after_ms` from now on the runtime's timer wheel; its callback
  /// runs once, outside every lock, on the thread that drives timers (the timer thread,
  /// the ManualClock's caller, or the deterministic driver). The caller keeps the
  /// holder's reference: node->cancel() to cancel, node->release() when done with it.
  TimerId start_timer(std::int64_t after_ms, TimerNode* node);
  /// As start_timer, never staged: an ask's timeout getting its node (at once, or when
  /// its stage is taken: timer_service.hpp step 0d).
  TimerId start_timer_unstaged(std::int64_t after_ms, TimerNode* node);
  /// The caller, for a timeout of `after_ms` (an ask's): if this thread is a worker of this
  /// runtime and the delay is at least TimerService::kStageMinMs,
  /// stages it without a node and without reading the clock (step 0d; `t`'s keep must be set) and
  /// returns true; else false (the caller starts a real timer). Never blocks; allocates nothing.
  bool stage_timeout(StagedTimeout& t, std::int64_t after_ms);
  /// A worker, once, as it starts: its timer stage (timer_service.hpp step 0), or nullptr
  /// when timers are driven by a ManualClock or the deterministic driver. Allocates.
  TimerStage* open_timer_stage();
  /// The stage's worker: hands its staged timers to the driver (step 0a). Never blocks;
  /// allocates nothing; may free nodes.
  void flush_timer_stage(TimerStage& stage);
  /// The stage's worker, after a turn: frees the answered asks' staged timeouts and keeps
  /// the rest staged (timer_service.hpp step 0e). Never blocks; allocates nothing; may
  /// free states.
  void sweep_timer_stage(TimerStage& stage);

  // --- telemetry and counters ------------------------------------------------------
  bool telemetry_on() const noexcept {
    return has_sink_ && !sink_closed_.load(std::memory_order_acquire);  // pairs with shutdown()'s release
  }
  /// Records one event and delivers every recorded event to the sink, in order (only call
  /// when telemetry_on()). Never throws. On return the event has reached the sink, unless
  /// this thread is inside the sink already (then the outer delivery loop delivers it).
  void emit(std::string_view type, const ProcessCore* p, Fields fields) noexcept;
  void emit_dead_letter(const ProcessCore* p, std::string_view reason, std::string_view msg_type) noexcept;
  /// Records an event without calling the sink: safe under a process's mailbox lock, so the
  /// order of events of one process is the order of the lock. Follow with deliver_events().
  void record_event(std::string_view type, const ProcessCore* p, Fields fields) noexcept;
  void deliver_events() noexcept;
  void count(Counter c, std::uint64_t n = 1) noexcept;
  /// The counters themselves (engine/telemetry/counters.hpp), for the hot paths that count
  /// inline (send, handle). Any thread; never blocks.
  Counters& counters() noexcept { return *counters_; }
  /// The asked process answered after the ask settled (SPEC 14.11).
  void on_late_reply(const ProcessCore* target, std::string_view msg_type) noexcept;
  /// The timeout of an ask to `target` fired first.
  void on_ask_timeout(const ProcessCore* target, std::int64_t timeout_ms) noexcept;
  Stats stats() const;

  // --- supervision randomness --------------------------------------------------------
  /// Uniform in [0, 1), from the seeded source (SPEC 6.5). Any thread.
  double random_unit();

  // --- driving ---------------------------------------------------------------------
  bool deterministic() const noexcept { return deterministic_; }
  std::size_t run_until_idle();
  void advance_by(std::chrono::milliseconds d);
  /// Deterministic: one step (fire due timers, or run one process step). False when idle.
  bool drive_step();
  ShutdownReport shutdown(std::chrono::milliseconds deadline);
  std::chrono::milliseconds shutdown_timeout() const noexcept { return shutdown_timeout_; }
  /// Any thread: workers parked right now (0 in deterministic mode). For tests.
  unsigned parked_workers() const;
  /// Any thread: convoy offers the scheduler made so far, taken by another worker or not
  /// (engine/sched/work_stealing.cpp step 4a; 0 in deterministic mode). For tests.
  std::uint64_t convoy_offers() const;
  /// Any thread: steals another worker made because of such an offer. For tests.
  std::uint64_t convoy_offers_taken() const;
  /// Any thread: turns the workers started so far (0 in deterministic mode). For tests.
  std::uint64_t turns_started() const;
  /// Any thread: a systematic build's seeded scheduler runs this runtime
  /// (engine/sched/choices.hpp). For tests whose checks assume the fixed rules.
  bool systematic() const noexcept { return choices_ != nullptr; }
  /// Any thread: worker threads this runtime started (1 in systematic mode whatever was
  /// asked; 0 in deterministic mode). For tests.
  unsigned worker_count() const;

 private:
  friend class ProcessCore;
  bool fire_due_timers();
  void require_deterministic(const char* what) const;

  std::shared_ptr<Clock> clock_;
  ManualClock* manual_clock_ = nullptr;  // when clock_ is a ManualClock
  bool system_clock_ = false;            // when clock_ is create_system_clock()'s
  EmitFn emit_;
  bool deterministic_ = false;
  std::chrono::milliseconds shutdown_timeout_;

  std::unique_ptr<Counters> counters_;
  std::shared_ptr<TimerService> timers_;  // registered with the clock when it is a ManualClock
  std::unique_ptr<TimerThread> timer_thread_;
  std::unique_ptr<SchedulingChoices> choices_;  // systematic mode only; before the scheduler (it uses it)
  std::unique_ptr<Scheduler> scheduler_;

  // Telemetry (see telemetry/README.md): events are recorded into `events_` in the order
  // they happen (a leaf lock, no user code under it), and delivered by whichever thread
  // holds the sink (`sink_busy_`), so the sink is never called concurrently and sees that
  // order.
  struct RecordedEvent;
  std::mutex events_mutex_;
  std::deque<RecordedEvent> events_;
  // Who delivers: sink_busy_ under sink_state_mutex_, waited for on sink_free_ with a
  // bound (a mutex and a condition variable rather than std::timed_mutex, whose
  // pthread_mutex_clocklock g++ 12's TSan does not intercept).
  std::mutex sink_state_mutex_;
  std::condition_variable sink_free_;
  bool sink_busy_ = false;
  // A sink call has run past kSinkPatience: emitters stop waiting for the sink (see
  // deliver_events()); the delivering thread clears it once the sink returns.
  std::atomic<bool> sink_stalled_{false};
  bool has_sink_ = false;
  std::atomic<bool> sink_closed_{false};  // after shutdown the user's sink is never called again

  std::mutex rng_mutex_;
  std::mt19937_64 rng_;

  // The top-level processes not yet stopped (sharded; no runtime-wide lock). Children are
  // reached through their parents' lists (live_processes()), so a child's spawn and stop
  // touch no runtime-wide line.
  std::unique_ptr<ProcessTable> table_;
  std::atomic<std::uint64_t> next_id_{1};
  /// Any thread: a fresh process id; a child spawned on a worker of this runtime takes it
  /// from the worker's block (engine/runtime/id_blocks.hpp). Never blocks, never allocates.
  std::uint64_t next_process_id(bool child) noexcept;
  /// The root's family (processes spawned on the Runtime) in spawn order, and its turn to
  /// run a group restart (engine/supervise/group_restart.cpp).
  std::vector<ProcessHandle> root_family() const;
  /// Every process not yet retired: the table's top-level processes and, through each
  /// parent's list, their descendants. Any thread; allocates; takes each parent's
  /// `control_` in turn (never two at once).
  std::vector<ProcessHandle> live_processes() const;
  SpinLock root_turn_lock_;
  GroupTurn root_turn_;  // guarded by root_turn_lock_
  /// Group restarts between their start and the end of their start baton. Shutdown lets
  /// them finish: a baton left in a stopped process's lane would keep its group, and the
  /// group its members, alive (a reference cycle).
  std::atomic<std::int64_t> groups_in_flight_{0};

  std::atomic<bool> shutting_down_{false};
  std::atomic<bool> abandoned_{false};  // set at the shutdown deadline: workers leave slices at once
  std::mutex shutdown_mutex_;
  bool shut_down_ = false;
  ShutdownReport report_;
  std::uint64_t user_steps_ = 0;  // deterministic: user messages whose handler ran
  // 1 for the Runtime's shared_ptrs together, 1 per ProcessCore, plus workers' credits.
  std::atomic<std::int64_t> keeps_{1};
};

}  // namespace phyx::detail
