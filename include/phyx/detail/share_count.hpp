// phyx/detail/share_count.hpp — how the processes of one phyx::SharedSpec share its
// behaviour without a line that every core writes.
//
// A shared behaviour (name, settings, init / handle / on_stop) must live as long as any
// process spawned from it: a stopped process still reads its name. And its functions must
// be emptied once nothing can call them any more: what they captured (refs to processes
// of the same kind, which hold the behaviour) would otherwise keep a cycle alive. So two
// counts, in one 64-bit word: `live` (the high half) and `active` (the low half).
//
// Protocol:
//  1. The SharedSpec's copies together hold one live and one active unit (their
//     shared_ptr's deleter gives them back: active first, then live). Each process holds one
//     of each from its construction (take()); it gives back its active unit when it stops
//     for good (or at destruction if it never did), and its live unit at destruction.
//  2. On a worker, units come from the worker's credits (ShareCredits, one behaviour per
//     worker: the first one the worker spawns from after its credits were returned). A
//     worker without credits takes kBatch of both at once (one fetch_add); a unit given
//     back there joins the credits, and above 2 * kBatch the worker gives back kBatch (one
//     fetch_sub, which cannot reach zero: the worker still holds kBatch). Any other
//     thread, or a worker whose credits are another behaviour's, adds or subtracts one.
//  3. A worker returns all of its credits when it runs dry (before it searches or parks)
//     and when it leaves: active first, while it holds a live unit (it takes one if it has
//     none), then live.
//  4. Whoever takes `active` to zero empties the functions, and holds a live unit while it
//     does (the process that stops, the SharedSpec's deleter, the worker of step 3).
//  5. Whoever takes the whole word to zero (live zero, and active already zero) deletes
//     the behaviour. Step 4's emptying finished before: its thread held a live unit.
// Invariants: `active` never rises from zero (a spawn needs a SharedSpec, which holds an
// active unit); the units held are live >= processes not destroyed and active >= processes
// not stopped, plus the credits held; credits are touched only by their worker's thread.
// What it costs: a dropped SharedSpec whose processes have all stopped keeps its functions
// until every worker holding its credits has run dry (step 3); a runtime that never idles
// keeps at most one such behaviour per worker.
// Rejected: a std::shared_ptr in every process (the previous design: its count is one line
// that every spawn, stop and destruction on every worker writes, ~9 % of skynet; and its
// "am I the last?" was a use_count() load, racy when two processes stopped at once, so a
// cycle through the functions could stay); a child borrowing its parent's hold (a stopped
// parent would have to outlive its children's reads of the name, and the emptying would
// still need a count of the borrowers); per-thread counts summed at the end (zero is then
// not detectable without a stop-the-world sum).
#pragma once

#include <atomic>
#include <cstdint>

namespace phyx::detail {

/// The two counts of one shared behaviour (protocol above). Derived by SharedBehaviour
/// (typed_process.hpp), which empties its functions and is deleted through it.
struct ShareCredits;

class ShareCount {
 public:
  /// Starts with the SharedSpec's units (step 1).
  ShareCount() noexcept = default;
  ShareCount(const ShareCount&) = delete;
  ShareCount& operator=(const ShareCount&) = delete;

  /// A new process's units (step 1). Any thread; the caller holds a SharedSpec, so the
  /// behaviour is active. Never blocks, never allocates.
  void take() noexcept;
  /// A process stopped for good: its active unit; may empty the functions (step 4). Any
  /// thread (the process's own); the process still holds its live unit.
  void give_back_active() noexcept;
  /// A process is destroyed: its live unit; may delete the behaviour (step 5). Any thread.
  void give_back_live() noexcept;
  /// The last copy of the SharedSpec is gone: its units (step 1). Any thread.
  void drop_spec() noexcept;

  /// Tests only: the live and active units now (a snapshot).
  std::uint32_t live_units() const noexcept;
  std::uint32_t active_units() const noexcept;

  static constexpr std::uint32_t kBatch = 1024;

 protected:
  virtual ~ShareCount() = default;
  /// Drops init / handle / on_stop (step 4). Called once, by whoever took `active` to zero.
  virtual void empty_functions() noexcept = 0;

 private:
  friend struct ShareCredits;
  static constexpr std::uint64_t kActive = 1;
  static constexpr std::uint64_t kLive = std::uint64_t{1} << 32;
  void add(std::uint64_t units) noexcept;
  void release_active(std::uint32_t n) noexcept;  // the caller holds a live unit
  void release_live(std::uint32_t n) noexcept;
  /// Step 2: one unit of `half` (a ShareCredits member; `unit` its place in the word) joins
  /// this worker's credits; false if the thread holds no credits on this behaviour.
  bool credit_back(std::uint32_t ShareCredits::*half, std::uint64_t unit) noexcept;

  std::atomic<std::uint64_t> units_{kLive + kActive};  // the SharedSpec's (step 1)
};

/// A worker's credits on one behaviour (step 2). Worker only.
struct ShareCredits {
  ShareCount* owner = nullptr;
  std::uint32_t live = 0;
  std::uint32_t active = 0;
  /// Step 3: gives every credit back and frees the slot; may empty functions and delete a
  /// behaviour (user destructors run here). Never blocks.
  void return_all() noexcept;
};

/// A worker thread's credits for the scope (the worker's whole life); returns what is left
/// on exit (step 3). Worker only; never blocks, never allocates.
class ShareCreditsScope {
 public:
  ShareCreditsScope() noexcept;
  ~ShareCreditsScope();
  ShareCreditsScope(const ShareCreditsScope&) = delete;
  ShareCreditsScope& operator=(const ShareCreditsScope&) = delete;
  ShareCredits& credits() noexcept { return credits_; }

 private:
  ShareCredits credits_;
  ShareCredits* saved_;
};

/// A process's hold on its shared behaviour (nullptr: the behaviour is the process's own).
/// The active unit is given back once, at stop() or else at destruction. 8 bytes: the
/// "stopped" flag is the pointer's low bit (a ShareCount is 8-aligned). Owner thread.
class BehaviourShare {
 public:
  explicit BehaviourShare(ShareCount* count) noexcept
      : bits_(reinterpret_cast<std::uintptr_t>(count)) {
    if (count != nullptr) count->take();
  }
  ~BehaviourShare() {
    if (ShareCount* c = count()) {
      stop();
      c->give_back_live();
    }
  }
  BehaviourShare(const BehaviourShare&) = delete;
  BehaviourShare& operator=(const BehaviourShare&) = delete;
  bool shared() const noexcept { return bits_ != 0; }
  /// The process stopped for good: its active unit goes back (may empty the functions).
  /// Idempotent.
  void stop() noexcept {
    if (bits_ != 0 && (bits_ & kStopped) == 0) {
      bits_ |= kStopped;
      count()->give_back_active();
    }
  }

 private:
  static constexpr std::uintptr_t kStopped = 1;
  ShareCount* count() const noexcept { return reinterpret_cast<ShareCount*>(bits_ & ~kStopped); }
  std::uintptr_t bits_;
};

}  // namespace phyx::detail
