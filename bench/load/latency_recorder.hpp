// bench/load/latency_recorder.hpp — where `phyx-bench load` collects each request's outcome
// and latency from whatever thread completes it (a worker running a handler or an ask's
// continuation, the timer thread for a timeout, the driver for a refused ask).
//
// Protocol:
//  1. A completing thread picks a stripe by hashing its thread id, and marks the request
//     done in the completion bitmap (a fetch_or: the first completion of a request sees
//     its bit clear, a second one sees it set and is counted as a duplicate).
//  2. Under the stripe's mutex it records the latency into the stripe's histogram and
//     counts the outcome. The histogram holds the completions since the last collect.
//  3. The reporter (once a second, and at the end) calls collect(): stripe by stripe,
//     under its mutex, it merges the stripe's histogram and tally into its own and
//     resets the stripe. The reporter keeps the running total by merging each collect.
//  4. tally() sums the stripes' cumulative tallies under their mutexes (cheap: no
//     histogram), for the end-of-run wait on outstanding requests.
// Invariants: every completion lands in exactly one stripe's histogram and tally, and is
// moved to the reporter exactly once (collect takes and resets under the same mutex);
// a request's first completion counts in an outcome, any later one only in `duplicates`.
// The mutexes give the happens-before between recording threads and the reporter.
// Rejected: thread_local histograms (a global in disguise, and a thread may outlive a run);
// one mutex for all (the two workers and the timer thread would contend on every
// completion); an atomic counter per slot (a lock prefix per record and no consistent
// snapshot); a lock-free per-thread registration (more code than 8 mostly uncontended
// mutexes; contention here is two threads hashing to one stripe, which only costs time).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <phyx/histogram.hpp>
#include <thread>

namespace phyx_bench::load {

enum class Outcome : unsigned { completed, timeout, refused, error };

/// Counts per outcome, plus completions seen twice for the same request (must stay 0).
struct Tally {
  std::uint64_t completed = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t refusals = 0;
  std::uint64_t errors = 0;
  std::uint64_t duplicates = 0;

  std::uint64_t finished() const noexcept { return completed + timeouts + refusals + errors; }
  void add(const Tally& o) noexcept {
    completed += o.completed;
    timeouts += o.timeouts;
    refusals += o.refusals;
    errors += o.errors;
    duplicates += o.duplicates;
  }
};

class LatencyRecorder {
 public:
  static constexpr std::size_t kStripes = 8;

  /// `planned_requests`: the request indices that may complete are [0, planned_requests).
  /// Allocates the stripes' histograms (8 x 264 KiB) and the bitmap (1 bit per request).
  explicit LatencyRecorder(std::uint64_t planned_requests)
      : done_bits_(std::make_unique<std::atomic<std::uint64_t>[]>((planned_requests + 63) / 64)),
        planned_(planned_requests) {}

  /// Any thread, any number at once. Steps 1-2. `record_latency`: whether `latency_ns`
  /// goes into the histogram (refusals and errors have no latency). Never allocates;
  /// blocks only on the stripe's mutex (held for one record, or one collect of a stripe).
  void complete(std::uint64_t request, Outcome outcome, std::uint64_t latency_ns,
                bool record_latency) {
    bool first = true;
    if (request < planned_) {
      const std::uint64_t bit = std::uint64_t{1} << (request % 64);
      // Relaxed: RMWs on one word are totally ordered, so exactly one sees the bit clear.
      std::atomic<std::uint64_t>& word = done_bits_[request / 64];
      const auto before = word.fetch_or(bit, std::memory_order_relaxed);  // pairs: other fetch_ors
      first = (before & bit) == 0;
    }
    Stripe& stripe = stripes_[std::hash<std::thread::id>{}(std::this_thread::get_id()) % kStripes];
    std::lock_guard<std::mutex> lock(stripe.mutex);
    Tally& t = stripe.since_collect;
    if (!first) {
      ++t.duplicates;
      ++stripe.cumulative.duplicates;
      return;
    }
    if (record_latency) stripe.latencies.record(latency_ns);
    count(t, outcome);
    count(stripe.cumulative, outcome);
  }

  /// The reporter. Step 3: moves every stripe's histogram and tally since the last
  /// collect into `latencies` and `tally` (merged into them). Allocates nothing.
  void collect(phyx::LatencyHistogram& latencies, Tally& tally) {
    for (Stripe& stripe : stripes_) {
      std::lock_guard<std::mutex> lock(stripe.mutex);
      latencies.merge(stripe.latencies);
      stripe.latencies.reset();
      tally.add(stripe.since_collect);
      stripe.since_collect = Tally{};
    }
  }

  /// Any thread. Step 4: the cumulative tally of every completion so far.
  Tally tally() {
    Tally sum;
    for (Stripe& stripe : stripes_) {
      std::lock_guard<std::mutex> lock(stripe.mutex);
      sum.add(stripe.cumulative);
    }
    return sum;
  }

 private:
  static void count(Tally& t, Outcome o) noexcept {
    switch (o) {
      case Outcome::completed:
        ++t.completed;
        break;
      case Outcome::timeout:
        ++t.timeouts;
        break;
      case Outcome::refused:
        ++t.refusals;
        break;
      case Outcome::error:
        ++t.errors;
        break;
    }
  }

  struct alignas(64) Stripe {
    std::mutex mutex;
    phyx::LatencyHistogram latencies;  // since the last collect
    Tally since_collect;
    Tally cumulative;
  };

  std::array<Stripe, kStripes> stripes_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> done_bits_;
  std::uint64_t planned_;
};

}  // namespace phyx_bench::load
