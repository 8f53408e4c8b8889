// Crash consistency of durable journals (issue 8): a child OS process appends with
// Durability::fsync and reports each append that returned; the parent kills it with
// SIGKILL at a random point (after a random number of acknowledgements, so mostly in the
// middle of the next write or fdatasync, sometimes during open and recovery), reopens
// the file and checks that it holds a prefix of what was appended that includes every
// acknowledged append, and nothing invented. The next round's child continues the same
// file, so each round also recovers what the previous kill left. The seed is printed;
// PHYX_SEED replays a run.
// What this cannot see: a killed process's writes stay in the page cache, so it checks
// the write path, the acknowledgement order and recovery, not fdatasync itself (an
// fsync that lied would pass). Power loss needs a VM or dm-log-writes; torn tails and
// damage are covered byte by byte in record_format_test.cpp and durable_log_test.cpp.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <phyx/journal.hpp>
#include <phyx/phyx.hpp>
#include <random>
#include <string>

#include "support/recorder.hpp"
#include "support/temp_dir.hpp"

namespace {

/// What sequence `seq` must hold: sizes vary so kills land at many record shapes.
std::string expected_payload(std::uint64_t seq) {
  return "deposit " + std::to_string(seq) +
         std::string(static_cast<std::size_t>((seq * 7919) % 200),
                     static_cast<char>('a' + seq % 26));
}

phyx::Journal<std::string>::Options fsync_options(const std::filesystem::path& path,
                                                  phyx_test::Recorder* rec = nullptr) {
  phyx::Journal<std::string>::Options o;
  o.clock = phyx::create_system_clock();
  o.path = path;
  o.durability = phyx::Durability::fsync;
  if (rec != nullptr) o.emit = rec->sink();
  return o;
}

/// The child: append forever, writing each returned sequence to `ack_fd`. Never returns.
[[noreturn]] void append_until_killed(const std::filesystem::path& path, int ack_fd) {
  try {
    phyx::Journal<std::string> journal(fsync_options(path));
    for (;;) {
      const std::uint64_t seq = journal.next_sequence();
      const auto& e = journal.append(expected_payload(seq));
      if (::write(ack_fd, &e.sequence, sizeof e.sequence) != sizeof e.sequence) std::_Exit(3);
    }
  } catch (...) {
    std::_Exit(2);
  }
}

std::uint64_t seed_from_env() {
  const char* s = std::getenv("PHYX_SEED");
  return s != nullptr ? std::strtoull(s, nullptr, 10) : std::random_device{}();
}

}  // namespace

TEST_CASE(
    "SIGKILL at random points: reopening finds every acknowledged append, nothing "
    "invented") {
  const std::uint64_t seed = seed_from_env();
  MESSAGE("PHYX_SEED=" << seed);
  std::mt19937_64 rng(seed);
  phyx_test::TempDir dir;
  const auto path = dir / "crash.journal";
  constexpr int kRounds = 60;
  std::uint64_t acknowledged_total = 0;  // highest acknowledged sequence + 1, over all rounds
  int torn_tails = 0;
  std::int64_t torn_bytes = 0;

  for (int round = 0; round < kRounds; ++round) {
    CAPTURE(round);
    int pipe_fds[2];
    REQUIRE(::pipe(pipe_fds) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      ::close(pipe_fds[0]);
      append_until_killed(path, pipe_fds[1]);
    }
    ::close(pipe_fds[1]);
    // Kill after 0..40 acknowledgements: 0 kills during open and recovery.
    const int acks_before_kill = static_cast<int>(rng() % 41);
    for (int i = 0; i < acks_before_kill; ++i) {
      std::uint64_t seq = 0;
      const ssize_t n = ::read(pipe_fds[0], &seq, sizeof seq);
      REQUIRE(n == static_cast<ssize_t>(sizeof seq));
      CHECK(seq == acknowledged_total);  // acknowledged in sequence order, none skipped
      acknowledged_total = seq + 1;
    }
    ::kill(child, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
    // Acknowledgements still in the pipe returned before the kill: they count too.
    for (std::uint64_t seq = 0; ::read(pipe_fds[0], &seq, sizeof seq) == sizeof seq;)
      acknowledged_total = seq + 1;
    ::close(pipe_fds[0]);

    phyx_test::Recorder rec;
    {
      phyx::Journal<std::string> journal(fsync_options(path, &rec));
      // A prefix: sequences 0..size-1, each holding what was appended; it includes every
      // acknowledged append (and perhaps the one in flight at the kill).
      REQUIRE(journal.size() >= acknowledged_total);
      CHECK(journal.size() <= acknowledged_total + 1);
      std::uint64_t expected_seq = 0;
      journal.replay(0, [&](const phyx::Entry<std::string>& e) {
        CHECK(e.sequence == expected_seq);
        CHECK(e.data == expected_payload(expected_seq));
        ++expected_seq;
      });
      // An append in flight at the kill may have reached the disk: it is part of the
      // history now, and the next child continues after it.
      acknowledged_total = journal.size();
    }
    for (const auto& e : rec.events()) {
      if (e.type == "journal:recovered" && e.integer("truncated_bytes") > 0) {
        ++torn_tails;
        torn_bytes += e.integer("truncated_bytes");
      }
    }
  }
  MESSAGE(kRounds << " kills, " << acknowledged_total << " records recovered intact, " << torn_tails
                  << " torn tails cut (" << torn_bytes << " bytes)");
}
