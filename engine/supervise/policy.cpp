#include "supervise/policy.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace phyx::detail {

std::chrono::milliseconds backoff_delay(const Backoff& b, std::uint64_t attempt, double unit) noexcept {
  const double max = static_cast<double>(b.max.count());
  const double exponent = attempt == 0 ? 0.0 : static_cast<double>(attempt - 1);
  double base = static_cast<double>(b.initial.count()) * std::pow(b.factor, exponent);
  if (!std::isfinite(base) || base > max) base = max;
  // unit in [0,1) maps to a factor in [-1, 1): the delay moves by up to jitter% either way.
  double delay = base * (1.0 + (b.jitter / 100.0) * (2.0 * unit - 1.0));
  delay = std::clamp(delay, 0.0, max);
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(delay)));
}

std::chrono::milliseconds init_retry_delay(std::uint32_t failures) noexcept {
  if (failures == 0) return std::chrono::milliseconds(0);
  if (failures > 10) return std::chrono::milliseconds(1000);  // 2^10 = 1024 > 1000
  return std::chrono::milliseconds(std::min<std::int64_t>(std::int64_t{1} << (failures - 1), 1000));
}

bool restart_window_exhausted(std::vector<std::int64_t>& times_ms, const MaxRestarts& m, std::int64_t now_ms) {
  const std::int64_t oldest_kept = now_ms - m.within.count();  // inclusive window
  std::erase_if(times_ms, [&](std::int64_t t) { return t < oldest_kept; });
  return static_cast<std::int64_t>(times_ms.size()) >= m.count;
}

std::string supervision_error(const Supervision& s) {
  std::ostringstream out;
  if (s.backoff) {
    const Backoff& b = *s.backoff;
    if (b.initial.count() < 0) {
      out << "Supervision.backoff.initial must be >= 0ms (got " << b.initial.count() << "ms)";
    } else if (b.max < b.initial) {
      out << "Supervision.backoff.max must be >= backoff.initial (got max " << b.max.count() << "ms, initial "
          << b.initial.count() << "ms)";
    } else if (!(b.factor >= 1.0) || !std::isfinite(b.factor)) {
      out << "Supervision.backoff.factor must be >= 1 (got " << b.factor << ")";
    } else if (!(b.jitter >= 0.0 && b.jitter <= 100.0)) {
      out << "Supervision.backoff.jitter must be within [0, 100] percent (got " << b.jitter << ")";
    }
  }
  if (out.tellp() == 0 && s.max_restarts) {
    const MaxRestarts& m = *s.max_restarts;
    if (m.count < 0) {
      out << "Supervision.max_restarts.count must be >= 0 (got " << m.count << ")";
    } else if (m.within.count() <= 0) {
      out << "Supervision.max_restarts.within must be > 0ms (got " << m.within.count() << "ms)";
    }
  }
  return out.str();
}

std::vector<std::size_t> restart_set(Strategy strategy, std::size_t family_size, std::size_t crashed) {
  std::vector<std::size_t> set;
  switch (strategy) {
    case Strategy::none:
    case Strategy::one_for_one:
      set.push_back(crashed);
      break;
    case Strategy::one_for_all:
      for (std::size_t i = 0; i < family_size; ++i) set.push_back(i);
      break;
    case Strategy::rest_for_one:
      for (std::size_t i = crashed; i < family_size; ++i) set.push_back(i);
      break;
  }
  return set;
}

}  // namespace phyx::detail
