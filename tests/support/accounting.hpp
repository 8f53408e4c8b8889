// tests/support/accounting.hpp — the conservation laws of SPEC 8, checked after every
// concurrent test: every message handled, dropped, discarded or refused exactly once.
#pragma once

#include <doctest/doctest.h>

#include <phyx/phyx.hpp>

namespace phyx_test {

inline void check_laws(const phyx::Stats& s) {
  INFO("sent=" << s.sent << " accepted=" << s.accepted << " refused_full=" << s.refused_full
               << " refused_not_running=" << s.refused_not_running << " handled=" << s.handled
               << " crashed=" << s.crashed << " dropped_oldest=" << s.dropped_oldest << " discarded=" << s.discarded
               << " queued=" << s.queued);
  CHECK(s.sent == s.accepted + s.refused_full + s.refused_not_running);
  CHECK(s.accepted == s.handled + s.crashed + s.dropped_oldest + s.discarded + s.queued);
}

inline void check_laws(const phyx::Runtime& rt) { check_laws(rt.stats()); }

}  // namespace phyx_test
