// engine/sched/choices_systematic.cpp — the seeded choices of systematic mode (choices.hpp).
// Compiled instead of choices_fixed.cpp when -DPHYX_SYSTEMATIC=ON.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "sched/choices.hpp"

namespace phyx::detail {
namespace {

std::uint64_t mix(std::uint64_t z) noexcept {  // splitmix64's finaliser
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

class SeededChoices final : public SchedulingChoices {
 public:
  explicit SeededChoices(std::uint64_t seed) : seed_(seed) {
    std::fprintf(stderr, "phyx systematic: seed=%llu (PHYX_SEED=%llu replays it)\n",
                 static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  }

  unsigned workers(unsigned) override { return 1; }

  unsigned budget(unsigned normal) override {
    // Mostly tiny turns (where interleavings hide), sometimes the full budget.
    const std::uint64_t r = worker_draw();
    return (r & 3) == 0 ? normal : 1 + static_cast<unsigned>((r >> 2) % 4);
  }

  unsigned first_source() override { return static_cast<unsigned>(worker_draw() % 3); }

  void yield_point() noexcept override {
    // relaxed: a counter of draws; each draw's value depends only on (seed, index).
    const std::uint64_t n = shared_draws_.fetch_add(1, std::memory_order_relaxed);
    if (mix(seed_ ^ mix(n + 0x9E3779B97F4A7C15ULL)) % 4 == 0) std::this_thread::yield();
  }

  std::uint64_t seed() const noexcept override { return seed_; }

 private:
  std::uint64_t worker_draw() noexcept {  // the one worker only: a plain stream
    return mix(seed_ + 0x9E3779B97F4A7C15ULL * ++worker_draws_);
  }

  const std::uint64_t seed_;
  std::uint64_t worker_draws_ = 0;
  std::atomic<std::uint64_t> shared_draws_{0};
};

}  // namespace

std::unique_ptr<SchedulingChoices> make_scheduling_choices(std::uint64_t seed) {
  if (const char* env = std::getenv("PHYX_SEED"); env != nullptr && *env != '\0') {
    seed = std::strtoull(env, nullptr, 10);
  }
  return std::make_unique<SeededChoices>(seed);
}

}  // namespace phyx::detail
