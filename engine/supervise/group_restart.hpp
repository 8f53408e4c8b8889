// engine/supervise/group_restart.hpp — one group restart in flight (one_for_all,
// rest_for_one): who restarts, in which order, and who coordinates. The protocol is in
// group_restart.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "phyx/detail/process_core.hpp"

namespace phyx::detail {

/// Immutable once made; shared by the batons (system messages) that carry it from member
/// to member, so it lives as long as the last of them.
struct GroupRestart {
  ProcessHandle coordinator;             // the process that crashed; holds the family's turn
  ProcessHandle parent;                  // the family's owner (empty: the root's family)
  RuntimeCore* runtime = nullptr;        // the root's turn lives there; kept by the coordinator
  std::vector<ProcessHandle> members;    // spawn order; the coordinator is one of them
  std::int64_t delay_ms = 0;             // the coordinator's backoff, decided at its crash
  std::int64_t attempt = 0;              // the coordinator's attempt (members report it too)
};

}  // namespace phyx::detail
