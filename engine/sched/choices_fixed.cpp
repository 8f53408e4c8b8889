// engine/sched/choices_fixed.cpp — a normal build: no seeded choices (see choices.hpp).
#include "sched/choices.hpp"

namespace phyx::detail {

std::unique_ptr<SchedulingChoices> make_scheduling_choices(std::uint64_t) { return nullptr; }

}  // namespace phyx::detail
