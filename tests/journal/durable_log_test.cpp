// Durable journals through the public API (SPEC 10): reopen and continue, torn tails cut
// and reported, corruption refused with its offset and the file untouched, clear and
// drop_oldest across reopening, one Journal per file, bad paths, user codecs, a full
// disk (RLIMIT_FSIZE) losing nothing acknowledged, and group commit under 4 threads.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <phyx/journal.hpp>
#include <phyx/phyx.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/recorder.hpp"
#include "support/temp_dir.hpp"

using namespace std::chrono_literals;
using phyx::Durability;
using phyx::Journal;

namespace {

template <class T = std::string>
typename Journal<T>::Options durable(const std::filesystem::path& path,
                                     Durability durability = Durability::fsync,
                                     phyx_test::Recorder* rec = nullptr) {
  typename Journal<T>::Options o;
  o.clock = phyx::create_manual_clock(phyx::Instant{1'700'000'000'000, 0, 0});
  o.path = path;
  o.durability = durability;
  if (rec != nullptr) o.emit = rec->sink();
  return o;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

/// A copy of the first event of `type` (the recorder hands out copies of its list).
std::optional<phyx_test::RecordedEvent> find_event(const phyx_test::Recorder& rec,
                                                   const std::string& type) {
  for (const auto& e : rec.events()) {
    if (e.type == type) return e;
  }
  return std::nullopt;
}

struct Transfer {  // not trivially copyable: needs a user codec
  std::string account;
  std::vector<int> amounts;
};

phyx::Codec<Transfer> transfer_codec() {
  return {[](const Transfer& t) {
            std::string out = t.account + '\n';
            for (int a : t.amounts) out += std::to_string(a) + ',';
            return out;
          },
          [](std::string_view bytes) {
            Transfer t;
            const auto nl = bytes.find('\n');
            if (nl == std::string_view::npos) throw std::invalid_argument("no account line");
            t.account = std::string(bytes.substr(0, nl));
            std::string_view rest = bytes.substr(nl + 1);
            while (!rest.empty()) {
              const auto comma = rest.find(',');
              t.amounts.push_back(std::stoi(std::string(rest.substr(0, comma))));
              rest.remove_prefix(comma + 1);
            }
            return t;
          }};
}

}  // namespace

TEST_CASE("a durable journal reopens with every entry and continues the sequence") {
  phyx_test::TempDir dir;
  const auto path = dir / "events.journal";
  for (Durability d : {Durability::flush, Durability::fsync}) {
    std::filesystem::remove(path);
    CAPTURE(static_cast<int>(d));
    {
      auto o = durable(path, d);
      auto clock = std::static_pointer_cast<phyx::ManualClock>(o.clock);
      Journal<std::string> j(o);
      CHECK(j.empty());
      j.append("opened");
      clock->advance_by(250ms);
      j.append("deposited 100");
      j.append(std::string("binary\0bytes", 12));
    }
    phyx_test::Recorder rec;
    Journal<std::string> j(durable(path, d, &rec));
    REQUIRE(j.size() == 3);
    CHECK(j.get(0)->data == "opened");
    CHECK(j.get(1)->data == "deposited 100");
    CHECK(j.get(1)->id == "1");
    CHECK(j.get(1)->timestamp.mono_ms == 250);
    CHECK(j.get(1)->timestamp.wall_ms == 1'700'000'000'250);
    CHECK(j.get(2)->data == std::string("binary\0bytes", 12));
    CHECK(j.append("after reopen").sequence == 3);
    const auto recovered = find_event(rec, "journal:recovered");
    REQUIRE(recovered != std::nullopt);
    CHECK(recovered->integer("entries") == 3);
    CHECK(recovered->integer("truncated_bytes") == 0);
    CHECK(recovered->text("path") == path.string());
  }
}

TEST_CASE("a new file reports no recovery; its directory must exist") {
  phyx_test::TempDir dir;
  phyx_test::Recorder rec;
  { Journal<std::string> j(durable(dir / "fresh", Durability::fsync, &rec)); }
  CHECK(find_event(rec, "journal:create") != std::nullopt);
  CHECK(find_event(rec, "journal:recovered") == std::nullopt);
  CHECK(std::filesystem::file_size(dir / "fresh") == 32);  // the header only
  CHECK_FALSE(std::filesystem::exists(dir / "fresh.tmp"));

  const auto missing = dir / "no-such-dir" / "j";
  auto open_missing = [&] { Journal<std::string> j(durable(missing)); };
  CHECK_THROWS_WITH_AS(open_missing(),
                       ("Journal: options.path '" + missing.string() + "': the directory '" +
                        (dir / "no-such-dir").string() + "' does not exist")
                           .c_str(),
                       phyx::Error);
  auto open_dir = [&] { Journal<std::string> j(durable(dir.path())); };
  CHECK_THROWS_WITH_AS(
      open_dir(),
      ("Journal '" + dir.path().string() + "': opening failed: Is a directory (EISDIR)").c_str(),
      phyx::Error);
}

TEST_CASE("a torn tail is cut, reported with its size, and the sequence continues after it") {
  phyx_test::TempDir dir;
  const auto path = dir / "j";
  {
    Journal<std::string> j(durable(path));
    for (int i = 0; i < 5; ++i) j.append("event " + std::to_string(i));
  }
  const std::string whole = read_file(path);
  const std::size_t last_record = whole.size() - (48 + std::string("event 4").size());
  for (std::size_t cut = last_record + 1; cut < whole.size(); cut += 5) {
    CAPTURE(cut);
    write_file(path, whole.substr(0, cut));
    phyx_test::Recorder rec;
    {
      Journal<std::string> j(durable(path, Durability::fsync, &rec));
      CHECK(j.size() == 4);
      CHECK(j.last()->data == "event 3");
      CHECK(j.append("replacement").sequence == 4);
    }
    const auto recovered = find_event(rec, "journal:recovered");
    REQUIRE(recovered != std::nullopt);
    CHECK(recovered->integer("entries") == 4);
    CHECK(recovered->integer("truncated_bytes") == static_cast<std::int64_t>(cut - last_record));
    CHECK(recovered->integer("torn_offset") == static_cast<std::int64_t>(last_record));
    Journal<std::string> again(durable(path));
    CHECK(again.size() == 5);
    CHECK(again.last()->data == "replacement");
  }
}

TEST_CASE(
    "corruption before the end throws JournalCorruptError with the offset and changes "
    "nothing") {
  phyx_test::TempDir dir;
  const auto path = dir / "j";
  {
    Journal<std::string> j(durable(path));
    j.append("first");
    j.append("second");
    j.append("third");
  }
  std::string bytes = read_file(path);
  const std::size_t second_offset = 32 + 48 + 5;
  bytes[second_offset + 48 + 2] ^= 0x20;  // a payload byte of "second"
  write_file(path, bytes);
  try {
    Journal<std::string> j(durable(path));
    FAIL("a corrupt journal was opened");
  } catch (const phyx::JournalCorruptError& e) {
    CHECK(e.offset() == second_offset);
    CHECK(std::string(e.what()) ==
          "Journal '" + path.string() + "': corrupt at offset " + std::to_string(second_offset) +
              ": payload checksum mismatch (valid records follow, so this is not a torn tail; "
              "nothing was changed)");
  }
  CHECK(read_file(path) == bytes);  // not truncated, not repaired: the user decides

  write_file(path, "this is not a journal, but it is longer than thirty-two bytes");
  try {
    Journal<std::string> j(durable(path));
    FAIL("a foreign file was opened");
  } catch (const phyx::JournalCorruptError& e) {
    CHECK(e.offset() == 0);
  }
}

TEST_CASE("a record the codec refuses is JournalCorruptError at that record's offset") {
  phyx_test::TempDir dir;
  const auto path = dir / "j";
  {
    Journal<std::string> j(durable(path));
    j.append("1234");  // four bytes: an int
    j.append("xy");    // two bytes: not an int
  }
  try {
    Journal<int> j(durable<int>(path));
    FAIL("opened");
  } catch (const phyx::JournalCorruptError& e) {
    CHECK(e.offset() == 32 + 48 + 4);
    CHECK(std::string(e.what()).find("(sequence 1) does not decode: Journal record holds 2 "
                                     "bytes, expected 4") != std::string::npos);
  }
}

TEST_CASE("user codecs round trip through the file") {
  phyx_test::TempDir dir;
  const auto path = dir / "transfers";
  auto o = durable<Transfer>(path);
  o.codec = transfer_codec();
  {
    Journal<Transfer> j(o);
    j.append({"alice", {100, -30}});
    j.append({"bob", {}});
  }
  Journal<Transfer> j(o);
  REQUIRE(j.size() == 2);
  CHECK(j.get(0)->data.account == "alice");
  CHECK(j.get(0)->data.amounts == std::vector<int>{100, -30});
  CHECK(j.get(1)->data.amounts.empty());
}

TEST_CASE("clear replaces the file; sequences are never reused, also after reopening") {
  phyx_test::TempDir dir;
  const auto path = dir / "j";
  {
    Journal<std::string> j(durable(path));
    j.append("a");
    j.append("b");
    j.clear();
    CHECK(j.empty());
    CHECK(std::filesystem::file_size(path) == 32);
    CHECK(j.append("c").sequence == 2);
  }
  Journal<std::string> j(durable(path));
  CHECK(j.size() == 1);
  CHECK(j.first()->sequence == 2);
  CHECK(j.first()->data == "c");
  CHECK(j.next_sequence() == 3);
}

TEST_CASE("clear with nothing appended after it keeps the sequence across reopening") {
  phyx_test::TempDir dir;
  const auto path = dir / "j";
  {
    Journal<std::string> j(durable(path));
    for (int i = 0; i < 4; ++i) j.append("x");
    j.clear();
  }
  Journal<std::string> j(durable(path));
  CHECK(j.empty());
  CHECK(j.append("y").sequence == 4);
}

TEST_CASE("drop_oldest: the file keeps every record, reopening holds the newest max_entries") {
  phyx_test::TempDir dir;
  const auto path = dir / "j";
  auto o = durable(path);
  o.overflow = phyx::Overflow::drop_oldest;
  o.max_entries = 3;
  {
    Journal<std::string> j(o);
    for (int i = 0; i < 10; ++i) j.append(std::to_string(i));
    CHECK(j.size() == 3);
  }
  Journal<std::string> j(o);
  CHECK(j.size() == 3);
  CHECK(j.first()->sequence == 7);
  CHECK(j.append("10").sequence == 10);
}

TEST_CASE("one Journal per file: a second one is refused while the first is open") {
  phyx_test::TempDir dir;
  const auto path = dir / "j";
  auto first = std::make_unique<Journal<std::string>>(durable(path));
  first->append("held");
  auto second = [&] { Journal<std::string> j(durable(path)); };
  CHECK_THROWS_WITH_AS(second(),
                       ("Journal '" + path.string() +
                        "': another Journal has this file open (one Journal per file; its flock "
                        "is held)")
                           .c_str(),
                       phyx::Error);
  first.reset();
  Journal<std::string> j(durable(path));
  CHECK(j.size() == 1);
}

TEST_CASE("replay from a durable journal rebuilds state; append from replay is refused") {
  phyx_test::TempDir dir;
  const auto path = dir / "j";
  {
    Journal<int> j(durable<int>(path));
    for (int amount : {100, -30, 55}) j.append(amount);
  }
  Journal<int> j(durable<int>(path));
  int balance = 0;
  j.replay(0, [&](const phyx::Entry<int>& e) { balance += e.data; });
  CHECK(balance == 125);
  CHECK_THROWS_AS(j.replay(0, [&](const phyx::Entry<int>&) { j.append(1); }),
                  phyx::JournalReentrancyError);
  CHECK(j.append(1).sequence == 3);  // the guard is lifted after the throw
}

TEST_CASE("a full disk: the failing append throws, nothing acknowledged is lost, no torn tail") {
  phyx_test::TempDir dir;
  const auto path = dir / "j";
  // In a child process: RLIMIT_FSIZE applies to the whole process.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::signal(SIGXFSZ, SIG_IGN);  // write(2) then fails with EFBIG instead of killing us
    int code = 0;
    try {
      Journal<std::string> j(durable(path));
      rlimit original{};
      ::getrlimit(RLIMIT_FSIZE, &original);
      const rlimit limit{4096, original.rlim_max};  // the soft limit only: it can come back
      ::setrlimit(RLIMIT_FSIZE, &limit);
      int acknowledged = 0;
      try {
        for (;; ++acknowledged)
          j.append("record " + std::to_string(acknowledged) + std::string(40, '.'));
      } catch (const phyx::Error& e) {
        const std::string what = e.what();
        if (what.find("File too large (EFBIG); nothing was appended") == std::string::npos)
          code = 2;
      }
      if (static_cast<int>(j.size()) != acknowledged) code = 3;
      ::setrlimit(RLIMIT_FSIZE, &original);
      j.append("after space came back");  // the journal still works
      std::_Exit(code != 0 ? code : (acknowledged > 10 ? 0 : 4));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
      std::_Exit(5);
    }
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  phyx_test::Recorder rec;
  Journal<std::string> j(durable(path, Durability::fsync, &rec));
  CHECK(j.last()->data == "after space came back");
  CHECK(find_event(rec, "journal:recovered")->integer("truncated_bytes") == 0);
  for (std::uint64_t s = 0; s + 1 < j.size(); ++s)
    CHECK(j.get(s)->data == "record " + std::to_string(s) + std::string(40, '.'));
}

TEST_CASE("group commit: 4 threads appending with fsync share syncs and lose nothing") {
  phyx_test::TempDir dir;
  const auto path = dir / "j";
  constexpr int kThreads = 4;
  constexpr int kPerThread = 200;
  std::uint64_t syncs = 0;
  {
    Journal<std::string> j(durable(path));
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&j, t] {
        for (int i = 0; i < kPerThread; ++i) j.append(std::to_string(t) + ":" + std::to_string(i));
      });
    }
    for (auto& th : threads) th.join();
    CHECK(j.size() == kThreads * kPerThread);
    syncs = j.syncs();
    CHECK(syncs >= 1);
    CHECK(syncs <= kThreads * kPerThread);
  }
  MESSAGE("group commit: " << kThreads * kPerThread << " appends, " << syncs << " fdatasyncs");
  // Reopened: every append once, each thread's in its order, sequences 0..N-1.
  Journal<std::string> j(durable(path));
  REQUIRE(j.size() == kThreads * kPerThread);
  std::vector<int> next(kThreads, 0);
  j.replay(0, [&](const phyx::Entry<std::string>& e) {
    const auto colon = e.data.find(':');
    const int t = std::stoi(e.data.substr(0, colon));
    CHECK(std::stoi(e.data.substr(colon + 1)) == next[static_cast<std::size_t>(t)]++);
  });
  for (int n : next) CHECK(n == kPerThread);
}

TEST_CASE("a shared in-memory journal: subscribers see every append once, in sequence order") {
  Journal<int>::Options o;
  o.clock = phyx::create_manual_clock();
  Journal<int> j(o);
  std::vector<std::uint64_t> seen;
  auto sub = j.subscribe([&](const phyx::Entry<int>& e) { seen.push_back(e.sequence); });
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&j] {
      for (int i = 0; i < 5000; ++i) j.append(i);
    });
  }
  for (auto& th : threads) th.join();
  REQUIRE(seen.size() == 10000);
  for (std::size_t i = 0; i < seen.size(); ++i) CHECK(seen[i] == i);
}
