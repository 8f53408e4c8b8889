#include "timer/timer_service.hpp"

#include <algorithm>
#include <climits>

#include "sched/thread_context.hpp"

namespace phyx::detail {

namespace {

TimerNode* from_arm(MailNode* m) noexcept { return static_cast<TimerNode*>(static_cast<TimerArmLink*>(m)); }
TimerNode* from_disarm(MailNode* m) noexcept { return static_cast<TimerNode*>(static_cast<TimerDisarmLink*>(m)); }
// A staged node's successor on its stage (step 0), linked through its arm link: relaxed,
// the list was handed over by an exchange that synchronised with the pushes' CAS.
TimerNode* staged_next(TimerNode* n) noexcept {
  MailNode* next = static_cast<TimerArmLink*>(n)->next.load(std::memory_order_relaxed);
  return next != nullptr ? from_arm(next) : nullptr;
}

// Takes a stage's whole list (step 0: the owner's flush, the driver's take, the service's
// end) and calls f on each node; f may free the node (its link is read first).
template <class F>
void take_staged(std::atomic<TimerNode*>& head, F f) {
  // acquire: pairs with the CAS of every push in stage() (one release sequence on head).
  for (TimerNode* n = head.exchange(nullptr, std::memory_order_acquire); n != nullptr;) {
    TimerNode* next = staged_next(n);
    f(n);
    n = next;
  }
}

// Takes a stage's whole timeout list (step 0d); the caller unstages the entries outside
// every lock (unstage_all).
StagedTimeout* take_timeouts(std::atomic<StagedTimeout*>& head) noexcept {
  // acquire: pairs with the CAS of every push in stage_timeout() and of every push-back in
  // sweep_stage() (one release sequence).
  return head.exchange(nullptr, std::memory_order_acquire);
}

void unstage_all(StagedTimeout* t, bool arm) noexcept {
  while (t != nullptr) {
    StagedTimeout* next = t->staged_next;  // read first: unstage may free t
    t->unstage(arm);
    t = next;
  }
}

}  // namespace

// ---- TimerNode (timer_node.hpp, step 3 there) -----------------------------------------

bool TimerNode::cancel() noexcept {
  // relaxed: a reference for cancel_and_release() to spend, taken while the holder still
  // holds its own, so the count cannot reach zero meanwhile.
  refs_.fetch_add(1, std::memory_order_relaxed);
  return cancel_and_release();
}

bool TimerNode::cancel_and_release() noexcept {
  if (!claim_cancel()) {
    release();
    return false;
  }
  if (!service_->post_disarm(this)) release();  // the reference goes with the notice, if any
  return true;
}

// ---- TimerService -------------------------------------------------------------------

TimerService::TimerService(std::int64_t now_ns, std::atomic<std::uint64_t>* shared_ids)
    : shared_ids_(shared_ids), wheel_(now_ns) {}

TimerService::~TimerService() {
  std::lock_guard lock(drive_mutex_);
  drain();
  const auto cancel_unrun = [this](TimerNode* n) {
    if (n->claim_cancel()) {
      finished_.fetch_add(1, std::memory_order_release);  // pairs with pending()'s acquire load
      n->invoke(false);  // never runs: the runtime is gone
    }
    n->release();  // the service's reference; a holder may keep the shell a little longer
  };
  for (auto& s : stages_) {
    take_staged(s->head_, cancel_unrun);  // no worker is left to flush them
    // Step 0d: nothing in practice (every worker unstages its own as it leaves). Not armed:
    // the service is going.
    unstage_all(take_timeouts(s->timeouts_), false);
  }
  wheel_.drain(cancel_unrun);
}

TimerId TimerService::assign(TimerNode* n, std::int64_t deadline_ns) noexcept {
  n->service_ = this;
  // relaxed: a count, published to the driver by the push that follows and to pending()
  // as a tally; ids rise with it.
  const std::uint64_t started = started_.fetch_add(1, std::memory_order_relaxed) + 1;
  // relaxed: ids need only be unique and rise with creation; the push publishes them.
  n->set_due(deadline_ns, TimerId{shared_ids_ != nullptr ? shared_ids_->fetch_add(1, std::memory_order_relaxed) + 1 : started});
  return n->id_;
}

TimerId TimerService::start(TimerNode* n, std::int64_t deadline_ns, bool* wake_driver) noexcept {
  const TimerId id = assign(n, deadline_ns);
  // Step 1's half of the StoreLoad pair: the seq_cst exchange of the push is ordered
  // before announce()'s seq_cst loads. Pairs with prepare_sleep()'s stores and look.
  arms_.push_seq_cst(static_cast<TimerArmLink*>(n));
  const bool wake = announce(deadline_ns);
  if (wake_driver != nullptr) *wake_driver = wake;
  return id;
}

bool TimerService::announce(std::int64_t deadline_ns) noexcept {
  bool wake = false;
  std::int64_t announced = announced_.load(std::memory_order_seq_cst);  // pairs with prepare_sleep()'s store
  while (deadline_ns < announced) {
    // relaxed: only the value matters (the seq_cst push and load above order it against
    // prepare_sleep's store).
    if (announced_.compare_exchange_weak(announced, deadline_ns, std::memory_order_relaxed)) {
      wake = true;  // we lowered it: nobody else will wake the driver for this deadline
      break;
    }
  }
  // A load first (the common case: no deep sleep), then an exchange so only one start
  // wakes it. seq_cst load: pairs with prepare_sleep()'s store; relaxed exchange: only
  // the value matters.
  if (!wake && deep_sleep_.load(std::memory_order_seq_cst) && deep_sleep_.exchange(false, std::memory_order_relaxed)) {
    wake = true;
  }
  return wake;
}

TimerStage* TimerService::open_stage() {
  std::lock_guard lock(stages_mutex_);
  stages_.push_back(std::unique_ptr<TimerStage>(new TimerStage(this)));
  return stages_.back().get();
}

TimerId TimerService::stage(TimerStage& s, TimerNode* n, std::int64_t deadline_ns, std::int64_t now_ns,
                            bool* wake_driver) noexcept {
  const TimerId id = assign(n, deadline_ns);
  auto* link = static_cast<TimerArmLink*>(n);
  TimerNode* head = s.head_.load(std::memory_order_relaxed);  // only the owner pushes
  do {
    link->next.store(head != nullptr ? static_cast<TimerArmLink*>(head) : nullptr, std::memory_order_relaxed);
    // seq_cst: publishes the node and its link to whoever takes the list (their acquire
    // exchange), and is step 0b's half of the StoreLoad pair with prepare_sleep()'s
    // announcement and look at the stages (then announce()'s seq_cst loads).
  } while (!s.head_.compare_exchange_weak(head, n, std::memory_order_seq_cst, std::memory_order_relaxed));
  // Step 0b, when the stage was empty. Every taker takes both lists, so a non-empty other
  // list means the stage has been in use since its last take, and was announced then.
  // relaxed: a hint, as since_ is.
  note_push(s, head == nullptr && s.timeouts_.load(std::memory_order_relaxed) == nullptr, now_ns,
            wake_driver);
  return id;
}

bool TimerService::stage_timeout(TimerStage& s, StagedTimeout* t) noexcept {
  StagedTimeout* head = s.timeouts_.load(std::memory_order_relaxed);  // only the owner pushes
  do {
    t->staged_next = head;
    // seq_cst: publishes the entry (its keep, deadline and link) to whoever takes the list
    // (their acquire exchange), and is step 0b's half of the StoreLoad pair with
    // prepare_sleep()'s announcement and look at the stages, as stage()'s CAS.
  } while (!s.timeouts_.compare_exchange_weak(head, t, std::memory_order_seq_cst,
                                              std::memory_order_relaxed));
  ++s.pushed_since_sweep_;  // step 0e; the owner's alone
  // relaxed: a hint (see stage()).
  const bool filled = head == nullptr && s.head_.load(std::memory_order_relaxed) == nullptr;
  if (filled) note_fill(s);
  return filled;
}

bool TimerService::sweep_stage(TimerStage& s) noexcept {
  s.pushed_since_sweep_ = 0;
  StagedTimeout* answered = nullptr;
  StagedTimeout* kept = nullptr;
  StagedTimeout* kept_tail = nullptr;
  std::uint32_t kept_count = 0;
  for (StagedTimeout* t = take_timeouts(s.timeouts_); t != nullptr;) {
    StagedTimeout* next = t->staged_next;
    if (t->settled()) {
      t->staged_next = answered;
      answered = t;
    } else {
      t->staged_next = kept;
      if (kept == nullptr) kept_tail = t;
      kept = t;
      ++kept_count;
    }
    t = next;
  }
  // The entries kept are walked again at the next sweep: sweeping after twice as many pushes
  // keeps the walk at a few entries per push, however many asks are in flight.
  s.sweep_after_ = 2 * kept_count;
  if (kept != nullptr) {
    StagedTimeout* head = s.timeouts_.load(std::memory_order_relaxed);  // only the owner pushes
    do {
      kept_tail->staged_next = head;
      // seq_cst: as stage_timeout()'s CAS, which this push-back is: publishes the entries
      // to whoever takes the list next (their acquire exchange), and is step 0b's half of
      // the StoreLoad pair with prepare_sleep()'s look at the stages.
    } while (!s.timeouts_.compare_exchange_weak(head, kept, std::memory_order_seq_cst,
                                                std::memory_order_relaxed));
    // Counted as a fill (0b's warmth) and announced by the caller whenever anything is
    // pushed back, not only when the stage looks empty: a look at head_ could miss the
    // driver's take of it, and the kept entries would then wait for a driver asleep until
    // its busy-drain bound. relaxed: a hint, single writer (see note_fill()). Not since_:
    // the entries are as old as before (0e).
    s.fills_.store(s.fills_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  unstage_all(answered, false);  // last: dropping the keeps may free states
  return kept != nullptr;
}

bool TimerService::announce_fill(std::int64_t now_ns) noexcept {
  return announce(now_ns + kStagePeriodNs);
}

void TimerService::note_fill(TimerStage& s) noexcept {
  // relaxed: hints for stage_wants_flush(), the driver's steal (step 0c) and its warmth
  // (0b); single writer for fills_.
  s.since_.store(stage_epoch_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  s.fills_.store(s.fills_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

void TimerService::note_push(TimerStage& s, bool filled, std::int64_t now_ns,
                             bool* wake_driver) noexcept {
  bool wake = false;
  if (filled) {
    note_fill(s);
    wake = announce_fill(now_ns);
  }
  if (wake_driver != nullptr) *wake_driver = wake;
}

void TimerService::flush_stage(TimerStage& s, bool* wake_driver) noexcept {
  bool wake = false;
  if (wake_driver != nullptr) *wake_driver = false;
  s.pushed_since_sweep_ = 0;  // step 0e: nothing left to sweep
  s.sweep_after_ = 0;
  // Step 0d first: arming a pending timeout starts its node directly (step 1), never here.
  if (s.timeouts_.load(std::memory_order_relaxed) != nullptr) {  // only the owner pushes
    unstage_all(take_timeouts(s.timeouts_), true);
  }
  if (s.head_.load(std::memory_order_relaxed) == nullptr) return;  // only the owner pushes
  take_staged(s.head_, [&](TimerNode* n) {
    if (!n->is_pending()) {
      n->release();  // the service's reference: cancelled while staged, the driver never saw it
    } else {
      // Read before the push: once pushed, the driver may fire or drop the node and free
      // it (TSan saw this read race with the driver's free).
      const std::int64_t deadline_ns = n->deadline_ns();
      arms_.push_seq_cst(static_cast<TimerArmLink*>(n));  // as start(): push, then announce
      wake = announce(deadline_ns) || wake;
    }
  });
  if (wake_driver != nullptr) *wake_driver = wake;
}

void TimerService::visit_stages(std::int64_t now_ns) {
  // Step 0d's lists taken here, unstaged after both locks are released: unstaging may free
  // an ask's state, whose continuations and result are the user's.
  std::vector<StagedTimeout*> timeouts;
  {
    std::lock_guard lock(drive_mutex_);
    if (now_ns - stage_epoch_ns_ < kStagePeriodNs) return;
    stage_epoch_ns_ = now_ns;
    const std::uint64_t epoch = stage_epoch_.load(std::memory_order_relaxed) + 1;
    stage_epoch_.store(epoch, std::memory_order_relaxed);  // single writer; read as a hint
    std::lock_guard stages(stages_mutex_);
    for (auto& s : stages_) {
      // relaxed: hints; the lists are handed over by the exchanges.
      if (s->head_.load(std::memory_order_relaxed) == nullptr &&
          s->timeouts_.load(std::memory_order_relaxed) == nullptr) {
        continue;
      }
      const std::uint64_t waited = epoch - s->since_.load(std::memory_order_relaxed);
      if (waited < 3) continue;  // its owner's to flush (0a)
      take_staged(s->head_, [this](TimerNode* n) {
        busy_ = true;
        link_or_drop(n);
      });
      if (StagedTimeout* t = take_timeouts(s->timeouts_)) {
        busy_ = true;
        timeouts.push_back(t);
      }
    }
  }
  for (StagedTimeout* t : timeouts) unstage_all(t, true);  // starts nodes on arms_ (step 1)
}

bool TimerService::stages_in_use() {
  bool in_use = false;
  std::lock_guard lock(stages_mutex_);
  for (auto& s : stages_) {
    const std::uint64_t fills = s->fills_.load(std::memory_order_relaxed);  // a hint (see stage())
    // seq_cst: pair with the pushes' CAS in stage(), stage_timeout() and sweep_stage().
    in_use = in_use || fills != s->fills_seen_ ||
             s->head_.load(std::memory_order_seq_cst) != nullptr ||
             s->timeouts_.load(std::memory_order_seq_cst) != nullptr;
    s->fills_seen_ = fills;
  }
  return in_use;
}

bool TimerService::any_staged_seq_cst() {
  std::lock_guard lock(stages_mutex_);
  for (auto& s : stages_) {
    // seq_cst: pair with the pushes' CAS in stage(), stage_timeout() and sweep_stage().
    if (s->head_.load(std::memory_order_seq_cst) != nullptr ||
        s->timeouts_.load(std::memory_order_seq_cst) != nullptr) {
      return true;
    }
  }
  return false;
}

bool TimerService::post_disarm(TimerNode* n) noexcept {
  finished_.fetch_add(1, std::memory_order_release);  // pairs with pending()'s acquire load
  n->invoke(false);
  // Step 0, the common case of an ask answered on the worker that made it: the node is
  // still the head of this worker's stage. Pop it (only the owner pops, and the caller's
  // reference keeps `n` alive meanwhile, so its link is safe to read) and drop the stage's
  // reference: the node is freed now, into this worker's cache, instead of at the flush.
  TimerStage* own = thread_context().timer_stage;
  // relaxed: only the owner pushes and pops; a driver's exchange makes the CAS fail.
  if (own != nullptr && own->service_ == this && own->head_.load(std::memory_order_relaxed) == n) {
    TimerNode* expected = n;
    // release: a later taker's acquire exchange still synchronises with the pushes (an
    // RMW continues their release sequence); the pop itself publishes nothing new.
    if (own->head_.compare_exchange_strong(expected, staged_next(n), std::memory_order_release,
                                           std::memory_order_relaxed)) {
      n->release();  // the stage's (service's) reference; the caller drops the holder's
      return false;
    }
  }
  // Step 2's second half for the canceller: seq_cst load, pairs with the driver's seq_cst
  // store of linked_ in drain() (after its own seq_cst re-read of the state).
  if (!n->linked_.load(std::memory_order_seq_cst)) return false;  // the driver will see the CAS
  disarms_.push(static_cast<TimerDisarmLink*>(n));  // release: pairs with drain()'s pop
  return true;
}

void TimerService::drain() {
  // Disarms first: a timer armed and cancelled since the last drain is then dropped at its
  // arm notice instead of being linked and unlinked.
  while (MailNode* m = disarms_.pop()) {
    TimerNode* n = from_disarm(m);
    busy_ = true;
    if (n->place == TimerNode::Place::slot) {
      wheel_.remove(n);
      n->release();  // the service's reference
    }
    // Place::ready: it leaves through pop_due (claim lost) within its tick.
    // Place::none: its arm notice is still queued (dropped there) or it already left.
    n->release();  // the notice's reference
  }
  while (MailNode* m = arms_.pop()) {
    busy_ = true;
    link_or_drop(from_arm(m));
  }
}

void TimerService::link_or_drop(TimerNode* n) noexcept {
  if (!n->is_pending()) {
    n->release();  // the service's reference: cancelled before it was ever linked
    return;
  }
  wheel_.insert(n);
  // Step 2's driver half: seq_cst store, then a seq_cst re-read of the state. Pairs with
  // the canceller's seq_cst CAS and load of linked_.
  n->linked_.store(true, std::memory_order_seq_cst);
  if (n->state_.load(std::memory_order_seq_cst) == TimerNode::cancelled && n->place == TimerNode::Place::slot) {
    wheel_.remove(n);  // cancelled meanwhile; its canceller may or may not have posted a notice
    n->release();      // the service's reference
  }  // (in the due heap it leaves through pop_due, claim lost)
}

TimerNode* TimerService::pop_due(std::int64_t limit_ns) {
  std::lock_guard lock(drive_mutex_);
  drain();
  while (TimerNode* n = wheel_.pop_due(limit_ns)) {
    if (n->claim_fire()) {
      finished_.fetch_add(1, std::memory_order_release);  // pairs with pending()'s acquire load
      fired_.store(fired_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);  // single writer
      return n;
    }
    n->release();  // the service's reference: cancelled (its notice, if any, finds it unlinked)
  }
  return nullptr;
}

void TimerService::fire(TimerNode* n) noexcept {
  n->run();
  n->release();  // the service's reference
}

std::optional<std::pair<std::int64_t, TimerId>> TimerService::next_due() {
  std::lock_guard lock(drive_mutex_);
  drain();
  while (TimerNode* n = wheel_.peek_next()) {
    if (n->is_pending()) return std::make_pair(n->deadline_ns(), n->id());
    // Cancelled, its notice not drained yet: it is the heap top, take it out.
    wheel_.pop_due(n->deadline_ns())->release();  // the service's reference
  }
  return std::nullopt;
}

std::optional<std::int64_t> TimerService::prepare_sleep(std::int64_t now_ns) {
  std::lock_guard lock(drive_mutex_);
  drain();
  std::int64_t until = wheel_.wake_bound().value_or(INT64_MAX);
  const bool staged = stages_in_use();  // step 0b: come by once a period while any is
  const bool deep = !busy_ && !staged;
  if (busy_) until = std::min(until, now_ns > INT64_MAX - kBusyDrainNs ? INT64_MAX : now_ns + kBusyDrainNs);
  if (staged) until = std::min(until, now_ns > INT64_MAX - kStagePeriodNs ? INT64_MAX : now_ns + kStagePeriodNs);
  busy_ = false;
  // Step 4's half of the StoreLoad pair: seq_cst stores, then the seq_cst look at the
  // inbox. Pair with start()'s push_seq_cst and seq_cst loads: a start either sees these
  // stores or its timer is seen by the look.
  announced_.store(until, std::memory_order_seq_cst);
  deep_sleep_.store(deep, std::memory_order_seq_cst);
  // A stage that became non-empty after the look above announced now + a period, which
  // this sleep may not honour: look again (step 0b, the same pair as the inbox's).
  if (!arms_.empty_seq_cst() || (!staged && any_staged_seq_cst())) {
    wake_up();
    return std::nullopt;
  }
  return until;
}

void TimerService::wake_up() noexcept {
  // relaxed: starts that read the old values at worst wake the driver once more.
  announced_.store(kAwake, std::memory_order_relaxed);
  deep_sleep_.store(false, std::memory_order_relaxed);
}

}  // namespace phyx::detail
