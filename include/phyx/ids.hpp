/// \file
/// phyx/ids.hpp — identifiers of processes and timers.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

namespace phyx {

/// Unique for the runtime's life and stable across restarts. 0 is never a process
/// (the runtime's root uses it in events it emits on its own behalf).
struct ProcessId {
  std::uint64_t value = 0;  ///< given in spawn order from 1, per runtime
  /// Compares the values: within one runtime, spawn order.
  friend auto operator<=>(ProcessId, ProcessId) = default;
  /// Writes the id as `#42`, as to_string does.
  friend std::ostream& operator<<(std::ostream& os, ProcessId id) { return os << '#' << id.value; }
};
/// The id as `#42`. Any thread; allocates the string.
inline std::string to_string(ProcessId id) { return "#" + std::to_string(id.value); }

/// Identifies one runtime timer (a scheduled message, an ask timeout, a restart wait).
/// 0 is never a timer.
struct TimerId {
  std::uint64_t value = 0;  ///< 0 = no timer (a schedule refused during a stop returns it)
  /// Compares the values.
  friend auto operator<=>(TimerId, TimerId) = default;
};

}  // namespace phyx

/// Hashes the value, so that a ProcessId can key a std::unordered_map.
template <>
struct std::hash<phyx::ProcessId> {
  /// Any thread; never allocates.
  std::size_t operator()(phyx::ProcessId id) const noexcept { return std::hash<std::uint64_t>{}(id.value); }
};
