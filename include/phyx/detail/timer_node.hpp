// phyx/detail/timer_node.hpp — one runtime timer: its deadline, its callback, and the two
// atomics that decide its fate (not for users).
//
// A timer is one heap node that carries its callback inline (one allocation per timer, no
// std::function, no id -> timer map). It is shared by three parties, counted in `refs_`:
//  - the holder (the ask's future, the process's timer map) that may cancel it;
//  - the timer service (engine/timer/timer_service.hpp), which links it into its wheel;
//  - a pending disarm notice, while the service has not yet unlinked a cancelled timer.
//
// Protocol (the fate of a timer is decided once, by one CAS on `state_`):
//  1. Made pending with refs = 2 (holder + service). The callback lives inside the node.
//  2. Fire (the service's driver thread): CAS pending -> fired. The winner runs the
//     callback and destroys it; a loser leaves it alone.
//  3. Cancel (any thread, the holder): CAS pending -> cancelled. The winner destroys the
//     callback at once (so what it captured, a message with a Reply, a process handle, goes
//     now, not when the driver next looks) and, if the driver has linked the shell into
//     its wheel, posts a disarm notice so that it unlinks it (timer_service.hpp step 2);
//     the notice holds a reference (a fresh one, or the holder's own when the holder is
//     done with the node: cancel_and_release). cancel() returns whether it won: "true if
//     it had not fired".
//  4. Each party drops its reference with release(); the last one frees the shell.
// Invariants: exactly one of fire or cancel wins; the callback is destroyed exactly once,
// by the winner; the shell is freed exactly once, by the last release.
// Rejected: an id -> callback hash map under a mutex (the heap timer queue this replaced:
// a lock, a map node and one or two std::function allocations per timer; every ask paid
// for it twice, start and cancel).
#pragma once

#include <atomic>
#include <cstdint>
#include <new>
#include <utility>

#include "phyx/detail/mpsc_queue.hpp"
#include "phyx/detail/small_blocks.hpp"
#include "phyx/ids.hpp"

namespace phyx::detail {

class TimerService;

/// The link a timer is queued by on its service's arm inbox (a timer to link).
struct TimerArmLink : MailNode {};
/// The link a cancelled timer is queued by on its service's disarm inbox (a shell to unlink).
struct TimerDisarmLink : MailNode {};

// Small blocks (phyx/detail/small_blocks.hpp): a node is freed by whoever drops the last
// reference, often another thread than its maker; the sized delete gets the derived
// node's size through the virtual destructor.
class TimerNode : public TimerArmLink, public TimerDisarmLink, public SmallBlocks {
 public:
  enum State : std::uint32_t { pending = 0, fired = 1, cancelled = 2 };
  /// Where the driver keeps the node (driver-only bookkeeping).
  enum class Place : std::uint8_t { none, slot, ready };

  TimerNode() noexcept = default;
  TimerNode(const TimerNode&) = delete;
  TimerNode& operator=(const TimerNode&) = delete;

  /// Any thread (the holder). Step 3: true if the timer was pending; it will never fire
  /// now and its callback has been destroyed. Never blocks; allocates nothing.
  bool cancel() noexcept;
  /// Any thread (the holder): cancel(), then drop the holder's reference, in one go. When
  /// the cancel wins, the holder's reference becomes the disarm notice's, so this costs
  /// two atomic operations fewer than cancel() + release(). Returns what cancel() would.
  bool cancel_and_release() noexcept;
  /// Any thread: drops one reference (step 4). Frees the node when it was the last.
  void release() noexcept {
    // acq_rel: the release half publishes this party's writes to whoever frees the node;
    // the acquire half (on the last decrement) sees every other party's. Pairs with the
    // fetch_sub of the other parties and the fetch_add in cancel().
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  std::int64_t deadline_ns() const noexcept { return deadline_ns_; }
  TimerId id() const noexcept { return id_; }
  bool is_pending() const noexcept {
    return state_.load(std::memory_order_acquire) == pending;  // pairs with the CAS of fire/cancel
  }

  /// Driver only: step 2. True if this call won the timer (the caller then calls run()).
  bool claim_fire() noexcept {
    std::uint32_t expected = pending;
    // acq_rel: acquire sees the holder's writes before it armed the timer; release orders
    // the claim before the callback's effects. Pairs with the CAS in cancel().
    return state_.compare_exchange_strong(expected, fired, std::memory_order_acq_rel, std::memory_order_acquire);
  }
  /// Any thread: step 3's decision alone. True if this call won the timer for a cancel
  /// (the caller then counts it and destroys the callback: TimerService does both).
  bool claim_cancel() noexcept {
    std::uint32_t expected = pending;
    // seq_cst: the first half of the StoreLoad pair of timer_service.hpp step 2 (then the
    // load of linked_); also pairs with the CAS in claim_fire() (exactly one of them wins).
    return state_.compare_exchange_strong(expected, cancelled, std::memory_order_seq_cst, std::memory_order_acquire);
  }
  /// The winner of claim_fire(): runs the callback, then destroys it.
  void run() noexcept { invoke(true); }

  /// Before the node is armed (the service's start(), or a test of the wheel alone):
  /// when it is due and the id that orders ties.
  void set_due(std::int64_t deadline_ns, TimerId id) noexcept {
    deadline_ns_ = deadline_ns;
    id_ = id;
  }

  // --- driver-only bookkeeping (the timer service and its wheel) ----------------------
  TimerNode* wheel_prev = nullptr;
  TimerNode* wheel_next = nullptr;
  Place place = Place::none;
  std::uint8_t level = 0;
  std::uint8_t slot = 0;

 protected:
  virtual ~TimerNode() = default;
  /// Runs the callback (if `run_it`) and destroys it. Called once, by the winner.
  virtual void invoke(bool run_it) noexcept = 0;

 private:
  friend class TimerService;
  std::int64_t deadline_ns_ = 0;  // set before the node is armed, then read-only
  TimerId id_{};                  // likewise
  TimerService* service_ = nullptr;
  std::atomic<std::uint32_t> state_{pending};
  std::atomic<std::uint32_t> refs_{2};  // holder + service (step 1)
  std::atomic<bool> linked_{false};     // the driver has linked it (timer_service.hpp step 2)
};

/// A timer whose callback `F` (called as f(TimerId)) is stored inline.
template <class F>
class TimerCallbackNode final : public TimerNode {
 public:
  explicit TimerCallbackNode(F f) { new (&storage_.f) F(std::move(f)); }

 private:
  ~TimerCallbackNode() override = default;  // the callback is already gone (invoke)
  void invoke(bool run_it) noexcept override {
    if (run_it) storage_.f(id());
    storage_.f.~F();
  }
  union Storage {
    Storage() noexcept {}
    ~Storage() {}
    F f;
  } storage_;
};

/// Any thread; allocates one node. The caller arms it with RuntimeCore::start_timer.
template <class F>
TimerNode* make_timer_node(F f) {
  return new TimerCallbackNode<std::decay_t<F>>(std::move(f));
}

}  // namespace phyx::detail
