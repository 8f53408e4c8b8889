#include "timer/timer_service.hpp"

#include <algorithm>
#include <climits>

namespace phyx::detail {

namespace {

TimerNode* from_arm(MailNode* m) noexcept { return static_cast<TimerNode*>(static_cast<TimerArmLink*>(m)); }
TimerNode* from_disarm(MailNode* m) noexcept { return static_cast<TimerNode*>(static_cast<TimerDisarmLink*>(m)); }

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
  wheel_.drain([this](TimerNode* n) {
    if (n->claim_cancel()) {
      finished_.fetch_add(1, std::memory_order_release);  // pairs with pending()'s acquire load
      n->invoke(false);  // never runs: the runtime is gone
    }
    n->release();  // the service's reference; a holder may keep the shell a little longer
  });
}

TimerId TimerService::start(TimerNode* n, std::int64_t deadline_ns, bool* wake_driver) noexcept {
  n->service_ = this;
  // relaxed: a count, published to the driver by the push below and to pending() as a
  // tally; ids rise with it.
  const std::uint64_t started = started_.fetch_add(1, std::memory_order_relaxed) + 1;
  // relaxed: ids need only be unique and rise with creation; the push publishes them.
  n->set_due(deadline_ns, TimerId{shared_ids_ != nullptr ? shared_ids_->fetch_add(1, std::memory_order_relaxed) + 1 : started});
  // Step 1's half of the StoreLoad pair: the seq_cst exchange of the push is ordered
  // before the seq_cst loads below. Pairs with prepare_sleep()'s stores and look.
  arms_.push_seq_cst(static_cast<TimerArmLink*>(n));
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
  if (wake_driver != nullptr) *wake_driver = wake;
  return n->id_;
}

bool TimerService::post_disarm(TimerNode* n) noexcept {
  finished_.fetch_add(1, std::memory_order_release);  // pairs with pending()'s acquire load
  n->invoke(false);
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
    TimerNode* n = from_arm(m);
    busy_ = true;
    if (!n->is_pending()) {
      n->release();  // the service's reference: cancelled before it was ever linked
      continue;
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
  const bool deep = !busy_;
  if (busy_) until = std::min(until, now_ns > INT64_MAX - kBusyDrainNs ? INT64_MAX : now_ns + kBusyDrainNs);
  busy_ = false;
  // Step 4's half of the StoreLoad pair: seq_cst stores, then the seq_cst look at the
  // inbox. Pair with start()'s push_seq_cst and seq_cst loads: a start either sees these
  // stores or its timer is seen by the look.
  announced_.store(until, std::memory_order_seq_cst);
  deep_sleep_.store(deep, std::memory_order_seq_cst);
  if (!arms_.empty_seq_cst()) {
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
