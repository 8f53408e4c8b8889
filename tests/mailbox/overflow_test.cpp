// Unit tests of engine/mailbox/overflow.hpp: the overflow decision of a bounded user lane (SPEC 5).
#include <doctest/doctest.h>

#include <cstddef>

#include "../../engine/mailbox/overflow.hpp"

using phyx::MailboxPolicy;
using phyx::detail::decide_overflow;
using phyx::detail::Overflow;

static_assert(decide_overflow(0, 1, MailboxPolicy::reject) == Overflow::accept);
static_assert(decide_overflow(1, 1, MailboxPolicy::reject) == Overflow::reject);
static_assert(decide_overflow(1, 1, MailboxPolicy::drop_oldest) == Overflow::evict_oldest_then_accept);

TEST_CASE("below capacity: accept under both policies") {
  for (std::size_t cap : {std::size_t{1}, std::size_t{2}, std::size_t{1024}}) {
    for (std::size_t q = 0; q < cap; ++q) {
      CHECK(decide_overflow(q, cap, MailboxPolicy::reject) == Overflow::accept);
      CHECK(decide_overflow(q, cap, MailboxPolicy::drop_oldest) == Overflow::accept);
    }
  }
}

TEST_CASE("at capacity: reject refuses, drop_oldest evicts then accepts") {
  CHECK(decide_overflow(1, 1, MailboxPolicy::reject) == Overflow::reject);
  CHECK(decide_overflow(1024, 1024, MailboxPolicy::reject) == Overflow::reject);
  CHECK(decide_overflow(1, 1, MailboxPolicy::drop_oldest) == Overflow::evict_oldest_then_accept);
  CHECK(decide_overflow(1024, 1024, MailboxPolicy::drop_oldest) == Overflow::evict_oldest_then_accept);
}

TEST_CASE("above capacity (never reached by a mailbox) is still treated as full") {
  CHECK(decide_overflow(5, 4, MailboxPolicy::reject) == Overflow::reject);
  CHECK(decide_overflow(5, 4, MailboxPolicy::drop_oldest) == Overflow::evict_oldest_then_accept);
}
