/// \file
/// phyx/supervision.hpp — restart strategies (SPEC section 6).
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace phyx {

/// What a crash restarts (SPEC 6). none: nothing; the process becomes `failed`.
/// one_for_one: the crashed process. one_for_all: it and all its siblings (same parent).
/// rest_for_one: it and the siblings spawned after it.
enum class Strategy { none, one_for_one, one_for_all, rest_for_one };
/// "none", "one_for_one", "one_for_all" or "rest_for_one". Any thread; never allocates.
std::string_view to_string(Strategy s) noexcept;

/// The n-th restart waits min(initial * factor^(n-1), max), then +/- jitter percent,
/// clamped to [0, max].
struct Backoff {
  std::chrono::milliseconds initial{0};  ///< the first restart's wait, >= 0
  std::chrono::milliseconds max{0};      ///< the longest wait, >= initial
  double factor = 2.0;                   ///< growth per restart, >= 1
  double jitter = 0;  ///< percent, in [0, 100]
};

/// Give up when `count` restarts already happened within the last `within` (inclusive).
/// Then the process becomes `failed` and its parent crashes in turn (SPEC 6; under the
/// root nothing escalates).
struct MaxRestarts {
  int count = 0;                        ///< restarts allowed in the window, >= 0 (0 = never restart)
  std::chrono::milliseconds within{0};  ///< the sliding window, on the monotonic clock, > 0
};

/// How a process is restarted after a crash (ProcessSpec::supervision). The default is
/// one-for-one, immediate, unlimited. Invalid values make spawn throw SpecError.
struct Supervision {
  Strategy type = Strategy::one_for_one;    ///< what a crash restarts
  std::optional<Backoff> backoff;           ///< nullopt = restart at once
  std::optional<MaxRestarts> max_restarts;  ///< nullopt = no limit
};

}  // namespace phyx
