// phyx/supervision.hpp — restart strategies (SPEC section 6).
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace phyx {

enum class Strategy { none, one_for_one, one_for_all, rest_for_one };
std::string_view to_string(Strategy s) noexcept;

/// The n-th restart waits min(initial * factor^(n-1), max), then +/- jitter percent,
/// clamped to [0, max].
struct Backoff {
  std::chrono::milliseconds initial{0};
  std::chrono::milliseconds max{0};
  double factor = 2.0;
  double jitter = 0;  // percent, in [0, 100]
};

/// Give up when `count` restarts already happened within the last `within` (inclusive).
struct MaxRestarts {
  int count = 0;
  std::chrono::milliseconds within{0};
};

struct Supervision {
  Strategy type = Strategy::one_for_one;
  std::optional<Backoff> backoff;           // nullopt = restart at once
  std::optional<MaxRestarts> max_restarts;  // nullopt = no limit
};

}  // namespace phyx
