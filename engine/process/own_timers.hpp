// engine/process/own_timers.hpp — the timers one process incarnation holds (its schedules,
// its restart wait, its handler's sleep), by id, for tools.cancel and for cancelling them all at a stop or
// crash. Guarded by the process's control_ lock; no atomics here.
//
// Design: a vector of (id, node) kept sorted by id. A process starts its timers under
// control_, so the ids it gets from the timer service rise: add() is an append, and
// take(id) a binary search. A timer that fires does not come here to leave (that would put
// the process's lock and a search on the timer thread's path for every firing): its entry
// stays, holding the shell, until a sweep. add() sweeps when the entries have doubled
// since the last sweep, dropping those whose timer is no longer pending, so each entry is
// looked at O(1) times on average and memory stays within about twice the live timers.
// A take() of a fired timer finds its node; cancel() on it then says "already fired".
// Rejected: std::unordered_map<id, node> with an erase at every firing (the first
// version: a node allocation and a hash per timer, rehashing as a process's timers grow,
// and the timer thread taking the process's lock: 25% of `phyx-bench timers`); an
// intrusive list through the timer nodes (O(1) everywhere except tools.cancel(id), which
// would scan: a server cancelling per-request timeouts would pay O(n) per reply).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "phyx/detail/timer_node.hpp"

namespace phyx::detail {

class OwnTimers {
 public:
  /// `id` must be greater than every id added before. Takes the holder's reference of
  /// `node`. Allocates when the vector grows; sweeps now and then (see the design).
  void add(std::uint64_t id, TimerNode* node) {
    if (entries_.size() >= 32 && entries_.size() >= 2 * after_sweep_) sweep();
    entries_.push_back(Entry{id, node});
  }
  /// The node of `id` (with the holder's reference) if it is held, else nullptr. The
  /// timer may have fired already: node->cancel() tells. O(log n).
  TimerNode* take(std::uint64_t id) noexcept {
    auto it = std::lower_bound(entries_.begin(), entries_.end(), id,
                               [](const Entry& e, std::uint64_t v) { return e.id < v; });
    if (it == entries_.end() || it->id != id) return nullptr;
    return std::exchange(it->node, nullptr);  // a tombstone, dropped by the next sweep
  }
  /// Every node held, oldest first (with their references); leaves the set empty.
  std::vector<TimerNode*> take_all() {
    std::vector<TimerNode*> out;
    out.reserve(entries_.size());
    for (const Entry& e : entries_) {
      if (e.node != nullptr) out.push_back(e.node);
    }
    entries_.clear();
    after_sweep_ = 0;
    return out;
  }
  /// Entries held, fired or not (an upper bound of the pending ones).
  std::size_t size() const noexcept { return entries_.size(); }

  /// The id of the timer of a suspended handler's tools.sleep (0 = none): the one timer a
  /// stop does not cancel, since the handler in hand runs to its end (SPEC 14.3).
  std::uint64_t sleep_id = 0;

 private:
  struct Entry {
    std::uint64_t id;
    TimerNode* node;
  };
  void sweep() noexcept {
    auto kept = std::remove_if(entries_.begin(), entries_.end(), [](const Entry& e) {
      if (e.node == nullptr) return true;  // taken
      if (e.node->is_pending()) return false;
      e.node->release();  // fired (or cancelled through another path): the shell can go
      return true;
    });
    entries_.erase(kept, entries_.end());
    after_sweep_ = entries_.size();
  }

  std::vector<Entry> entries_;  // sorted by id; node == nullptr: taken
  std::size_t after_sweep_ = 0;
};

}  // namespace phyx::detail
