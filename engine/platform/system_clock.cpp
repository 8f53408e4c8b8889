// engine/platform/system_clock.cpp — the real clock (CLOCK_REALTIME + CLOCK_MONOTONIC).
#include <time.h>

#include <memory>

#include "phyx/clock.hpp"

namespace phyx {
namespace {

std::int64_t read_ns(clockid_t id) noexcept {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

class SystemClock final : public Clock {
 public:
  Instant now() const override {
    const std::int64_t mono = read_ns(CLOCK_MONOTONIC);
    return Instant{read_ns(CLOCK_REALTIME) / 1'000'000, mono / 1'000'000, mono};
  }
};

}  // namespace

std::shared_ptr<Clock> create_system_clock() { return std::make_shared<SystemClock>(); }

namespace detail {

bool is_system_clock(const Clock& clock) noexcept { return dynamic_cast<const SystemClock*>(&clock) != nullptr; }

std::int64_t system_mono_ns() noexcept { return read_ns(CLOCK_MONOTONIC); }

}  // namespace detail
}  // namespace phyx
