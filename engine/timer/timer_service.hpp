// engine/timer/timer_service.hpp — the timers of one runtime: started and cancelled from
// any thread without a lock, fired by one driver thread from a hashed timer wheel.
//
// Design: the wheel (timer_wheel.hpp) has one owner, the driver: the timer thread on a
// real clock, the thread moving a ManualClock, or the deterministic driver. Other threads
// never touch it; they talk to the driver through two intrusive MPSC inboxes (the Vyukov
// queue of the mailboxes): `arms_` carries new timers, `disarms_` carries the shells of
// cancelled ones. Whether a timer fires or is cancelled is decided by one CAS on the node
// (timer_node.hpp), not by the driver, so cancel() answers at once and exactly.
//
// Protocol:
//  0. Stage (a worker of this runtime, real clock, a delay of at least kStageMinMs): the
//     timer gets its id and count as in step 1, but goes on the worker's own stage (a
//     Treiber list, one uncontended CAS on the worker's line) instead of `arms_`. Most
//     such timers are asks' timeouts, cancelled microseconds later by the answer; the
//     driver then never touches them, and the worker frees them into its own block cache.
//     a. The stage's owner, after a turn, flushes it once the driver's stage epoch has
//        moved 2 past the epoch at which the list became non-empty (so after 1-2
//        kStagePeriodNs): it takes the whole list (exchange), frees the cancelled timers
//        and pushes the pending ones on `arms_` as step 1 does (push, then announce). A
//        worker also flushes before it searches or parks, and when it leaves.
//     b. A push onto an empty stage announces a deadline of now + kStagePeriodNs (step
//        1's announce): the driver comes by at least once a period while anything is
//        staged. prepare_sleep caps its sleep at a period while it sees a stage in use, or
//        one filled since its last look (it stays warm: the announcement then lowers
//        nothing, and an ask whose node is popped at once wakes nobody); step 4 looks at
//        the stages as at `arms_`, the same StoreLoad pair.
//     c. The driver, at most once a period, bumps the stage epoch and takes the list of
//        any stage whose owner let it sit 3 epochs (a handler that runs for seconds
//        flushes nothing): pending timers are linked into the wheel, cancelled ones
//        dropped. So a staged timer reaches the wheel within ~4 periods (8 ms) of its
//        start, long before a deadline at least kStageMinMs (50 ms) away: staging never
//        makes a timer late. (A staged ask's timeout, 0d, counts from when its stage is
//        taken: late by that wait, never early.)
//     d. An ask's timeout is staged without a node (phyx/detail/staged_timeout.hpp): its
//        state goes on the stage's second list, `timeouts_`, with a reference to itself.
//        Whoever takes the stage (a or c) takes that list too and, outside every lock,
//        gives each state still pending a real timer, its timeout from now (started as in
//        step 1), then drops the reference. No clock is read per staged timeout. An ask answered
//        before then (nearly all) costs no node, id, count or cancel. Both lists count as "the
//        stage" for a, b and c.
//     e. Sweep (the owner, after a turn, once kSweepMinPushes timeouts, or twice what its last
//        sweep kept, were pushed since its last sweep): it takes `timeouts_` (exchange),
//        unstages the entries whose asks are answered (staged_timeout.hpp 2b: their keeps
//        dropped, the states freed while still in its cache) and pushes the rest back (one
//        seq_cst CAS, as a push). `since_` is left alone: what is pushed back is as old as
//        it was, and a's flush is due at the same epoch as before (c's take too, unless the
//        driver looks while the sweep holds the list: it then takes one period later). A
//        push-back is announced as a fill (b) and counted in `fills_`, so that a driver
//        that looked while the sweep held the list stays warm and keeps the epoch moving.
//        Without the sweep, a's flush walked 2-4 ms of answered asks (~10-20 k states,
//        evicted from the cache by then): a dependent miss per state, ~15 % of ask.
//     Why not every timer: a short delay could be due before a period passes; a ManualClock
//     or deterministic driver runs only when time is moved (nobody would come by).
//  1. start (any thread): take an id (ids rise with creation: ties fire in creation
//     order), count the timer pending, push it on `arms_` (one seq_cst exchange). Then
//     read `announced_` (seq_cst), the time the driver sleeps until: if the new
//     deadline is earlier, lower `announced_` to it (CAS) and, if this call lowered it,
//     wake the driver. A stream of later deadlines (every ask's timeout) wakes nobody.
//  2. cancel (any thread, node.cancel()): the CAS pending -> cancelled (seq_cst); the
//     winner counts the timer no longer pending, destroys its callback, and then reads the
//     node's `linked_` (seq_cst). Only if the driver has linked the node does it push the
//     shell on `disarms_` (with a reference for the notice). The driver, after linking a
//     node, stores `linked_` (seq_cst) and reads the state again (seq_cst): if cancelled,
//     it unlinks the node itself. That StoreLoad pair means at least one of the two sees
//     the other, so a cancelled shell never stays linked; both seeing is harmless (the
//     notice then finds the node unlinked). An ask answered before the driver drained its
//     start (nearly all of them) so costs no disarm notice at all.
//  3. The driver (under `drive_mutex_`, uncontended: one driver at a time) first drains
//     `disarms_` (unlinking shells from the wheel; a shell whose arm notice is still
//     queued is dropped when that notice comes), then `arms_` (linking pending timers into
//     the wheel, step 2's re-read after each; ones already cancelled are dropped), then
//     pops due timers: claim_fire() (the CAS) decides; a lost claim is a cancelled timer
//     whose notice is still on its way, or that needed none.
//  4. Before sleeping the driver stores `announced_` = the wheel's wake bound (seq_cst)
//     and looks at `arms_` again (a seq_cst load of its tail): a start either sees the
//     announcement (step 1, and wakes it if earlier) or is seen by this look. This is a
//     StoreLoad (Dekker) pair, which needs seq_cst on both sides (on x86 the start's
//     exchange is a full barrier already; a separate fence cost ~10 ns per start); without
//     it a start could slip between "computed the next deadline" and "went to sleep", and
//     its timer would fire late.
//  5. A driver that finds work in its inboxes sleeps at most `kBusyDrainNs` (10 ms) next
//     time, so cancelled shells do not pile up while timers stream through; one that found
//     none sleeps until its next deadline and announces a deep sleep: the first start after
//     it wakes the driver (once), which then drains again.
// Invariants: pending() = started - (fired + cancelled) at every quiescent point (exact for
// ManualClock::pending_timer_count; one counter each, so a start costs one RMW for it); a
// node is linked in the wheel only while the service holds its reference; the driver never
// runs a callback under `drive_mutex_` (a callback may start or cancel timers, or tear the
// runtime down).
// Rejected (staging): flushing a stage at every turn's end (an ask's answer comes in the
// server's turn, after the flush: nothing saved); letting only the owner flush (a handler
// that blocks its worker would hold that worker's timeouts back, and the asks would time
// out late); letting only the driver collect (it would touch, and free on its own thread,
// every node: the cross-thread misses staging exists to avoid); for step 0e, sweeping inside
// the ask (dropping a keep can free a process whose destructor would then run inside the
// asker's handler; after a turn is where flushes already run), sweeping at every turn (an
// exchange and a CAS per turn for the one ask in flight that most turns leave), and popping
// an answered state off the stage's head at the answer (session 12: the answerer would read
// the keep the taker moves, a race).
// Rejected: one mutex around a heap or wheel (the design this replaced: every ask took it
// twice, and two workers and the timer thread contended for it); per-worker wheels (a
// process and the asks it makes migrate between workers, so most cancels would cross
// threads anyway; a parked worker would need a timed park; and ManualClock must fire the
// timers of all wheels in one deadline order); a wheel per thread that starts timers
// with a lock-free cancel list (the same inbox, with more of them to drain).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "phyx/detail/mpsc_queue.hpp"
#include "phyx/detail/staged_timeout.hpp"
#include "phyx/detail/timer_node.hpp"
#include "timer/timer_wheel.hpp"

namespace phyx::detail {

class TimerService;

/// A worker's staged timers (step 0). Made by TimerService::open_stage, owned by the
/// service; one worker pushes, sweeps and flushes, the driver may take the list too.
class TimerStage {
 public:
  TimerService* service() const noexcept { return service_; }
  /// Any thread: nothing staged right now (a snapshot).
  bool empty() const noexcept {
    // acquire: pairs with the pushes' CAS (stage(), stage_timeout(), sweep_stage()).
    return head_.load(std::memory_order_acquire) == nullptr &&
           timeouts_.load(std::memory_order_acquire) == nullptr;
  }
  TimerStage(const TimerStage&) = delete;
  TimerStage& operator=(const TimerStage&) = delete;

 private:
  friend class TimerService;
  explicit TimerStage(TimerService* service) noexcept : service_(service) {}
  TimerService* const service_;
  // The list, linked through the nodes' arm links. Pushed by the owner (CAS), taken whole
  // by the owner or the driver (exchange).
  alignas(64) std::atomic<TimerNode*> head_{nullptr};
  // Step 0d's list, linked through StagedTimeout::staged_next; pushed and taken as head_.
  std::atomic<StagedTimeout*> timeouts_{nullptr};
  // The driver's stage epoch when the list last became non-empty (a hint for who flushes
  // when; the list itself is handed over by the exchange).
  std::atomic<std::uint64_t> since_{0};
  // How often the list became non-empty (the owner's count): the driver stays warm (step
  // 0b) while it moves, so an ask answered at once (its node popped at once) pokes nobody.
  std::atomic<std::uint64_t> fills_{0};
  // Step 0e, the owner's alone: timeouts pushed since its last sweep, and how many call
  // for the next one.
  std::uint32_t pushed_since_sweep_ = 0;
  std::uint32_t sweep_after_ = 0;
  std::uint64_t fills_seen_ = 0;  // the driver's
};

class TimerService {
 public:
  /// The sleep cap of a driver that is seeing traffic (step 5).
  static constexpr std::int64_t kBusyDrainNs = 10'000'000;
  /// Step 0: the driver's stage period, and the shortest delay that is staged.
  static constexpr std::int64_t kStagePeriodNs = 2'000'000;
  static constexpr std::int64_t kStageMinMs = 50;
  /// Step 0e: the fewest pushes between two sweeps of a stage's timeouts.
  static constexpr std::uint32_t kSweepMinPushes = 64;

  /// `now_ns`: the clock's monotonic time now. `shared_ids`: an id source shared by the
  /// services of one ManualClock (so ties across runtimes fire in creation order);
  /// nullptr for a service of its own.
  explicit TimerService(std::int64_t now_ns, std::atomic<std::uint64_t>* shared_ids = nullptr);
  /// Cancels (without running) every timer still pending; frees what the service holds.
  /// No thread may start a timer concurrently.
  ~TimerService();
  TimerService(const TimerService&) = delete;
  TimerService& operator=(const TimerService&) = delete;

  /// Any thread; never blocks, allocates nothing (the node is the caller's). Step 1: arms
  /// `n` (fresh from make_timer_node) for `deadline_ns`. Returns its id. `*wake_driver`
  /// is set when the driver must be woken (the caller owns the driver's wake-up).
  TimerId start(TimerNode* n, std::int64_t deadline_ns, bool* wake_driver) noexcept;
  /// A worker, once, as it starts: a stage of its own (step 0), valid until the service is
  /// destroyed. Takes a mutex; allocates.
  TimerStage* open_stage();
  /// The stage's owner; never blocks, allocates nothing. Step 0: as start(), but onto
  /// `s`. The caller checked that the delay is at least kStageMinMs. `now_ns`: the time
  /// the deadline was computed from.
  TimerId stage(TimerStage& s, TimerNode* n, std::int64_t deadline_ns, std::int64_t now_ns,
                bool* wake_driver) noexcept;
  /// The stage's owner; never blocks, allocates nothing, reads no clock. Step 0d: pushes
  /// `t` (whose keep is set) on `s`'s timeout list. Returns true when the push filled an
  /// empty stage: the caller then reads the clock and calls announce_fill() (step 0b), so
  /// an ask pays for a clock read once per stage fill, not once per ask.
  bool stage_timeout(TimerStage& s, StagedTimeout* t) noexcept;
  /// Step 0b's announcement of a stage filled at `now_ns`. Any thread; never blocks.
  /// Returns whether the caller must wake the driver.
  bool announce_fill(std::int64_t now_ns) noexcept;
  /// The stage's owner, after a turn: whether step 0a's flush is due. A few relaxed loads.
  bool stage_wants_flush(const TimerStage& s) const noexcept {
    // relaxed: hints; the lists are handed over by flush_stage()'s exchanges.
    const bool staged = s.head_.load(std::memory_order_relaxed) != nullptr ||
                        s.timeouts_.load(std::memory_order_relaxed) != nullptr;
    const std::uint64_t waited =
        stage_epoch_.load(std::memory_order_relaxed) - s.since_.load(std::memory_order_relaxed);
    return staged && waited >= 2;
  }
  /// The stage's owner, after a turn: whether step 0e's sweep is due. No atomic.
  bool stage_wants_sweep(const TimerStage& s) const noexcept {
    return s.pushed_since_sweep_ >= std::max(kSweepMinPushes, s.sweep_after_);
  }
  /// The stage's owner; never blocks; allocates nothing. Step 0e: unstages the answered
  /// timeouts (which may free states) and pushes the rest back. True if anything was
  /// pushed back: the caller announces it (announce_fill), as after a push that fills.
  bool sweep_stage(TimerStage& s) noexcept;
  /// The stage's owner; never blocks. Step 0a: frees its cancelled timers, hands the
  /// pending ones to the driver, and unstages its timeouts (0d: which allocates a node for
  /// each still pending, and may free states). `*wake_driver` as for start().
  void flush_stage(TimerStage& s, bool* wake_driver) noexcept;
  /// The driver, once per loop (the timer thread): step 0c.
  void visit_stages(std::int64_t now_ns);

  /// Any thread: timers started and neither fired nor cancelled.
  std::size_t pending() const noexcept {
    // Finished first: every finished timer was started before, so the difference is never
    // negative. acquire: pairs with the release increments of finished_ (whose timers'
    // starts happened before them).
    const std::uint64_t finished = finished_.load(std::memory_order_acquire);
    return static_cast<std::size_t>(started_.load(std::memory_order_acquire) - finished);  // pairs with start()
  }
  /// Any thread: timers that fired so far.
  std::uint64_t fired() const noexcept {
    return fired_.load(std::memory_order_relaxed);  // a tally; written by the driver only
  }

  // --- the driver (one thread at a time) -------------------------------------------
  /// Step 3: the earliest pending timer due at or before `limit_ns`, claimed; nullptr if
  /// none. The caller calls fire(n) outside every lock. Allocates only if the wheel's due
  /// heap grows.
  TimerNode* pop_due(std::int64_t limit_ns);
  /// Runs a node returned by pop_due and drops the service's reference.
  void fire(TimerNode* n) noexcept;
  /// The exact earliest pending deadline (and the id that breaks ties), or nullopt.
  std::optional<std::pair<std::int64_t, TimerId>> next_due();
  /// Step 4: announces the sleep and returns the time to sleep until (INT64_MAX: until
  /// woken), or nullopt if a timer arrived meanwhile (drain again, do not sleep).
  /// `now_ns`: the driver's current time, for the busy cap of step 5.
  std::optional<std::int64_t> prepare_sleep(std::int64_t now_ns);
  /// The driver is awake: starts stop announcing (they will be drained).
  void wake_up() noexcept;

 private:
  friend class TimerNode;
  /// Step 2, from the winner of a cancel: counts, destroys the callback, and posts a
  /// disarm notice (taking the reference the caller hands it) if the node is linked.
  /// False if no notice was posted (the caller keeps its reference).
  bool post_disarm(TimerNode* n) noexcept;
  void drain();                             // step 3's two inboxes, under drive_mutex_
  TimerId assign(TimerNode* n, std::int64_t deadline_ns) noexcept;  // step 1's id and count
  bool announce(std::int64_t deadline_ns) noexcept;  // step 1's second half: true = wake the driver
  void link_or_drop(TimerNode* n) noexcept;          // the driver: a node off `arms_` or a stage
  /// After a push: a stage that was empty (`filled`) is announced (step 0b), else nobody is woken.
  void note_push(TimerStage& s, bool filled, std::int64_t now_ns, bool* wake_driver) noexcept;
  void note_fill(TimerStage& s) noexcept;            // step 0b's hints (since_, fills_); no clock
  bool any_staged_seq_cst();                         // step 0b/4: a stage in use
  bool stages_in_use();                              // step 0b, the driver: in use or filled since

  static constexpr std::int64_t kAwake = INT64_MIN;  // `announced_` while the driver is awake

  // Written by starters and cancellers (any thread).
  alignas(64) std::atomic<std::uint64_t> started_{0};  // also the ids, unless shared
  std::atomic<std::uint64_t>* shared_ids_;             // a ManualClock's, or nullptr
  alignas(64) std::atomic<std::uint64_t> finished_{0};  // fired + cancelled
  alignas(64) std::atomic<std::int64_t> announced_{kAwake};
  std::atomic<bool> deep_sleep_{false};
  MpscQueue arms_;
  MpscQueue disarms_;
  // Step 0. The epoch is written by the driver only, read by the stages' owners.
  alignas(64) std::atomic<std::uint64_t> stage_epoch_{0};
  std::int64_t stage_epoch_ns_ = 0;  // the driver's: when the epoch last moved
  std::mutex stages_mutex_;          // open_stage() against the driver's and ~'s walks
  std::vector<std::unique_ptr<TimerStage>> stages_;
  // The driver's.
  alignas(64) std::mutex drive_mutex_;
  TimerWheel wheel_;
  std::atomic<std::uint64_t> fired_{0};
  bool busy_ = false;  // the last drain found notices (step 5)
};

}  // namespace phyx::detail
