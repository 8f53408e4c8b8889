// engine/sched/choices.hpp: the seeded scheduling choices of systematic mode. In a normal
// build there are none (the fixed rules apply); in a systematic build (-DPHYX_SYSTEMATIC=ON,
// the `systematic` preset) the same seed must give the same decisions, so a failure can be
// replayed from the seed the run printed.
#include <doctest/doctest.h>

#include <cstdlib>
#include <vector>

#include "sched/choices.hpp"

using phyx::detail::make_scheduling_choices;

namespace {

std::vector<unsigned> decisions(std::uint64_t seed) {
  auto c = make_scheduling_choices(seed);
  std::vector<unsigned> out;
  for (int i = 0; i < 64; ++i) {
    out.push_back(c->budget(128));
    out.push_back(c->first_source());
  }
  return out;
}

}  // namespace

TEST_CASE("choices: none in a normal build; seeded, replayable and bounded in a systematic build") {
  auto probe = make_scheduling_choices(7);
  if (probe == nullptr) {
    MESSAGE("normal build: the scheduler's fixed rules apply (no seeded choices)");
    return;
  }
  // PHYX_SEED, when set, overrides the seed passed in (that is how a run is replayed).
  const char* env = std::getenv("PHYX_SEED");
  const bool overridden = env != nullptr && *env != '\0';
  CHECK(probe->workers(8) == 1);  // systematic mode runs one worker
  const auto a = decisions(7);
  CHECK(a == decisions(7));  // same seed, same decisions
  if (!overridden) CHECK(a != decisions(8));
  for (std::size_t i = 0; i < a.size(); i += 2) {
    CHECK(a[i] >= 1);
    CHECK(a[i] <= 128);
    CHECK(a[i + 1] <= 2);
  }
  probe->yield_point();  // never blocks
}
