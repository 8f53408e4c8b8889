// engine/mailbox/overflow.hpp — the overflow decision of a bounded user lane (SPEC 5).
//
// A pure function of (queued count, capacity, policy), so the policy is tested without a
// mailbox, a thread or a clock.
#pragma once

#include <cstddef>

#include "phyx/status.hpp"

namespace phyx::detail {

enum class Overflow { accept, reject, evict_oldest_then_accept };

constexpr Overflow decide_overflow(std::size_t queued, std::size_t capacity, MailboxPolicy policy) noexcept {
  if (queued < capacity) return Overflow::accept;
  return policy == MailboxPolicy::reject ? Overflow::reject : Overflow::evict_oldest_then_accept;
}

}  // namespace phyx::detail
