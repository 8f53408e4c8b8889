// engine/supervise/group_restart.cpp — one_for_all and rest_for_one (SPEC 6.3, 14.7).
//
// A group restart stops some of a crashed process's siblings and restarts them with it.
// Every step that touches a process's state runs on that process's own thread, so the
// steps travel between the members as system messages ("batons"); nobody blocks.
//
// Protocol (X crashed; its own children are down; decide_after_crash() chose a restart
// with delay d under one_for_all or rest_for_one and counted it in X's window only):
//  1. Turn. X asks for its family's turn (the parent's GroupTurn under the parent's
//     control_, or the runtime's for the root's family). If another group restart of the
//     family is in flight, X queues (phase group_queued) until group_turn reaches it.
//     One group restart per family at a time, as an OTP supervisor handles one exit at a
//     time.
//  2. Members. Holding the turn, X reads its family in spawn order, leaves out siblings
//     already stopping or stopped, and restart_set() (policy.hpp) picks the members:
//     every sibling, or X and the younger ones. X alone: the turn goes back and X
//     restarts as one_for_one would.
//  3. Stop baton, youngest member first (X skipped: it is down already). A member that
//     gets group_stop: status starting; its timers cancelled; its children stopped,
//     youngest first; then, as a stop does, on_stop(shutdown) if it has a state (a throw
//     is reported as process:fail) and the state dropped (Replies in it fail with
//     StoppedError). Its user lane is kept (sends keep queueing, nothing is handled). Then it waits
//     (group_wait, where its lane is open again if a failure closed it) and passes the baton
//     to the next older member, or, after the oldest, sends group_down to X. A member that
//     is failed is revived (counted alive); one that is mid-crash, or queued for its own
//     group restart, is absorbed (its crash decides nothing more: X's restart covers it);
//     one that is stopping passes the baton at once.
//  4. Backoff. On group_down X waits d on the timer wheel (phase restart_wait, status
//     starting), then starts the start baton at the oldest member.
//  5. Start baton, oldest member first (spawn order, X in its place). A member that gets
//     group_start re-runs init; after the attempt (success or crash) it passes the baton
//     to the next younger member. After the youngest the turn goes to the next queued
//     coordinator of the family (step 1), or is free.
//  6. Stops. A member that stops while it holds a baton, or X while its backoff runs,
//     passes the baton on from finish_stop(), so the chain never breaks: members already
//     down are never left waiting. A baton that reaches a stopped process passes on.
//     Runtime::shutdown waits (within its deadline) until no group is in flight, so no
//     baton is left in a lane that nobody reads any more.
// Invariants: at most one group restart per family is between steps 2 and 5; every
// member that entered group_wait gets exactly one group_start; the restart counts once
// in X's window (SPEC 14.7), and once in stats().restarts and supervisor:restart for
// every member that re-inits (SPEC 14.20: X when decided, the others at group_start);
// a member's user lane is never discarded by the group, and is open while it waits in
// group_wait unless it is stopping or abandoned.
// Rejected: the parent as coordinator (the root's family has no process to run it, and
// a busy parent would delay its children's restart behind its own messages); running
// the siblings' on_stop from X's thread (their state belongs to their own thread: a data
// race with a handler in progress); posting group_start to every member at once (init
// order would follow the scheduler, not spawn order as SPEC 14.7 says).
#include "supervise/group_restart.hpp"

#include <algorithm>
#include <mutex>
#include <string>
#include <utility>

#include "phyx/detail/runtime_core.hpp"
#include "sched/thread_context.hpp"
#include "supervise/policy.hpp"
#include "telemetry/counters.hpp"

namespace phyx::detail {

// ---- batons -------------------------------------------------------------------------

void ProcessCore::pass_stop(const std::shared_ptr<GroupRestart>& g, std::uint32_t below) {
  for (std::uint32_t i = below; i-- > 0;) {
    if (g->members[i] == g->coordinator) continue;
    ProcessHandle next = g->members[i];
    next->post_system(SysMsg{SysKind::group_stop, {}, 0, g, i});
    return;
  }
  g->coordinator->post_system(SysMsg{SysKind::group_down, {}, 0, g, 0});
}

void ProcessCore::pass_start(const std::shared_ptr<GroupRestart>& g, std::uint32_t index) {
  if (index < g->members.size()) {
    ProcessHandle next = g->members[index];
    next->post_system(SysMsg{SysKind::group_start, {}, 0, g, index});
    return;
  }
  // release: pairs with shutdown()'s acquire load (the group's last baton is handled).
  g->runtime->groups_in_flight_.fetch_sub(1, std::memory_order_release);
  family_release(g->parent, *g->runtime);  // step 5: the group is done
}

// ---- the family ---------------------------------------------------------------------

std::vector<ProcessHandle> ProcessCore::children_snapshot() const {
  std::lock_guard lock(control_);
  std::vector<ProcessHandle> out;
  if (!children_) return out;
  for (ProcessCore* c = children_->eldest; c != nullptr; c = c->link_next_) {
    c->retain();
    ProcessHandle ref(c);           // adopts the reference just taken: released if the
    out.push_back(std::move(ref));  // vector's growth throws
  }
  return out;
}

std::vector<ProcessHandle> ProcessCore::family_snapshot() const {
  return parent_ ? parent_->children_snapshot() : runtime_->root_family();
}

bool ProcessCore::family_acquire() {
  auto take = [this](GroupTurn& turn) {
    if (!turn.busy) {
      turn.busy = true;
      return true;
    }
    retain();
    turn.waiting.push_back(ProcessHandle(this));
    rare_->queued_for_turn = true;
    return false;
  };
  if (parent_) {
    std::lock_guard lock(parent_->control_);
    return take(parent_->children_->turn);  // exists: we are its child
  }
  std::lock_guard lock(runtime_->root_turn_lock_);
  return take(runtime_->root_turn_);
}

void ProcessCore::family_withdraw() {
  rare_->queued_for_turn = false;
  auto leave = [this](GroupTurn& turn) {
    std::erase_if(turn.waiting, [this](const ProcessHandle& p) { return p.get() == this; });
  };
  if (parent_) {
    std::lock_guard lock(parent_->control_);
    leave(parent_->children_->turn);
    return;
  }
  std::lock_guard lock(runtime_->root_turn_lock_);
  leave(runtime_->root_turn_);
}

void ProcessCore::family_release(const ProcessHandle& family_parent, RuntimeCore& rt) {
  auto next_of = [](GroupTurn& turn) {
    ProcessHandle next;
    if (turn.waiting.empty()) {
      turn.busy = false;
    } else {
      next = std::move(turn.waiting.front());  // the turn stays busy: it goes to `next`
      turn.waiting.erase(turn.waiting.begin());
    }
    return next;
  };
  ProcessHandle next;
  if (family_parent) {
    std::lock_guard lock(family_parent->control_);
    next = next_of(family_parent->children_->turn);
  } else {
    std::lock_guard lock(rt.root_turn_lock_);
    next = next_of(rt.root_turn_);
  }
  if (next) next->post_system(SysMsg{SysKind::group_turn, family_parent});
}

// ---- steps 1-2: the coordinator -----------------------------------------------------

void ProcessCore::begin_group_restart(std::int64_t delay_ms, std::int64_t attempt) {
  rare_state().group_delay_ms = delay_ms;
  rare_state().group_attempt = attempt;
  if (!family_acquire()) {
    phase_ = Phase::group_queued;
    return;
  }
  start_group_stop();
}

void ProcessCore::on_group_turn(const ProcessHandle& family_parent) {
  if (rare_) rare_->queued_for_turn = false;  // the turn left the queue for us
  if (phase_ != Phase::group_queued) {  // stopped or absorbed meanwhile: not ours to use
    family_release(family_parent, *runtime_);
    return;
  }
  start_group_stop();
}

void ProcessCore::start_group_stop() {
  std::vector<ProcessHandle> family = family_snapshot();
  std::erase_if(family, [this](const ProcessHandle& p) {
    const Status s = p->status();
    return p.get() != this && (s == Status::stopping || s == Status::stopped);
  });
  auto g = std::make_shared<GroupRestart>();
  retain();
  g->coordinator = ProcessHandle(this);
  g->parent = parent_;
  g->runtime = &*runtime_;
  g->delay_ms = rare_->group_delay_ms;
  g->attempt = rare_->group_attempt;
  const auto self = std::find(family.begin(), family.end(), g->coordinator);
  if (self != family.end()) {
    const auto at = static_cast<std::size_t>(self - family.begin());
    for (std::size_t i : restart_set(spec_->supervision().type, family.size(), at))
      g->members.push_back(family[i]);
  }
  if (g->members.size() <= 1) {  // nobody else to restart: as one_for_one
    family_release(parent_, *runtime_);
    if (g->delay_ms == 0) {
      phase_ = Phase::init_pending;
      return;
    }
    phase_ = Phase::restart_wait;
    std::lock_guard lock(control_);
    if (stop_requested_) return;  // the queued stop (or own note) finishes us from restart_wait
    start_restart_timer(g->delay_ms);
    return;
  }
  phase_ = Phase::group_stopping;
  // relaxed: a tally; pairs with pass_start()'s release decrement, which publishes the end.
  runtime_->groups_in_flight_.fetch_add(1, std::memory_order_relaxed);
  pass_stop(g, static_cast<std::uint32_t>(g->members.size()));
}

// ---- step 3: a member stops for the group -------------------------------------------

void ProcessCore::on_group_stop(const std::shared_ptr<GroupRestart>& g, std::uint32_t index) {
  RuntimeCore& rt = *runtime_;
  {
    std::lock_guard lock(control_);
    if (stop_requested_ || abandoned_) {  // stopping: not restarted; the chain goes on
      pass_stop(g, index);
      return;
    }
  }
  if (phase_ == Phase::finished || phase_ == Phase::draining ||
      phase_ == Phase::stopping_children) {
    pass_stop(g, index);
    return;
  }
  RareState& r = rare_state();
  r.baton = g;
  r.baton_index = index;
  r.baton_stage = BatonStage::stop;
  switch (phase_) {
    case Phase::crash_children:
      return;  // absorbed: decide_after_crash() sees the baton once the children are down
    case Phase::group_queued:
      family_withdraw();  // absorbed: this group restarts us
      r.restart_counted = true;  // our own decision counted it (SPEC 14.20: once)
      enter_group_wait();
      return;
    case Phase::restart_wait: {
      r.restart_counted = true;
      DropContextScope ctx(DropContext::stopping);
      cancel_own_timers();  // its own restart timer: the group restarts it instead
      enter_group_wait();
      return;
    }
    case Phase::failed: {
      std::lock_guard lock(control_);  // its lane, discarded at the give-up, reopens below
      // relaxed: under control_, which abandon() takes before it counts down; pairs with
      // count_down_alive()'s exchange, which may then count this incarnation down once.
      counted_down_.store(false, std::memory_order_relaxed);
      rt.count(Counter::processes_alive_up);
      break;
    }
    case Phase::init_pending:
    case Phase::running: {
      {
        std::lock_guard lock(control_);
        set_status(Status::starting);
      }
      mailbox_.set_wants_user(false);  // the lane is kept; nothing is handled while down
      {
        DropContextScope ctx(DropContext::stopping);
        cancel_own_timers();
      }
      phase_ = Phase::group_children;
      stop_next_child();  // then finish_group_stop(), or finish_stop() if a stop came
      return;
    }
    default:
      break;
  }
  enter_group_wait();
}

void ProcessCore::finish_group_stop() {
  RuntimeCore& rt = *runtime_;
  if (has_state()) {  // as a stop does: children first, then on_stop (SPEC 4, 14.7)
    try {
      run_on_stop(StopReason::shutdown());
    } catch (...) {
      if (rt.telemetry_on())
        rt.emit("process:fail", this, Fields{{"error", describe(std::current_exception())}});
    }
    DropContextScope ctx(DropContext::stopping);  // Replies in the state fail with StoppedError
    destroy_state();
  }
  enter_group_wait();
}

void ProcessCore::enter_group_wait() {
  phase_ = Phase::group_wait;
  mailbox_.set_wants_user(false);
  {
    std::lock_guard lock(control_);
    if (!stop_requested_) {
      set_status(Status::starting);
      // A waiting member's lane is open (SPEC 14.7: sends keep queueing). Only a failure
      // closed it: a failed member revived, or a crash under Strategy::none that the group
      // absorbed while its children stopped. A stop's close stands (request_stop() closes
      // under this lock), and so does shutdown's abandonment (reopen() refuses it).
      mailbox_.reopen();
    }
  }
  RareState& r = rare_state();
  if (r.baton_stage == BatonStage::stop) {
    r.baton_stage = BatonStage::none;
    pass_stop(std::exchange(r.baton, nullptr), r.baton_index);
  }
}

// ---- steps 4-5: the backoff and the start baton -------------------------------------

void ProcessCore::on_group_down(const std::shared_ptr<GroupRestart>& g) {
  if (phase_ == Phase::group_stopping) {
    std::lock_guard lock(control_);
    if (!stop_requested_ && g->delay_ms > 0) {
      phase_ = Phase::restart_wait;
      rare_state().group = g;  // restart_due starts the baton (process_core.cpp)
      start_restart_timer(g->delay_ms);
      return;
    }
    if (!stop_requested_) phase_ = Phase::group_wait;
  }
  pass_start(g, 0);  // no backoff, or we are stopping: the others restart at once
}

void ProcessCore::on_group_start(const std::shared_ptr<GroupRestart>& g, std::uint32_t index) {
  bool stopping;
  {
    std::lock_guard lock(control_);
    stopping = stop_requested_ || abandoned_;
  }
  if (stopping || phase_ != Phase::group_wait) {  // stopped meanwhile: the baton goes on
    pass_start(g, index + 1);
    return;
  }
  RareState& r = rare_state();
  if (g->coordinator.get() != this && !std::exchange(r.restart_counted, false)) {
    // SPEC 14.20: every restarted member counts and reports its restart once, with the
    // crasher's attempt and delay. The crasher counted its own when it was decided, and
    // so did a member whose own crash was decided before the group absorbed it.
    RuntimeCore& rt = *runtime_;
    rt.count(Counter::restarts);
    if (rt.telemetry_on()) {
      rt.emit("supervisor:restart", this,
              Fields{{"attempt", g->attempt}, {"delay_ms", g->delay_ms}});
    }
  }
  r.baton = g;
  r.baton_index = index;
  r.baton_stage = BatonStage::start;
  phase_ = Phase::init_pending;  // do_init() passes the baton after its attempt
}

void ProcessCore::pass_start_baton() {
  RareState& r = *rare_;
  if (r.baton_stage != BatonStage::start) return;
  r.baton_stage = BatonStage::none;
  pass_start(std::exchange(r.baton, nullptr), r.baton_index + 1);
}

// ---- step 6: a stop in the middle ---------------------------------------------------

void ProcessCore::pass_held_baton() {
  if (!rare_) return;
  RareState& r = *rare_;
  if (r.queued_for_turn) family_withdraw();  // before finish_stop() lets go of parent_
  if (auto g = std::exchange(r.group, nullptr))
    pass_start(g, 0);  // stopped during the group's backoff
  const BatonStage stage = std::exchange(r.baton_stage, BatonStage::none);
  std::shared_ptr<GroupRestart> g = std::exchange(r.baton, nullptr);
  if (stage == BatonStage::stop) {
    pass_stop(g, r.baton_index);
  } else if (stage == BatonStage::start) {
    pass_start(g, r.baton_index + 1);
  }
}

}  // namespace phyx::detail
