// phyx/detail/process_core.hpp — the type-erased process the engine runs.
//
// A ProcessCore is everything about a process that does not depend on its message, state
// or context types: identity, status, the two-lane mailbox, children, timers, the stop and
// restart state machine. TypedProcess<Msg, State, Ctx> (typed_process.hpp) derives from it
// and supplies init / handle / on_stop through virtual hooks. All of the mechanism is
// compiled once, in engine/process/.
//
// Protocol (who touches what):
//  1. Senders (any thread) call send_user(): the lock-free mailbox (mailbox.hpp,
//     engine/mailbox/mailbox.cpp) counts the message in or refuses it with one CAS, and
//     tells the one sender that moved the process from idle to scheduled to enqueue it.
//     So a process is in at most one run queue, and "became runnable" happens once per
//     idle->busy edge.
//  2. System commands (stop, child stopped, restart due, child gave up) go to the
//     unbounded system lane, which is read first.
//  3. Exactly one worker at a time runs run_slice(): the one that dequeued the process,
//     which holds the mailbox's `scheduled` bit until try_idle() clears it. `phase_` and the
//     state are touched only inside run_slice(), so they need no lock. The children list
//     is under `control_`: a finishing child unlinks itself from its own thread.
//  4. Rare control state (the stop request, the timer set, status writes) is guarded by
//     `control_`, a one-byte lock that no send and no message handling takes.
// Memory: state that most processes never use (stop, timers, children, restart history)
// is allocated on first use, so an idle process pays a pointer for each.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "phyx/detail/mailbox.hpp"
#include "phyx/detail/share_count.hpp"
#include "phyx/detail/spin_lock.hpp"
#include "phyx/detail/timer_node.hpp"
#include "phyx/future.hpp"
#include "phyx/ids.hpp"
#include "phyx/status.hpp"
#include "phyx/supervision.hpp"

namespace phyx::detail {

class RuntimeCore;
class OwnTimers;
class ProcessCore;
struct GroupRestart;  // engine/supervise/group_restart.hpp

/// Where a user message comes from; decides the dead-letter reason of a refusal (SPEC 14.18).
enum class Origin : std::uint8_t { external, self, timer, pipe };

/// Intrusive strong reference to a ProcessCore. Copy: one relaxed increment.
class ProcessHandle {
 public:
  ProcessHandle() = default;
  explicit ProcessHandle(ProcessCore* p) noexcept;  // adopts a new reference
  ProcessHandle(const ProcessHandle& o) noexcept;
  ProcessHandle(ProcessHandle&& o) noexcept : p_(o.p_) { o.p_ = nullptr; }
  ProcessHandle& operator=(ProcessHandle o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }
  ~ProcessHandle();
  ProcessCore* get() const noexcept { return p_; }
  ProcessCore* operator->() const noexcept { return p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }
  friend bool operator==(const ProcessHandle& a, const ProcessHandle& b) noexcept { return a.p_ == b.p_; }

 private:
  ProcessCore* p_ = nullptr;
};

/// A family's turn to run a group restart (one_for_all / rest_for_one): one at a time per
/// family, the others queue (engine/supervise/group_restart.cpp). Guarded by the parent's
/// `control_`, or by the runtime's root lock for the root's family.
struct GroupTurn {
  bool busy = false;
  std::vector<ProcessHandle> waiting;  // coordinators, in the order they asked
};

/// A coroutine handler that suspended in its message (SPEC 7), made by TypedProcess. The
/// process keeps it, with its message, until it finishes, and resumes it on its own
/// thread when what it awaits is ready (a `resume` system message).
class SuspendedHandler {
 public:
  virtual ~SuspendedHandler() = default;
  /// Resumes the coroutine on the calling thread: true when it has finished. Rethrows
  /// what escaped the coroutine's body.
  virtual bool resume() = 0;
};

/// The settings of a spec that the mechanism needs (validated before construction).
struct CoreSpec {
  std::string name;
  std::size_t max_inbox = 1024;
  MailboxPolicy policy = MailboxPolicy::reject;
  /// nullptr = the default Supervision{} (one-for-one, immediate, unlimited): most
  /// processes use it, and an inline Supervision would cost 72 bytes in each of them.
  std::unique_ptr<const Supervision> custom_supervision;
  const Supervision& supervision() const noexcept {
    static const Supervision kDefault{};
    return custom_supervision ? *custom_supervision : kDefault;
  }
};

/// One keep on a runtime (engine/runtime/keep_credits.hpp): taken at construction, given
/// back at destruction. The first member of ProcessCore, so it goes after everything else
/// in the process. Any thread; never blocks; may delete the runtime's core.
class RuntimeKeep {
 public:
  explicit RuntimeKeep(RuntimeCore& rt) noexcept;
  ~RuntimeKeep();
  RuntimeKeep(const RuntimeKeep&) = delete;
  RuntimeKeep& operator=(const RuntimeKeep&) = delete;
  RuntimeCore* operator->() const noexcept { return rt_; }
  RuntimeCore& operator*() const noexcept { return *rt_; }

 private:
  RuntimeCore* const rt_;
};

class ProcessCore {
 public:
  /// `spec` is shared by every process spawned from one phyx::SharedSpec, whose `share`
  /// counts this process among its holders (phyx/detail/share_count.hpp); or it is owned
  /// alone by a process spawned from a plain ProcessSpec (`share` nullptr), which keeps it
  /// alive for as long as this ProcessCore.
  ProcessCore(RuntimeCore& runtime, const CoreSpec& spec, ShareCount* share);
  virtual ~ProcessCore();
  ProcessCore(const ProcessCore&) = delete;
  ProcessCore& operator=(const ProcessCore&) = delete;

  // Reference counting (ProcessHandle). Any thread; never blocks. A run queue's entry
  // usually holds none: see anchored(). On a worker of this process's runtime, a release
  // is deferred and a retain may cancel one instead of touching the count
  // (engine/runtime/deferred_releases.hpp): the last release's delete may then run later,
  // when the worker flushes. Inside the process's own turn, a retain that cancels nothing
  // takes 16 at once and leaves 15 deferred drops for the turn's next takes (step 3a).
  void retain() noexcept;
  void release() noexcept;
  /// Tests only: the count now (a snapshot), drops deferred on workers included.
  std::uint32_t references() const noexcept {
    return refs_.load(std::memory_order_relaxed);  // a snapshot; pairs with nothing
  }

  ProcessId id() const noexcept { return id_; }
  const std::string& name() const noexcept { return spec_->name; }
  RuntimeCore& runtime() const noexcept { return *runtime_; }
  /// For a deterministic future's driver: empty once the Runtime is gone (the core may
  /// live on while processes do, but nothing drives it any more).
  std::weak_ptr<RuntimeCore> runtime_ptr() const noexcept;
  /// Any thread; never blocks.
  Status status() const noexcept {
    return static_cast<Status>(status_.load(std::memory_order_acquire));  // pairs with the release stores in set_status()
  }

  /// Any thread. Takes ownership of `e` (destroyed if refused). Never blocks beyond the
  /// mailbox's short critical section; allocates nothing (the envelope is the caller's).
  bool send_user(Envelope* e, Origin origin);
  /// Any thread. Idempotent: every call returns the same completion. Takes control_; the
  /// first call allocates the StopState (the future's state and the two notes). From the
  /// thread inside this process's run_slice(), the stop is the mailbox's own note, not a
  /// queued node.
  Future<void> request_stop(StopReason reason, StopMode mode);

  /// Owner (inside its own handler): a timer that delivers `e` to self after `after_ms`.
  TimerId schedule_self(std::int64_t after_ms, Envelope* e);
  /// Owner or any thread: cancels a timer made by schedule_self. True if it had not fired.
  bool cancel_timer(TimerId id);
  /// Owner (inside its handler): records a child spawned by tools.spawn (not yet queued)
  /// and counts the list's reference to it. Never blocks but on control_; allocates the
  /// list's head at the first spawn only (if that throws, nothing was taken).
  void add_child(ProcessCore* child);

  /// Any thread: what the suspended coroutine handler awaits is ready: it resumes on this
  /// process's thread (a system message). Allocates the message; never blocks.
  void post_resume();
  /// Owner, inside a coroutine handler about to suspend: resumes it after `after_ms` on the
  /// timer wheel (tools.sleep). One of the process's own timers, but the one a stop does
  /// not cancel (the handler in hand runs to its end, SPEC 14.3); a crash or the shutdown
  /// deadline does.
  void start_sleep(std::int64_t after_ms);

  /// Number of queued user messages. Any thread; lock-free; a snapshot.
  std::size_t queued() const noexcept { return mailbox_.queued(); }
  /// The worker about to run this process's turn (it holds `scheduled`): as queued(),
  /// cheaper. Never blocks.
  std::size_t queued_as_owner() const noexcept { return mailbox_.queued_as_owner(); }

  /// How a slice ended, for the scheduler that ran it.
  struct SliceEnd {
    /// The process still has work and must be scheduled again (its `scheduled` bit
    /// stays set). Otherwise it went idle: the caller must not touch it again unless it
    /// holds a reference (another worker may already run it, or have finished it).
    bool again = false;
    /// The slice finished the process: finish_stop() let go of its anchor and took one
    /// reference for the entry in hand, which the caller now owns (anchored()).
    bool took_ref = false;
  };
  /// Worker: runs up to `budget` steps. Never blocks but in user code.
  SliceEnd run_slice(unsigned budget);
  /// Any thread, for a scheduler making a queue entry for this process (just scheduled by
  /// the caller's wake-up): true while the process is kept alive by its anchor (the table
  /// for a top-level process, its parent's list for a child), so the entry needs no
  /// reference; false once it has finished (or was abandoned), when it does. Exact at the
  /// wake-up: finish_stop() writes `stopped` before its turn ends, and the caller's
  /// wake-up acquired that turn's end (Mailbox::try_idle). One load; never blocks.
  bool anchored() const noexcept { return status() != Status::stopped; }
  /// Worker, before a turn: records which worker runs this process (a placement hint:
  /// engine/sched/README.md, "fan-in"). Never blocks or allocates.
  void note_worker(unsigned index) noexcept { mailbox_.note_worker(index); }
  /// The children abandon() hands over, eldest first: a chain through their list links
  /// (free once they are out of the list: no other thread reads them then), each holding
  /// the reference the list held. The caller's thread only; never allocates. Dropping a
  /// chain releases what is left in it, which may free processes: like abandon()'s
  /// result, not while a worker may still be inside one of them.
  class ChildChain {
   public:
    ChildChain() noexcept = default;
    ChildChain(ChildChain&& o) noexcept : eldest_(std::exchange(o.eldest_, nullptr)) {}
    ChildChain& operator=(ChildChain&&) = delete;
    ~ChildChain() {
      while (pop()) {
      }
    }
    /// The eldest child left, adopting its reference; an empty handle at the end.
    ProcessHandle pop() noexcept;

   private:
    friend class ProcessCore;  // only abandon() makes a chain: it owns the references
    explicit ChildChain(ProcessCore* eldest) noexcept : eldest_(eldest) {}
    ProcessCore* eldest_ = nullptr;
  };
  /// Runtime, at the end of shutdown: forces an abandoned process to `stopped`. Returns
  /// its references to its children (its list, emptied), which the caller must keep
  /// until no worker can be inside one of them (Scheduler::outlive_workers). Handing the
  /// children over allocates nothing. Not yet allocation-free as a whole: a process never
  /// asked to stop gets its StopState here, and a sink's events build strings; an
  /// allocation failure in either terminates (noexcept, at the deadline).
  /// `sealed`: the caller sealed this process's mailbox first (seal_for_abandon() returned
  /// true) and has since made the heavy fence it owed (engine/mailbox/mailbox.cpp step 6);
  /// false: abandon() seals it and fences by itself.
  [[nodiscard]] ChildChain abandon(bool sealed = false) noexcept;
  /// Runtime, at the end of shutdown, before abandon(): the first half of the mailbox's
  /// abandonment, so that one heavy fence serves a whole batch (engine/mailbox/mailbox.cpp
  /// step 6). True if this call sealed it; then, if `owes_take_fence()`, the caller must
  /// make asymmetric_fence_heavy() before it calls abandon(true). Never allocates; waits
  /// only while another thread holds the mailbox's head.
  [[nodiscard]] bool seal_for_abandon() noexcept { return mailbox_.seal_abandoned(); }
  /// Whether a seal of this mailbox owes the fence: its owner takes without the head (a
  /// `reject` lane). Any thread (the policy is fixed at spawn); never blocks or allocates.
  bool owes_take_fence() const noexcept { return policy() == MailboxPolicy::reject; }

 protected:
  /// Hooks supplied by TypedProcess; called only from run_slice().
  virtual void run_init() = 0;                        // builds the state; may throw
  /// Runs the handler on `e`; may throw. A coroutine handler that suspends is returned
  /// (the process keeps `e` until it finishes); otherwise nullptr.
  virtual std::unique_ptr<SuspendedHandler> invoke_handler(Envelope& e) = 0;
  virtual void run_on_stop(const StopReason& r) = 0;  // may throw; only with live state
  virtual void destroy_state() noexcept = 0;
  virtual bool has_state() const noexcept = 0;
  /// Drops the process's own init / handle / on_stop (a shared behaviour's are emptied by
  /// its last stop, share_count.hpp) and its ctx once it is stopped for good, so closures
  /// that hold refs (to this process or others) cannot keep a cycle alive.
  virtual void release_behaviour() noexcept = 0;
  /// True when the behaviour is a phyx::SharedSpec's, false when it lives in this object.
  bool behaviour_shared() const noexcept { return share_.shared(); }
  /// The spec this process was built from (its TypedProcess's Behaviour). Never changes.
  const CoreSpec& core_spec() const noexcept { return *spec_; }
  MailboxPolicy policy() const noexcept { return static_cast<MailboxPolicy>(policy_); }
  /// Destruction only: frees a handler still suspended (abandoned at shutdown) and its
  /// message. TypedProcess calls it first, while the state the coroutine
  /// refers to still exists; idempotent.
  void drop_suspended() noexcept;

 private:
  friend class RuntimeCore;
  enum class Phase : std::uint8_t {
    init_pending,     // init must run next
    restart_wait,     // a restart timer is pending
    running,          // handling user messages
    draining,         // StopMode::drain: handling what is queued, then stopping
    stopping_children,
    crash_children,   // crashed: stopping children before the supervisor decides
    failed,           // gave up or Strategy::none; waits to be stopped
    finished,         // stopped
    // A group restart (engine/supervise/group_restart.cpp):
    group_queued,     // crashed; waits for its family's turn to restart the group
    group_stopping,   // crashed, holds the turn; its siblings stop, youngest first
    group_children,   // stopping its children on the way to group_wait
    group_wait,       // stopped for a group restart; waits to re-run init, in spawn order
    suspended,        // a coroutine handler awaits: no other user message until it ends
  };
  enum class SysKind : std::uint8_t {
    stop,
    child_stopped,
    restart_due,
    child_gave_up,
    group_turn,   // the family's turn came to this waiting coordinator
    group_stop,   // the stop baton: stop for the group, then pass it to the next older member
    group_down,   // to the coordinator: every member is down
    group_start,  // the start baton: re-run init, then pass it to the next younger member
    resume,       // the suspended coroutine handler can go on
  };
  struct SysMsg {
    SysKind kind;
    ProcessHandle other;
    int attempts = 0;
    std::shared_ptr<GroupRestart> group = {};  // group_stop / group_down / group_start
    std::uint32_t index = 0;                   // this member's place in group->members
  };
  struct SysNode : MailNode {
    explicit SysNode(SysMsg m) : msg(std::move(m)) {}
    /// A note a StopState keeps for its process's own stop and for its parent's
    /// child_stopped: posted at most once, and never freed by the lane's reader.
    SysNode() noexcept : kept(true) {}
    SysMsg msg{};
    bool kept = false;
  };
  /// The reader of a system lane (run_slice, the destructor): the message of a node just
  /// popped, with the node freed unless a StopState keeps it. The message may hold the last
  /// handle on the process whose StopState that is, so the node is not touched after this.
  static SysMsg take_system(MailNode* n) noexcept;

  void set_status(Status s) noexcept;  // under control_
  void post_system(SysMsg m);          // any thread
  /// As post_system, with a StopState's note instead of a new node: any thread, once per
  /// note. Allocates no node (the deterministic scheduler's wake-up may allocate).
  void post_note(SysNode& note, SysMsg m);
  void handle_system(SysMsg& m);
  void handle_user(Envelope* e);
  // The end of a handler, at once or after suspensions: counted, reported, the message freed.
  void finish_message(Envelope* e, std::string_view type, std::int64_t started_ns);
  void fail_message(Envelope* e, std::string_view type, std::exception_ptr error);
  /// process:msg:start / process:msg:end (only with a sink). Out of line so that the path
  /// without a sink keeps a small frame; the start returns the monotonic time it read.
  [[gnu::noinline]] std::int64_t emit_msg_start(const Envelope& e, std::string_view type);
  [[gnu::noinline]] void emit_msg_end(const Envelope& e, std::string_view type,
                                      std::int64_t started_ns);
  void enter_suspended(std::unique_ptr<SuspendedHandler> h, Envelope* e, std::string_view type, std::int64_t started_ns);
  /// Counts the suspended handler's message as discarded (stats, dead letter). The caller
  /// has just cleared suspended_uncounted_.
  void count_suspended_discarded() noexcept;
  void resume_handler();
  void do_init();
  void crash(std::string error);
  void decide_after_crash();
  void enter_failed();
  void stop_next_child();
  void finish_stop();
  void discard_user_lane(std::string_view reason);
  /// Counts and records (does not free) messages that left the lane unhandled.
  void report_dropped(const DropChain& evicted, const DropChain& discarded, std::string_view reason);
  void cancel_own_timers(bool keep_sleep = false);
  /// Under control_: moves this process's timers out (all of them, or all but a handler's
  /// sleep with keep_sleep), for release_own_timers() after the lock. Never allocates
  /// unless a sleep is kept.
  std::unique_ptr<OwnTimers> take_own_timers(bool keep_sleep = false);
  /// Not under control_: cancels what take_own_timers() moved out (user code may run:
  /// a timer's message is destroyed). Allocates the list it walks; never blocks.
  static void release_own_timers(std::unique_ptr<OwnTimers> held);
  /// Under control_: starts a timer of this process that runs `then` when it fires (its
  /// entry in timers_ is gone by then). Defined in process_core.cpp.
  template <class Then>
  TimerId start_own_timer(std::int64_t after_ms, Then then);
  void refuse(Envelope* e, Origin origin);
  /// send_user() past its common case: a refusal, an eviction this sender carries out, or
  /// events to record. Out of line so that the common case keeps a small frame.
  [[gnu::noinline]] bool send_admitted(Envelope* e, Origin origin,
                                       const Mailbox::Admission& admission);
  void count_down_alive() noexcept;

  // ---- group restarts (engine/supervise/group_restart.cpp) ----
  // The children in spawn order: an intrusive list through each child's link_prev_ /
  // link_next_, under this process's control_; each linked child holds the list's
  // reference (`linked_` says it is in). Intrusive, not a vector: a child leaves in
  // O(1) without reading a buffer its parent filled long ago (skynet: a cold miss per
  // family), and a spawn allocates nothing past the first (process/README.md).
  struct Children {  // made by the first spawn; the links and `awaited` change under control_
    ProcessCore* eldest = nullptr;
    ProcessCore* youngest = nullptr;
    GroupTurn turn;  // this process's children's family
    // Set by stop_next_child() when it waits for a child to go: from then on a child that
    // leaves the list posts child_stopped (process_core.cpp, "children leave"). Never
    // cleared: a later child_stopped only makes the parent look at the list again.
    bool awaited = false;
    /// Under control_: links `child` as the youngest, adopting one reference.
    void link(ProcessCore* child) noexcept;
    /// Under control_: unlinks `child`, handing back the list's reference.
    ProcessHandle unlink(ProcessCore* child) noexcept;
    ~Children();  // lets go of any child still linked (none, after abandon())
  };
  /// A child, at the end of finish_stop() on its own thread: takes it out of this
  /// process's list under control_ (the list's reference is dropped after the lock). True
  /// when this process waits for its children and must hear child_stopped. Never blocks
  /// but on control_; never allocates.
  bool leave_children(ProcessCore* child) noexcept;
  enum class BatonStage : std::uint8_t { none, stop, start };
  void begin_group_restart(std::int64_t delay_ms, std::int64_t attempt);  // from decide_after_crash()
  void start_group_stop();                           // holding the family's turn
  void on_group_turn(const ProcessHandle& family_parent);
  void on_group_stop(const std::shared_ptr<GroupRestart>& g, std::uint32_t index);
  void on_group_down(const std::shared_ptr<GroupRestart>& g);
  void on_group_start(const std::shared_ptr<GroupRestart>& g, std::uint32_t index);
  void finish_group_stop();         // children down: on_stop(shutdown), then enter_group_wait()
  void enter_group_wait();          // stopped for the group: pass the stop baton on
  void pass_held_baton();           // finish_stop(): whatever this process holds, passed on
  void pass_start_baton();          // do_init(): after the attempt, the start baton goes on
  std::vector<ProcessHandle> family_snapshot() const;  // siblings in spawn order, self included
  bool family_acquire();            // true: this process holds the turn; false: queued
  void family_withdraw();           // leave the family's queue
  // Any thread: the stop baton to the next member older than `below`, else group_down to
  // the coordinator; the start baton to members[index], else the turn goes on.
  static void pass_stop(const std::shared_ptr<GroupRestart>& g, std::uint32_t below);
  static void pass_start(const std::shared_ptr<GroupRestart>& g, std::uint32_t index);
  /// Any thread: the family's turn goes to its next queued coordinator, or is free.
  static void family_release(const ProcessHandle& family_parent, RuntimeCore& rt);
  /// Under control_: the restart (or group backoff) timer, posting restart_due.
  void start_restart_timer(std::int64_t delay_ms);
  static std::string describe(std::exception_ptr e);
  std::vector<ProcessHandle> children_snapshot() const;  // under control_

  friend class ProcessTable;
  friend class DeferredReleases;
  /// Gives `n` references back at once; the last one deletes the process. Any thread.
  void drop_refs(std::uint32_t n) noexcept;
  /// add_child(), for a child not yet listed nor queued: one reference more, without a
  /// locked RMW (one per spawn saved). Never blocks, never allocates.
  void retain_unpublished() noexcept {
    // relaxed load and store: no other thread holds or can reach this process yet. Its
    // publication (the parent's control_, then the run queue's release) carries the
    // count to whoever reaches it next; drop_refs()'s acq_rel is the partner from then on.
    refs_.store(refs_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  // Ordered so that an idle process packs into a 192-byte allocation class (the small
  // fields together; see engine/runtime/README.md on idle memory).
  RuntimeKeep runtime_;  // first: destroyed last
  BehaviourShare share_;        // a SharedSpec's behaviour: held until just before the runtime
  const CoreSpec* const spec_;  // name and supervision (cold); see share_
  ProcessId id_{};
  ProcessHandle parent_;
  // A root: links in the runtime's process table (engine/runtime/process_table.hpp),
  // under its shard lock. A child: links in its parent's Children list, under the
  // parent's control_. `linked_` says which list holds it, under the same lock. A child
  // of an abandoned parent is in none, and its link_next_ chains it to its next sibling
  // in the ChildChain that abandon() returned (the shutdown thread's alone).
  ProcessCore* link_prev_ = nullptr;
  ProcessCore* link_next_ = nullptr;
  std::atomic<std::uint32_t> refs_{1};
  const std::uint32_t max_inbox_;  // copies of the hot settings, read by every send
  // A Status in one byte (the public enum is int-sized): with the other small fields it
  // fills 16 bytes, so the mailbox starts at offset 80, not 88.
  std::atomic<std::uint8_t> status_{static_cast<std::uint8_t>(Status::starting)};
  const std::uint8_t policy_;      // a MailboxPolicy (policy())
  bool linked_ = false;            // in its list (see link_prev_), under that list's lock
  bool root_ = false;  // spawned on the Runtime (a sibling under the root), set before insertion
  std::atomic<bool> counted_down_{false};  // processes_alive was decremented (exactly once)
  mutable SpinLock control_;
  // Guarded by control_ (never taken by a send or by message handling).
  bool stop_requested_ : 1 = false;
  bool abandoned_ : 1 = false;  // forced to stopped at the shutdown deadline
  // A suspended coroutine handler's message is not yet counted (handled, crashed or
  // discarded): set when the handler suspends; whoever clears it counts the message once,
  // the handler's end or shutdown's abandon(), which may run beside a detached worker.
  bool suspended_uncounted_ : 1 = false;
  // Touched only by the thread inside run_slice().
  Phase phase_ = Phase::init_pending;

  Mailbox mailbox_{true};  // scheduled from birth: the process runs its init first

  // Guarded by control_. It is also the stop's future (stop() returns it, SPEC 4) and holds
  // the two system notes of the end of a life, so a process's stop allocates one object
  // instead of four (the state, the future's, two nodes: skynet stops 1.1 M processes).
  // Held by the futures too, so it may outlive the process.
  struct StopState final : FutureState<void> {
    StopReason reason;
    StopMode mode = StopMode::discard;
    SysNode stop_note;     // SysKind::stop to this process: the first stop() posts it
    SysNode stopped_note;  // SysKind::child_stopped to the parent: finish_stop() posts it
  };
  StateRef<StopState>
      stop_;  // made by the first stop(); never replaced (the owner reads it unlocked)
  // This incarnation's timers (schedules, the restart wait), by id, each with its holder
  // reference. Made by the first timer.
  std::unique_ptr<OwnTimers> timers_;  // engine/process/own_timers.hpp

  // What most processes never need: the restart history, group restart batons, a
  // suspended coroutine handler. Made on first use; touched only by the thread inside
  // run_slice() (and by the destructor).
  struct RareState {
    std::vector<std::int64_t> times_ms;  // monotonic, for max_restarts
    std::uint64_t in_life = 0;
    std::uint32_t init_failures = 0;  // consecutive; 1 ms doubling to 1 s
    bool crashed_in_init = false;
    // Group restarts. As the coordinator: the delay decided at the crash, and the group
    // while its backoff runs. As a member: the baton held while its children stop (stop)
    // or while its init runs (start).
    std::int64_t group_delay_ms = 0;
    std::int64_t group_attempt = 0;
    bool restart_counted = false;  // its own decision counted the restart a group now does
    std::shared_ptr<GroupRestart> group;
    std::shared_ptr<GroupRestart> baton;
    std::uint32_t baton_index = 0;
    BatonStage baton_stage = BatonStage::none;
    bool queued_for_turn = false;  // in the family's GroupTurn::waiting
    // A suspended coroutine handler (SPEC 7): the handler, its message (owned), what
    // msg:end will report, the phase to go back to, and the system messages that wait for
    // it to end (stop, child_gave_up, group_stop). Its sleep is one of the own timers.
    std::unique_ptr<SuspendedHandler> suspended;
    Envelope* suspended_message = nullptr;
    std::string_view suspended_type;
    std::int64_t suspended_started_ns = 0;
    Phase suspended_from = Phase::running;
    std::vector<SysMsg> deferred;
  };
  RareState& rare_state();
  std::unique_ptr<Children> children_;  // made by the first spawn
  std::unique_ptr<RareState> rare_;     // made by the first crash, group restart or suspension
};

inline ProcessHandle::ProcessHandle(ProcessCore* p) noexcept : p_(p) {}
inline ProcessHandle::ProcessHandle(const ProcessHandle& o) noexcept : p_(o.p_) {
  if (p_) p_->retain();
}
inline ProcessHandle::~ProcessHandle() {
  if (p_) p_->release();
}

/// The process whose handler (or init / on_stop) runs on this thread, or nullptr.
ProcessCore* current_process() noexcept;

/// How an unanswered Reply fails when destroyed: NoReplyError by default, StoppedError
/// while a process stops or the runtime shuts down (SPEC 14.2, 14.19).
std::exception_ptr dropped_reply_error();

}  // namespace phyx::detail
