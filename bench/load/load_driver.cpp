// bench/load/load_driver.cpp — `phyx-bench load`: an open-loop constant-rate driver
// (SPEC 13, issue 9). Plain std::threads outside the runtime send asks (or plain messages)
// to N target processes at the intended times of bench/load/open_loop.hpp; each request's
// latency is measured from its intended time into per-stripe histograms
// (bench/load/latency_recorder.hpp), merged once a second for a progress line and at the end.
//
// Run, in order:
//  1. Spawn the targets. Run a warm-up phase (steps 2-4 at the same rate, default 1 s, its
//     latencies not measured but its counts checked), then the measured phase. A phase's
//     schedule starts 20 ms after it is computed (the driver threads start first).
//  2. Each driver thread owns requests k, k + drivers, ...: it sends every one already due
//     (a driver that is behind catches up at once, and those latencies show the delay),
//     then waits for the next one: sleeps until `spin` before it, then yields until due.
//     At the end of the duration it sends its last requests if it is at most 1 ms behind,
//     else it stops and the requests it did not send are reported "unsent".
//  3. An ask's completion runs its Future continuation (on a worker, the timer thread, or
//     the driver when refused at once), which records the latency and the outcome; in send
//     mode the target's handler records the latency from the timestamp in the message.
//  4. The main thread reports once a second (collecting the stripes), joins the drivers,
//     waits (bounded: the ask timeout + 2 s) for the outstanding requests, reports any that
//     are still out, shuts the runtime down, checks the SPEC 8 laws on its counters and
//     prints the result.
//  5. With --metrics-port, a MetricsServer (bench/load/metrics_server.hpp) answers
//     `GET /metrics` from step 1 until the result is printed: the runtime's stats() through
//     phyx::to_prometheus, plus the figures of the last progress report (LiveLoad, under
//     its mutex) as phyx_load_* metrics.
// Invariants: each sent request finishes exactly once (completed, timeout, refused or error):
// the recorder's bitmap counts a second completion as a duplicate, and
// sent - finished is reported as outstanding. Latency is never measured from the actual
// send time. Timeouts are recorded in the histogram too (their latency is the time until the
// timeout fired, a lower bound): dropping them would hide exactly the tail an overloaded run
// produces. Refusals and errors have no latency; they are counted.
// Rejected: a closed loop (one request in flight per connection: a stall hides the requests
// that would have been sent meanwhile, i.e. coordinated omission); sleeping between every
// request (the kernel's timer slack, 50 us, is ten periods at 200k/s; with the slack cut to
// 1 us by prctl, 200k sleeps a second made the driver itself fall behind: p50 1.8 ms); two
// drivers on 2 cores (p99 1.2 and 2.6 ms against 0.06-0.27 ms: three busy threads, two cores);
// blocking the driver on Future::get().
#include "load/load_driver.hpp"

#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <phyx/phyx.hpp>
#include <phyx/prometheus.hpp>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "load/latency_recorder.hpp"
#include "load/load_options.hpp"
#include "load/metrics_server.hpp"
#include "load/open_loop.hpp"
#include "workloads/workload.hpp"

namespace phyx_bench::load {
namespace {

using phyx::LatencyHistogram;

constexpr std::int64_t kSecond = 1'000'000'000;
/// How late a driver may be at the end of the duration and still send its last requests.
constexpr std::int64_t kCatchUpAfterEnd = 1'000'000;
/// The most requests a driver sends between two looks at the clock.
constexpr std::uint64_t kMaxBatch = 1024;

// --- the target processes --------------------------------------------------------------

struct Ping {  // ask mode: answered at once
  std::uint64_t request;
  phyx::Reply<std::uint64_t> reply;
};
struct Stamp {  // send mode: the target records the latency itself
  std::uint64_t request;
  std::int64_t intended_ns;
  LatencyRecorder* recorder;  // the phase's (warm-up or measured); outlives the runtime
};
using TargetMsg = std::variant<Ping, Stamp>;

phyx::SharedSpec<TargetMsg, int> target_spec(std::uint64_t max_inbox) {
  return phyx::share(phyx::ProcessSpec<TargetMsg, int>{
      .name = "load-target",
      .init = [](const phyx::Empty&) { return 0; },
      .handle =
          [](int&, TargetMsg& msg, auto&) {
            if (auto* ping = std::get_if<Ping>(&msg)) {
              ping->reply(ping->request);
              return;
            }
            const Stamp& stamp = std::get<Stamp>(msg);
            stamp.recorder->complete(stamp.request, Outcome::completed,
                                     latency_from_intended(stamp.intended_ns, now_ns()), true);
          },
      .max_inbox = static_cast<std::size_t>(max_inbox),
  });
}

Outcome classify(const phyx::Result<std::uint64_t>& result) {
  if (result.ok()) return Outcome::completed;
  try {
    std::rethrow_exception(result.error());
  } catch (const phyx::TimeoutError&) {
    return Outcome::timeout;
  } catch (const phyx::ProcessError&) {  // "Failed to send ask message": the mailbox refused it
    return Outcome::refused;
  } catch (...) {
    return Outcome::error;
  }
}

void sleep_until_ns(std::int64_t deadline_ns) {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(deadline_ns / kSecond);
  ts.tv_nsec = static_cast<long>(deadline_ns % kSecond);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) != 0) {
  }
}

// --- live metrics (step 5) --------------------------------------------------------------

/// The figures of the last progress report, for the metrics endpoint: written by the main
/// thread once a second, read by the metrics server's thread on a scrape. A mutex rather
/// than atomics: a scrape sees one report's figures together, and both sides touch it at
/// most a few times a second.
struct LiveLoad {
  std::mutex mutex;
  double elapsed_s = 0;
  double sent_per_s = 0;       // in the last report's interval
  double completed_per_s = 0;  // in the last report's interval: the achieved rate
  std::uint64_t sent = 0;
  Tally tally;               // the measured phase so far
  std::uint64_t p99_ns = 0;  // so far
  std::uint64_t p99_interval_ns = 0;
};

/// One gauge or counter of the phyx_load_* family in the text format 0.0.4.
void append_metric(std::string& out, const char* name, const char* type, const char* help,
                   double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.12g", value);
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
         name + " " + buf + "\n";
}

/// The body of a scrape: the runtime's counters, then the load run's own figures.
std::string metrics_text(const phyx::Runtime& rt, const LoadOptions& options, LiveLoad& live) {
  std::string out = phyx::to_prometheus(rt.stats());
  const std::lock_guard lock(live.mutex);
  const auto d = [](std::uint64_t v) { return static_cast<double>(v); };
  append_metric(out, "phyx_load_requested_rate", "gauge",
                "Requests per second the load run was asked for.", d(options.rate));
  append_metric(out, "phyx_load_sent_rate", "gauge",
                "Requests sent per second in the last progress interval.", live.sent_per_s);
  append_metric(out, "phyx_load_achieved_rate", "gauge",
                "Requests completed per second in the last progress interval.",
                live.completed_per_s);
  append_metric(out, "phyx_load_elapsed_seconds", "gauge",
                "Time into the measured phase at the last progress report.", live.elapsed_s);
  append_metric(out, "phyx_load_requests_sent_total", "counter",
                "Requests sent in the measured phase, as of the last progress report.",
                d(live.sent));
  append_metric(out, "phyx_load_requests_completed_total", "counter",
                "Requests completed in the measured phase, as of the last progress report.",
                d(live.tally.completed));
  append_metric(out, "phyx_load_timeouts_total", "counter",
                "Asks that timed out in the measured phase, as of the last progress report.",
                d(live.tally.timeouts));
  append_metric(out, "phyx_load_refusals_total", "counter",
                "Requests refused by a full mailbox, as of the last progress report.",
                d(live.tally.refusals));
  append_metric(out, "phyx_load_errors_total", "counter",
                "Requests failed otherwise, as of the last progress report.", d(live.tally.errors));
  append_metric(out, "phyx_load_latency_p99_seconds", "gauge",
                "p99 latency from the intended send times, measured phase so far.",
                d(live.p99_ns) / 1e9);
  append_metric(out, "phyx_load_latency_p99_interval_seconds", "gauge",
                "p99 latency from the intended send times in the last progress interval.",
                d(live.p99_interval_ns) / 1e9);
  return out;
}

// --- formatting ----------------------------------------------------------------------

/// One JSON object on one line; keys are fixed ASCII names (never escaped).
class JsonWriter {
 public:
  JsonWriter() : text_("{") {}
  JsonWriter& field(const char* key, std::uint64_t v) { return raw(key, std::to_string(v)); }
  JsonWriter& field(const char* key, double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return raw(key, buf);
  }
  JsonWriter& field(const char* key, bool v) { return raw(key, v ? "true" : "false"); }
  JsonWriter& field(const char* key, const char* v) {
    return raw(key, std::string("\"") + v + "\"");
  }
  JsonWriter& null_field(const char* key) { return raw(key, "null"); }
  void begin_object(const char* key) { open(key, '{'); }
  void end_object() { close('}'); }
  void begin_array(const char* key) { open(key, '['); }
  void end_array() { close(']'); }
  /// An element [p, v] of the current array.
  void pair(double p, std::uint64_t v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s[%g, %llu]", first_ ? "" : ", ", p,
                  static_cast<unsigned long long>(v));
    text_ += buf;
    first_ = false;
  }
  std::string finish() { return text_ + "}"; }

 private:
  JsonWriter& raw(const char* key, const std::string& value) {
    text_ += (first_ ? "\"" : ", \"") + std::string(key) + "\": " + value;
    first_ = false;
    return *this;
  }
  void open(const char* key, char bracket) {
    raw(key, std::string(1, bracket));
    first_ = true;
  }
  void close(char bracket) {
    text_ += bracket;
    first_ = false;
  }
  std::string text_;
  bool first_ = true;
};

std::string format_ns(double ns) {
  char buf[32];
  if (ns < 1e3) {
    std::snprintf(buf, sizeof buf, "%.0fns", ns);
  } else if (ns < 1e6) {
    std::snprintf(buf, sizeof buf, "%.1fus", ns / 1e3);
  } else if (ns < 1e9) {
    std::snprintf(buf, sizeof buf, "%.2fms", ns / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%.2fs", ns / 1e9);
  }
  return buf;
}

const char* mode_name(Mode m) {
  return m == Mode::ask ? "ask" : "send";
}

void usage() {
  std::fprintf(
      stderr,
      "usage: phyx-bench load [--rate R] [--duration D] [--processes N] [--mode ask|send]\n"
      "                       [--workers N] [--drivers N] [--timeout D] [--slo-p99 D]\n"
      "                       [--warmup D] [--inbox N] [--spin D] [--metrics-port P] [--json]\n"
      "  --rate R        requests per second (default 200000; 2e5 works)\n"
      "  --duration D    measured send phase: 10s, 500ms, 2m (default 10s)\n"
      "  --warmup D      the same load first, not measured (default 1s; 0 = none)\n"
      "  --processes N   target processes, requests spread round-robin (default 1000)\n"
      "  --mode ask      each request is an ask answered at once (default); latency at the\n"
      "                  asker's continuation\n"
      "  --mode send     each request is a message carrying its intended time; the target\n"
      "                  records the latency\n"
      "  --workers N     runtime worker threads (default: hardware threads)\n"
      "  --drivers N     driver threads sending the requests (default 1)\n"
      "  --timeout D     ask timeout (default 1s, at least 1ms)\n"
      "  --slo-p99 D     exit 1 when p99 is above D (e.g. 1ms)\n"
      "  --inbox N       the targets' max_inbox (default 1024)\n"
      "  --spin D        a driver yields instead of sleeping when the next request is due\n"
      "                  within D (default 50us; 0 = always sleep)\n"
      "  --metrics-port P  serve Prometheus metrics at http://127.0.0.1:P/metrics during\n"
      "                  the run (default 0: off)\n"
      "  --json          progress and the result as JSON lines on stdout\n"
      "Latency is measured from each request's intended send time (no coordinated omission).\n");
}

/// Parses argv[1..] into `o`; prints what is wrong and returns false on a bad argument.
bool parse(int argc, char** argv, LoadOptions& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--json") {
      o.json = true;
      continue;
    }
    if (flag == "--help" || flag == "-h") {
      usage();
      std::exit(0);
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "phyx-bench load: %s needs a value\n", flag.c_str());
      return false;
    }
    const std::string value = argv[++i];
    auto bad = [&] {
      std::fprintf(stderr, "phyx-bench load: bad value for %s: '%s'\n", flag.c_str(),
                   value.c_str());
      return false;
    };
    auto count = [&](auto& field, std::uint64_t max) {
      const auto n = parse_count(value);
      if (!n || *n > max) return bad();
      field = static_cast<std::remove_reference_t<decltype(field)>>(*n);
      return true;
    };
    auto duration = [&](std::int64_t& field, std::int64_t min) {
      const auto d = parse_duration_ns(value);
      if (!d || *d < min) return bad();
      field = *d;
      return true;
    };
    bool ok;
    if (flag == "--rate") {
      ok = count(o.rate, OpenLoopSchedule::kMaxRate);
    } else if (flag == "--duration") {
      ok = duration(o.duration_ns, 1'000'000);
    } else if (flag == "--warmup") {
      ok = duration(o.warmup_ns, 0);
    } else if (flag == "--processes") {
      ok = count(o.processes, 100'000'000);
    } else if (flag == "--workers") {
      ok = count(o.workers, 1024);
    } else if (flag == "--drivers") {
      ok = count(o.drivers, 64);
    } else if (flag == "--inbox") {
      ok = count(o.max_inbox, std::uint64_t{1} << 40);
    } else if (flag == "--timeout") {
      ok = duration(o.timeout_ns, 1'000'000);
    } else if (flag == "--metrics-port") {
      ok = value == "0" ? (o.metrics_port = 0, true) : count(o.metrics_port, 65535);
    } else if (flag == "--spin") {
      ok = duration(o.spin_ns, 0);
    } else if (flag == "--slo-p99") {
      std::int64_t slo = 0;
      ok = duration(slo, 0);
      o.slo_p99_ns = slo;
    } else if (flag == "--mode") {
      ok = value == "ask" || value == "send";
      if (ok) o.mode = value == "ask" ? Mode::ask : Mode::send;
      if (!ok) bad();
    } else {
      std::fprintf(stderr, "phyx-bench load: unknown flag %s\n", flag.c_str());
      ok = false;
    }
    if (!ok) return false;
  }
  return true;
}

// --- one driver thread ---------------------------------------------------------------

struct DriverCounters {
  std::atomic<std::uint64_t> sent{0};
};

struct Plan {
  const LoadOptions& options;
  const OpenLoopSchedule& schedule;
  std::uint64_t planned;
  std::int64_t send_deadline_ns;
  const std::vector<phyx::ProcessRef<TargetMsg>>& targets;
  LatencyRecorder& recorder;
};

/// Step 2 for the requests first, first + stride, ...
void drive(const Plan& plan, std::uint64_t first, std::uint64_t stride, DriverCounters& counters) {
  const auto timeout =
      std::chrono::milliseconds(std::max<std::int64_t>(1, plan.options.timeout_ns / 1'000'000));
  const std::uint64_t processes = plan.targets.size();
  std::uint64_t sent = 0;
  auto send_one = [&](std::uint64_t request, std::int64_t intended_ns) {
    const phyx::ProcessRef<TargetMsg>& target = plan.targets[request % processes];
    if (plan.options.mode == Mode::ask) {
      auto future = target.ask<std::uint64_t>(
          [request](phyx::Reply<std::uint64_t> reply) {
            return TargetMsg{Ping{request, std::move(reply)}};
          },
          timeout);
      LatencyRecorder* recorder = &plan.recorder;
      future.then([recorder, request, intended_ns](phyx::Result<std::uint64_t> result) {
        const std::int64_t done_ns = now_ns();
        const Outcome outcome = classify(result);
        recorder->complete(request, outcome, latency_from_intended(intended_ns, done_ns),
                           outcome == Outcome::completed || outcome == Outcome::timeout);
      });
    } else if (!target.send(TargetMsg{Stamp{request, intended_ns, &plan.recorder}})) {
      plan.recorder.complete(request, Outcome::refused, 0, false);
    }
    ++sent;
  };
  std::uint64_t next = first;
  while (next < plan.planned) {
    const std::int64_t now = now_ns();
    // Past the end, a driver that is on time (at most kCatchUpAfterEnd behind) sends the
    // last requests, which are all due; one that fell further behind stops, and the rest
    // are reported unsent.
    if (now >= plan.send_deadline_ns && plan.schedule.intended_ns(next) < now - kCatchUpAfterEnd)
      break;
    // At most kMaxBatch requests per pass: a driver far behind still looks at the clock
    // (and the end of the run) every few hundred microseconds.
    const std::uint64_t pass_end = std::min(plan.planned, next + stride * kMaxBatch);
    next = send_due(plan.schedule, next, stride, pass_end, now, send_one);
    // Relaxed: a tally for the progress line; it publishes nothing else.
    counters.sent.store(sent, std::memory_order_relaxed);  // pairs with the load in sent_so_far()
    if (next >= plan.planned) break;
    if (next >= pass_end) continue;  // the batch was cut: more may be due already
    const std::int64_t due = plan.schedule.intended_ns(next);
    const std::int64_t gap = due - now_ns();
    if (gap > plan.options.spin_ns) {
      sleep_until_ns(due - plan.options.spin_ns);
    } else if (gap > 0) {
      std::this_thread::yield();
    }
  }
}

// --- one phase: warm-up or measurement ------------------------------------------------

struct PhaseResult {
  std::uint64_t planned = 0;
  std::uint64_t sent = 0;
  std::uint64_t outstanding = 0;  // after the bounded wait
  double wait_s = 0;              // how long the wait for the outstanding requests took
  LatencyHistogram latencies;     // everything collected so far
  Tally tally;
};

void print_progress(const LoadOptions& options, double elapsed, std::uint64_t sent,
                    double send_rate, double done_rate, std::uint64_t p99,
                    std::uint64_t p99_interval, const Tally& t) {
  const auto u = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
  if (options.json) {
    std::printf(
        "{\"type\": \"progress\", \"elapsed_s\": %.3f, \"sent\": %llu, \"sent_per_s\": %.0f, "
        "\"completed_per_s\": %.0f, \"p99_ns\": %llu, \"p99_this_interval_ns\": %llu, "
        "\"timeouts\": %llu, \"refusals\": %llu, \"errors\": %llu}\n",
        elapsed, u(sent), send_rate, done_rate, u(p99), u(p99_interval), u(t.timeouts),
        u(t.refusals), u(t.errors));
    std::fflush(stdout);
  } else {
    std::fprintf(stderr,
                 "%6.1fs  sent %9.0f/s  completed %9.0f/s  p99 so far %9s (this second %9s)  "
                 "timeouts %llu  refusals %llu  errors %llu\n",
                 elapsed, send_rate, done_rate, format_ns(static_cast<double>(p99)).c_str(),
                 format_ns(static_cast<double>(p99_interval)).c_str(), u(t.timeouts), u(t.refusals),
                 u(t.errors));
  }
}

/// Steps 2-4 for one phase of `duration_ns`: drives, reports once a second when
/// `report_progress`, joins the drivers and waits (bounded) for the outstanding requests.
PhaseResult run_phase(const LoadOptions& options, std::int64_t duration_ns,
                      const std::vector<phyx::ProcessRef<TargetMsg>>& targets,
                      LatencyRecorder& recorder, bool report_progress, LiveLoad& live) {
  PhaseResult result;
  result.planned = OpenLoopSchedule(options.rate, 0).planned(duration_ns);
  const std::int64_t start_ns = now_ns() + 20'000'000;  // the drivers start first
  const OpenLoopSchedule schedule(options.rate, start_ns);
  const std::int64_t send_deadline_ns = start_ns + duration_ns;
  const Plan plan{options, schedule, result.planned, send_deadline_ns, targets, recorder};
  std::vector<std::unique_ptr<DriverCounters>> driver_counters;
  std::vector<std::thread> drivers;
  for (unsigned d = 0; d < options.drivers; ++d) {
    driver_counters.push_back(std::make_unique<DriverCounters>());
    drivers.emplace_back(drive, std::cref(plan), d, options.drivers,
                         std::ref(*driver_counters.back()));
  }
  auto sent_so_far = [&] {
    std::uint64_t sum = 0;
    for (const auto& c : driver_counters) {
      sum += c->sent.load(std::memory_order_relaxed);  // pairs with the store in drive()
    }
    return sum;
  };

  // Step 4: progress once a second.
  LatencyHistogram interval;
  std::uint64_t last_sent = 0;
  std::int64_t last_report_ns = start_ns;
  std::int64_t next_report_ns = start_ns + kSecond;
  auto report_if_due = [&] {
    const std::int64_t now = now_ns();
    if (!report_progress || now < next_report_ns) return;
    interval.reset();
    Tally interval_tally;
    recorder.collect(interval, interval_tally);
    result.latencies.merge(interval);
    result.tally.add(interval_tally);
    const std::uint64_t sent = sent_so_far();
    const double secs = static_cast<double>(now - last_report_ns) / 1e9;
    const double elapsed_s = static_cast<double>(now - start_ns) / 1e9;
    const double sent_per_s = static_cast<double>(sent - last_sent) / secs;
    const double completed_per_s = static_cast<double>(interval_tally.completed) / secs;
    const std::uint64_t p99 = result.latencies.value_at_percentile(99);
    const std::uint64_t p99_interval = interval.value_at_percentile(99);
    print_progress(options, elapsed_s, sent, sent_per_s, completed_per_s, p99, p99_interval,
                   result.tally);
    {
      const std::lock_guard lock(live.mutex);
      live.elapsed_s = elapsed_s;
      live.sent_per_s = sent_per_s;
      live.completed_per_s = completed_per_s;
      live.sent = sent;
      live.tally = result.tally;
      live.p99_ns = p99;
      live.p99_interval_ns = p99_interval;
    }
    last_sent = sent;
    last_report_ns = now;
    next_report_ns += kSecond;
  };
  while (now_ns() < send_deadline_ns) {
    sleep_until_ns(std::min(next_report_ns, send_deadline_ns));
    report_if_due();
  }
  for (auto& t : drivers) t.join();
  result.sent = sent_so_far();

  // Bounded wait for the outstanding requests (every ask ends by its timeout).
  const std::int64_t sending_ended_ns = now_ns();
  const std::int64_t wait_deadline_ns = sending_ended_ns + options.timeout_ns + 2 * kSecond;
  while (recorder.tally().finished() < result.sent && now_ns() < wait_deadline_ns) {
    sleep_until_ns(now_ns() + 1'000'000);  // a poll with a bound, not a synchronisation
    report_if_due();
  }
  result.wait_s = static_cast<double>(now_ns() - sending_ended_ns) / 1e9;
  result.outstanding = result.sent - std::min(result.sent, recorder.tally().finished());
  interval.reset();
  Tally last;
  recorder.collect(interval, last);
  result.latencies.merge(interval);
  result.tally.add(last);
  return result;
}

}  // namespace

int run_load(int argc, char** argv) {
  LoadOptions options;
  if (!parse(argc, argv, options)) {
    usage();
    return 2;
  }
  const std::uint64_t planned = OpenLoopSchedule(options.rate, 0).planned(options.duration_ns);
  const std::uint64_t warmup_planned = OpenLoopSchedule(options.rate, 0).planned(options.warmup_ns);
  if (planned > (std::uint64_t{1} << 34) || warmup_planned > (std::uint64_t{1} << 34)) {
    std::fprintf(stderr,
                 "phyx-bench load: rate x duration = %llu requests is more than this harness "
                 "tracks (2^34)\n",
                 static_cast<unsigned long long>(std::max(planned, warmup_planned)));
    return 2;
  }
  const unsigned workers =
      options.workers != 0 ? options.workers : std::thread::hardware_concurrency();

  // Step 1. The recorders outlive the runtime: continuations of asks failed by the shutdown
  // record too.
  LatencyRecorder warmup_recorder(warmup_planned);
  LatencyRecorder recorder(planned);
  phyx::Runtime rt({.workers = workers});
  std::vector<phyx::ProcessRef<TargetMsg>> targets;
  targets.reserve(options.processes);
  {
    const auto spec = target_spec(options.max_inbox);
    for (std::uint64_t i = 0; i < options.processes; ++i) targets.push_back(rt.spawn(spec));
  }
  // Step 5. Declared after the runtime: destroyed (joined) before it.
  LiveLoad live;
  std::optional<MetricsServer> metrics;
  if (options.metrics_port != 0) {
    try {
      metrics.emplace(options.metrics_port,
                      [&rt, &options, &live] { return metrics_text(rt, options, live); });
    } catch (const std::exception& e) {
      std::fprintf(stderr, "phyx-bench load: --metrics-port %u: %s\n",
                   static_cast<unsigned>(options.metrics_port), e.what());
      return 2;
    }
    std::fprintf(stderr, "phyx-bench load: metrics at http://127.0.0.1:%u/metrics\n",
                 static_cast<unsigned>(metrics->port()));
  }

  if (!options.json) {
    std::printf(
        "phyx-bench load: mode %s, rate %llu/s for %s to %llu processes, %u workers, %u "
        "driver%s%s\n",
        mode_name(options.mode), static_cast<unsigned long long>(options.rate),
        format_ns(static_cast<double>(options.duration_ns)).c_str(),
        static_cast<unsigned long long>(options.processes), workers, options.drivers,
        options.drivers == 1 ? "" : "s",
        options.mode == Mode::ask
            ? (", ask timeout " + format_ns(static_cast<double>(options.timeout_ns))).c_str()
            : "");
    std::fflush(stdout);
  }

  // The warm-up: the same load, not measured (first-touch page faults, allocator and
  // mailbox growth, the scheduler settling); reported in one line so nothing is hidden.
  std::optional<PhaseResult> warmup;
  if (warmup_planned > 0) {
    warmup = run_phase(options, options.warmup_ns, targets, warmup_recorder, false, live);
    if (!options.json) {
      std::printf(
          "warm-up   %s at the same rate, not measured: sent %llu, p99 %s, outstanding %llu\n",
          format_ns(static_cast<double>(options.warmup_ns)).c_str(),
          static_cast<unsigned long long>(warmup->sent),
          format_ns(static_cast<double>(warmup->latencies.value_at_percentile(99))).c_str(),
          static_cast<unsigned long long>(warmup->outstanding));
      std::fflush(stdout);
    }
  }
  PhaseResult phase = run_phase(options, options.duration_ns, targets, recorder, true, live);
  const std::uint64_t sent = phase.sent;
  const std::uint64_t outstanding = phase.outstanding;

  const phyx::ShutdownReport shutdown = rt.shutdown(std::chrono::milliseconds(5000));
  const phyx::Stats stats = rt.stats();
  if (metrics) metrics->stop();  // the last scrape could see the final counters
  const bool law_sent =
      stats.sent == stats.accepted + stats.refused_full + stats.refused_not_running;
  const bool law_accepted = stats.accepted == stats.handled + stats.crashed + stats.dropped_oldest +
                                                  stats.discarded + stats.queued;

  // The final collect: also what the shutdown completed (StoppedError counts as an error).
  {
    LatencyHistogram last_latencies;
    Tally last;
    recorder.collect(last_latencies, last);
    phase.latencies.merge(last_latencies);
    phase.tally.add(last);
  }
  const LatencyHistogram& h = phase.latencies;
  const Tally& t = phase.tally;

  const double duration_s = static_cast<double>(options.duration_ns) / 1e9;
  const double requested_rate = static_cast<double>(options.rate);
  const double send_rate = static_cast<double>(sent) / duration_s;
  const double achieved_rate = static_cast<double>(t.completed) / duration_s;
  const bool shortfall = achieved_rate < 0.99 * requested_rate;
  const std::uint64_t p50 = h.value_at_percentile(50), p90 = h.value_at_percentile(90),
                      p99 = h.value_at_percentile(99), p999 = h.value_at_percentile(99.9),
                      max = h.max();
  const bool slo_missed =
      options.slo_p99_ns && p99 > static_cast<std::uint64_t>(*options.slo_p99_ns);
  const bool counts_add_up = t.finished() == sent && t.duplicates == 0;
  const bool warmup_ok = !warmup || (warmup->outstanding == 0 && warmup->tally.duplicates == 0 &&
                                     warmup->tally.finished() == warmup->sent);
  const bool harness_ok =
      counts_add_up && warmup_ok && outstanding == 0 && law_sent && law_accepted;
  const auto u = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };

  if (options.json) {
    JsonWriter out;
    out.field("type", "result").field("mode", mode_name(options.mode));
    out.field("requested_rate", requested_rate).field("achieved_rate", achieved_rate);
    out.field("send_rate", send_rate).field("shortfall", shortfall);
    out.field("duration_s", duration_s)
        .field("warmup_s", static_cast<double>(options.warmup_ns) / 1e9);
    out.field("processes", options.processes).field("workers", std::uint64_t{workers});
    out.field("drivers", std::uint64_t{options.drivers});
    out.field("timeout_ms", static_cast<std::uint64_t>(options.timeout_ns / 1'000'000));
    out.field("planned", planned).field("sent", sent).field("unsent", planned - sent);
    out.field("completed", t.completed).field("timeouts", t.timeouts);
    out.field("refusals", t.refusals).field("errors", t.errors);
    out.field("outstanding", outstanding).field("duplicates", t.duplicates);
    out.field("warmup_sent", warmup ? warmup->sent : 0);
    out.field("warmup_outstanding", warmup ? warmup->outstanding : 0);
    out.begin_object("latency_ns");
    out.field("p50", p50)
        .field("p90", p90)
        .field("p99", p99)
        .field("p99.9", p999)
        .field("max", max);
    out.field("min", h.min()).field("mean", h.mean()).field("count", h.count());
    out.field("saturated", h.saturated());
    out.end_object();
    out.begin_array("percentiles");  // [percentile, ns] pairs: the curve a plot draws
    for (double p : {0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99,
                     99.995, 99.999, 100.0}) {
      out.pair(p, h.value_at_percentile(p));
    }
    out.end_array();
    if (options.slo_p99_ns) {
      out.field("slo_p99_ns", static_cast<std::uint64_t>(*options.slo_p99_ns));
      out.field("slo_met", !slo_missed);
    } else {
      out.null_field("slo_p99_ns").null_field("slo_met");
    }
    out.begin_object("stats");
    out.field("sent", stats.sent).field("accepted", stats.accepted);
    out.field("refused_full", stats.refused_full)
        .field("refused_not_running", stats.refused_not_running);
    out.field("handled", stats.handled).field("crashed", stats.crashed);
    out.field("dropped_oldest", stats.dropped_oldest).field("discarded", stats.discarded);
    out.field("queued", stats.queued).field("asks", stats.asks);
    out.field("ask_timeouts", stats.ask_timeouts).field("late_replies", stats.late_replies);
    out.field("laws_hold", law_sent && law_accepted);
    out.end_object();
    out.field("harness_ok", harness_ok);
    std::printf("%s\n", out.finish().c_str());
  } else {
    std::printf(
        "requests  planned %llu, sent %llu (unsent %llu), completed %llu, timeouts %llu, refusals "
        "%llu, "
        "errors %llu\n",
        u(planned), u(sent), u(planned - sent), u(t.completed), u(t.timeouts), u(t.refusals),
        u(t.errors));
    std::printf(
        "          every request finished exactly once: %s (outstanding after %.1fs wait: %llu, "
        "duplicates: %llu)\n",
        counts_add_up ? "yes" : "NO", phase.wait_s, u(outstanding), u(t.duplicates));
    std::printf("rate      requested %.0f/s, sent %.0f/s, achieved (completed) %.0f/s = %.2f%%",
                requested_rate, send_rate, achieved_rate, 100.0 * achieved_rate / requested_rate);
    if (shortfall) {
      std::printf("  SHORTFALL: %.0f/s (%.1f%%) short of the requested rate\n",
                  requested_rate - achieved_rate, 100.0 * (1.0 - achieved_rate / requested_rate));
      // Where the shortfall is: the drivers not sending on time, or the runtime not
      // completing what was sent.
      std::printf(
          "          the driver%s sent %.1f%% of the planned requests; of those sent, %.1f%% "
          "completed\n",
          options.drivers == 1 ? "" : "s",
          planned == 0 ? 100.0 : 100.0 * static_cast<double>(sent) / static_cast<double>(planned),
          sent == 0 ? 100.0 : 100.0 * static_cast<double>(t.completed) / static_cast<double>(sent));
    } else {
      std::printf("  (held)\n");
    }
    std::printf(
        "latency   p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (from intended send times; mean %s, "
        "%llu samples%s)\n",
        format_ns(double(p50)).c_str(), format_ns(double(p90)).c_str(),
        format_ns(double(p99)).c_str(), format_ns(double(p999)).c_str(),
        format_ns(double(max)).c_str(), format_ns(h.mean()).c_str(), u(h.count()),
        options.mode == Mode::ask ? ", timeouts included" : "");
    if (h.saturated() != 0)
      std::printf("          %llu samples above the histogram's range\n", u(h.saturated()));
    std::printf(
        "stats     sent == accepted + refused: %s (%llu == %llu + %llu + %llu); accepted == "
        "handled + "
        "crashed + dropped + discarded + queued: %s (%llu == %llu + %llu + %llu + %llu + %llu)\n",
        law_sent ? "holds" : "BROKEN", u(stats.sent), u(stats.accepted), u(stats.refused_full),
        u(stats.refused_not_running), law_accepted ? "holds" : "BROKEN", u(stats.accepted),
        u(stats.handled), u(stats.crashed), u(stats.dropped_oldest), u(stats.discarded),
        u(stats.queued));
    std::printf(
        "          asks %llu, ask timeouts %llu, late replies %llu; shutdown: %zu stopped, %zu "
        "abandoned\n",
        u(stats.asks), u(stats.ask_timeouts), u(stats.late_replies), shutdown.stopped,
        shutdown.abandoned);
    if (options.slo_p99_ns) {
      std::printf("SLO       p99 %s %s %s: %s\n", format_ns(double(p99)).c_str(),
                  slo_missed ? ">" : "<=", format_ns(double(*options.slo_p99_ns)).c_str(),
                  slo_missed ? "MISSED (exit 1)" : "met");
    }
  }
  std::fflush(stdout);
  if (!harness_ok) return 3;
  return slo_missed ? 1 : 0;
}

}  // namespace phyx_bench::load
