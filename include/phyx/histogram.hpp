// phyx/histogram.hpp — LatencyHistogram: an HDR-style latency histogram in nanoseconds
// (SPEC 13: the load harness's percentiles; public so harnesses built on phyx can use it).
//
// Layout (the HdrHistogram scheme with 1 ns resolution and 3 significant digits):
//  - values below 2048 ns each have an exact slot (bucket 0, 2048 slots of width 1);
//  - bucket b >= 1 covers [1024 * 2^b, 2048 * 2^b) with 1024 linear sub-buckets of width
//    2^b, so a slot is never wider than 1/1024 of the smallest value it holds: every
//    reported percentile is within 0.098 % of the true one (and never below it);
//  - 32 buckets reach 2^42 - 1 ns (73 minutes), over the required hour. A larger value is
//    counted in the top slot and in saturated(), never dropped; min() and max() stay exact.
// Memory: 33,792 counters (264 KiB), allocated once by the constructor; record() never
// allocates, never blocks and touches one counter.
// Not thread-safe: one owner records; several threads each record into their own
// histogram and one thread merges them at the end (or under the owner's lock).
// Rejected: an atomic counter per slot (a lock prefix per record, and a snapshot is still
// not consistent across slots); a sorted sample or reservoir (unbounded memory, or a
// sampled tail that loses exactly the outliers a load test is run to find).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace phyx {

/// An HDR-style latency histogram in nanoseconds: 3 significant digits from 1 ns to 73
/// minutes in fixed memory (264 KiB, allocated by the constructor), mergeable. One owner
/// records (no lock, no allocation); threads keep one each and merge them.
class LatencyHistogram {
 public:
  /// The largest value kept in its own slot; larger ones are saturated.
  static constexpr std::uint64_t kHighestTrackable = (std::uint64_t{1} << 42) - 1;

  /// Any thread. Allocates the counters (264 KiB, zeroed); never blocks otherwise.
  LatencyHistogram();
  /// Any thread, with `other` not being written meanwhile. Allocates; copies the counts.
  LatencyHistogram(const LatencyHistogram& other);
  /// The owner, with `other` not being written meanwhile. Copies in place, no allocation.
  LatencyHistogram& operator=(const LatencyHistogram& other);
  /// The owner. Takes the counters; the moved-from histogram must only be destroyed or
  /// assigned to. Never allocates.
  LatencyHistogram(LatencyHistogram&&) noexcept = default;
  /// The owner. As the move constructor.
  LatencyHistogram& operator=(LatencyHistogram&&) noexcept = default;
  ~LatencyHistogram() = default;

  /// The owner only. Counts one value (ns). Never allocates, never blocks, O(1).
  void record(std::uint64_t value_ns) noexcept { record_n(value_ns, 1); }

  /// The owner only. Counts `n` occurrences of one value (ns); n == 0 changes nothing.
  /// Never allocates, never blocks, O(1).
  void record_n(std::uint64_t value_ns, std::uint64_t n) noexcept {
    if (n == 0) return;
    if (value_ns > kHighestTrackable) saturated_ += n;
    counts_[slot_of(value_ns < kHighestTrackable ? value_ns : kHighestTrackable)] += n;
    count_ += n;
    sum_ns_ += static_cast<double>(value_ns) * static_cast<double>(n);
    if (value_ns < min_) min_ = value_ns;
    if (value_ns > max_) max_ = value_ns;
  }

  /// The owner only, with `other` not being written meanwhile (merge per-thread
  /// histograms after their threads stopped, or under their owners' lock). Adds every
  /// count of `other`: the result equals recording both streams into one histogram.
  /// Never allocates, never blocks; O(slots).
  void merge(const LatencyHistogram& other) noexcept;

  /// The owner only. Back to empty; keeps the memory. Never allocates, never blocks.
  void reset() noexcept;

  /// Readers: the owner, or any thread the owner synchronised with. Never block, never
  /// allocate.
  std::uint64_t count() const noexcept { return count_; }
  /// Values above kHighestTrackable (counted in the top slot).
  std::uint64_t saturated() const noexcept { return saturated_; }
  /// The exact smallest value recorded; 0 when empty.
  std::uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }
  /// The exact largest value recorded (saturated values included, unclamped); 0 when empty.
  std::uint64_t max() const noexcept { return max_; }
  /// The mean of the exact values recorded (ns); 0 when empty.
  double mean() const noexcept { return count_ == 0 ? 0.0 : sum_ns_ / static_cast<double>(count_); }
  /// The value at percentile `p` (clamped to [0, 100]): the smallest recorded value v such
  /// that at least max(1, ceil(p / 100 * count())) values are <= v, reported as the top of
  /// its slot (so never below the true value, at most 0.098 % above it) and within
  /// [min(), max()]. p == 0 gives min(), p == 100 gives max(); 0 when empty.
  /// A reader (as above); never allocates, never blocks; O(slots), a walk of 264 KiB.
  std::uint64_t value_at_percentile(double p) const noexcept;

  /// Anyone, any time (a constant): the number of slots, for tests and memory accounting.
  static constexpr std::size_t slot_count() noexcept { return kSlots; }

 private:
  static constexpr unsigned kSubBucketHalfMagnitude = 10;                          // 1024
  static constexpr std::uint64_t kSubBucketCount = 2u << kSubBucketHalfMagnitude;  // 2048
  static constexpr std::uint64_t kSubBucketMask = kSubBucketCount - 1;
  static constexpr unsigned kBuckets = 32;  // bucket_of(kHighestTrackable) + 1
  static constexpr std::size_t kSlots = (kBuckets + 1) << kSubBucketHalfMagnitude;

  static constexpr unsigned bucket_of(std::uint64_t v) noexcept {
    return 64 - static_cast<unsigned>(std::countl_zero(v | kSubBucketMask)) -
           (kSubBucketHalfMagnitude + 1);
  }
  static constexpr std::size_t slot_of(std::uint64_t v) noexcept {
    const unsigned bucket = bucket_of(v);
    return (static_cast<std::size_t>(bucket) << kSubBucketHalfMagnitude) + (v >> bucket);
  }
  /// The smallest and largest values that land in `slot`.
  static std::uint64_t lowest_in_slot(std::size_t slot) noexcept;
  static std::uint64_t highest_in_slot(std::size_t slot) noexcept;

  std::unique_ptr<std::uint64_t[]> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t saturated_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
  double sum_ns_ = 0;
};

}  // namespace phyx
