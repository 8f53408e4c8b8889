// journal: appends/s of phyx::Journal<std::string> in memory (unbounded, bounded), with
// Durability::flush, and with Durability::fsync from 1 and from 4 concurrent appenders (group
// commit), beside the baseline a user would write by hand: a write(2) + fdatasync(2) loop on a
// plain file, from 1 thread and from 4 threads each syncing for itself. Every event is a 64-byte
// string (a typical small event); each record on disk is 48 + 64 bytes.
//
// The files go to $TMPDIR (or /tmp); params name the directory and say when it is a
// tmpfs, where fdatasync costs nothing and the fsync figures mean nothing.
// The durable variants run for a fixed time (`--ms`, default 1000 each) rather than a
// fixed count: fdatasync takes ~50 µs on a fast SSD and ~10 ms on a disk.
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <phyx/phyx.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "workloads/workload.hpp"

namespace phyx_bench {
namespace {

const std::string kEvent(64, 'e');

struct Scratch {
  std::filesystem::path dir;
  bool tmpfs = false;
  Scratch() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "phyx-bench-journal-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed: " + pattern);
    dir = pattern;
    struct statfs fs {};
    tmpfs = ::statfs(dir.c_str(), &fs) == 0 && fs.f_type == TMPFS_MAGIC;
  }
  ~Scratch() {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
};

phyx::Journal<std::string>::Options journal_options(const std::filesystem::path& path,
                                                    phyx::Durability d) {
  phyx::Journal<std::string>::Options o;
  o.clock = phyx::create_system_clock();
  o.path = path;
  o.durability = d;
  return o;
}

/// Runs `threads` appenders for `ms` milliseconds; returns the appends made.
template <class AppendOne>
std::int64_t timed_appends(int threads, std::int64_t ms, AppendOne append_one) {
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> total{0};
  std::vector<std::thread> appenders;
  for (int t = 0; t < threads; ++t) {
    appenders.emplace_back([&] {
      std::int64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {  // a flag, orders nothing
        append_one();
        ++n;
      }
      total.fetch_add(n, std::memory_order_relaxed);  // read after join(), which orders it
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));  // the measured interval
  stop.store(true, std::memory_order_relaxed);  // partner: the appenders' relaxed loads
  for (auto& t : appenders) t.join();
  return total.load(std::memory_order_relaxed);  // after join: no partner needed
}

Measurement measured(const std::string& name, double appends, double secs, const Scratch& scratch,
                     std::map<std::string, std::string> params) {
  params["appends"] = std::to_string(static_cast<std::int64_t>(appends));
  params["dir"] = scratch.dir.string();
  if (scratch.tmpfs) params["note"] = "tmpfs: fdatasync is free here";
  return {name, appends / secs, "appends/s", std::move(params)};
}

}  // namespace

Workload journal_workload() {
  return {
      "journal",
      "Journal appends/s: memory, flush, fsync with 1 and 4 appenders (group commit), vs "
      "write+fdatasync",
      [](const Params& p) {
        const std::int64_t memory_n = p.get("n", 2'000'000);
        const std::int64_t ms = p.get("ms", 1000);
        const double secs = static_cast<double>(ms) / 1000.0;
        Scratch scratch;
        std::vector<Measurement> out;

        for (const bool bounded : {false, true}) {
          // In memory: the entry (id string, Instant, data), the clock read, the lock.
          // Unbounded, the journal holds every entry (~180 B each here) and most of the
          // time goes to page faults; bounded (drop_oldest at 100,000) is the steady
          // state of a log that forgets.
          phyx::Journal<std::string>::Options o;
          o.clock = phyx::create_system_clock();
          if (bounded) {
            o.overflow = phyx::Overflow::drop_oldest;
            o.max_entries = 100'000;
          }
          phyx::Journal<std::string> j(o);
          const std::int64_t start = now_ns();
          for (std::int64_t i = 0; i < memory_n; ++i) j.append(kEvent);
          out.push_back(measured(bounded ? "journal-memory-bounded" : "journal-memory",
                                 static_cast<double>(memory_n), seconds_since(start), scratch,
                                 {{"threads", "1"}, {"max_entries", bounded ? "100000" : "none"}}));
        }
        {  // flush: one write(2) per append; survives a crash of the program, not of the OS.
          phyx::Journal<std::string> j(
              journal_options(scratch.dir / "flush", phyx::Durability::flush));
          const std::int64_t n = timed_appends(1, ms, [&] { j.append(kEvent); });
          out.push_back(
              measured("journal-flush", static_cast<double>(n), secs, scratch, {{"threads", "1"}}));
        }
        for (int threads : {1, 4}) {  // fsync: append returns once the record is on disk
          const auto path = scratch.dir / ("fsync-" + std::to_string(threads));
          phyx::Journal<std::string> j(journal_options(path, phyx::Durability::fsync));
          const std::int64_t n = timed_appends(threads, ms, [&] { j.append(kEvent); });
          const double per_sync =
              j.syncs() > 0 ? static_cast<double>(n) / static_cast<double>(j.syncs()) : 0;
          out.push_back(measured(threads == 1 ? "journal-fsync" : "journal-fsync-4",
                                 static_cast<double>(n), secs, scratch,
                                 {{"threads", std::to_string(threads)},
                                  {"fdatasyncs", std::to_string(j.syncs())},
                                  {"appends_per_sync", std::to_string(per_sync)}}));
        }
        for (int threads : {1, 4}) {  // the baseline: write + fdatasync, each thread for itself
          const auto path = scratch.dir / ("plain-" + std::to_string(threads));
          const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
          if (fd < 0) throw std::runtime_error("open failed: " + path.string());
          const std::string record(48 + kEvent.size(), 'r');  // the same bytes per append
          std::atomic<bool> failed{false};
          const std::int64_t n = timed_appends(threads, ms, [&] {
            if (::write(fd, record.data(), record.size()) != static_cast<ssize_t>(record.size()) ||
                ::fdatasync(fd) != 0)
              failed.store(true, std::memory_order_relaxed);  // read after join(), which orders it
          });
          ::close(fd);
          Measurement m = measured(
              threads == 1 ? "write+fdatasync" : "write+fdatasync-4", static_cast<double>(n), secs,
              scratch, {{"threads", std::to_string(threads)}, {"baseline", "plain file"}});
          m.ok = !failed.load(std::memory_order_relaxed);  // after join: no partner needed
          out.push_back(std::move(m));
        }
        return out;
      }};
}

}  // namespace phyx_bench
