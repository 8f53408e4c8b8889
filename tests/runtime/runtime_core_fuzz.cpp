// libFuzzer target for the runtime as a user drives it (engine/runtime/runtime_core.cpp and
// everything behind it: process lifecycle, mailbox, supervision, timers), through the public
// API only, against a reference model of the SPEC written here in plain structs.
//
// The input decodes to a seed and a sequence of operations on a DETERMINISTIC runtime
// (ManualClock, SPEC 9): spawn (max_inbox 1..4, 8 or 1024; reject or drop_oldest; default
// supervision, Strategy::none, or one_for_one with an optional Backoff {initial, max,
// factor 1..3, jitter 0} and an optional MaxRestarts {count 0..4, within}; an init that
// throws on chosen incarnations; an on_stop that throws); send, a burst of sends, and ask
// with a timeout, of a message whose handler may cancel its last schedule, schedule a
// message to self (zero delay included), send to itself, answer the Replies its state
// holds, stop itself, crash, or keep its own Reply in its state; stop (discard or drain;
// reason normal, shutdown or error); Runtime::run_until_idle; Runtime::advance_by;
// ManualClock::advance_by alone (fires timers, runs nothing); Future::get() of an ask; then
// shutdown, and sends, asks and stops after the shutdown and after the Runtime is destroyed
// (SPEC 14.14).
// After every operation the model predicts, and the target checks:
//   - each send's return value (the handler's sends to itself too), each tools.cancel's,
//     and run_until_idle's (handlers run, crashes included);
//   - each process's status(), and the manual clock's time;
//   - what each process did, as its own functions record it: every handled message (id, time
//     of handling, messages handled by this incarnation before it: a restart starts fresh),
//     every init call (time), every on_stop (reason, state);
//   - every ask future: settled exactly once (a then() continuation counts), when the model
//     says (a Reply kept in the state fails with the crash or the stop that drops it),
//     with the value, TimeoutError, NoReplyError, StoppedError or ProcessError and
//     the SPEC's message text; Future::get() returns or throws the same, or WouldBlockError
//     when the runtime goes idle first; every stop future: complete exactly when `stopped`,
//     without an exception (a throwing on_stop included);
//   - every Stats counter (sent, accepted, refused_full, refused_not_running, handled,
//     crashed, dropped_oldest, discarded, queued, restarts, giveups, asks, ask_timeouts,
//     late_replies, timers_fired, processes_alive; and beyond the SPEC dead_letters and
//     spawned), the two laws of SPEC 8, and ManualClock::pending_timer_count() (SPEC 14.9);
//   - after shutdown: the ShutdownReport, every process `stopped`, no timer left.
// The rules it encodes: SPEC 4 (send by status; ask's four failures; stop), 5 (the bound and
// the policy in every status, drop_oldest evicts the oldest and never the message in hand,
// the system lane first), 6 (one_for_one and none, the sliding window inclusive, backoff,
// the user lane survives a restart, timers die with their incarnation, a failed init is a
// crash that retries after at least 1 ms doubling to 1 s), 7 (schedule: due timers in
// deadline order, ties in the order scheduled; schedule(0) delivers after the messages
// already queued, before the process's next message), 8, 9, and 14.1-14.4, 14.6, 14.8, 14.9,
// 14.11, 14.14, 14.17-14.19, 14.21. Where the SPEC is silent the model follows the decisions
// written in engine/process/README.md: stop(drain) of a process that has not run init, or
// of one waiting out a restart's backoff, runs init first (the backoff is cut short).
//
// Left out, on purpose:
//   - group strategies (one_for_all, rest_for_one), children, and sends between processes:
//     here processes never touch one another, so the seeded run order of the deterministic
//     scheduler cannot change any outcome the model predicts. Coupled processes can: whether
//     a lane is full when another process's handler sends to it, or which of two crashes in
//     one run_until_idle starts its group restart first, is the scheduler's seeded choice,
//     which the model would have to copy from the implementation instead of the SPEC.
//   - the same goes for shutdown from a busy runtime: while it waits for the youngest
//     process's stop, the driver also runs other processes' pending work (an init, queued
//     messages) in its seeded order. The model runs until idle before shutting down.
//   - what Future::get() leaves half-done when its future settles mid-run: checked only
//     together with the run_until_idle that follows it.
//   - jitter: the draw order of the runtime's random source is not in the SPEC.
//   - backoff factors that are not integers: the SPEC does not say how a fractional delay
//     is rounded.
//   - coroutine handlers, tools.ask, pipe, cancel, telemetry events, threads: other targets
//     and tests cover them; the model would grow without checking more of the mailbox and
//     lifecycle rules.
// The seed byte picks the deterministic run order; since nothing the model predicts may
// depend on it, a run whose results did would be reported as a mismatch too.
//
// Replay a crash: ./runtime_runtime_core_fuzz crash-<sha1> (PHYX_FUZZ_TRACE=1 prints every
// operation as it runs); rerun a campaign with -seed=N (libFuzzer prints it at the start).
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <memory>
#include <optional>
#include <phyx/phyx.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

using std::chrono::milliseconds;

constexpr int kMaxOps = 256;
constexpr std::size_t kMaxProcesses = 6;

const bool kTrace = std::getenv("PHYX_FUZZ_TRACE") != nullptr;

int g_op = -1;                    // index of the operation being checked
std::string g_op_text = "start";  // what it was

[[noreturn]] void fail_check(const std::string& what, const std::string& expected,
                             const std::string& actual) {
  std::fprintf(
      stderr,
      "runtime_core_fuzz: mismatch after operation %d (%s): %s\n  expected: %s\n  actual:   %s\n",
      g_op, g_op_text.c_str(), what.c_str(), expected.c_str(), actual.c_str());
  std::abort();  // libFuzzer reports the input that got here
}

template <class T>
void expect_eq(const std::string& what, const T& expected, const T& actual) {
  if (!(expected == actual)) fail_check(what, std::to_string(expected), std::to_string(actual));
}

// ---- what the real processes do and record ------------------------------------------------

/// A user message. `id` is unique in the run. The handler, in this order: records it;
/// cancels the last timer this incarnation scheduled (if `cancel_last`); schedules
/// Msg{scheduled_id, scheduled_crash} to self after `schedule_ms` (if >= 0); sends
/// Msg{self_send_id} to self (if not 0); answers every Reply its state holds with `id` (if
/// `answer_held`); stops itself (if self_stop >= 0: bit 0 = drain, the rest = the
/// StopKind); throws (if `crash`); else keeps `reply` in its state (if `hold`) or answers
/// it with `id`.
struct Msg {
  int id = 0;
  bool crash = false;
  int schedule_ms = -1;
  int scheduled_id = 0;
  bool scheduled_crash = false;
  std::optional<phyx::Reply<int>> reply;
  int self_send_id = 0;
  int self_stop = -1;
  bool cancel_last = false;
  bool answer_held = false;
  bool hold = false;
};

struct State {
  int handled = 0;                          // messages this incarnation handled (without crashing)
  std::optional<phyx::TimerId> last_timer;  // the last schedule's id
  std::vector<std::shared_ptr<phyx::Reply<int>>> held;  // Replies kept for later
};

struct Handled {
  int id;
  std::int64_t at_ms;
  int before;          // State::handled when the message came in
  int self_sent = -1;  // what the handler's send to self returned (1, 0), or -1: none
  int cancelled = -1;  // what its tools.cancel returned (1, 0), or -1: none
  bool operator==(const Handled&) const = default;
};

struct Stopped {
  phyx::StopKind kind;
  int handled;
  bool operator==(const Stopped&) const = default;
};

/// What one process's own functions saw. Owned by the iteration; outlives the runtime.
struct Record {
  std::vector<Handled> handled;
  std::vector<std::int64_t> inits;  // mono_ms of each init call
  std::vector<Stopped> stops;       // on_stop calls
  std::uint8_t init_fail_mask = 0;  // bit n: the n-th init call throws
  bool on_stop_throws = false;      // after recording (SPEC 3: the stop still completes)
};

enum class Outcome { pending, value, timeout, no_reply, stopped, refused };

const char* name(Outcome o) {
  switch (o) {
    case Outcome::pending:
      return "pending";
    case Outcome::value:
      return "value";
    case Outcome::timeout:
      return "TimeoutError";
    case Outcome::no_reply:
      return "NoReplyError";
    case Outcome::stopped:
      return "StoppedError";
    case Outcome::refused:
      return "ProcessError";
  }
  return "?";
}

/// What an ask's future delivered to its then() continuation.
struct AskProbe {
  int calls = 0;
  Outcome outcome = Outcome::pending;
  int value = 0;
  std::string what;
};

/// Which of the SPEC's ask failures `e` is; `what` gets its text.
Outcome classify(std::exception_ptr e, std::string& what) {
  try {
    std::rethrow_exception(std::move(e));
  } catch (const phyx::TimeoutError& x) {
    what = x.what();
    return Outcome::timeout;
  } catch (const phyx::NoReplyError& x) {
    what = x.what();
    return Outcome::no_reply;
  } catch (const phyx::StoppedError& x) {
    what = x.what();
    return Outcome::stopped;
  } catch (const phyx::ProcessError& x) {
    what = x.what();
    return Outcome::refused;
  } catch (const std::exception& x) {
    what = std::string("unexpected exception: ") + x.what();
    return Outcome::pending;  // never expected: reported as a mismatch
  }
}

std::string describe(const Handled& h) {
  return "{id " + std::to_string(h.id) + " @" + std::to_string(h.at_ms) + "ms before " +
         std::to_string(h.before) +
         (h.self_sent < 0 ? "" : " self_sent " + std::to_string(h.self_sent)) +
         (h.cancelled < 0 ? "" : " cancelled " + std::to_string(h.cancelled)) + "}";
}
std::string describe(const Stopped& s) {
  return "{" + std::string(phyx::to_string(s.kind)) + " handled " + std::to_string(s.handled) + "}";
}
std::string describe(std::int64_t t) {
  return std::to_string(t) + "ms";
}

template <class T>
std::string describe_all(const std::vector<T>& v) {
  std::string out = "[";
  for (const T& x : v) out += (out.size() > 1 ? ", " : "") + describe(x);
  return out + "]";
}

template <class T>
void expect_same(const std::string& what, const std::vector<T>& expected,
                 const std::vector<T>& actual) {
  if (expected != actual) fail_check(what, describe_all(expected), describe_all(actual));
}

// ---- the reference model ------------------------------------------------------------------

enum class Phase {
  init_pending,  // init not run yet: first incarnation, or a restart that is due
  running,       // live state
  waiting,       // a restart's backoff timer is pending (no state)
  failed,        // Strategy::none, or gave up (no state)
  stopped,
};

struct MBackoff {
  std::int64_t initial, max, factor;
};
struct MMaxRestarts {
  int count;
  std::int64_t within;
};

struct MMsg {
  int id;
  bool crash;
  int schedule_ms;
  int scheduled_id;
  bool scheduled_crash;
  int ask = -1;  // index in Model::asks, or -1
  int self_send_id = 0;
  int self_stop = -1;
  bool cancel_last = false;
  bool answer_held = false;
  bool hold = false;
};

struct MProc {
  std::size_t max_inbox;
  bool drop_oldest;
  bool strategy_none;
  std::optional<MBackoff> backoff;
  std::optional<MMaxRestarts> max_restarts;
  std::uint8_t init_fail_mask;
  bool on_stop_throws;

  Phase phase = Phase::init_pending;
  bool stop_requested = false;
  bool drain = false;
  phyx::StopKind reason = phyx::StopKind::normal;
  bool alive = true;
  std::deque<MMsg> lane;
  int state = 0;                            // State::handled of the live incarnation
  std::optional<std::uint64_t> last_timer;  // State::last_timer: a timer's seq, or kNoTimer
  std::vector<int> held;                    // State::held: asks
  int init_calls = 0;
  int consecutive_init_failures = 0;
  std::vector<std::int64_t> restart_times;  // in the window (with max_restarts)
  std::uint64_t restarts_in_life = 0;       // without max_restarts
  Record expected;                          // what the process's functions should record

  phyx::Status status() const {
    if (phase == Phase::stopped) return phyx::Status::stopped;
    if (stop_requested) return phyx::Status::stopping;
    if (phase == Phase::failed) return phyx::Status::failed;
    if (phase == Phase::running) return phyx::Status::running;
    return phyx::Status::starting;
  }
};

struct MAsk {
  int pid;
  int timeout_ms;
  Outcome outcome = Outcome::pending;
  int value = 0;
};

enum class TimerKind { ask_timeout, schedule, restart };
constexpr std::uint64_t kNoTimer = ~std::uint64_t{0};  // the TimerId{} of a refused schedule

struct MTimer {
  std::int64_t deadline;
  std::uint64_t seq;  // creation order: ties fire in the order scheduled
  TimerKind kind;
  int pid;
  int ask;   // ask_timeout
  MMsg msg;  // schedule
};

struct Model {
  std::int64_t now = 0;
  std::vector<MProc> procs;
  std::vector<MAsk> asks;
  std::vector<MTimer> timers;  // pending only
  std::uint64_t next_seq = 0;
  phyx::Stats stats;
  std::size_t steps = 0;  // user handlers run (run_until_idle's result)

  // -- timers --
  void add_timer(std::int64_t after, TimerKind kind, int pid, int ask, MMsg msg) {
    timers.push_back(MTimer{now + after, next_seq++, kind, pid, ask, msg});
  }
  void cancel_timers(int pid) {  // a process's own: schedules and its restart wait
    std::erase_if(
        timers, [&](const MTimer& t) { return t.kind != TimerKind::ask_timeout && t.pid == pid; });
  }
  void cancel_ask_timer(int ask) {
    std::erase_if(
        timers, [&](const MTimer& t) { return t.kind == TimerKind::ask_timeout && t.ask == ask; });
  }
  /// Fires every pending timer with deadline <= limit, one by one in (deadline, seq) order,
  /// with the time at its deadline; runs no process.
  void fire_due(std::int64_t limit) {
    for (;;) {
      auto it =
          std::min_element(timers.begin(), timers.end(), [](const MTimer& a, const MTimer& b) {
            return a.deadline != b.deadline ? a.deadline < b.deadline : a.seq < b.seq;
          });
      if (it == timers.end() || it->deadline > limit) return;
      const MTimer t = *it;
      timers.erase(it);
      now = std::max(now, t.deadline);
      ++stats.timers_fired;
      switch (t.kind) {
        case TimerKind::ask_timeout:  // pending by construction: a settled ask's timer is gone
          asks[t.ask].outcome = Outcome::timeout;
          ++stats.ask_timeouts;
          break;
        case TimerKind::schedule:
          deliver(t.pid, t.msg);
          break;
        case TimerKind::restart:  // the wait is over: init runs at the next turn
          procs[t.pid].phase = Phase::init_pending;
          break;
      }
    }
  }

  // -- asks --
  /// Settles an ask that is still pending (its timeout is cancelled: SPEC 14.9).
  void settle(int ask, Outcome o, int value = 0) {
    if (ask < 0 || asks[ask].outcome != Outcome::pending) return;
    asks[ask].outcome = o;
    asks[ask].value = value;
    cancel_ask_timer(ask);
  }
  void reply(int ask, int value) {
    if (asks[ask].outcome != Outcome::pending) {
      ++stats.late_replies;  // SPEC 14.11
      return;
    }
    settle(ask, Outcome::value, value);
  }

  // -- the mailbox --
  /// A send from outside, an ask's message or a fired schedule (SPEC 4, 5).
  bool deliver(int pid, MMsg m) {
    MProc& p = procs[pid];
    ++stats.sent;
    const phyx::Status s = p.status();
    if (s == phyx::Status::stopping || s == phyx::Status::stopped || s == phyx::Status::failed) {
      ++stats.refused_not_running;
      settle(m.ask, Outcome::refused);
      return false;
    }
    if (p.lane.size() >= p.max_inbox) {
      if (!p.drop_oldest) {
        ++stats.refused_full;
        settle(m.ask, Outcome::refused);
        return false;
      }
      const MMsg evicted = p.lane.front();
      p.lane.pop_front();
      ++stats.dropped_oldest;
      --stats.queued;
      settle(evicted.ask, Outcome::no_reply);
    }
    p.lane.push_back(m);
    ++stats.accepted;
    ++stats.queued;
    return true;
  }
  /// Queued messages become dead letters; their asks fail with `o`.
  void discard_lane(MProc& p, Outcome o) {
    stats.discarded += p.lane.size();
    stats.queued -= p.lane.size();
    for (const MMsg& m : p.lane) settle(m.ask, o);
    p.lane.clear();
  }

  // -- the lifecycle --
  void count_down(MProc& p) {
    if (p.alive) --stats.processes_alive;
    p.alive = false;
  }
  void finish_stop(MProc& p) {
    if (p.phase == Phase::running)
      p.expected.stops.push_back(Stopped{p.reason, p.state});  // live state only
    for (int a : p.held) settle(a, Outcome::stopped);          // the state goes (SPEC 14.2)
    p.held.clear();
    p.phase = Phase::stopped;
    count_down(p);
  }
  void enter_failed(MProc& p) {
    p.phase = Phase::failed;
    count_down(p);
    discard_lane(p, Outcome::no_reply);  // SPEC 14.4, 14.19
  }
  /// `init` or `handle` threw (SPEC 6).
  void crash(int pid, bool in_init) {
    MProc& p = procs[pid];
    cancel_timers(pid);                                 // timers die with their incarnation
    for (int a : p.held) settle(a, Outcome::no_reply);  // the state goes (SPEC 14.19)
    p.held.clear();
    p.phase = Phase::waiting;  // no live state from here on
    if (p.stop_requested) {    // a crash while draining ends the stop: no restart (SPEC 14.3)
      discard_lane(p, Outcome::stopped);
      finish_stop(p);
      return;
    }
    if (p.strategy_none) {
      enter_failed(p);
      return;
    }
    std::uint64_t attempt;
    if (p.max_restarts) {
      const std::int64_t oldest = now - p.max_restarts->within;  // the window is inclusive
      std::erase_if(p.restart_times, [&](std::int64_t t) { return t < oldest; });
      if (static_cast<int>(p.restart_times.size()) >= p.max_restarts->count) {
        ++stats.giveups;
        enter_failed(p);  // under the root nothing escalates
        return;
      }
      p.restart_times.push_back(now);
      attempt = p.restart_times.size();
    } else {
      attempt = ++p.restarts_in_life;
    }
    std::int64_t delay = 0;
    if (p.backoff) {  // min(initial * factor^(n-1), max)
      delay = p.backoff->initial;
      for (std::uint64_t i = 1; i < attempt && delay < p.backoff->max; ++i)
        delay *= p.backoff->factor;
      delay = std::min(delay, p.backoff->max);
    }
    if (in_init) {  // never a busy loop: at least 1 ms doubling to 1 s, backoff or not (SPEC
                    // 6, 14.6)
      const int doublings = std::min(p.consecutive_init_failures - 1, 10);
      delay = std::max(delay, std::min<std::int64_t>(std::int64_t{1} << doublings, 1000));
    }
    ++stats.restarts;
    if (delay == 0) {
      p.phase = Phase::init_pending;
    } else {
      add_timer(delay, TimerKind::restart, pid, -1, {});
    }
  }
  void init(int pid) {
    MProc& p = procs[pid];
    const int n = p.init_calls++;
    p.expected.inits.push_back(now);
    if (n < 8 && ((p.init_fail_mask >> n) & 1) != 0) {
      ++p.consecutive_init_failures;
      crash(pid, /*in_init=*/true);
      return;
    }
    p.consecutive_init_failures = 0;
    p.state = 0;
    p.last_timer.reset();
    p.phase = Phase::running;
  }
  void handle(int pid) {
    MProc& p = procs[pid];
    const MMsg m = p.lane.front();
    p.lane.pop_front();
    --stats.queued;
    ++steps;
    p.expected.handled.push_back(Handled{m.id, now, p.state});
    if (m.cancel_last && p.last_timer) {  // true if it had not fired (SPEC 7)
      const auto n = std::erase_if(timers, [&](const MTimer& t) { return t.seq == *p.last_timer; });
      p.expected.handled.back().cancelled = n == 1 ? 1 : 0;
    }
    if (m.schedule_ms >= 0) {
      if (p.stop_requested) {  // a schedule while draining is refused (SPEC 14.3, 14.18)
        ++stats.sent;
        ++stats.refused_not_running;
        p.last_timer = kNoTimer;
      } else {
        p.last_timer = next_seq;
        add_timer(m.schedule_ms, TimerKind::schedule, pid, -1,
                  MMsg{m.scheduled_id, m.scheduled_crash, -1, 0, false, -1});
      }
    }
    if (m.self_send_id != 0) {  // the message in hand is out of the lane: never evicted
      const bool sent = deliver(pid, MMsg{m.self_send_id, false, -1, 0, false, -1});
      p.expected.handled.back().self_sent = sent ? 1 : 0;
    }
    if (m.answer_held) {
      for (int a : p.held) reply(a, m.id);
      p.held.clear();
    }
    if (m.self_stop >= 0)
      stop(pid, (m.self_stop & 1) != 0, static_cast<phyx::StopKind>(m.self_stop >> 1));
    if (m.crash) {
      ++stats.crashed;
      settle(m.ask, Outcome::no_reply);
      crash(pid, /*in_init=*/false);
      return;
    }
    ++stats.handled;
    ++p.state;
    if (m.ask >= 0 && m.hold) {
      p.held.push_back(m.ask);
    } else if (m.ask >= 0) {
      reply(m.ask, m.id);
    }
    fire_due(now);  // a schedule(0) falls due now: it fires before the next step (SPEC 14.8)
  }
  /// One process until it has nothing to do (the system lane first: SPEC 5).
  void run(int pid) {
    MProc& p = procs[pid];
    for (;;) {
      switch (p.phase) {
        case Phase::stopped:
          return;
        case Phase::failed:
          if (p.stop_requested) finish_stop(p);  // SPEC 14.4: no on_stop, no live state
          return;
        case Phase::waiting:
          if (p.stop_requested && p.drain) {  // the backoff is cut short: drain needs a state
            init(pid);
            break;
          }
          if (p.stop_requested) {  // its restart timer went when the stop began
            discard_lane(p, Outcome::stopped);
            finish_stop(p);
          }
          return;
        case Phase::init_pending:
          if (p.stop_requested && !p.drain) {
            discard_lane(p, Outcome::stopped);
            finish_stop(p);
            return;
          }
          init(pid);  // drain needs a state to handle what was queued
          break;
        case Phase::running:
          if (p.stop_requested && !p.drain) {
            discard_lane(p, Outcome::stopped);
            finish_stop(p);
            return;
          }
          if (!p.lane.empty()) {
            handle(pid);
            break;
          }
          if (p.stop_requested) finish_stop(p);  // drained
          return;
      }
    }
  }
  std::size_t run_until_idle() {
    steps = 0;
    fire_due(now);
    for (std::size_t i = 0; i < procs.size(); ++i) run(static_cast<int>(i));
    return steps;
  }
  void advance_runtime(std::int64_t d) {  // SPEC 14.8
    run_until_idle();
    const std::int64_t target = now + d;
    for (;;) {
      auto it = std::min_element(
          timers.begin(), timers.end(),
          [](const MTimer& a, const MTimer& b) { return a.deadline < b.deadline; });
      if (it == timers.end() || it->deadline > target) break;
      now = it->deadline;
      run_until_idle();  // fires every timer due now, then runs
    }
    now = target;
    run_until_idle();
  }
  void advance_clock(std::int64_t d) {  // ManualClock::advance_by: timers fire, nothing runs
    const std::int64_t target = now + d;
    fire_due(target);
    now = target;
  }

  int spawn(MProc p) {
    procs.push_back(std::move(p));
    ++stats.processes_alive;
    return static_cast<int>(procs.size() - 1);
  }
  bool send(int pid, MMsg m) { return deliver(pid, m); }
  int ask(int pid, MMsg m, int timeout_ms) {
    const int a = static_cast<int>(asks.size());
    asks.push_back(MAsk{pid, timeout_ms});
    ++stats.asks;
    add_timer(timeout_ms, TimerKind::ask_timeout, pid, a, {});  // started before the send
    m.ask = a;
    deliver(pid, m);
    return a;
  }
  void stop(int pid, bool drain, phyx::StopKind reason) {
    MProc& p = procs[pid];
    if (p.phase == Phase::stopped || p.stop_requested) return;  // the same completion
    p.stop_requested = true;
    p.drain = drain;
    p.reason = reason;
    cancel_timers(pid);  // SPEC 14.3: when the stop begins
  }
  /// Runtime::shutdown: every process not stopped yet stops (shutdown, discard), youngest
  /// first; a stop already requested keeps its mode and reason. Returns how many stopped.
  std::size_t shutdown() {
    std::size_t stopping = 0;
    for (std::size_t i = procs.size(); i-- > 0;) {
      if (procs[i].phase == Phase::stopped) continue;
      ++stopping;
      stop(static_cast<int>(i), false, phyx::StopKind::shutdown);
    }
    run_until_idle();
    return stopping;
  }
};

// ---- the real runtime beside the model -----------------------------------------------------

struct Real {
  std::shared_ptr<phyx::ManualClock> clock;
  std::deque<Record> records;   // stable addresses: the processes' functions point here
  std::deque<AskProbe> probes;  // stable addresses: the futures' continuations point here
  std::vector<phyx::Future<int>> asks;
  std::vector<phyx::ProcessRef<Msg>> refs;
  std::vector<std::optional<phyx::Future<void>>> stops;
};

phyx::StopKind stop_kind(int k) {
  return k == 0   ? phyx::StopKind::normal
         : k == 1 ? phyx::StopKind::shutdown
                  : phyx::StopKind::error;
}

phyx::StopReason stop_reason(phyx::StopKind k) {
  switch (k) {
    case phyx::StopKind::normal:
      return phyx::StopReason::normal();
    case phyx::StopKind::shutdown:
      return phyx::StopReason::shutdown();
    case phyx::StopKind::error:
      return phyx::StopReason::error("fuzz");
  }
  return {};
}

phyx::ProcessSpec<Msg, State> make_spec(Record* rec, phyx::ManualClock* clock, const MProc& m) {
  phyx::ProcessSpec<Msg, State> spec{
      .name = "p",
      .init =
          [rec, clock](const phyx::Empty&) {
            const std::size_t n = rec->inits.size();
            rec->inits.push_back(clock->now().mono_ms);
            if (n < 8 && ((rec->init_fail_mask >> n) & 1) != 0)
              throw std::runtime_error("init fails");
            return State{};
          },
      .handle =
          [rec](State& s, Msg& m, auto& tools) {
            rec->handled.push_back(Handled{m.id, tools.now().mono_ms, s.handled});
            if (m.cancel_last && s.last_timer) {
              rec->handled.back().cancelled = tools.cancel(*s.last_timer) ? 1 : 0;
            }
            if (m.schedule_ms >= 0) {
              s.last_timer = tools.schedule(
                  milliseconds(m.schedule_ms),
                  Msg{m.scheduled_id, m.scheduled_crash, -1, 0, false, std::nullopt});
            }
            if (m.self_send_id != 0) {
              const bool sent =
                  tools.self().send(Msg{m.self_send_id, false, -1, 0, false, std::nullopt});
              rec->handled.back().self_sent = sent ? 1 : 0;
            }
            if (m.answer_held) {
              for (auto& r : s.held) (*r)(m.id);
              s.held.clear();
            }
            if (m.self_stop >= 0) {
              (void)tools.self().stop(
                  stop_reason(static_cast<phyx::StopKind>(m.self_stop >> 1)),
                  (m.self_stop & 1) != 0 ? phyx::StopMode::drain : phyx::StopMode::discard);
            }
            if (m.crash) throw std::runtime_error("handler crashes");
            ++s.handled;
            if (m.reply && m.hold) {
              s.held.push_back(std::make_shared<phyx::Reply<int>>(std::move(*m.reply)));
            } else if (m.reply) {
              (*m.reply)(m.id);
            }
          },
      .on_stop =
          [rec](State& s, const phyx::StopReason& r, const phyx::Empty&) {
            rec->stops.push_back(Stopped{r.kind, s.handled});
            if (rec->on_stop_throws) throw std::runtime_error("on_stop throws");
          },
      .max_inbox = m.max_inbox,
      .mailbox_policy =
          m.drop_oldest ? phyx::MailboxPolicy::drop_oldest : phyx::MailboxPolicy::reject,
  };
  if (m.strategy_none || m.backoff || m.max_restarts) {
    phyx::Supervision sup;
    sup.type = m.strategy_none ? phyx::Strategy::none : phyx::Strategy::one_for_one;
    if (m.backoff) {
      sup.backoff = phyx::Backoff{milliseconds(m.backoff->initial), milliseconds(m.backoff->max),
                                  static_cast<double>(m.backoff->factor), 0.0};
    }
    if (m.max_restarts)
      sup.max_restarts =
          phyx::MaxRestarts{m.max_restarts->count, milliseconds(m.max_restarts->within)};
    spec.supervision = sup;
  }
  return spec;
}

void check_stats(const Model& model, const phyx::Stats& s) {
  const phyx::Stats& e = model.stats;
  expect_eq("stats.sent", e.sent, s.sent);
  expect_eq("stats.accepted", e.accepted, s.accepted);
  expect_eq("stats.refused_full", e.refused_full, s.refused_full);
  expect_eq("stats.refused_not_running", e.refused_not_running, s.refused_not_running);
  expect_eq("stats.handled", e.handled, s.handled);
  expect_eq("stats.crashed", e.crashed, s.crashed);
  expect_eq("stats.dropped_oldest", e.dropped_oldest, s.dropped_oldest);
  expect_eq("stats.discarded", e.discarded, s.discarded);
  expect_eq("stats.queued", e.queued, s.queued);
  expect_eq("stats.restarts", e.restarts, s.restarts);
  expect_eq("stats.giveups", e.giveups, s.giveups);
  expect_eq("stats.asks", e.asks, s.asks);
  expect_eq("stats.ask_timeouts", e.ask_timeouts, s.ask_timeouts);
  expect_eq("stats.late_replies", e.late_replies, s.late_replies);
  expect_eq("stats.timers_fired", e.timers_fired, s.timers_fired);
  expect_eq("stats.processes_alive", e.processes_alive, s.processes_alive);
  // Beyond SPEC (phyx/stats.hpp): one dead letter per refused, evicted or discarded message
  // and per late reply (SPEC 14.1, 14.11); spawns.
  expect_eq<std::uint64_t>(
      "stats.dead_letters",
      e.refused_full + e.refused_not_running + e.dropped_oldest + e.discarded + e.late_replies,
      s.dead_letters);
  expect_eq<std::uint64_t>("stats.spawned", model.procs.size(), s.spawned);
  // SPEC 8's laws, on the runtime's own counters.
  expect_eq("law: sent == accepted + refused_full + refused_not_running", s.sent,
            s.accepted + s.refused_full + s.refused_not_running);
  expect_eq("law: accepted == handled + crashed + dropped_oldest + discarded + queued", s.accepted,
            s.handled + s.crashed + s.dropped_oldest + s.discarded + s.queued);
}

void check_all(const Model& model, const Real& real, const phyx::Runtime& rt) {
  expect_eq("clock mono_ms", model.now, rt.clock().now().mono_ms);
  for (std::size_t i = 0; i < model.procs.size(); ++i) {
    const MProc& p = model.procs[i];
    const std::string who = "process " + std::to_string(i);
    const phyx::Status actual = real.refs[i].status();
    if (actual != p.status()) {
      fail_check(who + " status", std::string(phyx::to_string(p.status())),
                 std::string(phyx::to_string(actual)));
    }
    expect_same(who + " handled messages", p.expected.handled, real.records[i].handled);
    expect_same(who + " init calls", p.expected.inits, real.records[i].inits);
    expect_same(who + " on_stop calls", p.expected.stops, real.records[i].stops);
    if (real.stops[i]) {
      const bool done = p.phase == Phase::stopped;
      if (real.stops[i]->ready() != done) {
        fail_check(who + " stop future ready", done ? "ready" : "not ready",
                   done ? "not ready" : "ready");
      }
      if (done && !real.stops[i]->try_get()->ok())
        fail_check(who + " stop future", "no exception", "an exception");
    }
  }
  for (std::size_t a = 0; a < model.asks.size(); ++a) {
    const MAsk& e = model.asks[a];
    const AskProbe& got = real.probes[a];
    const std::string who =
        "ask " + std::to_string(a) + " (to process " + std::to_string(e.pid) + ")";
    const bool settled = e.outcome != Outcome::pending;
    if (got.calls != (settled ? 1 : 0))
      fail_check(who + " settlements", settled ? "1" : "0", std::to_string(got.calls));
    if (real.asks[a].ready() != settled)
      fail_check(who + " ready()", settled ? "true" : "false", settled ? "false" : "true");
    if (got.outcome != e.outcome)
      fail_check(who + " outcome", name(e.outcome), name(got.outcome) + (": " + got.what));
    std::string text;
    switch (e.outcome) {
      case Outcome::value:
        expect_eq(who + " value", e.value, got.value);
        break;
      case Outcome::timeout:
        text = "Ask timeout after " + std::to_string(e.timeout_ms) + "ms";
        break;
      case Outcome::no_reply:
        text = "Reply dropped without an answer";
        break;
      case Outcome::stopped:
        text = "Process stopping";
        break;
      case Outcome::refused:
        text = "Failed to send ask message";
        break;
      case Outcome::pending:
        break;
    }
    if (!text.empty() && got.what != text) fail_check(who + " error text", text, got.what);
  }
  check_stats(model, rt.stats());
  expect_eq("ManualClock::pending_timer_count()", model.timers.size(),
            real.clock->pending_timer_count());
}

void trace(const std::string& text) {
  g_op_text = text;
  if (kTrace) std::fprintf(stderr, "op %d: %s\n", g_op, text.c_str());
}

void run_one(FuzzedDataProvider& in) {
  Model model;
  Real real;
  real.clock = phyx::create_manual_clock();
  const std::uint64_t seed = in.ConsumeIntegral<std::uint8_t>();
  int next_id = 1;

  auto runtime = std::make_unique<phyx::Runtime>(
      phyx::RuntimeOptions{.clock = real.clock, .deterministic = true, .seed = seed});
  phyx::Runtime& rt = *runtime;
  g_op = -1;
  trace("runtime seed " + std::to_string(seed));

  auto message = [&]() {
    MMsg m{next_id++, false, -1, 0, false, -1};
    const auto bits = in.ConsumeIntegral<std::uint8_t>();
    m.crash = (bits & 7) == 0;  // one in eight
    if ((bits & 0x18) == 0x18) {
      m.schedule_ms = (bits & 0x20) != 0 ? 0 : in.ConsumeIntegralInRange(1, 60);
      m.scheduled_id = next_id++;
      m.scheduled_crash = (bits & 0x40) != 0;
    }
    m.cancel_last = (bits & 0x18) == 0x08;
    if ((bits & 0x80) != 0) {
      const auto more = in.ConsumeIntegral<std::uint8_t>();
      if ((more & 1) != 0) m.self_send_id = next_id++;
      if ((more & 6) == 6) m.self_stop = ((more >> 3) & 1) | (std::min((more >> 4) & 3, 2) << 1);
      m.hold = (more & 0x40) != 0;
      m.answer_held = (more & 0x80) != 0;
    }
    return m;
  };
  auto to_real = [](const MMsg& m) {
    return Msg{m.id,         m.crash,        m.schedule_ms, m.scheduled_id, m.scheduled_crash,
               std::nullopt, m.self_send_id, m.self_stop,   m.cancel_last,  m.answer_held,
               m.hold};
  };
  auto describe_msg = [](const MMsg& m) {
    std::string s = "msg " + std::to_string(m.id) + (m.crash ? " crash" : "");
    if (m.schedule_ms >= 0) {
      s += " schedule(" + std::to_string(m.schedule_ms) + "ms, msg " +
           std::to_string(m.scheduled_id) + (m.scheduled_crash ? " crash)" : ")");
    }
    if (m.cancel_last) s += " cancel-last";
    if (m.self_send_id != 0) s += " self-send(msg " + std::to_string(m.self_send_id) + ")";
    if (m.answer_held) s += " answer-held";
    if (m.hold) s += " hold";
    if (m.self_stop >= 0) {
      s += std::string(" self-stop(") + ((m.self_stop & 1) != 0 ? "drain " : "discard ") +
           std::string(phyx::to_string(static_cast<phyx::StopKind>(m.self_stop >> 1))) + ")";
    }
    return s;
  };
  auto pick = [&]() {
    return in.ConsumeIntegralInRange<int>(0, static_cast<int>(model.procs.size()) - 1);
  };
  auto send = [&](int pid, const MMsg& m) {
    trace("send " + describe_msg(m) + " to process " + std::to_string(pid));
    const bool expected = model.send(pid, m);
    const bool actual = real.refs[pid].send(to_real(m));
    if (expected != actual)
      fail_check("send's result", expected ? "true" : "false", actual ? "true" : "false");
  };

  auto ask = [&](int pid, const MMsg& m, int timeout) {
    model.ask(pid, m, timeout);
    AskProbe* probe = &real.probes.emplace_back();
    phyx::Future<int> f = real.refs[pid].ask<int>(
        [&](phyx::Reply<int> r) {
          Msg msg = to_real(m);
          msg.reply.emplace(std::move(r));
          return msg;
        },
        milliseconds(timeout));
    f.then([probe](phyx::Result<int> r) {  // runs once, when the future settles
      ++probe->calls;
      if (r.ok()) {
        probe->outcome = Outcome::value;
        probe->value = r.value();
      } else {
        probe->outcome = classify(r.error(), probe->what);
      }
    });
    real.asks.push_back(std::move(f));
  };

  for (g_op = 0; g_op < kMaxOps && in.remaining_bytes() > 0; ++g_op) {
    int op = in.ConsumeIntegralInRange(0, 9);
    if (model.procs.empty() && op != 4 && op != 5 && op != 6) op = 0;
    switch (op) {
      case 0: {  // spawn
        if (model.procs.size() >= kMaxProcesses) break;
        static constexpr std::size_t kInbox[] = {1, 1, 2, 2, 3, 4, 8, 1024};
        MProc p{};
        p.max_inbox = kInbox[in.ConsumeIntegralInRange(0, 7)];
        p.drop_oldest = in.ConsumeBool();
        const int supervision = in.ConsumeIntegralInRange(0, 3);  // default, none, one_for_one x2
        p.strategy_none = supervision == 1;
        if (supervision >= 2) {
          if (in.ConsumeBool()) {
            const std::int64_t initial = in.ConsumeIntegralInRange(0, 30);
            p.backoff = MBackoff{initial, initial + in.ConsumeIntegralInRange(0, 120),
                                 in.ConsumeIntegralInRange(1, 3)};
          }
          if (in.ConsumeBool())
            p.max_restarts =
                MMaxRestarts{in.ConsumeIntegralInRange(0, 4), in.ConsumeIntegralInRange(1, 200)};
        }
        p.init_fail_mask = in.ConsumeBool() ? in.ConsumeIntegral<std::uint8_t>() : 0;
        p.expected.init_fail_mask = p.init_fail_mask;
        p.on_stop_throws = (in.ConsumeIntegral<std::uint8_t>() & 3) == 0;
        trace("spawn process " + std::to_string(model.procs.size()) + " max_inbox " +
              std::to_string(p.max_inbox) + (p.drop_oldest ? " drop_oldest" : " reject") +
              (supervision == 0  ? " default"
               : p.strategy_none ? " none"
                                 : " one_for_one") +
              (p.backoff ? " backoff{" + std::to_string(p.backoff->initial) + "," +
                               std::to_string(p.backoff->max) + ",x" +
                               std::to_string(p.backoff->factor) + "}"
                         : "") +
              (p.max_restarts ? " max_restarts{" + std::to_string(p.max_restarts->count) + "," +
                                    std::to_string(p.max_restarts->within) + "}"
                              : "") +
              " init_fail_mask " + std::to_string(p.init_fail_mask) +
              (p.on_stop_throws ? " on_stop throws" : ""));
        Record& rec = real.records.emplace_back();
        rec.init_fail_mask = p.init_fail_mask;
        rec.on_stop_throws = p.on_stop_throws;
        real.refs.push_back(rt.spawn(make_spec(&real.records.back(), real.clock.get(), p)));
        real.stops.emplace_back();
        model.spawn(std::move(p));
        break;
      }
      case 1:
      case 2: {  // send
        const int pid = pick();
        send(pid, message());
        break;
      }
      case 3: {  // ask
        const int pid = pick();
        const MMsg m = message();
        const int timeout = in.ConsumeIntegralInRange(1, 150);
        trace("ask " + describe_msg(m) + " of process " + std::to_string(pid) + " timeout " +
              std::to_string(timeout) + "ms");
        ask(pid, m, timeout);
        break;
      }
      case 4: {  // Runtime::run_until_idle
        trace("run_until_idle");
        const std::size_t expected = model.run_until_idle();
        const std::size_t actual = rt.run_until_idle();
        expect_eq("run_until_idle's result", expected, actual);
        break;
      }
      case 5: {  // Runtime::advance_by
        const int d = in.ConsumeIntegralInRange(0, 250);
        trace("Runtime::advance_by(" + std::to_string(d) + "ms)");
        model.advance_runtime(d);
        rt.advance_by(milliseconds(d));
        break;
      }
      case 6: {  // ManualClock::advance_by: fires timers, runs nothing
        const int d = in.ConsumeIntegralInRange(0, 250);
        trace("ManualClock::advance_by(" + std::to_string(d) + "ms)");
        model.advance_clock(d);
        real.clock->advance_by(milliseconds(d));
        break;
      }
      case 7: {  // stop
        const int pid = pick();
        const bool drain = in.ConsumeBool();
        const phyx::StopKind kind = stop_kind(in.ConsumeIntegralInRange(0, 2));
        trace("stop process " + std::to_string(pid) + (drain ? " drain " : " discard ") +
              std::string(phyx::to_string(kind)));
        model.stop(pid, drain, kind);
        real.stops[pid] = real.refs[pid].stop(
            stop_reason(kind), drain ? phyx::StopMode::drain : phyx::StopMode::discard);
        break;
      }
      case 8: {  // a burst of plain sends: fills small lanes
        const int pid = pick();
        const int n = in.ConsumeIntegralInRange(2, 8);
        for (int i = 0; i < n; ++i) send(pid, MMsg{next_id++, false, -1, 0, false, -1});
        break;
      }
      case 9: {  // Future::get() of an ask drives the runtime until it settles (SPEC 14.21)
        if (model.asks.empty()) break;
        const int a = in.ConsumeIntegralInRange<int>(0, static_cast<int>(model.asks.size()) - 1);
        trace("Future::get() of ask " + std::to_string(a) + ", then run_until_idle");
        // It stops driving when the future settles: the rest of the run is the
        // run_until_idle's below, and together they run what one run_until_idle runs.
        model.run_until_idle();
        const MAsk& e = model.asks[a];          // still pending: the runtime goes idle first
        phyx::Future<int> copy = real.asks[a];  // each copy may call get() once
        Outcome got = Outcome::value;
        std::string what;
        int value = 0;
        try {
          value = copy.get();
        } catch (const phyx::WouldBlockError&) {
          got = Outcome::pending;
        } catch (...) {
          got = classify(std::current_exception(), what);
        }
        rt.run_until_idle();
        if (got != e.outcome)
          fail_check("Future::get() of ask " + std::to_string(a), name(e.outcome),
                     name(got) + (": " + what));
        if (got == Outcome::value) expect_eq("Future::get()'s value", e.value, value);
        break;
      }
    }
    check_all(model, real, rt);
  }

  // Shutdown from quiescence (see "Left out" above).
  trace("run_until_idle before shutdown");
  expect_eq("run_until_idle's result", model.run_until_idle(), rt.run_until_idle());
  check_all(model, real, rt);
  trace("shutdown");
  const std::size_t expected_stopped = model.shutdown();
  const std::uint64_t discarded_before = rt.stats().discarded;
  const phyx::ShutdownReport report = rt.shutdown(std::chrono::seconds(10));
  expect_eq("ShutdownReport.stopped", expected_stopped, report.stopped);
  expect_eq<std::size_t>("ShutdownReport.abandoned", 0, report.abandoned);
  expect_eq<std::size_t>("ShutdownReport.messages_discarded",
                         model.stats.discarded - discarded_before, report.messages_discarded);
  check_all(model, real, rt);
  expect_eq<std::size_t>("timers left after shutdown", 0, model.timers.size());

  // Refs used after shutdown (the processes are stopped), then after the runtime is gone
  // (SPEC 14.14): send false, ask ProcessError at once, stop complete at once.
  ++g_op;
  trace("send, ask and stop after shutdown");
  for (std::size_t i = 0; i < model.procs.size(); ++i) {
    const int pid = static_cast<int>(i);
    send(pid, MMsg{next_id++, false, -1, 0, false, -1});
    ask(pid, MMsg{next_id++, false, -1, 0, false, -1}, 100);
    model.stop(pid, false, phyx::StopKind::normal);
    real.stops[i] = real.refs[i].stop();
  }
  check_all(model, real, rt);
  ++g_op;
  trace("send, ask and stop after the runtime is gone");
  runtime.reset();
  for (std::size_t i = 0; i < real.refs.size(); ++i) {
    const auto& ref = real.refs[i];
    if (ref.send(Msg{next_id++})) fail_check("send after the runtime is gone", "false", "true");
    if (ref.status() != phyx::Status::stopped)
      fail_check("status after the runtime is gone", "stopped",
                 std::string(phyx::to_string(ref.status())));
    if (!ref.stop().ready())
      fail_check("stop after the runtime is gone", "complete", "not complete");
    auto f = ref.ask<int>(
        [&](phyx::Reply<int> r) { return Msg{next_id++, false, -1, 0, false, std::move(r)}; },
        milliseconds(100));
    auto r = f.try_get();
    std::string what;
    if (!r || r->ok() || classify(r->error(), what) != Outcome::refused) {
      fail_check("ask after the runtime is gone", "ProcessError at once", r ? what : "not settled");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  run_one(in);
  return 0;
}
