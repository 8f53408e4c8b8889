// engine/runtime/id_blocks.hpp — process ids without a line that every spawning core writes.
//
// Protocol:
//  1. `RuntimeCore::next_id_` hands out ids; every id is used once (SPEC: "unique for the
//     runtime's life").
//  2. A child spawned on a worker of its runtime takes its id from the worker's block; a
//     worker with none left takes kBlock ids at once (one fetch_add).
//  3. A top-level process (and a child spawned on any other thread) takes one id with a
//     fetch_add, so top-level ids keep rising in spawn order: the root's family is sorted by
//     id (RuntimeCore::root_family()). Children's ids are unique but not in spawn order
//     across workers; their order is their parent's list.
//  4. A worker's unused ids are dropped when its thread leaves: ids are not reused.
// Invariants: blocks never overlap (each is one fetch_add's range); a block is touched
// only by its worker's thread.
// Rejected: one fetch_add per spawn (the line bounced between the workers on every child
// spawn: ~5 % of skynet's samples, 76 % of them on that instruction of adopt()); ids from
// a per-worker counter with the worker index in the high bits (the ids of a runtime with
// one worker would then differ from those of the same program under the deterministic
// driver for no reason, and the index would cap the worker count).
#pragma once

#include <cstdint>

namespace phyx::detail {

class RuntimeCore;

/// A worker's block of process ids on its runtime (protocol step 2).
struct IdBlock {
  static constexpr std::uint64_t kBlock = 256;
  RuntimeCore* owner = nullptr;
  std::uint64_t next = 0;
  std::uint64_t end = 0;  // next == end: empty
};

/// A worker thread's id block for the scope (the worker's whole life). Worker only; never
/// blocks, never allocates.
class IdBlockScope {
 public:
  explicit IdBlockScope(RuntimeCore& owner) noexcept;
  ~IdBlockScope();
  IdBlockScope(const IdBlockScope&) = delete;
  IdBlockScope& operator=(const IdBlockScope&) = delete;

 private:
  IdBlock block_;
  IdBlock* saved_;
};

}  // namespace phyx::detail
