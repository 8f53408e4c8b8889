// engine/process/process_core.cpp — the process state machine (see process_core.hpp for who
// touches what, and engine/mailbox/mailbox.cpp for the lock-free lanes).
//
// Lifecycle, as run_slice() drives it (every step on the one thread that runs the process):
//  1. init_pending --init ok--> running (status running, process:ready)
//                  --init threw--> crash
//  2. running: system lane first, then one user message per step (budget per slice).
//  3. crash (handler or init threw): process:fail; cancel this incarnation's timers; drop its
//     state (an unanswered Reply in it fails with NoReplyError); stop children youngest
//     first; then the supervisor decides (supervise/policy.hpp): restart now, restart after
//     a timer (status starting, user lane kept), or give up (failed, escalate to parent).
//  4. stop (any thread: status stopping at once, sends refused, timers cancelled):
//     discard -> queued messages become dead letters (reason stopped);
//     drain   -> queued messages are handled first;
//     then children stop youngest first, on_stop runs, the state is dropped (Replies in it
//     fail with StoppedError), status stopped, process:stop, the stop future completes.
//  5. Children leave: a child that finishes takes itself out of its parent's list (under
//     the parent's control_) and posts child_stopped only if the parent waits for its
//     children (stop_next_child() set `awaited` under the same lock, having seen the list
//     non-empty). So either the child sees the flag and tells the parent, or the parent's
//     look at the list comes after the child left it: no wait is missed. A parent that is
//     running (skynet's inner nodes, as their children report and stop) gets no message
//     and takes no step for a child that goes. Rejected: the parent erasing each child on
//     its child_stopped (until session 25: a retain, a system post, a pop, the parent's
//     lock and a release per process, whether the parent cared or not).
#include "phyx/detail/process_core.hpp"

#include <algorithm>
#include <exception>
#include <string>
#include <utility>

#include "mailbox/overflow.hpp"
#include "phyx/await.hpp"
#include "phyx/detail/runtime_core.hpp"
#include "phyx/errors.hpp"
#include "process/own_timers.hpp"
#include "sched/thread_context.hpp"
#include "supervise/policy.hpp"
#include "telemetry/counters.hpp"

namespace phyx::detail {
std::string ProcessCore::describe(std::exception_ptr e) {
  try {
    std::rethrow_exception(std::move(e));
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "unknown exception";
  }
}

namespace {

FieldValue int_field(std::uint64_t v) { return static_cast<std::int64_t>(v); }

/// Owns a scheduled message until its timer fires, or is cancelled and destroyed: then a
/// Reply inside fails as the canceller's context says (StoppedError at stop, else NoReplyError).
struct PendingEnvelope {
  explicit PendingEnvelope(Envelope* e) noexcept : envelope(e) {}
  PendingEnvelope(PendingEnvelope&& o) noexcept : envelope(std::exchange(o.envelope, nullptr)) {}
  PendingEnvelope(const PendingEnvelope&) = delete;
  PendingEnvelope& operator=(const PendingEnvelope&) = delete;
  ~PendingEnvelope() { delete envelope; }
  Envelope* envelope;
};

}  // namespace

RuntimeKeep::RuntimeKeep(RuntimeCore& rt) noexcept : rt_(&rt) { rt.keep(); }
RuntimeKeep::~RuntimeKeep() { rt_->unkeep(); }

std::weak_ptr<RuntimeCore> ProcessCore::runtime_ptr() const noexcept { return runtime_->weak_from_this(); }

// An idle process is this plus its typed part in one allocation (idle-memory, SPEC 13): a
// field added here must find padding, or the process moves to the next size class.
static_assert(sizeof(ProcessCore) == 184, "a new field must fit the idle process's size class");

ProcessCore::ProcessCore(RuntimeCore& runtime, const CoreSpec& spec, ShareCount* share)
    : runtime_(runtime),
      share_(share),
      spec_(&spec),
      max_inbox_(static_cast<std::uint32_t>(spec_->max_inbox)),  // <= 2^31-1 (validate_spec)
      policy_(static_cast<std::uint8_t>(spec_->policy)) {}

ProcessCore::~ProcessCore() {
  // Shells of fired timers not yet swept (a pending one would still hold us alive).
  if (timers_) {
    for (TimerNode* n : timers_->take_all()) n->release();
  }
  drop_suspended();
  DropContextScope ctx(DropContext::stopping);
  while (Envelope* e = mailbox_.pop_user_at_destruction()) delete e;
  while (MailNode* n = mailbox_.pop_system_at_destruction()) take_system(n);
}

void ProcessCore::set_status(Status s) noexcept {
  status_.store(static_cast<std::uint8_t>(s), std::memory_order_release);  // pairs with the acquire load in status()
}

// ---- sending ------------------------------------------------------------------------

bool ProcessCore::send_user(Envelope* e, Origin origin) {
  RuntimeCore& rt = *runtime_;
  const Mailbox::Admission admission = mailbox_.offer(max_inbox_, policy());
  // The common case, kept small (no frame for the events' fields, no drop chains): an
  // accepted message with no eviction for this sender to carry out and no sink. Link it,
  // count it, wake the process. Everything else is send_admitted().
  if (admission.offer == Mailbox::Offer::accepted && !admission.holds_head && !rt.telemetry_on())
      [[likely]] {
    rt.yield_point();  // systematic mode: the owner may now see a counted message not yet linked
    mailbox_.push(e);
    rt.counters().add_one_each(Counter::sent, Counter::accepted);
    rt.yield_point();  // systematic mode: linked, not yet woken
    if (admission.wake) rt.schedule(this);
    return true;
  }
  return send_admitted(e, origin, admission);
}

bool ProcessCore::send_admitted(Envelope* e, Origin origin, const Mailbox::Admission& admission) {
  RuntimeCore& rt = *runtime_;
  const bool telemetry = rt.telemetry_on();
  rt.count(Counter::sent);
  if (admission.offer == Mailbox::Offer::refused_closed) {
    refuse(e, origin);
    return false;
  }
  if (admission.offer == Mailbox::Offer::refused_full) {
    if (telemetry) {
      rt.record_event("process:mailbox:full", this,
                      Fields{{"policy", std::string(to_string(policy()))}, {"size", int_field(admission.queued)}});
      rt.record_event("process:dead_letter", this,
                      Fields{{"reason", std::string("mailbox_full")}, {"msg_type", std::string(e->msg_type())}});
    }
    rt.count(Counter::refused_full);
    rt.count(Counter::dead_letters);
    ThreadContext& tc = thread_context();
    tc.refused_full = true;
    tc.refused_at_worker =
        mailbox_.last_worker();  // where the sender may move (sched/README.md, "fan-in")
    if (telemetry) rt.deliver_events();
    if (e->ask != nullptr) e->ask->fail(std::make_exception_ptr(ProcessError("Failed to send ask message", id_)));
    delete e;
    return false;
  }
  // Accepted. Events are recorded before the push, so the owner's msg:start of this
  // message can never come before its enqueue (or before the eviction it caused).
  DropChain evicted_first;
  DropChain evicted_later;
  if (admission.evicting && telemetry) {
    rt.record_event("process:mailbox:full", this,
                    Fields{{"policy", std::string(to_string(policy()))}, {"size", int_field(admission.queued)}});
  }
  if (admission.holds_head) {
    mailbox_.evict_owed(evicted_first);
    report_dropped(evicted_first, {}, {});  // records the dead letters; frees nothing yet
  }
  if (telemetry) rt.record_event("process:mailbox:enqueue", this, Fields{{"size", int_field(admission.queued)}});
  rt.yield_point();  // systematic mode: the owner may now see a counted message not yet linked
  mailbox_.push(e);
  rt.count(Counter::accepted);
  if (admission.holds_head) {
    mailbox_.release_head(evicted_later);
    report_dropped(evicted_later, {}, {});
  }
  if (telemetry) rt.deliver_events();
  if (admission.holds_head) {  // only a sender holding the head evicts
    DropContextScope ctx(DropContext::crash_or_unanswered);  // an evicted ask fails with NoReplyError
    while (!evicted_first.empty()) delete evicted_first.pop_front();
    while (!evicted_later.empty()) delete evicted_later.pop_front();
  }
  rt.yield_point();  // systematic mode: linked, not yet woken
  if (admission.wake) rt.schedule(this);
  return true;
}

void ProcessCore::report_dropped(const DropChain& evicted, const DropChain& discarded, std::string_view reason) {
  RuntimeCore& rt = *runtime_;
  auto report = [&](const DropChain& chain, Counter counter, std::string_view why) {
    if (chain.empty()) return;
    rt.count(counter, chain.size);
    rt.count(Counter::dead_letters, chain.size);
    if (!rt.telemetry_on()) return;
    for (Envelope* e = chain.head; e != nullptr;
         e = static_cast<Envelope*>(e->next.load(std::memory_order_relaxed))) {  // a private list now
      rt.record_event("process:dead_letter", this,
                      Fields{{"reason", std::string(why)}, {"msg_type", std::string(e->msg_type())}});
    }
  };
  report(evicted, Counter::dropped_oldest, "dropped_oldest");
  report(discarded, Counter::discarded, reason);
}

void ProcessCore::refuse(Envelope* e, Origin origin) {
  RuntimeCore& rt = *runtime_;
  rt.count(Counter::refused_not_running);
  rt.count(Counter::dead_letters);
  if (rt.telemetry_on()) rt.emit_dead_letter(this, origin == Origin::external ? "not_running" : "stopped", e->msg_type());
  if (e->ask != nullptr) e->ask->fail(std::make_exception_ptr(ProcessError("Failed to send ask message", id_)));
  delete e;
}

void ProcessCore::count_down_alive() noexcept {
  // acq_rel: one of enter_failed / finish_stop / abandon wins, once (they may race at the
  // shutdown deadline, when abandon() runs beside a worker still inside this process).
  if (!counted_down_.exchange(true, std::memory_order_acq_rel)) runtime_->count(Counter::processes_alive_down);
}

void ProcessCore::post_system(SysMsg m) {
  if (mailbox_.post_system(new SysNode(std::move(m)))) runtime_->schedule(this);
}

void ProcessCore::post_note(SysNode& note, SysMsg m) {
  note.msg = std::move(m);  // published by the lane's push
  if (mailbox_.post_system(&note)) runtime_->schedule(this);
}

ProcessCore::SysMsg ProcessCore::take_system(MailNode* n) noexcept {
  auto* node = static_cast<SysNode*>(n);
  SysMsg m = std::move(node->msg);
  if (!node->kept) delete node;
  return m;
}

Future<void> ProcessCore::request_stop(StopReason reason, StopMode mode) {
  StateRef<FutureState<void>> done;
  std::unique_ptr<OwnTimers> timers;
  bool first = false;
  {
    std::lock_guard lock(control_);
    if (!stop_) {
      stop_ = make_state<StopState>();
      if (runtime_->deterministic()) stop_->set_driver(runtime_ptr());
    }
    done = stop_;
    if (!stop_requested_ && static_cast<Status>(status_.load(std::memory_order_relaxed)) != Status::stopped) {  // written under control_
      first = true;
      stop_requested_ = true;
      stop_->reason = std::move(reason);
      stop_->mode = mode;
      mailbox_.close();  // before `stopping` is visible: a send after stop() returns false
      set_status(Status::stopping);
      // Schedules go at once; a handler's sleep ends it first. Taken under this lock, not
      // a second one (a stop is on the path of every process's end: skynet).
      timers = take_own_timers(/*keep_sleep=*/true);
    }
  }
  if (first) {
    // Inside our own run_slice() on this thread (our handler or init stops us, or a sink,
    // a continuation or a destructor that it runs does) with nothing waiting in our system
    // lane, the stop is the mailbox's own note, which run_slice() reads first in its next
    // step and which try_idle() does not go past. No node, no push, no pop: skynet's 1.1 M
    // processes each stop themselves so. Otherwise the stop node is posted.
    const bool own_note = current_process() == this && mailbox_.try_set_own_note();
    if (!own_note)
      post_note(stop_->stop_note, SysMsg{SysKind::stop, {}});  // stop_ is never replaced
    DropContextScope ctx(DropContext::stopping);
    release_own_timers(std::move(timers));
  }
  return Future<void>(std::move(done));
}

// ---- timers -----------------------------------------------------------------------

template <class Then>
TimerId ProcessCore::start_own_timer(std::int64_t after_ms, Then then) {
  retain();
  ProcessHandle self(this);
  TimerNode* node = make_timer_node([self, then = std::move(then)](TimerId) mutable { then(*self.get()); });
  // Under control_, so ids of this process rise in timers_ (own_timers.hpp). The entry
  // stays after the timer fires, until a sweep drops it.
  const TimerId id = runtime_->start_timer(after_ms, node);
  if (!timers_) timers_ = std::make_unique<OwnTimers>();
  timers_->add(id.value, node);
  return id;
}

TimerId ProcessCore::schedule_self(std::int64_t after_ms, Envelope* e) {
  std::unique_lock lock(control_);
  if (mailbox_.closed()) {  // draining or stopping: a schedule is refused (SPEC 14.3)
    lock.unlock();
    runtime_->count(Counter::sent);
    refuse(e, Origin::timer);
    return TimerId{};
  }
  // The timer's fate is decided by its own CAS (phyx/detail/timer_node.hpp): once it fired,
  // the message is delivered like any send (refused if we stopped meanwhile).
  return start_own_timer(after_ms, [pending = PendingEnvelope(e)](ProcessCore& self) mutable {
    self.send_user(std::exchange(pending.envelope, nullptr), Origin::timer);
  });
}

bool ProcessCore::cancel_timer(TimerId id) {
  TimerNode* node = nullptr;
  {
    std::lock_guard lock(control_);
    if (timers_) node = timers_->take(id.value);
  }
  if (node == nullptr) return false;
  return node->cancel_and_release();
}

void ProcessCore::cancel_own_timers(bool keep_sleep) {
  std::unique_ptr<OwnTimers> held;
  {
    std::lock_guard lock(control_);
    held = take_own_timers(keep_sleep);
  }
  release_own_timers(std::move(held));
}

std::unique_ptr<OwnTimers> ProcessCore::take_own_timers(bool keep_sleep) {
  std::unique_ptr<OwnTimers> held = std::move(timers_);
  if (held && keep_sleep && held->sleep_id != 0) {  // a stop: the handler's sleep must still end it
    if (TimerNode* sleep = held->take(held->sleep_id)) {
      timers_ = std::make_unique<OwnTimers>();
      timers_->add(held->sleep_id, sleep);
      timers_->sleep_id = held->sleep_id;
    }
  }
  return held;
}

void ProcessCore::release_own_timers(std::unique_ptr<OwnTimers> held) {
  if (!held) return;
  for (TimerNode* node : held->take_all()) node->cancel_and_release();
}
bool ProcessCore::leave_children(ProcessCore* child) noexcept {
  ProcessHandle ours;  // the list's reference to the child, dropped after the lock
  bool awaited;
  {
    std::lock_guard lock(control_);  // siblings read the list for a group restart
    if (!children_) return false;    // not reached for a real child: add_child() made it
    awaited = children_->awaited;
    // Not linked: stop_next_child() took it out already (it saw it stopped), or abandon().
    if (child->linked_) ours = children_->unlink(child);
  }
  return awaited;
}

void ProcessCore::add_child(ProcessCore* child) {
  std::lock_guard lock(control_);  // siblings read the list for a group restart
  if (!children_) children_ = std::make_unique<Children>();  // may throw: nothing taken yet
  // The list's reference, counted only now: had the allocation thrown, the spawn's
  // unwinding would free the child (and its link to us) with nothing left over. No locked
  // RMW: the child is not yet linked nor queued, so no other thread can reach it.
  child->retain_unpublished();
  children_->link(child);
}

void ProcessCore::Children::link(ProcessCore* child) noexcept {
  child->link_prev_ = youngest;
  child->link_next_ = nullptr;
  (youngest != nullptr ? youngest->link_next_ : eldest) = child;
  youngest = child;
  child->linked_ = true;
}

ProcessHandle ProcessCore::Children::unlink(ProcessCore* child) noexcept {
  (child->link_prev_ != nullptr ? child->link_prev_->link_next_ : eldest) = child->link_next_;
  (child->link_next_ != nullptr ? child->link_next_->link_prev_ : youngest) = child->link_prev_;
  child->link_prev_ = child->link_next_ = nullptr;
  child->linked_ = false;
  return ProcessHandle(child);  // adopts the list's reference
}

ProcessCore::Children::~Children() {
  // The owner's destructor: no other thread can reach the list. A linked child holds a
  // reference to us (parent_), so none is left here unless abandon() failed to take it.
  while (eldest != nullptr) unlink(eldest);
}

ProcessCore::RareState& ProcessCore::rare_state() {
  if (!rare_) rare_ = std::make_unique<RareState>();
  return *rare_;
}

// ---- running ------------------------------------------------------------------------

ProcessCore::SliceEnd ProcessCore::run_slice(unsigned budget) {
  CurrentProcessScope current(this);
  ThreadContext& tc = thread_context();
  // finish_stop() took a reference for this turn's entry if it ran in this slice: the
  // phase became `finished` here (it never leaves it). Read before try_idle(): after it,
  // another worker may run us.
  const bool entered_finished = phase_ == Phase::finished;
  const auto end = [&](bool again) {
    return SliceEnd{again, !entered_finished && phase_ == Phase::finished};
  };
  for (unsigned step = 0; step < budget; ++step) {
    // acquire: pairs with shutdown()'s release.
    if (runtime_->abandoned_.load(std::memory_order_acquire)) return end(false);
    // Our own stop() (request_stop) first: the note is set only while the system lane is
    // empty, so whatever the lane holds now was posted after the stop. The FIFO order a
    // stop node would have had.
    if (mailbox_.take_own_note()) {
      SysMsg m{SysKind::stop, {}};
      handle_system(m);
      continue;
    }
    if (MailNode* node = mailbox_.pop_system()) {
      SysMsg m = take_system(node);
      handle_system(m);
      continue;
    }
    Envelope* user = nullptr;
    DropChain evicted;
    const Mailbox::Take taken = mailbox_.take(user, evicted, policy());
    if (!evicted.empty()) {
      report_dropped(evicted, {}, {});
      if (runtime_->telemetry_on()) runtime_->deliver_events();
      DropContextScope ctx(DropContext::crash_or_unanswered);  // an evicted ask fails with NoReplyError
      while (!evicted.empty()) delete evicted.pop_front();
    }
    if (taken == Mailbox::Take::message) {
      runtime_->yield_point();  // systematic mode: in hand, not yet handled
      tc.refused_full = false;
      handle_user(user);
      // Backpressure: a handler that met a full mailbox ends the turn, so the process it
      // could not reach gets a worker sooner (engine/sched/README.md, "Backpressure").
      if (tc.refused_full) return end(true);
    } else if (taken == Mailbox::Take::busy) {
      // A sender is evicting at the head for an instant: let others run meanwhile.
      return end(true);
    } else if (phase_ == Phase::init_pending) {
      do_init();
    } else if (phase_ == Phase::draining) {  // the lane is empty: carry on with the stop
      phase_ = Phase::stopping_children;
      mailbox_.set_wants_user(false);
      stop_next_child();
    } else {
      // Idle: the next send or system message schedules us again. `idle` is read before
      // try_idle(), as said above.
      const SliceEnd idle = end(false);
      if (mailbox_.try_idle()) return idle;
    }
  }
  return end(true);  // budget used: we keep `scheduled` and the worker re-enqueues us
}

void ProcessCore::handle_user(Envelope* e) {
  RuntimeCore& rt = *runtime_;
  const bool telemetry = rt.telemetry_on();
  const std::string_view type = telemetry ? e->msg_type() : std::string_view{};
  const std::int64_t started_ns = telemetry ? emit_msg_start(*e, type) : 0;
  if (rt.deterministic()) ++rt.user_steps_;
  std::unique_ptr<SuspendedHandler> suspended;
  try {
    suspended = invoke_handler(*e);
  } catch (...) {
    fail_message(e, type, std::current_exception());
    return;
  }
  if (suspended) {
    enter_suspended(std::move(suspended), e, type, started_ns);
    return;
  }
  finish_message(e, type, started_ns);
}

void ProcessCore::finish_message(Envelope* e, std::string_view type, std::int64_t started_ns) {
  RuntimeCore& rt = *runtime_;
  rt.counters().add(Counter::handled, 1);
  if (rt.telemetry_on()) emit_msg_end(*e, type, started_ns);
  DropContextScope ctx(DropContext::crash_or_unanswered);  // returned without replying: NoReplyError
  mailbox_.retire(e);  // the lane may still link through it: no delete
}

std::int64_t ProcessCore::emit_msg_start(const Envelope& e, std::string_view type) {
  RuntimeCore& rt = *runtime_;
  rt.emit("process:msg:start", this,
          Fields{{"msg_type", std::string(type)}, {"seq", int_field(e.seq)}});
  return rt.now().mono_ns;
}

void ProcessCore::emit_msg_end(const Envelope& e, std::string_view type, std::int64_t started_ns) {
  RuntimeCore& rt = *runtime_;
  rt.emit("process:msg:end", this,
          Fields{{"msg_type", std::string(type)},
                 {"seq", int_field(e.seq)},
                 {"duration_ns", static_cast<std::int64_t>(rt.now().mono_ns - started_ns)}});
}

void ProcessCore::fail_message(Envelope* e, std::string_view type, std::exception_ptr failure) {
  RuntimeCore& rt = *runtime_;
  const std::string error = describe(std::move(failure));
  rt.count(Counter::crashed);
  if (rt.telemetry_on()) {
    rt.emit("process:msg:error", this,
            Fields{{"msg_type", std::string(type)}, {"seq", int_field(e->seq)}, {"error", error}});
  }
  {
    DropContextScope ctx(DropContext::crash_or_unanswered);  // SPEC 6.1: its Reply fails with NoReplyError
    mailbox_.retire(e);  // the lane may still link through it: no delete
  }
  crash(error);
}

// ---- suspended coroutine handlers (SPEC 7) -------------------------------------------
//
// A coroutine handler that suspends keeps its message: the process takes no other user
// message until it ends (one message at a time holds across co_await), and the worker
// goes on with other processes. What it awaits posts `resume` to the system lane when it
// is ready (a future's continuation, a sleep's timer), so the handler always resumes on
// the thread that runs this process, inside run_slice(), with its state to itself.
// A stop, a child's give-up and a group restart's stop wait for the handler to end
// (deferred, then re-posted in order); child exits and batons that only pass through are
// handled meanwhile.

void ProcessCore::enter_suspended(std::unique_ptr<SuspendedHandler> h, Envelope* e, std::string_view type,
                                  std::int64_t started_ns) {
  RareState& r = rare_state();
  r.suspended = std::move(h);
  r.suspended_message = e;
  r.suspended_type = type;
  r.suspended_started_ns = started_ns;
  r.suspended_from = phase_;
  phase_ = Phase::suspended;
  mailbox_.set_wants_user(false);
  std::lock_guard lock(control_);  // publishes r.suspended_type to abandon()
  suspended_uncounted_ = true;
}

void ProcessCore::resume_handler() {
  if (phase_ != Phase::suspended) return;  // nothing awaits (a stale resume)
  RareState& r = *rare_;
  bool done = false;
  std::exception_ptr failure;
  try {
    done = r.suspended->resume();
  } catch (...) {
    failure = std::current_exception();
    done = true;
  }
  if (!done) return;  // it awaits something else now
  Envelope* e = std::exchange(r.suspended_message, nullptr);
  r.suspended.reset();  // the frame goes before its message (it may refer to it)
  phase_ = r.suspended_from;
  if (phase_ == Phase::running || phase_ == Phase::draining) mailbox_.set_wants_user(true);
  for (SysMsg& m : std::exchange(r.deferred, {})) post_system(std::move(m));  // in arrival order
  bool ours;
  {
    std::lock_guard lock(control_);
    ours = suspended_uncounted_;
    suspended_uncounted_ = false;
  }
  if (!ours) {  // shutdown abandoned us meanwhile and counted the message as discarded
    DropContextScope ctx(DropContext::stopping);
    mailbox_.retire(e);  // the lane may still link through it: no delete
    return;
  }
  if (failure) {
    fail_message(e, r.suspended_type, std::move(failure));
  } else {
    finish_message(e, r.suspended_type, r.suspended_started_ns);
  }
}

void ProcessCore::drop_suspended() noexcept {
  if (!rare_) return;
  DropContextScope ctx(DropContext::stopping);  // a Reply in the frame or the message: StoppedError
  rare_->suspended.reset();  // the frame before the message it may refer to
  if (suspended_uncounted_) {  // not abandoned: counted here (sole owner, no lock needed)
    suspended_uncounted_ = false;
    count_suspended_discarded();
  }
  // Retired, not deleted: it may still be the user lane's dummy (user_lane.hpp step 3).
  if (Envelope* e = std::exchange(rare_->suspended_message, nullptr)) mailbox_.retire(e);
}

void ProcessCore::count_suspended_discarded() noexcept {
  RuntimeCore& rt = *runtime_;
  rt.count(Counter::discarded);
  rt.count(Counter::dead_letters);
  if (rt.telemetry_on()) rt.emit_dead_letter(this, "stopped", rare_->suspended_type);
}

void ProcessCore::post_resume() { post_system(SysMsg{SysKind::resume, {}}); }

ProcessHandle suspending_process() {
  ProcessCore* p = current_process();
  if (p == nullptr) throw WouldBlockError("co_await outside a process's handler: nothing would resume it");
  p->retain();
  return ProcessHandle(p);
}

void ProcessCore::start_sleep(std::int64_t after_ms) {
  std::lock_guard lock(control_);
  const TimerId id = start_own_timer(after_ms, [](ProcessCore& self) { self.post_resume(); });
  timers_->sleep_id = id.value;  // a stop leaves it; a crash or shutdown cancels it (cancel_own_timers)
}

void ProcessCore::do_init() {
  RuntimeCore& rt = *runtime_;
  if (rt.telemetry_on()) rt.emit("process:start", this, {});
  try {
    run_init();
  } catch (...) {
    ++rare_state().init_failures;
    rare_->crashed_in_init = true;
    pass_start_baton();  // a group restart goes on with the next member
    crash(describe(std::current_exception()));
    return;
  }
  if (rare_) {
    rare_->init_failures = 0;
    rare_->crashed_in_init = false;
  }
  phase_ = Phase::running;
  mailbox_.set_wants_user(true);
  {
    std::lock_guard lock(control_);
    if (!stop_requested_) set_status(Status::running);
  }
  if (rt.telemetry_on()) rt.emit("process:ready", this, Fields{{"started_at", rt.now().wall_ms}});
  if (rare_) pass_start_baton();  // a group restart goes on with the next member
}

void ProcessCore::handle_system(SysMsg& m) {
  if (phase_ == Phase::suspended &&
      (m.kind == SysKind::stop || m.kind == SysKind::child_gave_up || m.kind == SysKind::group_stop)) {
    rare_->deferred.push_back(std::move(m));  // after the handler in hand (SPEC 14.3, 14.5)
    return;
  }
  switch (m.kind) {
    case SysKind::stop:
      switch (phase_) {
        case Phase::finished:
          return;
        case Phase::failed:
          finish_stop();
          return;
        case Phase::crash_children:
          return;  // decide_after_crash() sees stop_requested_ once the children are down
        case Phase::init_pending:
          if (stop_->mode == StopMode::drain) {
            do_init();  // drain handles what was queued while starting: that needs a state
            if (phase_ != Phase::running) return;  // init crashed: the crash path finishes the stop
            phase_ = Phase::draining;
            return;
          }
          break;
        case Phase::running:
          if (stop_->mode == StopMode::drain) {
            phase_ = Phase::draining;
            return;
          }
          break;
        case Phase::restart_wait:
          // SPEC 4: a drain handles what is queued, and that needs a state. The restart
          // timer went when the stop began ("cancels its timers"), so the backoff is cut
          // short: init now, then the drain. A group's crasher (rare_->group) holds its
          // family's baton: it stops as a discard, and the group goes on without it.
          if (stop_->mode == StopMode::drain && !(rare_ && rare_->group)) {
            do_init();
            if (phase_ != Phase::running) return;  // init crashed: the crash path finishes the stop
            phase_ = Phase::draining;
            return;
          }
          break;
        default:
          break;
      }
      {
        DropContextScope ctx(DropContext::stopping);
        discard_user_lane("stopped");
      }
      phase_ = Phase::stopping_children;
      mailbox_.set_wants_user(false);
      stop_next_child();
      return;
    case SysKind::child_stopped:
      // The child has left our list (step 5). Only a wait for the children cares; a look at
      // the list that finds the youngest still going asks it to stop again (a no-op).
      if (phase_ == Phase::stopping_children || phase_ == Phase::crash_children ||
          phase_ == Phase::group_children) {
        stop_next_child();
      }
      return;
    case SysKind::restart_due:
      if (phase_ != Phase::restart_wait) return;
      if (rare_ && rare_->group) {  // a group's backoff is over: the start baton (group_restart.cpp)
        phase_ = Phase::group_wait;
        pass_start(std::exchange(rare_->group, nullptr), 0);
        return;
      }
      phase_ = Phase::init_pending;
      return;
    case SysKind::child_gave_up:
      if (phase_ == Phase::running) {
        crash("child '" + m.other->name() + "' gave up after " + std::to_string(m.attempts) + " restarts");
      }
      return;
    case SysKind::group_turn:
      on_group_turn(m.other);
      return;
    case SysKind::group_stop:
      on_group_stop(m.group, m.index);
      return;
    case SysKind::group_down:
      on_group_down(m.group);
      return;
    case SysKind::group_start:
      on_group_start(m.group, m.index);
      return;
    case SysKind::resume:
      resume_handler();
      return;
  }
}

void ProcessCore::stop_next_child() {
  // children_ (the pointer) is written only by add_child(), on this process's own thread
  // (tools.spawn runs in its handler), and we are that thread: no spawn ever, no lock.
  while (children_) {
    ProcessHandle youngest;
    ProcessHandle finished;  // declared before the lock: released after it
    {
      std::lock_guard lock(control_);  // siblings read the list for a group restart
      if (!children_ || children_->youngest == nullptr) break;
      ProcessCore* last = children_->youngest;
      if (last->status() == Status::stopped) {
        // Finishing: its leave_children() will find it unlinked. The list's reference
        // goes after the lock (it may be the last).
        finished = children_->unlink(last);
        continue;
      }
      children_->awaited = true;  // step 5: from now on a child that leaves tells us
      last->retain();
      youngest = ProcessHandle(last);
    }
    youngest->request_stop(StopReason::shutdown(), StopMode::discard);
    return;  // its child_stopped brings us back here
  }
  if (phase_ == Phase::stopping_children) {
    finish_stop();
  } else if (phase_ == Phase::crash_children) {
    decide_after_crash();
  } else if (phase_ == Phase::group_children) {
    bool stopping;
    {
      std::lock_guard lock(control_);
      stopping = stop_requested_;
    }
    if (stopping) {  // a stop came while the children went down: stop instead of waiting
      phase_ = Phase::stopping_children;
      finish_stop();  // passes the baton on
    } else {
      finish_group_stop();  // engine/supervise/group_restart.cpp
    }
  }
}

// ---- crash and supervision ----------------------------------------------------------

void ProcessCore::crash(std::string error) {
  RuntimeCore& rt = *runtime_;
  if (rt.telemetry_on()) rt.emit("process:fail", this, Fields{{"error", error}});
  {
    DropContextScope ctx(DropContext::crash_or_unanswered);  // SPEC 14.19
    cancel_own_timers();
    destroy_state();
  }
  phase_ = Phase::crash_children;
  mailbox_.set_wants_user(false);  // the user lane survives the crash (SPEC 6.6)
  {
    std::lock_guard lock(control_);
    // Not `running` while the children stop. A restart is coming: `starting`, and sends
    // keep queueing. Under Strategy::none the process has failed already: `failed`, and
    // sends are refused (its lane is discarded once the children are down).
    if (!stop_requested_) {
      if (spec_->supervision().type == Strategy::none) {
        mailbox_.close();
        set_status(Status::failed);
      } else {
        set_status(Status::starting);
      }
    }
  }
  stop_next_child();
}

void ProcessCore::decide_after_crash() {
  RuntimeCore& rt = *runtime_;
  bool stopping;
  {
    std::lock_guard lock(control_);
    stopping = stop_requested_;
  }
  if (stopping) {
    {
      DropContextScope ctx(DropContext::stopping);
      discard_user_lane("stopped");
    }
    phase_ = Phase::stopping_children;
    finish_stop();
    return;
  }
  if (rare_ && rare_->baton_stage == BatonStage::stop) {
    // A sibling's group restart absorbed this crash: it restarts us (and reopens the lane
    // that crash() closed under Strategy::none).
    enter_group_wait();
    return;
  }
  const Supervision& sup = spec_->supervision();
  RareState& history = rare_state();
  if (sup.type == Strategy::none) {
    enter_failed();
    return;
  }
  const std::int64_t now_ms = rt.now().mono_ms;
  std::uint64_t attempt;
  if (sup.max_restarts) {
    if (restart_window_exhausted(history.times_ms, *sup.max_restarts, now_ms)) {
      const int attempts = sup.max_restarts->count;
      rt.count(Counter::giveups);
      if (rt.telemetry_on()) {
        rt.emit("supervisor:giveup", this,
                Fields{{"attempts", static_cast<std::int64_t>(attempts)},
                       {"within_ms", static_cast<std::int64_t>(sup.max_restarts->within.count())}});
      }
      enter_failed();
      if (parent_) {
        retain();
        parent_->post_system(SysMsg{SysKind::child_gave_up, ProcessHandle(this), attempts});
      }
      return;
    }
    history.times_ms.push_back(now_ms);
    attempt = history.times_ms.size();
  } else {
    attempt = ++history.in_life;
  }
  std::chrono::milliseconds delay{0};
  if (sup.backoff) delay = backoff_delay(*sup.backoff, attempt, rt.random_unit());
  if (history.crashed_in_init) {
    // Never a busy loop on a failing init (SPEC 6): at least 1 ms doubling to 1 s, also
    // under a configured backoff shorter than that (a zero backoff re-ran init at once).
    delay = std::max(delay, init_retry_delay(history.init_failures));
  }
  rt.count(Counter::restarts);
  if (rt.telemetry_on()) {
    rt.emit("supervisor:restart", this,
            Fields{{"attempt", int_field(attempt)}, {"delay_ms", static_cast<std::int64_t>(delay.count())}});
  }
  {
    std::lock_guard lock(control_);
    if (!stop_requested_) set_status(Status::starting);
  }
  if (sup.type == Strategy::one_for_all || sup.type == Strategy::rest_for_one) {
    begin_group_restart(delay.count(), static_cast<std::int64_t>(attempt));  // engine/supervise/group_restart.cpp
    return;
  }
  if (delay.count() == 0) {
    phase_ = Phase::init_pending;
    return;
  }
  phase_ = Phase::restart_wait;
  std::lock_guard lock(control_);
  // A stop that arrived since the check above (from a sink, or another thread) is queued in
  // the system lane, or is the mailbox's own note, and finishes us from restart_wait: no
  // timer must outlive it.
  if (stop_requested_) return;
  start_restart_timer(delay.count());
}

void ProcessCore::start_restart_timer(std::int64_t delay_ms) {
  start_own_timer(delay_ms, [](ProcessCore& self) { self.post_system(SysMsg{SysKind::restart_due, {}}); });
}

void ProcessCore::enter_failed() {
  phase_ = Phase::failed;
  mailbox_.close();
  mailbox_.set_wants_user(false);
  {
    std::lock_guard lock(control_);
    set_status(Status::failed);
  }
  count_down_alive();
  DropContextScope ctx(DropContext::crash_or_unanswered);  // SPEC 14.19
  discard_user_lane("failed");
}

// ---- stopping -----------------------------------------------------------------------

void ProcessCore::discard_user_lane(std::string_view reason) {
  mailbox_.close_as_owner();  // every caller has closed it already; discard_all() needs it closed
  DropChain evicted;
  DropChain discarded;
  mailbox_.discard_all(evicted, discarded);
  if (evicted.empty() && discarded.empty()) return;
  report_dropped(evicted, discarded, reason);
  if (runtime_->telemetry_on()) runtime_->deliver_events();
  while (!discarded.empty()) delete discarded.pop_front();  // under the caller's DropContext
  DropContextScope ctx(DropContext::crash_or_unanswered);     // an evicted ask fails with NoReplyError
  while (!evicted.empty()) delete evicted.pop_front();
}

void ProcessCore::finish_stop() {
  RuntimeCore& rt = *runtime_;
  if (has_state()) {
    try {
      run_on_stop(stop_ ? stop_->reason : StopReason::normal());
    } catch (...) {
      if (rt.telemetry_on()) rt.emit("process:fail", this, Fields{{"error", describe(std::current_exception())}});
    }
    DropContextScope ctx(DropContext::stopping);  // Replies kept in the state fail with StoppedError
    destroy_state();
  }
  std::unique_ptr<OwnTimers> timers;
  {
    std::lock_guard lock(control_);
    if (abandoned_) return;  // the shutdown deadline passed during on_stop: abandon() finished us
    timers = take_own_timers();  // none should be left; a safety net against a timer outliving us
  }
  {
    DropContextScope ctx(DropContext::stopping);
    release_own_timers(std::move(timers));
  }
  {
    DropContextScope ctx(DropContext::stopping);
    discard_user_lane("stopped");  // nothing should be left; keeps the accounting exact if it is
  }
  release_behaviour();
  share_.stop();  // a shared behaviour's last stop empties its functions (share_count.hpp step 4)
  // The reference of the entry in hand (run_slice() hands it to the scheduler), taken
  // before `stopped` is written and the anchor let go of below: the entry held none
  // (anchored()). relaxed, as any retain(): made from the anchor's reference.
  retain();
  phase_ = Phase::finished;
  StateRef<StopState> done;
  mailbox_.set_wants_user(false);
  mailbox_.close_as_owner();  // closed by discard_user_lane() above: one load
  {
    std::lock_guard lock(control_);
    set_status(Status::stopped);
    done = stop_;
  }
  count_down_alive();
  pass_held_baton();  // a group restart in flight goes on without us (group_restart.cpp step 6)
  if (rt.telemetry_on()) rt.emit("process:stop", this, Fields{{"reason", to_string(stop_ ? stop_->reason : StopReason::normal())}});
  rt.retire(this);  // before the future completes: a waiter (shutdown) must not see us in the table
  // Step 5: out of the parent's list; dropping our ref to the parent breaks the cycle.
  if (ProcessHandle parent = std::move(parent_); parent && parent->leave_children(this)) {
    retain();
    SysMsg stopped{SysKind::child_stopped, ProcessHandle(this)};
    // The note is our StopState's, which we keep: the message holds us until the parent
    // has taken it out of the node (take_system).
    if (done) {
      parent->post_note(done->stopped_note, std::move(stopped));
    } else {
      parent->post_system(std::move(stopped));
    }
  }
  if (done) done->settle(Result<void>());  // last: its continuations may run long on this thread
}

ProcessHandle ProcessCore::ChildChain::pop() noexcept {
  ProcessCore* child = eldest_;
  if (child == nullptr) return {};
  eldest_ = std::exchange(child->link_next_, nullptr);  // out of every list: ours alone
  return ProcessHandle(child);                          // adopts the list's reference
}

ProcessCore::ChildChain ProcessCore::abandon(bool sealed) noexcept {
  StateRef<FutureState<void>> done;
  bool was_alive;
  bool count_suspended;
  // Our references to our children, handed to the caller. An abandoned child never
  // reaches finish_stop(), so it keeps its reference to us: unless the list is let go of,
  // the two hold each other for ever (a leak of every abandoned branch, found by
  // shutdown_test). The caller drops them once no worker can be inside a child: the list
  // is a child's anchor, and a run queue entry holds no reference (anchored()).
  ProcessCore* eldest_child = nullptr;
  mailbox_.close();  // a sealed lane is closed already: a no-op then
  {
    std::lock_guard lock(control_);
    if (children_) {  // the list changes under control_ only; spawn order kept
      // The whole list leaves at once, as a chain through link_next_. Each child is marked
      // out of the list here, under control_, so its own leave_children() finds it gone
      // and never touches the links the chain now uses.
      eldest_child = std::exchange(children_->eldest, nullptr);
      children_->youngest = nullptr;
      for (ProcessCore* c = eldest_child; c != nullptr; c = c->link_next_) {
        c->link_prev_ = nullptr;
        c->linked_ = false;
      }
    }
    const auto s = static_cast<Status>(status_.load(std::memory_order_relaxed));  // written under control_
    was_alive = s != Status::stopped;
    set_status(Status::stopped);
    abandoned_ = true;
    // A handler suspended for good keeps its message (the frame may refer to it; a
    // detached worker may even be resuming it): claimed here, counted as discarded below
    // (after the lock: the dead letter reaches the user's sink), freed with us.
    count_suspended = suspended_uncounted_;
    suspended_uncounted_ = false;
    stop_requested_ = true;  // a later stop() returns the completed future below
    if (!stop_) stop_ = make_state<StopState>();
    done = stop_;
  }
  if (was_alive) count_down_alive();
  if (count_suspended) count_suspended_discarded();
  {
    DropContextScope ctx(DropContext::stopping);
    cancel_own_timers();
    // A worker may still be inside this process (a stuck handler): abandon_all() takes the
    // head of the lane for good, so that worker can never unlink from it again. Sealed,
    // the caller took it already and made the fence.
    DropChain evicted;
    DropChain discarded;
    if (sealed) {
      mailbox_.finish_abandoned(evicted, discarded, policy());
    } else {
      mailbox_.abandon_all(evicted, discarded, policy());
    }
    report_dropped(evicted, discarded, "stopped");
    if (runtime_->telemetry_on()) runtime_->deliver_events();
    while (!discarded.empty()) delete discarded.pop_front();
    DropContextScope evicting(DropContext::crash_or_unanswered);  // an evicted ask fails with NoReplyError
    while (!evicted.empty()) delete evicted.pop_front();
  }
  if (done) done->settle(Result<void>());
  return ChildChain(eldest_child);
}

}  // namespace phyx::detail
