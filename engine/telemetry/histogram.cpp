// engine/telemetry/histogram.cpp — LatencyHistogram's slot arithmetic, merge and percentile
// walk (include/phyx/histogram.hpp holds the layout and the O(1) record path).
#include "phyx/histogram.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace phyx {

LatencyHistogram::LatencyHistogram() : counts_(std::make_unique<std::uint64_t[]>(kSlots)) {
  // The layout of the header: the top value in range lands in the last slot.
  static_assert(bucket_of(kHighestTrackable) + 1 == kBuckets);
  static_assert(slot_of(kHighestTrackable) == kSlots - 1);
  static_assert(slot_of(kSubBucketCount) == kSubBucketCount);  // bucket 1 follows bucket 0
}

LatencyHistogram::LatencyHistogram(const LatencyHistogram& other)
    : counts_(std::make_unique_for_overwrite<std::uint64_t[]>(kSlots)) {
  *this = other;
}

LatencyHistogram& LatencyHistogram::operator=(const LatencyHistogram& other) {
  if (this == &other) return *this;
  // A moved-from histogram being assigned to gets its counters back (the only allocation).
  if (!counts_) counts_ = std::make_unique_for_overwrite<std::uint64_t[]>(kSlots);
  std::memcpy(counts_.get(), other.counts_.get(), kSlots * sizeof(std::uint64_t));
  count_ = other.count_;
  saturated_ = other.saturated_;
  min_ = other.min_;
  max_ = other.max_;
  sum_ns_ = other.sum_ns_;
  return *this;
}

void LatencyHistogram::merge(const LatencyHistogram& other) noexcept {
  if (other.count_ == 0) return;
  for (std::size_t slot = 0; slot < kSlots; ++slot) counts_[slot] += other.counts_[slot];
  count_ += other.count_;
  saturated_ += other.saturated_;
  sum_ns_ += other.sum_ns_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void LatencyHistogram::reset() noexcept {
  std::memset(counts_.get(), 0, kSlots * sizeof(std::uint64_t));
  count_ = 0;
  saturated_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
  sum_ns_ = 0;
}

std::uint64_t LatencyHistogram::lowest_in_slot(std::size_t slot) noexcept {
  if (slot < kSubBucketCount) return slot;  // bucket 0: one value per slot
  const unsigned bucket = static_cast<unsigned>(slot >> kSubBucketHalfMagnitude) - 1;
  const std::uint64_t sub_bucket =
      slot - (static_cast<std::size_t>(bucket) << kSubBucketHalfMagnitude);
  return sub_bucket << bucket;
}

std::uint64_t LatencyHistogram::highest_in_slot(std::size_t slot) noexcept {
  if (slot < kSubBucketCount) return slot;
  const unsigned bucket = static_cast<unsigned>(slot >> kSubBucketHalfMagnitude) - 1;
  return lowest_in_slot(slot) + (std::uint64_t{1} << bucket) - 1;
}

std::uint64_t LatencyHistogram::value_at_percentile(double p) const noexcept {
  if (count_ == 0) return 0;
  if (!(p > 0.0)) return min();  // also NaN
  if (p >= 100.0) return max();
  const double wanted = std::ceil(p / 100.0 * static_cast<double>(count_));
  const std::uint64_t rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(wanted));
  std::uint64_t seen = 0;
  for (std::size_t slot = 0; slot < kSlots; ++slot) {
    seen += counts_[slot];
    if (seen >= rank) return std::clamp(highest_in_slot(slot), min(), max());
  }
  return max();  // unreachable: the counts sum to count_
}

}  // namespace phyx
