// SPEC 10 in memory: sequences, get/first/last, replay, subscribers, overflow, snapshot,
// clear, events and bad options. Deterministic: a ManualClock; no threads.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <phyx/journal.hpp>
#include <phyx/phyx.hpp>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "support/recorder.hpp"

using namespace std::chrono_literals;
using phyx::Journal;

namespace {

struct Deposit {
  int amount;
};

template <class T = std::string>
typename Journal<T>::Options options(std::shared_ptr<phyx::ManualClock> clock,
                                     phyx_test::Recorder* rec = nullptr) {
  typename Journal<T>::Options o;
  o.clock = std::move(clock);
  if (rec != nullptr) o.emit = rec->sink();
  return o;
}

}  // namespace

TEST_CASE("sequences start at 0 and rise by 1; entries carry the clock's time and their id") {
  auto clock = phyx::create_manual_clock();
  Journal<std::string> j(options(clock));
  CHECK(j.empty());
  CHECK(j.first() == nullptr);
  const auto& a = j.append("a");
  clock->advance_by(5ms);
  const auto& b = j.append("b");
  CHECK(a.sequence == 0);
  CHECK(b.sequence == 1);
  CHECK(a.id == "0");
  CHECK(b.timestamp.mono_ms == 5);
  CHECK(j.size() == 2);
  CHECK(j.first()->data == "a");
  CHECK(j.last()->data == "b");
  CHECK(j.get(1)->data == "b");
  CHECK(j.get(2) == nullptr);
  CHECK(&a == j.get(0));  // references stay valid while the entry is held
}

TEST_CASE("replay(from) visits the entries held from a sequence on, in order") {
  Journal<Deposit> j(options<Deposit>(phyx::create_manual_clock()));
  for (int i = 1; i <= 5; ++i) j.append(Deposit{i});
  int sum = 0;
  std::vector<std::uint64_t> seen;
  j.replay(2, [&](const phyx::Entry<Deposit>& e) {
    sum += e.data.amount;
    seen.push_back(e.sequence);
  });
  CHECK(seen == std::vector<std::uint64_t>{2, 3, 4});
  CHECK(sum == 3 + 4 + 5);
}

TEST_CASE("clear drops every entry; sequences are never reused") {
  phyx_test::Recorder rec;
  Journal<std::string> j(options(phyx::create_manual_clock(), &rec));
  j.append("a");
  j.append("b");
  j.clear();
  CHECK(j.empty());
  CHECK(j.get(0) == nullptr);
  CHECK(j.append("c").sequence == 2);
  CHECK(j.first()->sequence == 2);
  const auto clears = rec.of_type("journal:clear");
  REQUIRE(clears.size() == 1);
  CHECK(clears[0].integer("entries") == 2);
}

TEST_CASE(
    "subscribers run in order after each append; a throwing one is reported and the rest still "
    "run") {
  phyx_test::Recorder rec;
  Journal<std::string> j(options(phyx::create_manual_clock(), &rec));
  std::vector<std::string> calls;
  auto s1 = j.subscribe([&](const phyx::Entry<std::string>& e) { calls.push_back("1:" + e.data); });
  auto s2 = j.subscribe(
      [&](const phyx::Entry<std::string>&) { throw std::runtime_error("bad subscriber"); });
  auto s3 = j.subscribe([&](const phyx::Entry<std::string>& e) { calls.push_back("3:" + e.data); });
  j.append("x");
  CHECK(calls == std::vector<std::string>{"1:x", "3:x"});
  const auto errors = rec.of_type("journal:subscriber:error");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].text("error") == "bad subscriber");
  CHECK(errors[0].integer("sequence") == 0);
  s1.unsubscribe();
  j.append("y");
  CHECK(calls == std::vector<std::string>{"1:x", "3:x", "3:y"});
  { auto gone = std::move(s3); }  // destroyed: unsubscribed
  j.append("z");
  CHECK(calls.size() == 3);
}

TEST_CASE("append from inside a subscriber throws JournalReentrancyError and appends nothing") {
  phyx_test::Recorder rec;
  Journal<std::string> j(options(phyx::create_manual_clock(), &rec));
  bool threw = false;
  auto s = j.subscribe([&](const phyx::Entry<std::string>&) {
    try {
      j.append("inner");
    } catch (const phyx::JournalReentrancyError&) {
      threw = true;
    }
  });
  j.append("outer");
  CHECK(threw);
  CHECK(j.size() == 1);
  CHECK(j.next_sequence() == 1);
  CHECK(j.append("again").sequence == 1);  // appending works again after the notification
}

TEST_CASE("a subscriber may unsubscribe itself while being notified") {
  Journal<std::string> j(options(phyx::create_manual_clock()));
  int calls = 0;
  phyx::Subscription self;
  self = j.subscribe([&](const phyx::Entry<std::string>&) {
    ++calls;
    self.unsubscribe();
  });
  j.append("a");
  j.append("b");
  CHECK(calls == 1);
}

TEST_CASE(
    "a subscriber may subscribe another while being notified: the new one runs from the next "
    "append") {
  Journal<std::string> j(options(phyx::create_manual_clock()));
  std::vector<std::string> calls;
  std::vector<phyx::Subscription> more;
  auto s = j.subscribe([&](const phyx::Entry<std::string>& e) {
    calls.push_back("outer:" + e.data);
    for (int i = 0; i < 8; ++i) {  // enough to grow any storage under the running subscriber
      more.push_back(j.subscribe([&calls, i](const phyx::Entry<std::string>& inner) {
        if (i == 0) calls.push_back("inner:" + inner.data);
      }));
    }
  });
  j.append("a");
  CHECK(calls == std::vector<std::string>{"outer:a"});
  j.append("b");
  CHECK(calls == std::vector<std::string>{"outer:a", "outer:b", "inner:b"});
}

TEST_CASE(
    "Overflow::drop_oldest keeps the last max_entries; Overflow::error throws and uses no "
    "sequence") {
  phyx_test::Recorder rec;
  auto o = options(phyx::create_manual_clock(), &rec);
  o.max_entries = 3;
  o.overflow = phyx::Overflow::drop_oldest;
  Journal<std::string> d(o);
  for (const char* s : {"a", "b", "c", "d", "e"}) d.append(s);
  CHECK(d.size() == 3);
  CHECK(d.first()->sequence == 2);
  CHECK(d.get(1) == nullptr);
  CHECK(rec.count("journal:overflow") == 2);

  auto oe = options(phyx::create_manual_clock());
  oe.max_entries = 2;
  oe.overflow = phyx::Overflow::error;
  Journal<std::string> e(oe);
  e.append("a");
  e.append("b");
  try {
    e.append("c");
    FAIL("no overflow");
  } catch (const phyx::JournalOverflowError& err) {
    CHECK(std::string(err.what()) == "Journal overflow: maximum entries (2) reached");
  }
  CHECK(e.size() == 2);
  e.clear();
  CHECK(e.append("c").sequence == 2);  // the refused append used no sequence

  auto on = options(phyx::create_manual_clock());
  on.max_entries = 1;  // ignored under Overflow::none
  Journal<std::string> n(on);
  n.append("a");
  n.append("b");
  CHECK(n.size() == 2);
}

TEST_CASE("snapshot: first and last sequence, the count, the time, and a copy of the entries") {
  auto clock = phyx::create_manual_clock();
  Journal<int> j(options<int>(clock));
  auto empty = j.snapshot();
  CHECK(empty.total_count == 0);
  CHECK(empty.entries.empty());
  for (int i = 0; i < 4; ++i) j.append(i * 10);
  clock->advance_by(7ms);
  auto s = j.snapshot();
  CHECK(s.first_sequence == 0);
  CHECK(s.last_sequence == 3);
  CHECK(s.total_count == 4);
  CHECK(s.timestamp.mono_ms == 7);
  REQUIRE(s.entries.size() == 4);
  CHECK(s.entries[2].data == 20);
  j.clear();
  CHECK(s.entries.size() == 4);  // a copy
}

TEST_CASE("events: create, append with sequence and id, under the name journal") {
  phyx_test::Recorder rec;
  Journal<std::string> j(options(phyx::create_manual_clock(), &rec));
  j.append("a");
  CHECK(rec.types() == std::vector<std::string>{"journal:create", "journal:append"});
  const auto appends = rec.of_type("journal:append");
  CHECK(appends[0].name == "journal");
  CHECK(appends[0].integer("sequence") == 0);
  CHECK(appends[0].text("id") == "0");
}

TEST_CASE("a throwing sink never breaks the journal") {
  auto o = options(phyx::create_manual_clock());
  o.emit = [](const phyx::Event&) { throw std::runtime_error("sink down"); };
  Journal<std::string> j(o);
  CHECK(j.append("a").sequence == 0);
}

TEST_CASE("bad options throw SpecError naming the field and the value") {
  auto check = [](typename Journal<std::string>::Options o, const std::string& text) {
    try {
      Journal<std::string> j(std::move(o));
      FAIL("accepted");
    } catch (const phyx::SpecError& e) {
      CHECK(std::string(e.what()) == text);
    }
  };
  check({}, "Journal: options.clock is required (got none)");
  auto o = options(phyx::create_manual_clock());
  o.overflow = phyx::Overflow::drop_oldest;
  check(o, "Journal: options.max_entries is required with Overflow::drop_oldest (got none)");
  o.overflow = phyx::Overflow::error;
  o.max_entries = 0;
  check(o, "Journal: options.max_entries must be >= 1 (got 0)");
  auto p = options(phyx::create_manual_clock());
  p.path = "/tmp/phyx-journal-test";
  check(p,
        "Journal: options.durability must be flush or fsync when options.path is set (got memory, "
        "path "
        "'/tmp/phyx-journal-test')");
}

TEST_CASE("durability without a path is refused: an in-memory journal cannot be durable") {
  auto o = options(phyx::create_manual_clock());
  o.durability = phyx::Durability::fsync;
  auto open = [&] { Journal<std::string> j(o); };
  CHECK_THROWS_WITH_AS(open(),
                       "Journal: options.durability is fsync but options.path is empty (an "
                       "in-memory journal cannot be durable)",
                       phyx::SpecError);
}

TEST_CASE("codecs: built in for std::string and trivially copyable types, round trip") {
  phyx::Codec<std::string> s;
  CHECK(s.decode(s.encode("hello")) == "hello");
  phyx::Codec<Deposit> d;
  CHECK(d.decode(d.encode(Deposit{42})).amount == 42);
  CHECK_THROWS_AS(d.decode("xy"), phyx::JournalCorruptError);
  phyx::Codec<std::vector<int>> none;  // neither: the user gives encode and decode
  CHECK_FALSE(static_cast<bool>(none.encode));
}

TEST_CASE("the bank account rebuilds its balance from the journal in init after a crash") {
  struct Op {
    int amount;
    bool crash = false;
  };
  struct Get {
    phyx::Reply<int> reply;
  };
  using Msg = std::variant<Op, Get>;
  struct Account {
    int balance = 0;
  };
  auto clock = phyx::create_manual_clock();
  auto journal = std::make_shared<Journal<int>>(options<int>(clock));
  phyx::Runtime rt(phyx::RuntimeOptions{.clock = clock, .deterministic = true});
  auto account =
      rt.spawn(phyx::ProcessSpec<Msg, Account, std::shared_ptr<Journal<int>>>{
                   .name = "bank-account",
                   .init =
                       [](const std::shared_ptr<Journal<int>>& j) {
                         Account a;
                         j->replay(0, [&](const phyx::Entry<int>& e) { a.balance += e.data; });
                         return a;
                       },
                   .handle =
                       [](Account& a, Msg& m, auto& tools) {
                         if (auto* op = std::get_if<Op>(&m)) {
                           if (op->crash) throw std::runtime_error("crash");
                           tools.ctx()->append(op->amount);
                           a.balance += op->amount;
                         } else {
                           std::get<Get>(m).reply(a.balance);
                         }
                       },
               },
               journal);
  account.send(Op{100});
  account.send(Op{-30});
  account.send(Op{0, true});  // crash: the state is rebuilt from the journal in init
  auto f = account.ask<int>([](phyx::Reply<int> r) { return Get{std::move(r)}; });
  rt.run_until_idle();
  CHECK(f.get() == 70);
  CHECK(rt.stats().restarts == 1);
}
