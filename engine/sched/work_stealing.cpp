// engine/sched/work_stealing.cpp — the runtime's scheduler: per-worker run queues, a LIFO
// slot, batch stealing, a global injection queue, and parking without lost wake-ups.
//
// Where a runnable process goes (enqueue):
//  1. From a worker of this runtime (a handler sent a message, spawned, stopped...): into
//     that worker's LIFO slot, so the receiver of a message runs next on the same core
//     (ping-pong stays on one core, its data hot in cache). The slot's previous occupant
//     moves to the back of the local queue, which is stealable, and a parked worker is
//     woken (step 7), unless one will look within its period anyway: the poller (6a), or
//     for a queue that was not empty, a watcher on duty (6b).
//  2. From any other thread: into the global queue (moodycamel ConcurrentQueue), and a
//     parked worker is woken.
// What a worker runs next (next_local):
//  3. Every 61st turn, the global queue first (Go's fairness rule: injected work cannot be
//     starved by a busy local queue), taking a fair share of it into the local queue; a
//     share of more than one is new work in that queue, announced as in step 7.
//  4. The LIFO slot, at most kLifoStreak (16) turns in a row (then its occupant goes to the
//     back of the local queue, so two processes bouncing a message cannot starve the rest).
// 4a. Convoys (placement.hpp, lifo_turn_budget): a handler's burst of sends to one process
//     wakes it into the slot with the whole burst queued, and it passes its own burst on:
//     the messages travel as a batch, one process runnable at a time, so one worker does
//     all the work (ring-multi's 100 tokens travel so: 98 messages per turn on average).
//     If another worker idles (it parks or searches: two relaxed loads, made only for a
//     slot turn that has a convoy to offer), a slot turn with 64 to 255 queued runs half
//     and requeues the process with the rest; one with 16 to 63 runs whole but offers the
//     local queue when others wait there (other, smaller convoys, typically). Either way
//     the worker then counts an offer (`offers`, a relaxed store only it makes) and
//     announces it as in step 7, and a thief takes half of an offering victim's queue
//     under step 5's rule, the oldest half: the convoy's rest when nothing else waited,
//     else what waited before it. The batches then travel on apart, one per worker; each
//     process moves a few cache lines between the cores per batch, not per message.
//  5. The local queue, then the global queue, then stealing half of a random victim's
//     queue, but only from a victim that is stuck (its `turns` counter has not moved for
//     kStuckAfter, by the thief's clock: a long or blocking handler, or a preempted
//     thread), whose turns are long (they averaged kLongTurn or more over a recent window
//     of at least kLongTurnMinWindow), which has a backlog (half a ring), or which offered
//     a convoy since the thief's last look (step 4a). A victim that makes progress in short
//     turns runs its own short queue: moving small processes to another core costs more in
//     cache misses than running them where they are (ask-many ran 25-40 % faster with this
//     rule, fan-in-p4 35 %), while long turns are worth spreading (fork-join's 50 us tasks
//     ran at half speed without the long-turn part). A process that used its whole budget
//     goes to the back of the local queue.
// Parking (the StoreLoad argument):
//  6. A worker that found nothing reads the epoch e0, searches once more, then announces
//     itself (pushes its index on the idle stack and increments `sleepers_`, seq_cst) and
//     reloads the epoch (seq_cst). Only if it still equals e0 does it sleep on its own
//     condition variable, waiting for `notified`.
// 6a. Polling: a worker whose last sweep left a non-empty queue alone (step 5) sleeps at
//     most kPassedOverPeriod, counted in `pollers_` meanwhile (so step 1's pushes wake
//     nobody; one poller at a time, the others sleep kWatchPeriod), then takes itself off
//     the idle stack (unless a waker popped it first) and searches again. That look may
//     find the victim stuck, or its turns long, or a queue its owner left behind a handler
//     that blocked without pushing anything more. Only extra wake-ups: the argument below
//     does not change. An idle runtime has only empty
//     queues, so nobody polls or watches, and nobody wakes (idle CPU stays ~0).
// 6b. Watch duty: a worker that parks while another worker is not parked, and finds no
//     other worker on watch, watches (kWatchPeriod; counted in `watchers_` under
//     idle_mutex_, and off duty once it leaves the idle stack, woken or not). Four pushes
//     announce nothing, on purpose, because their worker runs them soon or a poller looks:
//     a budget's requeue (step 5), the LIFO slot's yield (step 4), a full ring's overflow
//     into the global queue, and step 1's push while a poller or (onto a non-empty queue)
//     a watcher is parked.
//     If that worker's next handler blocks, a worker whose last sweep found every queue
//     empty would sleep on with the queue stranded behind it: the watcher looks again
//     within a period and steals under step 5's stuck rule. A runtime going busy
//     gets its watcher from step 8: the woken worker that finds work wakes a second one
//     (its e0 predates the push that woke it), which parks on watch while the first runs.
//     The last worker to park sees every other one parked and sleeps without limit, and
//     so does the watcher once its period runs out: an idle runtime still sleeps.
//  7. Whoever makes work available publishes it first (queue push, release), then bumps the
//     epoch (seq_cst RMW), then loads `sleepers_` (seq_cst); if non-zero it pops a worker
//     from the idle stack and sets its `notified` under that worker's mutex.
//  Why no wake-up is lost: all four operations of 6 and 7 on `sleepers_` and the epoch are
//  seq_cst, so they are totally ordered. If the parker's reload sees e0, that reload came
//  before the pusher's bump, so the parker's increment came before the pusher's load of
//  `sleepers_`: the pusher sees a sleeper and wakes one. If the reload sees the bump, the
//  parker searches again, and the push (which happened-before the bump it saw) is visible.
//  `notified` is set under the sleeper's mutex, so a notify that lands before the sleeper
//  waits is not lost either.
//  8. Searching (Tokio's rule): a worker that found nothing counts itself in `searching_`
//     while it steals and spins. wake_one() wakes nobody while a worker searches: that
//     worker reads the epoch before its last look, so it either sees the new work or sees
//     the bump and does not sleep (the argument of 6-7, with `searching_` seq_cst too). A
//     searcher that finds work and was the last one wakes a parked worker to search in its
//     place. So a burst from outside (spawning a million processes) wakes a worker once,
//     not once per spawn.
//  9. Systematic mode (-DPHYX_SYSTEMATIC=ON, sched/choices.hpp): one worker, and at each
//     turn the seed picks the budget and where to look first (LIFO, local or global).
// References (run_entry.hpp):
// 10. A queue entry for a process that has not finished holds no reference: its anchor
//     (the table for a top-level process, its parent's list for a child) keeps it alive
//     until finish_stop(), which runs inside a turn and takes one for that turn's entry
//     first (ProcessCore::SliceEnd::took_ref). So a wake-up and a turn touch no count.
//     a. enqueue(): an entry for a finished process (a system message after its end; the
//        wake-up saw `stopped`, ProcessCore::anchored()) holds one, taken there; the
//        entry's low bit says so, and the bit travels with it (LIFO slot, ring, steal,
//        inbox, global queue).
//     b. After a turn, the worker owns a reference if the entry held one or the turn took
//        one; it goes back with a requeue, or is released when the process went idle. A
//        process that went idle without one is not touched again: another worker may run
//        it, or finish and free it, at once.
//     c. Leaving and draining (shutdown): entries are dropped, releasing only the
//        references they hold, without touching an unfinished process (its anchors may be
//        gone by then).
//     d. Shutdown abandons processes by dropping their anchors while a detached worker may
//        still be inside one: it hands their references to outlive_workers(), and the last
//        worker to leave drops them.
//     The same for the worker's units on a shared behaviour (phyx/detail/share_count.hpp),
//     returned when the worker runs dry: their return can empty a behaviour's functions,
//     and so free what they captured, whose destructors can enqueue here (a failed ask's
//     continuation sends): the worker looks at its own queues again before searching.
// Timers (step 11): a worker stages the long timers it starts (every ask's timeout) instead
// of handing each to the timer thread (timer/timer_service.hpp step 0), and flushes its
// stage after a turn once the driver's epoch says it has waited long enough, before it
// searches or parks, and when it leaves; between two flushes, after a turn every few dozen
// asks, it sweeps the answered ones off (timer_service.hpp step 0e). The flush drops asks'
// states kept by the stage (step 0d there), and with them possibly a process's last
// reference: as in step 10, the worker looks at its own queues again after the flush
// before it searches.
// Process references (runtime/deferred_releases.hpp): a worker defers the drops it makes
// and a take on its thread cancels one; it flushes them between turns only: with its
// stage after a turn, before it returns its share credits, again after the stage's flush
// and the credits' return (going round once more if that freed anything), and before its
// keep credits go back when it leaves. So nothing is deferred while it searches or parks.
// Placement (step 12, sched/placement.hpp):
// 12. A turn that a refused send ended (the backpressure rule) reports the worker that last
//     ran the receiver (Mailbox::last_worker(), noted before every turn). If that is
//     another worker, the sender goes to that worker's inbox instead of our queue, with
//     its queue reference: a sender at a full lane joins its receiver, as a blocked Go
//     sender is readied on its receiver's P, and the two then trade the lane on one core
//     (fan-in-p2 on two workers: 7-9 M msg/s before, 16-21 M after, as on one worker).
//     a. The mover pushes under the inbox's lock, then announces the push as in step 7
//        (epoch bump, wake), so a parked target is woken like for any other push.
//     b. The owner moves its inbox to the back of its local queue at each next_local()
//        and in each sweep of its search, after reading the epoch (step 6): a move that
//        landed after next_local() looked is then seen, or its bump is.
//     c. A thief takes a victim's inbox before its ring, under step 5's rule (the inbox
//        counts toward the victim's queue): a target that is stuck in a handler (or
//        preempted) strands nothing, and a target that runs short turns keeps what was
//        moved to it.
//     d. Only workers move processes: the last worker to leave empties every inbox.
// Prefetch (step 13):
// 13. Before a turn starts, the worker prefetches the first cache lines of the process at
//     its ring's front (a relaxed peek, owner only): most often the next process to run
//     from the ring, and the turn ahead hides the load. A process queued long ago (skynet
//     queues 10 children per spawning turn, run breadth-first) was a cache miss at its
//     turn's first touch; 77 % of run_turn's samples sat on that load. A read prefetch,
//     not a write one: a process at the front may be in another core's hands (a sender
//     pushing to its mailbox), and a write prefetch would take the line away from it. A
//     stale peek (a thief took the entry) costs a wasted prefetch; prefetches never fault.
// Invariants: a process is in at most one queue, inbox or slot (its `scheduled` bit); an
// entry holds a reference exactly when its process was not anchored at its enqueue, or its
// turn finished it (step 10); only the owner touches its LIFO slot.
// Rejected: one global queue under a mutex (every push and pop contends, and ping-pong
// crosses cores on every message: it was this runtime's first scheduler, 1.2 M msg/s on
// ping-pong against 11 M now); Chase-Lev (see local_queue.hpp); stealing from every
// non-empty queue (this scheduler until session 15: small processes migrated for nothing,
// ask-many 1.9-2.1 M rt/s against 2.3-2.8 M with step 5's rule); never stealing (work
// spread only through the global queue: a stuck worker strands its queue, and a
// throwaway build saw fan-in-p4 and ring-multi collapse to 1.3 M and 12 M in single runs);
// a time stamp per turn for the stuck test (a clock read per turn: 26 ns in this VM);
// for step 4a, a budget of 32 for every turn (convoys split by themselves, but a busy
// server's turn ends 4x as often: ask-many lost 28 %, fan-in-p2 16 %, and ring-multi
// gained only with the next rule too), stealing from any queue of 4 or more (no gain
// alone: a convoy is one process, so there is nothing queued to steal; fan-in-p4 lost
// half), and counting the waking turn's sends in send_user (a thread-local access on
// every send, where the lane word's count, read as the slot's turn starts, tells the same);
// spinning workers without parking (idle CPU must be ~0%); for step 6b, announcing the
// quiet pushes (a flood would bump the epoch every budget and wake an idle worker that finds
// nothing worth stealing: a futex wake-up per 128 messages), a time limit on every park (an
// idle runtime would wake tens of times a second per worker), and every parked worker
// watching (n - 1 watchers beside one busy worker, where one suffices); for step 1,
// announcing every push of a displaced occupant (a server answering a batch wakes each
// client into the slot and pushes the one before: ~19,000 futex wake-ups in one ask-many
// run, the other worker at 40-58 % CPU finding nothing to steal, ask-many 0.76x), and
// announcing none (fork-join 0.85x: the other worker came only on its 1 ms watch); for
// step 4, 3 turns (see kLifoStreak); futexes by hand (a condvar per worker is enough:
// parking is off the hot path); for step 12's inbox, a lock-free queue per worker (a move
// happens only at a refusal from another worker, and a moved sender then stays beside its
// receiver, so the lock is rarely taken; the owner's check is one relaxed load while the
// inbox is empty).
#include <concurrentqueue.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "mailbox/envelope_cache.hpp"
#include "phyx/detail/process_core.hpp"
#include "phyx/detail/runtime_core.hpp"
#include "phyx/detail/share_count.hpp"
#include "phyx/detail/spin_lock.hpp"
#include "runtime/deferred_releases.hpp"
#include "runtime/id_blocks.hpp"
#include "runtime/keep_credits.hpp"
#include "sched/choices.hpp"
#include "sched/local_queue.hpp"
#include "sched/placement.hpp"
#include "sched/run_entry.hpp"
#include "sched/scheduler.hpp"
#include "sched/thread_context.hpp"
#include "timer/timer_service.hpp"

namespace phyx::detail {
namespace {

constexpr unsigned kBudget = 128;        // steps per turn: a flood to one process cannot starve others
constexpr unsigned kGlobalEvery = 61;    // turns between forced looks at the global queue
constexpr std::size_t kGlobalBatch = 64;  // most processes taken from the global queue at once
// Step 13: cache lines of a queued process prefetched before the turn ahead of it. Five:
// a process is one allocation, ProcessCore (184 B) with its typed part after it (skynet's
// is 264 B, in mimalloc's 320 B class).
constexpr std::size_t kPrefetchLines = 5;
// Step 4: consecutive LIFO turns before the slot yields. ring-multi's 100 tokens start 10
// processes apart and travel as convoys only once they merge, which happens when a token
// reaches a process that already holds one. With 3, each token advanced 3 hops per pass over
// the queue, so all kept their distance: 5 runs in 10 ran the whole run at one token per
// turn on one worker (16-32 M hops/s, ~102 % CPU). With 16, a token catches the next one
// within its streak: 12 runs in 12 merged and split over both workers (43-66 M, ~196 %).
// A pair bouncing a message now holds the worker for 16 short turns before the others
// run: still a bound, as before.
constexpr unsigned kLifoStreak = 16;
// Step 4a: a process taken from the LIFO slot with at least this many messages queued (a
// convoy) runs half of them when another worker idles, and offers the rest to it
// (placement.hpp, lifo_turn_budget). 64: halves of 32 or more, so a half that moves pays
// for the few cache lines each of its processes moves (a line's round trip between this
// host's cores took 180-490 ns: sched/README.md, ask-many) with 32 handlers of ~50 ns.
constexpr std::uint32_t kSplitAt = 64;
// Steal sweeps (each with a look at the global queue and a yield) before parking. 8, not 2:
// a thread spawning or sending from outside feeds the workers one process at a time, and
// with 2 sweeps they parked between two pushes and each push paid a futex wake-up (spawn
// 0.81-1.14 M/s against 1.00-1.22 M/s with 8, 9 rounds side by side; idle-cpu 0.02 ->
// 0.06 % of a core, still far under its 1 % bound).
constexpr unsigned kSearchRounds = 8;
// Step 5: a queue this long is stolen from even while its owner makes progress (half a
// ring: the owner is about to overflow into the global queue anyway). Shorter queues are
// taken only from a stuck owner. 128 and "never" measured alike (ask-many 2.5-2.8 M rt/s
// against 1.9-2.1 M when every non-empty queue was stolen from); 16 and 64 lost the gain.
constexpr std::uint32_t kStealBacklog = RunRing<RunEntry>::kCapacity / 2;
// Step 5: a victim with a short queue is stuck once it started no turn for this long. Not
// "since the previous sweep": sweeps are a yield apart, well under one turn of 128 short
// messages (~20 us for ask-many's server), and a thief that took such a turn for a stuck
// one migrated clients as before (later runs read ask-many at 2.0-2.5 M rt/s, against
// 2.5-2.7 M with 100 us). 100 us is several full turns of short handlers, and short
// beside a blocked one.
constexpr std::chrono::nanoseconds kStuckAfter = std::chrono::microseconds{100};
// Step 5: a victim whose turns average this long is stolen from even while it makes
// progress: its queued processes would wait a long turn each, and moving one costs a few
// cache misses. Judged only over looks at most kLongTurnWindow apart (an older look may
// span time the victim spent idle). fork-join (100 tasks of 50 us from one handler):
// 19.5 k tasks/s without this rule, 32.4-33.1 k with it, 34.3 k stealing every queue;
// ask-many kept its gain (2.67-2.75 M rt/s).
constexpr std::chrono::nanoseconds kLongTurn = std::chrono::microseconds{10};
constexpr std::chrono::nanoseconds kLongTurnWindow = std::chrono::milliseconds{5};
// Step 5: the shortest window over which turns are averaged for the long-turn rule. 50 us
// holds ~100 of ask-many's client turns beside a server turn, and one of fork-join's tasks.
constexpr std::chrono::nanoseconds kLongTurnMinWindow = std::chrono::microseconds{50};
// Step 6b: how long a worker on watch duty beside a running worker sleeps before it looks
// again, in case that worker got stuck without pushing anything more. Beside a busy worker
// the watcher costs ~900 voluntary context switches a second and no measurable user time
// (ping-pong, session 17).
constexpr std::chrono::microseconds kWatchPeriod{1000};
// Step 6a: how long a worker that left a non-empty queue alone sleeps before it looks
// again. Short, because the pushes onto that queue no longer wake it (step 1): two looks
// this far apart judge fork-join's 50 us turns long (kLongTurnMinWindow). It costs the
// poller's thread ~10,000 wake-ups a second while a queue it passed over stays non-empty
// (ask-many: 113 % CPU in all, against 140-158 % when each push woke it).
constexpr std::chrono::microseconds kPassedOverPeriod{100};

class WorkStealing;

/// A count only its owner writes, which other threads read as a hint (`turns`, `offers`,
/// `offers_taken`): a relaxed load and store, no RMW. relaxed: pairs with the readers'
/// relaxed loads (steal() and the test hooks), which order nothing through it. Owner only.
void bump_owned(std::atomic<std::uint64_t>& count) noexcept {
  count.store(count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

struct Worker {
  unsigned index = 0;
  LocalQueue<RunEntry> local;
  RunEntry* lifo = nullptr;                    // owner only
  TimerStage* timer_stage = nullptr;           // owner only: its staged timers (step 11)
  unsigned lifo_streak = 0;
  // Turns started, for thieves (step 5): written only by the owner, read by searching workers.
  alignas(64) std::atomic<std::uint64_t> turns{0};
  // Step 4a: convoys this worker offered to thieves; on `turns`' line, written only by the
  // owner (a relaxed load and store per offer).
  std::atomic<std::uint64_t> offers{0};
  // Step 4a: steals this worker made from a victim that had offered (for tests); written
  // only by the owner, as a thief, read by convoy_offers_taken().
  std::atomic<std::uint64_t> offers_taken{0};
  // Step 12: processes other workers moved here, waiting to join our local queue. Pushed
  // under inbox_lock by any worker (rarely: a refusal); `inbox_size` lets the owner and
  // thieves skip the lock while it is empty. On `turns`' line: the owner reads it every
  // turn and writes that line anyway.
  std::atomic<std::uint32_t> inbox_size{0};
  SpinLock inbox_lock;
  std::vector<RunEntry*> inbox;  // guarded by inbox_lock
  // Owner only: empty, with capacity; swapped with an inbox we take, so no move allocates.
  std::vector<RunEntry*> inbox_taken;
  ThreadContext* context = nullptr;       // the owner's thread context (set as its thread starts)
  std::vector<std::uint64_t> seen_turns;  // owner only: each victim's `turns` at our last look
  std::vector<std::int64_t> seen_at;      // owner only: when that value was first seen (ns)
  std::vector<std::uint64_t>
      window_turns;  // owner only: each victim's `turns` as its long-turn window opened
  std::vector<std::int64_t> window_at;     // owner only: when that window opened (ns)
  std::vector<std::uint64_t> seen_offers;  // owner only: each victim's `offers` at our last look
  // Owner only (step 4a): the next turn is a LIFO turn.
  bool turn_from_lifo = false;
  bool passed_over = false;               // owner only: our last sweep left a queue alone (step 6a)
  bool on_duty = false;  // guarded by idle_mutex_: parked as the runtime's watcher (step 6b)
  unsigned tick = 0;
  std::uint64_t rng = 0;
  std::vector<RunEntry*> overflow;  // scratch for LocalQueue::push_back
  // This worker's consumer token for the global queue. Without one, moodycamel dequeues
  // from the producer holding the most items, so a producer that enqueued once (a thread
  // sending to 1,000 processes) could wait behind workers that keep overflowing into it:
  // 486 of 1,000 processes had not run after 20 s. With a token, consumers rotate between
  // producers after a quota (moodycamel's explicit consumption rotation).
  std::optional<moodycamel::ConsumerToken> global_token;
  std::mutex park_mutex;
  std::condition_variable park_cv;
  bool notified = false;         // guarded by park_mutex
  bool woken_searching = false;  // guarded by park_mutex: wake_parked() counted us in searching_
  std::thread thread;
};

struct WorkerSlot {
  const WorkStealing* scheduler = nullptr;
  Worker* worker = nullptr;
};
WorkerSlot& current_slot() noexcept {
  thread_local WorkerSlot slot;
  return slot;
}

class WorkStealing final : public Scheduler {
 public:
  WorkStealing(RuntimeCore& rt, unsigned n, SchedulingChoices* choices) : rt_(rt), choices_(choices) {
    workers_.reserve(n);
    for (unsigned i = 0; i < n; ++i) {
      auto w = std::make_unique<Worker>();
      w->index = i;
      w->rng = 0x9E3779B97F4A7C15ull * (i + 1);
      w->global_token.emplace(global_);
      w->seen_turns.assign(n, ~std::uint64_t{0});
      w->seen_at.assign(n, 0);
      w->window_turns.assign(n, ~std::uint64_t{0});
      w->window_at.assign(n, 0);
      w->seen_offers.assign(n, 0);
      w->inbox.reserve(16);  // a move allocates only past this (step 12)
      w->inbox_taken.reserve(16);
      stealers_.push_back(w->local.stealer());
      workers_.push_back(std::move(w));
    }
    auto keep = rt.shared_from_this();  // workers keep the core alive (detached ones too)
    for (auto& w : workers_) {
      Worker* raw = w.get();
      raw->thread = std::thread([this, raw, keep] { work(*raw); });
    }
  }

  ~WorkStealing() override { stop(std::chrono::steady_clock::now() + std::chrono::hours(1)); }

  void enqueue(ProcessCore* p) override {
    if (stopping_.load(std::memory_order_acquire)) return;  // pairs with stop(): nothing runs after it
    // Step 10a: an anchored process's entry needs no reference.
    const bool holds_ref = !p->anchored();
    if (holds_ref) p->retain();  // given back after the turn that runs it
    RunEntry* entry = pack_entry(p, holds_ref);
    WorkerSlot& slot = current_slot();
    if (slot.scheduler == this) {
      Worker& w = *slot.worker;
      RunEntry* displaced = std::exchange(w.lifo, entry);
      if (displaced == nullptr) return;  // this worker runs it next: nobody to wake
      const bool was_empty = w.local.empty();
      push_local(w, displaced);
      // Step 7's announcement, unless a parked worker will look within its period anyway:
      // a poller (6a, 100 us), or, for a queue that was not empty, a watcher on duty (6b,
      // 1 ms). A queue that was empty is announced to a watcher too, so that fork-join's
      // fan-out is seen at once. relaxed: hints; a stale one costs a wake-up or a period's
      // wait, not the work. Pairs with the RMWs of park() and off_duty().
      if (pollers_.load(std::memory_order_relaxed) != 0 ||
          (!was_empty && watchers_.load(std::memory_order_relaxed) != 0)) {
        return;
      }
    } else {
      global_.enqueue(entry);
      if (stopping_.load(std::memory_order_seq_cst)) {  // raced with stop(): its drain may be over
        drain_global();
        return;
      }
    }
    wake_one();
  }

  unsigned worker_count() const override { return static_cast<unsigned>(workers_.size()); }

  std::uint64_t turns_started() const override {
    std::uint64_t n = 0;
    // relaxed: a snapshot for tests; pairs with run_turn()'s relaxed store.
    for (const auto& w : workers_) n += w->turns.load(std::memory_order_relaxed);
    return n;
  }
  std::uint64_t convoy_offers() const override {
    std::uint64_t n = 0;
    // relaxed: a snapshot for tests; pairs with run_turn()'s relaxed store.
    for (const auto& w : workers_) n += w->offers.load(std::memory_order_relaxed);
    return n;
  }
  std::uint64_t convoy_offers_taken() const override {
    std::uint64_t n = 0;
    // relaxed: a snapshot for tests; pairs with steal()'s relaxed store.
    for (const auto& w : workers_) n += w->offers_taken.load(std::memory_order_relaxed);
    return n;
  }

  unsigned parked_workers() const override {
    return sleepers_.load(std::memory_order_seq_cst);  // a snapshot; pairs with park()'s increment
  }

  std::size_t stop(std::chrono::steady_clock::time_point deadline) override {
    {
      std::unique_lock lock(stop_mutex_);
      if (stopped_) return 0;
      stopped_ = true;
    }
    stopping_.store(true, std::memory_order_seq_cst);  // pairs with the loads in the loop and enqueue()
    for (auto& w : workers_) {
      {
        std::lock_guard lock(w->park_mutex);
        w->notified = true;
      }
      w->park_cv.notify_one();
    }
    std::size_t busy;
    {
      std::unique_lock lock(stop_mutex_);
      exited_cv_.wait_until(lock, deadline, [&] { return exited_ == workers_.size(); });
      busy = workers_.size() - exited_;
    }
    for (auto& w : workers_) {
      if (busy == 0) {
        w->thread.join();
      } else {
        w->thread.detach();  // stuck in a handler: abandoned; it holds the core alive
      }
    }
    // The global queue is emptied by the last worker to leave (work()'s end), joined or not.
    return busy;
  }

  void outlive_workers(std::shared_ptr<void> keep) override {
    {
      std::lock_guard lock(stop_mutex_);  // against the last worker's take in work()
      if (exited_ != workers_.size()) {
        kept_for_workers_ = std::move(keep);  // step 10d: the last worker to leave drops it
        return;
      }
    }
    keep.reset();  // every worker has left: outside the lock (destructors run)
  }

 private:
  /// Step 10c: an entry dropped without its turn gives back what it holds, and only that.
  static void drop_entry(RunEntry* e) noexcept {
    const Runnable r = unpack_entry(e);
    if (r.holds_ref) r.process->release();
  }

  void drain_global() {
    RunEntry* e;
    while (global_.try_dequeue(e)) drop_entry(e);
  }

  void push_local(Worker& w, RunEntry* e) {
    if (w.local.push_back(e, w.overflow)) return;
    global_.enqueue_bulk(w.overflow.begin(), w.overflow.size());
    w.overflow.clear();
  }

  /// Step 7.
  void wake_one() {
    work_epoch_.fetch_add(1, std::memory_order_seq_cst);  // StoreLoad with the loads below (see 6-8)
    if (searching_.load(std::memory_order_seq_cst) != 0) return;  // step 8; pairs with end_search()
    wake_parked();
  }

  /// Wakes one parked worker, if any (steps 7 and 8).
  void wake_parked() {
    if (sleepers_.load(std::memory_order_seq_cst) == 0) return;  // pairs with the increment in park()
    Worker* target = nullptr;
    {
      std::lock_guard lock(idle_mutex_);
      if (idle_.empty()) return;
      target = workers_[idle_.back()].get();
      idle_.pop_back();
      off_duty(*target);
      sleepers_.fetch_sub(1, std::memory_order_seq_cst);  // the sleeper is ours to wake
      // It wakes up searching (step 8): until it finds work or parks again, further pushes
      // wake nobody else. Counted before it can run, so wake_one() sees it at once.
      searching_.fetch_add(1, std::memory_order_seq_cst);  // pairs with wake_one()'s load
    }
    {
      std::lock_guard lock(target->park_mutex);
      target->notified = true;
      target->woken_searching = true;
    }
    target->park_cv.notify_one();
  }

  /// Step 13: starts loading the cell of the process at the ring's front, which is most
  /// likely the next to run after the turn about to start. Owner only; never blocks.
  void prefetch_front(const Worker& w) const noexcept {
    RunEntry* next = w.local.peek_front();
    if (next == nullptr) return;
    // Addresses as integers: the lines past a smaller process lie outside its object.
    const auto cell = reinterpret_cast<std::uintptr_t>(unpack_entry(next).process);
    for (std::size_t line = 0; line < kPrefetchLines; ++line) {
      __builtin_prefetch(reinterpret_cast<const void*>(cell + 64 * line), /*for reading*/ 0,
                         /*keep in all levels*/ 3);
    }
  }

  RunEntry* next_local(Worker& w) {
    ++w.tick;
    RunEntry* p = nullptr;
    drain_inbox(w);             // step 12: moved here, they join the local queue
    if (choices_ != nullptr) {  // systematic mode: the seed picks the first place to look
      switch (choices_->first_source()) {
        case 1:
          if ((p = w.local.pop()) != nullptr) return p;
          break;
        case 2:
          if (global_.try_dequeue(*w.global_token, p)) return p;
          break;
        default:
          break;
      }
    }
    if (w.tick % kGlobalEvery == 0 && (p = take_global_batch(w)) != nullptr) return p;
    if (w.lifo != nullptr) {
      if (w.lifo_streak < kLifoStreak) {
        ++w.lifo_streak;
        w.turn_from_lifo = true;  // step 4a: run_turn() looks for a convoy
        return std::exchange(w.lifo, nullptr);
      }
      push_local(w, std::exchange(w.lifo, nullptr));  // let the others have a turn
    }
    w.lifo_streak = 0;
    if ((p = w.local.pop()) != nullptr) return p;
    return take_global_batch(w);
  }

  /// Steps 3 and 5: one process from the global queue to run now, and with it a fair share
  /// of the rest moved to the local queue (Go's globrunqget: len/workers + 1, at most half
  /// the ring's free room, at most kGlobalBatch). Taking one at a time starved the global
  /// queue: with 1,000 runnable processes the local rings overflow into it, and a worker
  /// that takes one every 61st turn left processes waiting for seconds (the gossip
  /// workload measured first-run gaps of up to 15 s).
  RunEntry* take_global_batch(Worker& w) {
    const std::size_t room = (RunRing<RunEntry>::kCapacity - w.local.size()) / 2;
    std::size_t want = global_.size_approx() / workers_.size() + 1;
    want = std::min({want, room + 1, kGlobalBatch});
    RunEntry* batch[kGlobalBatch];
    const std::size_t n = global_.try_dequeue_bulk(*w.global_token, batch, want);
    if (n == 0) return nullptr;
    for (std::size_t i = 1; i < n; ++i) push_local(w, batch[i]);  // fits: n - 1 <= room
    // The rest now waits in our local queue, where only a stealer can reach it: publish it
    // as new work (step 7). Without this, a worker still searching when we took the batch
    // could look at our queue before the pushes, find nothing, read an epoch already past
    // the global pushes, and park, while we run batch[0]; if that handler blocks (or
    // just runs long), the rest waits behind it with a worker asleep (seen: a counter
    // never run in 10 s beside an init that blocks one of two workers, ~1 run in 60).
    if (n > 1) wake_one();
    return batch[0];
  }

  /// Step 5: takes half of a victim's queue when the victim is stuck (it started no turn
  /// for kStuckAfter, as our looks saw it), runs long turns, or has a backlog. Sets
  /// `w.passed_over` when it left a non-empty queue alone, so that park() polls it (6a).
  RunEntry* steal(Worker& w) {
    const unsigned n = static_cast<unsigned>(workers_.size());
    if (n < 2) return nullptr;
    w.rng ^= w.rng << 13;
    w.rng ^= w.rng >> 7;
    w.rng ^= w.rng << 17;
    const unsigned start = static_cast<unsigned>(w.rng % n);
    w.passed_over = false;
    for (unsigned i = 0; i < n; ++i) {
      const unsigned victim = (start + i) % n;
      if (victim == w.index) continue;
      // Step 4a: did it offer a convoy since our last look? Read before the queue's size,
      // so an offer its owner has run itself by now is not left to excuse a later steal
      // from a short queue. relaxed: a hint, as `turns`; pairs with run_turn()'s store.
      const std::uint64_t offers = workers_[victim]->offers.load(std::memory_order_relaxed);
      const bool offered = offers != w.seen_offers[victim];
      w.seen_offers[victim] = offers;
      // relaxed: a hint, as `turns` below; the inbox itself is read under its lock.
      const std::uint32_t queued =
          stealers_[victim].size() + workers_[victim]->inbox_size.load(std::memory_order_relaxed);
      if (queued == 0) continue;
      // relaxed: a hint. A stale value can only make us steal (as every steal once did) or
      // wait one more look; the queue itself is synchronised by steal_into. Pairs with
      // run_turn()'s relaxed store.
      const std::uint64_t turns = workers_[victim]->turns.load(std::memory_order_relaxed);
      // The thief's clock, read only while searching: the host's monotonic clock, not the
      // runtime's Clock (a ManualClock that tests hold still must not make a worker look
      // stuck, or never stuck).
      const std::int64_t now = system_mono_ns();
      const std::int64_t since = now - w.seen_at[victim];
      bool worth_it = false;  // stuck, or its turns are long
      if (turns == w.seen_turns[victim]) {
        worth_it = since >= kStuckAfter.count();
      } else {
        w.seen_turns[victim] = turns;  // it made progress: the stuck clock starts again
        w.seen_at[victim] = now;
      }
      // Turns that averaged kLongTurn or more over a window of at least kLongTurnMinWindow
      // (and at most kLongTurnWindow: an older start may span idle time) are long enough
      // that running the queued processes elsewhere beats waiting for them (fork-join's
      // tasks). Not judged between two looks a yield apart: one ~15 us turn of ask-many's
      // server between them read as long, and the steal spread its clients.
      const std::int64_t window = now - w.window_at[victim];
      if (window > kLongTurnWindow.count() || turns < w.window_turns[victim]) {
        w.window_turns[victim] = turns;  // stale, or our first look: a new window
        w.window_at[victim] = now;
      } else if (window >= kLongTurnMinWindow.count()) {
        const std::uint64_t made = turns - w.window_turns[victim];
        worth_it =
            worth_it || (made > 0 && window >= kLongTurn.count() * static_cast<std::int64_t>(made));
        w.window_turns[victim] = turns;
        w.window_at[victim] = now;
      }
      if (offered) worth_it = true;  // step 4a: take what it offered
      if (!worth_it && queued < kStealBacklog) {
        w.passed_over = true;
        continue;
      }
      RunEntry* e = nullptr;
      if (take_inbox(*workers_[victim], w)) {  // step 12: what was moved there first
        e = w.local.pop();
      }
      if (e == nullptr) e = stealers_[victim].steal_into(w.local);
      if (e == nullptr) continue;
      if (offered) {
        bump_owned(w.offers_taken);  // a tally for tests (convoy_offers_taken())
      }
      return e;
    }
    return nullptr;
  }

  /// Step 12: moves what waits in `from`'s inbox to the back of `to`'s local queue (the
  /// owner's drain when `from` is `to`, else a thief's). True when it moved any. A
  /// relaxed load while the inbox is empty.
  bool take_inbox(Worker& from, Worker& to) {
    // relaxed: a hint. A push we miss here is announced by its wake_one() (step 12), and
    // the lock below orders the entries themselves. Pairs with move_to()'s store.
    if (from.inbox_size.load(std::memory_order_relaxed) == 0) return false;
    // Empty, with capacity: the swap leaves that capacity to the inbox.
    std::vector<RunEntry*>& moved = to.inbox_taken;
    {
      std::lock_guard lock(from.inbox_lock);
      moved.swap(from.inbox);
      // relaxed: under the lock, which orders it; pairs with the load above.
      from.inbox_size.store(0, std::memory_order_relaxed);
    }
    const bool any = !moved.empty();
    for (RunEntry* e : moved) push_local(to, e);
    moved.clear();  // keeps its capacity for the next take
    return any;
  }
  /// The owner's drain, on every next_local(): the empty check stays inline here (one
  /// relaxed load, as in take_inbox(), whose call and frame were ~2 % of ask-many).
  bool drain_inbox(Worker& w) {
    // relaxed: a hint, as in take_inbox(); pairs with move_to()'s store.
    return w.inbox_size.load(std::memory_order_relaxed) != 0 && take_inbox(w, w);
  }

  /// Step 12: a sender refused by a full lane goes to the worker that last ran the
  /// receiver, with the reference its entry holds, if any (step 10b).
  void move_to(Worker& target, RunEntry* e) {
    {
      std::lock_guard lock(target.inbox_lock);
      target.inbox.push_back(e);
      // relaxed: under the lock; the owner's or a thief's lock acquire orders the entry.
      // Pairs with take_inbox()'s load.
      const auto size = static_cast<std::uint32_t>(target.inbox.size());
      target.inbox_size.store(size, std::memory_order_relaxed);
    }
    wake_one();  // published (the unlock), then announced: step 7
  }

  /// Step 6. Returns when notified (or when work appeared while announcing): true when
  /// wake_parked() woke us, which counted us in `searching_`.
  bool park(Worker& w, std::uint64_t e0) {
    bool watch = w.passed_over;  // step 6a
    // Step 6a: while we wait we are the poller, and a push onto the queue we passed over
    // wakes nobody (enqueue()). One poller is enough: a worker that finds another one
    // waits kWatchPeriod, as before (so many idle workers beside one busy queue do not
    // each wake 10,000 times a second). relaxed: the CAS only makes us the one poller;
    // enqueue()'s relaxed load reads the count as a hint, and no data is published
    // through it. Pairs with PollEnd's fetch_sub.
    unsigned no_poller = 0;
    const bool polling =
        w.passed_over && pollers_.compare_exchange_strong(no_poller, 1, std::memory_order_relaxed,
                                                          std::memory_order_relaxed);
    struct PollEnd {
      std::atomic<unsigned>* pollers;
      ~PollEnd() {
        if (pollers != nullptr)
          pollers->fetch_sub(1, std::memory_order_relaxed);  // pairs with the CAS above
      }
    } poll_end{polling ? &pollers_ : nullptr};
    {
      std::lock_guard lock(idle_mutex_);
      idle_.push_back(w.index);
      const unsigned before =
          sleepers_.fetch_add(1, std::memory_order_seq_cst);  // pairs with the load in wake_one()
      // Step 6b: another worker is not parked, and nobody watches it yet.
      // relaxed, under idle_mutex_ (which orders the duty itself): enqueue()'s relaxed
      // load reads it as a hint without the lock. Pairs with off_duty()'s fetch_sub.
      if (!watch && before + 1 < workers_.size() &&
          watchers_.load(std::memory_order_relaxed) == 0) {
        w.on_duty = true;
        watchers_.fetch_add(1, std::memory_order_relaxed);
        watch = true;
      }
    }
    if (work_epoch_.load(std::memory_order_seq_cst) != e0 ||  // pairs with wake_one()'s bump
        stopping_.load(std::memory_order_acquire)) {          // pairs with stop()'s release
      // Nobody woke us: back to the loop, which sees the new work or the stop.
      if (unannounce(w)) return false;
      // Popped meanwhile: a notification is on its way (wake_parked() is between its two
      // locks). Take it below, so that its `searching_` count is ours and not left behind.
    }
    std::unique_lock lock(w.park_mutex);
    if (!watch) {
      w.park_cv.wait(lock, [&] { return w.notified; });
    } else if (!w.park_cv.wait_for(lock, polling ? kPassedOverPeriod : kWatchPeriod,
                                   [&] { return w.notified; })) {
      // Step 6a: the watch ran out and nobody woke us. Un-announce, unless a waker popped
      // us meanwhile: then its notification is on its way, and we take it as above.
      lock.unlock();
      if (unannounce(w)) return false;
      lock.lock();
      w.park_cv.wait(lock, [&] { return w.notified; });
    }
    w.notified = false;
    return std::exchange(w.woken_searching, false);
  }

  /// Takes `w` off the idle stack; false when a waker popped it first (its notification
  /// is then on its way).
  bool unannounce(Worker& w) {
    std::lock_guard lock(idle_mutex_);
    for (auto it = idle_.begin(); it != idle_.end(); ++it) {
      if (*it == w.index) {
        idle_.erase(it);
        off_duty(w);
        // Nobody popped us. seq_cst: pairs with wake_parked()'s load.
        sleepers_.fetch_sub(1, std::memory_order_seq_cst);
        return true;
      }
    }
    return false;
  }

  /// Step 6b: `w` leaves the idle stack (under idle_mutex_); a watcher gives up its duty.
  void off_duty(Worker& w) noexcept {
    // relaxed, under idle_mutex_: see park(). Pairs with park()'s fetch_add.
    if (std::exchange(w.on_duty, false)) watchers_.fetch_sub(1, std::memory_order_relaxed);
  }

  /// Step 4a: another worker parks or searches. Worker only. relaxed: a hint; a stale value
  /// offers a convoy once too many or too few, which costs speed, never work. Pairs with
  /// the RMWs of park(), unannounce() and wake_parked() on `sleepers_`, and of the search,
  /// end_search() and wake_parked() on `searching_`. Never with one worker (a worker woken
  /// to search can run its slot before end_search() uncounts it), nor in systematic mode,
  /// whose seed picks every budget.
  bool another_idles() const noexcept {
    return workers_.size() > 1 && choices_ == nullptr &&
           (sleepers_.load(std::memory_order_relaxed) != 0 ||
            searching_.load(std::memory_order_relaxed) != 0);
  }

  void run_turn(Worker& w, RunEntry* entry) {
    const Runnable taken = unpack_entry(entry);
    ProcessCore* const p = taken.process;
    // Step 5: a turn starts; thieves see that we are not stuck. A thief that reads a stale
    // count waits one more look or steals, and either is safe.
    bump_owned(w.turns);
    p->note_worker(w.index);  // step 12: where a refused sender of p's may move
    w.context->refused_full = false;
    // Step 4a: a convoy runs half, or is run while others are offered. queued_as_owner()
    // is two loads from the lane word's line, which this turn's first take moves here anyway; the
    // shared idle counts are read only when there is a convoy to offer.
    TurnBudget budget{kBudget, Offer::none};
    if (std::exchange(w.turn_from_lifo, false)) {
      const TurnBudget convoy =
          lifo_turn_budget(p->queued_as_owner(), !w.local.empty(), kBudget, kSplitAt);
      if (convoy.offer != Offer::none && another_idles()) budget = convoy;
    }
    const ProcessCore::SliceEnd end =
        p->run_slice(choices_ != nullptr ? choices_->budget(kBudget) : budget.budget);
    // Step 10b: at most one of the two (a finished process's turn cannot finish it again;
    // an abandoned one's returns at once).
    const bool holds_ref = taken.holds_ref || end.took_ref;
    const unsigned target = w.context->refused_at_worker;
    switch (after_turn(end.again, w.context->refused_full, target, w.index,
                       static_cast<unsigned>(workers_.size()))) {
      case AfterTurn::idle:  // p is not ours any more unless we hold a reference
        if (holds_ref) p->release();
        break;
      case AfterTurn::requeue_here:  // the budget ran out: back of the queue, others first
        push_local(w, pack_entry(p, holds_ref));
        break;
      case AfterTurn::move_to_receiver:  // step 12: refused by a full lane; join its receiver
        move_to(*workers_[target], pack_entry(p, holds_ref));
        break;
    }
    // Step 4a: what the turn offers (the convoy's other half, now at the back of our queue,
    // or the queue itself) waits there for a thief. relaxed: only the owner writes;
    // steal()'s relaxed load is a hint, and steal_into orders the entries themselves.
    // Announced like any push (step 7), so an idle worker comes for it.
    if (budget.offer != Offer::none && !w.local.empty()) {
      bump_owned(w.offers);
      wake_one();
    }
    // Step 11: the timers this worker staged go to the driver once they have waited a
    // period or two (timer_service.hpp step 0a); two relaxed loads when nothing is due.
    // The deferred drops go first (runtime/deferred_releases.hpp step 6): the stage's flush
    // then defers the drops of its states' targets for the next period's asks to cancel.
    // Between two flushes, every few dozen asks, the stage's answered timeouts are swept
    // while their states are still in the cache (timer_service.hpp step 0e).
    if (w.timer_stage != nullptr) {
      TimerService* timers = w.timer_stage->service();
      if (timers->stage_wants_flush(*w.timer_stage)) {
        w.context->releases->flush_all();
        rt_.flush_timer_stage(*w.timer_stage);
      } else if (timers->stage_wants_sweep(*w.timer_stage)) {
        rt_.sweep_timer_stage(*w.timer_stage);
      }
    }
  }

  /// Step 8: a searching worker that stops searching. If it found work and was the last
  /// searcher, it wakes a parked worker, which searches in its place: work pushed while
  /// wake_one() saw a searcher is then never left waiting behind a long turn.
  void end_search(bool found, std::uint64_t e0) {
    const unsigned before = searching_.fetch_sub(1, std::memory_order_seq_cst);  // pairs with wake_one()'s load
    if (!found || before != 1) return;
    // Wake only if work may be waiting: pushed since our last look (the epoch moved), or
    // visible in the global queue. A trickle of work then wakes nobody extra.
    if (work_epoch_.load(std::memory_order_seq_cst) != e0 ||  // pairs with wake_one()'s bump
        global_.size_approx() != 0) {
      wake_parked();
    }
  }

  void work(Worker& w) {
    EnvelopeCache envelopes(&envelope_depot_);  // freed when this thread leaves (mailbox/envelope_cache.hpp)
    EnvelopeCacheScope envelope_scope(&envelopes);
    w.timer_stage = rt_.open_timer_stage();  // owned by the timer service (step 11)
    TimerStageScope timer_stage_scope(w.timer_stage);
    KeepCreditsScope keep_credits(rt_);  // returned as we leave, before the lambda's shared_ptr goes
    // Our units on one shared behaviour (step 10); returned before the keeps, which the
    // processes its emptying frees give back.
    ShareCreditsScope share_credits;
    IdBlockScope id_block(rt_);          // children spawned here take ids from a block
    // After the credits' scopes: the processes its flush frees give units back to them.
    DeferredReleasesScope deferred_releases(rt_);
    EngineThreadScope engine_thread;
    current_slot() = WorkerSlot{this, &w};
    w.context = &thread_context();
    bool searching = false;  // we are counted in searching_ (step 8)
    std::uint64_t e0 = 0;
    while (!stopping_.load(std::memory_order_acquire)) {  // pairs with stop()'s release
      if (RunEntry* e = next_local(w)) {
        if (std::exchange(searching, false)) end_search(true, e0);
        prefetch_front(w);  // step 13
        run_turn(w, e);
        continue;
      }
      // Step 10, for a shared behaviour's units (phyx/detail/share_count.hpp step 3): a
      // dropped SharedSpec's functions are emptied once its last process stopped, even if
      // this worker holds credits. The emptying frees what they captured, processes
      // among them, whose destructors can enqueue here, into our LIFO slot, which no
      // search looks at and no thief can take: look again before searching (the chaos
      // soak found a process stranded there, session 8).
      // Step 11's deferred process drops (runtime/deferred_releases.hpp step 6) first: the
      // processes they free may give units back to our share credits, and their
      // destructors may enqueue here as in step 10.
      deferred_releases.releases().flush_all();
      if (w.lifo != nullptr || !w.local.empty()) continue;
      if (share_credits.credits().owner != nullptr) {
        share_credits.credits().return_all();
        if (w.lifo != nullptr || !w.local.empty()) continue;
      }
      // Step 11: nothing staged is left behind while we search or sleep (so an idle
      // runtime's timer thread sleeps deeply). The flush drops the stage's keeps on asks'
      // states (timer_service.hpp step 0d); a state's last reference can be a process's
      // last, whose destructor enqueues into our LIFO slot as in step 10: look again (the
      // TSan chaos soak found a process stranded there, its mailbox full, in session 12).
      if (w.timer_stage != nullptr) rt_.flush_timer_stage(*w.timer_stage);
      // The stage's flush and the credits' return drop references too, deferred (the
      // asks' states' targets): nothing stays deferred while we search or sleep. A flush
      // that freed anything goes round once more, for the units and the enqueues of what
      // it freed (runtime/deferred_releases.hpp step 6).
      if (deferred_releases.releases().flush_all()) continue;
      if (w.lifo != nullptr || !w.local.empty()) continue;
      RunEntry* found = nullptr;
      if (!std::exchange(searching, true)) {
        searching_.fetch_add(1, std::memory_order_seq_cst);  // step 8; pairs with wake_one()'s load
      }
      for (unsigned round = 0; round < kSearchRounds && found == nullptr; ++round) {
        e0 = work_epoch_.load(std::memory_order_seq_cst);  // read before the last look (step 6)
        // Our own inbox is part of the last look: a move to it (step 12) may have landed
        // after next_local() looked, its announcement before we read e0.
        if (drain_inbox(w) && (found = w.local.pop()) != nullptr) break;
        found = steal(w);
        if (found == nullptr && global_.try_dequeue(*w.global_token, found)) break;
        if (found == nullptr) std::this_thread::yield();
      }
      searching = false;
      end_search(found != nullptr, e0);
      if (found != nullptr) {
        run_turn(w, found);
        continue;
      }
      searching = park(w, e0);
    }
    if (searching) searching_.fetch_sub(1, std::memory_order_seq_cst);  // pairs with wake_one()'s load
    // Leaving: drop what was never run (step 10c).
    if (w.lifo != nullptr) drop_entry(std::exchange(w.lifo, nullptr));
    w.local.drain(drop_entry);
    deferred_releases.close();  // before the credits go back (deferred_releases.hpp step 6)
    share_credits.credits().return_all();
    // Step 11: the last flush. Nothing is staged on this thread after it: the global queue's
    // drain below can free processes whose destructors fail asks, and a continuation that
    // asks again would stage a state no worker takes any more (kept alive until the timer
    // service's end, and freed there, inside the runtime's teardown). Such an ask now gets
    // its timer node at once.
    thread_context().timer_stage = nullptr;
    if (w.timer_stage != nullptr) rt_.flush_timer_stage(*w.timer_stage);  // the driver's now
    current_slot() = WorkerSlot{};
    bool last;
    std::shared_ptr<void> kept;  // step 10d: dropped below, once we have left
    {
      std::lock_guard lock(stop_mutex_);
      last = ++exited_ == workers_.size();
      if (last) kept = std::move(kept_for_workers_);
      exited_cv_.notify_all();
    }
    // The last worker to leave empties the global queue, the one place it is drained (but
    // for an enqueuer that raced with stop()). stop() used to drain it itself, after joining,
    // and so skipped it when it detached us (a shutdown whose deadline had already passed
    // detaches even workers about to leave): the entries kept their processes, and through
    // them the runtime, alive for good (ASan, session 11). Safe beside a racing enqueuer's
    // drain: each entry is dequeued once. There is always a last worker (at least one).
    if (last) {
      drain_global();
      // Step 12: only workers move processes, and every one has left.
      for (auto& other : workers_) {
        std::lock_guard lock(other->inbox_lock);
        for (RunEntry* e : other->inbox) drop_entry(e);
        other->inbox.clear();
      }
      kept.reset();  // the abandoned processes' references: no worker can be inside one now
    }
  }

  RuntimeCore& rt_;                   // owns this scheduler; workers keep it alive (keep_credits.hpp)
  SchedulingChoices* const choices_;  // systematic mode only (sched/choices.hpp); else nullptr
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<Stealer<RunEntry>> stealers_;
  moodycamel::ConcurrentQueue<RunEntry*> global_;
  EnvelopeDepot envelope_depot_;  // the workers' caches trade magazines here (mailbox/envelope_depot.hpp)

  alignas(64) std::atomic<std::uint64_t> work_epoch_{0};
  alignas(64) std::atomic<unsigned> sleepers_{0};
  std::atomic<unsigned> searching_{0};  // workers between "found nothing" and parking (step 8)
  std::atomic<unsigned> pollers_{0};  // workers parked on a short watch of a passed-over queue (6a)
  std::mutex idle_mutex_;
  std::vector<unsigned> idle_;  // parked workers' indices
  // Parked workers on watch duty (step 6b): changed under idle_mutex_, read without it by
  // enqueue() as a hint.
  std::atomic<unsigned> watchers_{0};

  std::atomic<bool> stopping_{false};
  std::mutex stop_mutex_;
  std::condition_variable exited_cv_;
  std::size_t exited_ = 0;
  bool stopped_ = false;
  std::shared_ptr<void> kept_for_workers_;  // guarded by stop_mutex_ (step 10d)
};

}  // namespace

std::unique_ptr<Scheduler> make_work_stealing(RuntimeCore& rt, unsigned workers, SchedulingChoices* choices) {
  return std::make_unique<WorkStealing>(rt, workers, choices);
}

}  // namespace phyx::detail
