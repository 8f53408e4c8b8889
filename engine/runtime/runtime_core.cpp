// engine/runtime/runtime_core.cpp — one runtime: process table, timers, telemetry, driving,
// and the shutdown protocol.
//
// Shutdown protocol (shutdown(deadline)):
//  1. `shutting_down_` is set (release; pairs with the acquire in adopt's check), so no new
//     top-level process can be spawned; the top-level list is snapshotted.
//  2. Top-level processes are stopped one at a time, youngest first, each waiting for its
//     own children (youngest first) before its on_stop: children before parents, siblings
//     in reverse spawn order. The workers pass the stops along (root_stop_chain.hpp); this
//     thread waits for the last one, bounded by the deadline, then cuts the chain.
//  3. The workers and the timer thread are stopped. At the deadline, processes that are not
//     stopped are abandoned: `abandoned_` makes workers leave their slices, each abandoned
//     process is forced to `stopped` (its queued messages discarded and counted), and
//     workers still inside a handler are detached. The abandoned processes' references
//     (and their lists' references to their children) are dropped only once every worker
//     has left (Scheduler::outlive_workers): a queue entry holds none of its own.
//  4. The report is stored; later calls return it.
#include "phyx/detail/runtime_core.hpp"

#include <algorithm>
#include <climits>
#include <memory>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "phyx/errors.hpp"
#include "phyx/runtime.hpp"
#include "platform/asymmetric_fence.hpp"
#include "runtime/process_table.hpp"
#include "runtime/root_stop_chain.hpp"
#include "sched/choices.hpp"
#include "sched/scheduler.hpp"
#include "sched/thread_context.hpp"
#include "telemetry/counters.hpp"
#include "timer/timer_service.hpp"
#include "timer/timer_thread.hpp"

namespace phyx::detail {

namespace {
// How long an emitter waits for a sink call in progress before it calls the sink stalled
// (deliver_events() step 3). A sink taking 100 ms per event is broken, not slow.
constexpr std::chrono::milliseconds kSinkPatience{100};
// How many events may wait for a stalled sink before new ones are dropped and counted.
constexpr std::size_t kMaxEventsWhileStalled = 65'536;
}  // namespace

std::shared_ptr<RuntimeCore> RuntimeCore::create(const RuntimeOptions& options) {
  // The shared_ptrs together hold one keep (keep_credits.hpp step 1): when the last goes,
  // the core lives on while a process does.
  std::shared_ptr<RuntimeCore> core(new RuntimeCore(options), [](RuntimeCore* c) { c->unkeep_many(1); });
  if (options.deterministic) {
    core->scheduler_ = make_deterministic(options.seed);
  } else {
    unsigned workers = options.workers != 0 ? options.workers : std::thread::hardware_concurrency();
    core->choices_ = make_scheduling_choices(options.seed);  // nullptr unless -DPHYX_SYSTEMATIC=ON
    if (core->choices_) workers = core->choices_->workers(workers);
    core->scheduler_ = make_work_stealing(*core, std::max(1u, workers), core->choices_.get());
    if (core->manual_clock_ == nullptr) {
      core->timer_thread_ = std::make_unique<TimerThread>(core->timers_, core->clock_);
    }
  }
  return core;
}

RuntimeCore::RuntimeCore(const RuntimeOptions& options)
    : clock_(options.clock ? options.clock : create_system_clock()),
      emit_(options.emit),
      deterministic_(options.deterministic),
      shutdown_timeout_(options.shutdown_timeout),
      counters_(std::make_unique<Counters>()),
      rng_(options.seed),
      table_(std::make_unique<ProcessTable>()) {
  has_sink_ = static_cast<bool>(emit_);
  manual_clock_ = dynamic_cast<ManualClock*>(clock_.get());
  system_clock_ = is_system_clock(*clock_);
  timers_ = std::make_shared<TimerService>(clock_->now().mono_ns,
                                           manual_clock_ != nullptr ? manual_clock_->timer_ids() : nullptr);
  if (manual_clock_ != nullptr) manual_clock_->attach(timers_);
}

RuntimeCore::~RuntimeCore() {
  if (timer_thread_) timer_thread_->stop();
}

// ---- processes ----------------------------------------------------------------------

void RuntimeCore::adopt(ProcessCore* p, ProcessCore* parent) {
  p->id_ = ProcessId{next_process_id(parent != nullptr)};  // runtime/id_blocks.hpp
  p->root_ = parent == nullptr;
  if (p->root_) {
    // Checked under the shard's lock, which shutdown() takes after setting the flag: a root
    // spawn either lands in shutdown's snapshot or sees the flag and is refused.
    if (!table_->insert_unless(p, shutting_down_)) {  // its acquire pairs with shutdown()'s release
      throw Error("Runtime is shutting down: cannot spawn '" + p->name() + "'");
    }
  }
  // A child is not in the table: its parent's list (below) reaches it, and its parent
  // cannot stop before it (SPEC 4), so live_processes() finds it through the tree. Before,
  // every child's spawn and stop took a table shard's mutex, a line both workers wrote:
  // ~16 % of skynet (engine/runtime/README.md).
  if (parent != nullptr) {
    parent->retain();
    p->parent_ = ProcessHandle(parent);
    parent->add_child(p);  // counts the list's reference itself, once nothing can throw
  }
  count(Counter::processes_alive_up);
  scheduler_->enqueue(p);
}

std::vector<ProcessHandle> RuntimeCore::live_processes() const {
  std::vector<ProcessHandle> out = table_->snapshot();
  // Depth first with the vector as the stack: a tree a million deep needs no recursion.
  // A child already stopped may be in its parent's list for an instant, until its own
  // leave_children() (process_core.cpp step 5); it is not live (its retire() has run, or
  // is running, and its lane is empty).
  for (std::size_t i = 0; i < out.size(); ++i) {
    for (ProcessHandle& child : out[i]->children_snapshot()) {
      if (child->status() != Status::stopped) out.push_back(std::move(child));
    }
  }
  return out;
}

std::vector<ProcessHandle> RuntimeCore::root_family() const {
  std::vector<ProcessHandle> family = table_->snapshot();
  std::erase_if(family, [](const ProcessHandle& p) { return !p->root_; });
  std::sort(family.begin(), family.end(), [](const ProcessHandle& a, const ProcessHandle& b) {
    return a->id().value < b->id().value;  // ids are given in spawn order
  });
  return family;
}

void RuntimeCore::retire(ProcessCore* p) {
  if (p->root_) table_->erase(p);  // children are not in the table (adopt())
  count(Counter::retired);  // a sharded tally, read by shutdown(): no line all workers write
}

void RuntimeCore::schedule(ProcessCore* p) { scheduler_->enqueue(p); }

unsigned RuntimeCore::parked_workers() const { return scheduler_->parked_workers(); }
std::uint64_t RuntimeCore::convoy_offers() const {
  return scheduler_->convoy_offers();
}
std::uint64_t RuntimeCore::convoy_offers_taken() const {
  return scheduler_->convoy_offers_taken();
}
std::uint64_t RuntimeCore::turns_started() const {
  return scheduler_->turns_started();
}
unsigned RuntimeCore::worker_count() const { return scheduler_->worker_count(); }

void systematic_yield_point(SchedulingChoices& choices) noexcept { choices.yield_point(); }

// ---- time ---------------------------------------------------------------------------

namespace {
// Saturates: a delay of centuries is "never", not an overflow into the past.
std::int64_t deadline_after(std::int64_t now_ns, std::int64_t after_ms) noexcept {
  return after_ms > (INT64_MAX - std::max<std::int64_t>(now_ns, 0)) / 1'000'000
             ? INT64_MAX
             : now_ns + after_ms * 1'000'000;
}
}  // namespace

TimerId RuntimeCore::start_timer(std::int64_t after_ms, TimerNode* node) {
  const std::int64_t now = mono_ns();
  const std::int64_t deadline = deadline_after(now, after_ms);
  bool wake = false;
  // Step 0 of timer_service.hpp: a worker of this runtime stages a timer that is not due
  // soon (every ask's timeout); its stage exists only when the timer thread drives.
  TimerStage* stage = thread_context().timer_stage;
  const TimerId id = stage != nullptr && stage->service() == timers_.get() && after_ms >= TimerService::kStageMinMs
                         ? timers_->stage(*stage, node, deadline, now, &wake)
                         : timers_->start(node, deadline, &wake);
  if (wake && timer_thread_) timer_thread_->poke();
  return id;
}

TimerId RuntimeCore::start_timer_unstaged(std::int64_t after_ms, TimerNode* node) {
  bool wake = false;
  const TimerId id = timers_->start(node, deadline_after(mono_ns(), after_ms), &wake);
  if (wake && timer_thread_) timer_thread_->poke();
  return id;
}

bool RuntimeCore::stage_timeout(StagedTimeout& t, std::int64_t after_ms) {
  TimerStage* stage = thread_context().timer_stage;
  if (stage == nullptr || stage->service() != timers_.get() || after_ms < TimerService::kStageMinMs)
    return false;
  // No clock read per ask: the deadline is computed when the timeout is armed (staged_timeout.hpp
  // step 2); only a push that fills an empty stage reads the clock, to announce it (step 0b).
  if (timers_->stage_timeout(*stage, &t) && timers_->announce_fill(mono_ns()) && timer_thread_) {
    timer_thread_->poke();
  }
  return true;
}

// Called by each worker as it starts, which may be before create() has made the timer
// thread: decided by what is set before the workers start (a timer thread is made exactly
// when there is no ManualClock; deterministic runtimes have no workers).
TimerStage* RuntimeCore::open_timer_stage() { return manual_clock_ == nullptr ? timers_->open_stage() : nullptr; }

void RuntimeCore::flush_timer_stage(TimerStage& stage) {
  bool wake = false;
  timers_->flush_stage(stage, &wake);
  if (wake && timer_thread_) timer_thread_->poke();
}

void RuntimeCore::sweep_timer_stage(TimerStage& stage) {
  if (timers_->sweep_stage(stage) && timers_->announce_fill(mono_ns()) && timer_thread_) {
    timer_thread_->poke();
  }
}

bool RuntimeCore::fire_due_timers() {
  bool fired = false;
  const std::int64_t now = clock_->now().mono_ns;
  if (manual_clock_ != nullptr) {
    // Every runtime's timers due now on the shared clock, in one (deadline, id) order, as
    // ManualClock::advance_by would fire them (time does not move: they are due).
    while (manual_clock_->fire_next_due(now)) fired = true;
    return fired;
  }
  while (TimerNode* due = timers_->pop_due(now)) {
    timers_->fire(due);
    fired = true;
  }
  return fired;
}

// ---- telemetry and counters ---------------------------------------------------------

void RuntimeCore::count(Counter c, std::uint64_t n) noexcept { counters_->add(c, n); }

void count_ask(RuntimeCore& rt) noexcept { rt.count(Counter::asks); }

struct RuntimeCore::RecordedEvent {
  std::string type;
  ProcessId process;
  std::string name;
  Instant at;
  Fields fields;
};

void RuntimeCore::record_event(std::string_view type, const ProcessCore* p, Fields fields) noexcept {
  if (!telemetry_on()) return;
  try {
    RecordedEvent e{std::string(type), p != nullptr ? p->id() : ProcessId{},
                    p != nullptr ? p->name() : std::string("root"), clock_->now(), std::move(fields)};
    std::lock_guard lock(events_mutex_);
    // A stalled sink must not turn into unbounded memory: past the cap, new events are
    // dropped and counted (the ones queued keep their order).
    // acquire: pairs with deliver_events()'s release stores of the flag.
    if (events_.size() >= kMaxEventsWhileStalled && sink_stalled_.load(std::memory_order_acquire)) {
      count(Counter::events_dropped);
      return;
    }
    events_.push_back(std::move(e));
  } catch (...) {
    count(Counter::sink_errors);
  }
}

// Delivery protocol (telemetry/README.md "A sink that blocks"):
//  1. A thread inside the sink never delivers again (the loop below it will).
//  2. Healthy sink: wait up to kSinkPatience for the thread delivering (sink_busy_), then
//     deliver everything queued, in order: when emit returns, its event reached the sink.
//  3. The wait timed out: the sink is stalled (a call has run > kSinkPatience). Mark it and
//     return; the event stays queued. While marked, emitters never wait for the sink, so a
//     blocked sink holds one thread, not every sender (send never blocks).
//  4. The thread in the sink clears the mark when its loop ends (the sink came back), and
//     stops delivering once the sink is closed (shutdown), dropping what is left.
void RuntimeCore::deliver_events() noexcept {
  thread_local const RuntimeCore* delivering = nullptr;
  if (delivering == this) return;  // step 1
  {
    std::unique_lock state(sink_state_mutex_);
    if (sink_busy_) {
      // acquire: pairs with the release stores below (another deliverer's mark or clear).
      if (sink_stalled_.load(std::memory_order_acquire)) return;  // step 3: never wait
      if (!sink_free_.wait_for(state, kSinkPatience, [&] { return !sink_busy_; })) {
        sink_stalled_.store(true, std::memory_order_release);  // step 3; partner: the load above
        return;  // our event stays queued: the thread in the sink delivers it later
      }
    }
    sink_busy_ = true;
  }
  const RuntimeCore* saved = std::exchange(delivering, this);
  for (;;) {
    std::optional<RecordedEvent> next;
    {
      std::lock_guard lock(events_mutex_);
      // acquire: pairs with shutdown()'s release store (step 4: closed, drop the rest).
      if (sink_closed_.load(std::memory_order_acquire)) events_.clear();
      if (events_.empty()) break;
      next.emplace(std::move(events_.front()));
      events_.pop_front();
    }
    try {
      Event event{next->type, next->process, next->name, next->at, std::move(next->fields)};
      emit_(event);
    } catch (...) {
      count(Counter::sink_errors);
    }
  }
  delivering = saved;
  {
    std::lock_guard state(sink_state_mutex_);
    sink_stalled_.store(false, std::memory_order_release);  // step 4; partner: the load above
    sink_busy_ = false;
  }
  sink_free_.notify_all();  // every waiter re-checks: one delivers, the others find it done
}

void RuntimeCore::emit(std::string_view type, const ProcessCore* p, Fields fields) noexcept {
  if (!telemetry_on()) return;
  record_event(type, p, std::move(fields));
  deliver_events();
}

void RuntimeCore::emit_dead_letter(const ProcessCore* p, std::string_view reason, std::string_view msg_type) noexcept {
  try {
    emit("process:dead_letter", p, Fields{{"reason", std::string(reason)}, {"msg_type", std::string(msg_type)}});
  } catch (...) {
    count(Counter::sink_errors);
  }
}

void RuntimeCore::on_late_reply(const ProcessCore* target, std::string_view msg_type) noexcept {
  count(Counter::late_replies);
  count(Counter::dead_letters);
  if (telemetry_on()) emit_dead_letter(target, "late_reply", msg_type);
}

void RuntimeCore::on_ask_timeout(const ProcessCore* target, std::int64_t timeout_ms) noexcept {
  count(Counter::ask_timeouts);
  if (telemetry_on()) {
    try {
      emit("ask:timeout", target, Fields{{"timeout_ms", timeout_ms}});
    } catch (...) {
      count(Counter::sink_errors);
    }
  }
}

Stats RuntimeCore::stats() const {
  Stats s = counters_->snapshot();
  s.timers_fired += timers_->fired();
  for (const auto& p : live_processes()) s.queued += p->queued();
  return s;
}

double RuntimeCore::random_unit() {
  std::lock_guard lock(rng_mutex_);
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

// ---- driving ------------------------------------------------------------------------

void RuntimeCore::require_deterministic(const char* what) const {
  if (!deterministic_) throw Error(std::string(what) + " requires a deterministic runtime (RuntimeOptions::deterministic)");
}

bool RuntimeCore::drive_step() {
  const bool fired = fire_due_timers();
  const bool ran = scheduler_->run_one();
  return fired || ran;
}

std::size_t RuntimeCore::run_until_idle() {
  require_deterministic("Runtime::run_until_idle");
  if (thread_context().engine_depth > 0) throw Error("Runtime::run_until_idle called from inside a handler");
  const std::uint64_t before = user_steps_;
  while (drive_step()) {
  }
  return static_cast<std::size_t>(user_steps_ - before);
}

void RuntimeCore::advance_by(std::chrono::milliseconds d) {
  require_deterministic("Runtime::advance_by");
  if (manual_clock_ == nullptr) throw Error("Runtime::advance_by requires a ManualClock (RuntimeOptions::clock)");
  if (d.count() < 0) throw Error("Runtime::advance_by: d must be >= 0ms (got " + std::to_string(d.count()) + "ms)");
  run_until_idle();
  const std::int64_t target = clock_->now().mono_ns + d.count() * 1'000'000;
  while (manual_clock_->fire_next_due(target)) run_until_idle();
  manual_clock_->set_mono_ns(target);
  run_until_idle();
}

ShutdownReport RuntimeCore::shutdown(std::chrono::milliseconds deadline) {
  std::lock_guard guard(shutdown_mutex_);
  if (shut_down_) return report_;
  const auto started = std::chrono::steady_clock::now();
  const auto until = started + deadline;
  shutting_down_.store(true, std::memory_order_release);  // pairs with the acquire in adopt()
  const std::uint64_t discarded_before = counters_->sum(Counter::discarded);
  const std::uint64_t retired_before = counters_->sum(Counter::retired);

  std::vector<ProcessHandle> top = root_family();
  if (deterministic_) {
    // Step 2 on the one driving thread: each stop is driven until it completes or nothing
    // can move (a handler awaiting a ManualClock that nobody advances), then the next.
    for (auto it = top.rbegin(); it != top.rend(); ++it) {
      Future<void> done = (*it)->request_stop(StopReason::shutdown(), StopMode::discard);
      while (!done.ready() && std::chrono::steady_clock::now() < until && drive_step()) {
      }
    }
  } else {
    // Step 2 on workers: they pass the stops along (root_stop_chain.hpp); we wait once.
    auto chain = std::make_shared<RootStopChain>(std::move(top));
    chain->advance();
    const auto left = until - std::chrono::steady_clock::now();
    if (left.count() > 0) Future<void>(chain->all_stopped()).wait_for(left);
    chain->cut();  // the rest are asked without waiting; step 3 abandons what does not stop
  }

  // Group restarts still passing their batons among stopped processes (group_restart.cpp
  // step 6): let them finish, so none is left holding its members.
  // acquire: pairs with pass_start()'s release decrement.
  while (groups_in_flight_.load(std::memory_order_acquire) > 0 && std::chrono::steady_clock::now() < until) {
    if (deterministic_) {
      if (!drive_step()) break;
    } else {
      std::this_thread::yield();
    }
  }

  std::vector<ProcessHandle> remaining = live_processes();
  if (!remaining.empty()) abandoned_.store(true, std::memory_order_release);  // pairs with run_slice()
  scheduler_->stop(until);
  if (timer_thread_) timer_thread_->stop();
  // The anchors of what is abandoned go (the table's entries, the parents' lists), and a
  // detached worker may still be inside one of these processes, whose queue entry holds no
  // reference (ProcessCore::anchored()): the references are kept until it leaves.
  const std::size_t abandoned = remaining.size();
  // What the workers must outlive, and the seal flags, are allocated before the first
  // seal: from there to the hand-off nothing allocates, so a bad_alloc cannot leave a
  // sealed lane unfinished (its messages neither discarded nor counted) or drop a child's
  // reference while a detached worker may still be inside the child.
  struct Abandoned {
    std::vector<ProcessHandle> processes;
    std::vector<ProcessCore::ChildChain> children;  // each process's list (abandon())
  };
  auto kept = std::make_shared<Abandoned>();
  kept->children.reserve(abandoned);
  std::vector<bool> sealed(abandoned);
  kept->processes = std::move(remaining);
  const std::vector<ProcessHandle>& doomed = kept->processes;
  // Every mailbox is sealed first, then one heavy fence serves them all (mailbox.cpp step
  // 6): a fence per process interrupts the CPU of a worker spinning in a stuck handler
  // each time (~15 us here), a second past the deadline for 100,000 processes.
  bool owe_fence = false;
  for (std::size_t i = 0; i < abandoned; ++i) {
    sealed[i] = doomed[i]->seal_for_abandon();
    owe_fence = owe_fence || (sealed[i] && doomed[i]->owes_take_fence());
  }
  if (owe_fence) asymmetric_fence_heavy();
  for (std::size_t i = 0; i < abandoned; ++i)
    kept->children.push_back(doomed[i]->abandon(sealed[i]));
  table_->clear();

  report_.stopped = static_cast<std::size_t>(counters_->sum(Counter::retired) - retired_before);
  report_.abandoned = abandoned;
  report_.messages_discarded = static_cast<std::size_t>(counters_->sum(Counter::discarded) - discarded_before);
  report_.elapsed = std::chrono::steady_clock::now() - started;
  shut_down_ = true;
  deliver_events();  // what the shutdown itself emitted
  {
    // The sink belongs to the user's Runtime, which is about to go: refs that outlive it
    // (SPEC 14.14) and abandoned workers must never call it. A sink still blocked at the
    // deadline is not waited for: closed without its mutex, its thread stops delivering
    // when the call returns (deliver_events() step 4).
    std::unique_lock state(sink_state_mutex_);
    (void)sink_free_.wait_until(state, until, [&] { return !sink_busy_; });
    sink_closed_.store(true, std::memory_order_release);  // pairs with telemetry_on()'s acquire
  }
  scheduler_->outlive_workers(std::move(kept));
  return report_;
}

}  // namespace phyx::detail
