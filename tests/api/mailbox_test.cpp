// SPEC 5 (the mailbox) and the send rules of SPEC 4: the bound, the two overflow policies,
// sends while `starting`, the system lane read first, `seq` numbering (14.12) and the
// dead-letter reasons of refused sends (14.18). Deterministic where possible; the "busy
// handler" cases are also run on worker threads with a handler held on a gate.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "support/accounting.hpp"
#include "support/counter.hpp"
#include "support/gate.hpp"
#include "support/recorder.hpp"

using namespace std::chrono_literals;
using phyx_test::check_laws;
using phyx_test::Recorder;
using phyx_test::RecordedEvent;

namespace mbx {

using phyx_test::Gate;

struct Work {
  int n;
};
struct Burst {  // sends Work{first}..Work{first+count-1} to self and records each result
  int first;
  int count;
};
struct BurstEcho {  // Burst, then answers `count`
  int first;
  int count;
  phyx::Reply<int> reply;
};
struct Block {  // threads: signals `entered`, waits for `release` (at most 5 s), records -1
  std::shared_ptr<Gate> gate;
};
struct Echo {  // records n, answers n
  int n;
  phyx::Reply<int> reply;
};
struct Crash {};
struct SelfSend {  // during a drain: a self-send and a schedule, both must be refused
  int n;
};

using Msg = std::variant<Work, Burst, BurstEcho, Block, Echo, Crash, SelfSend>;

struct Log {
  std::mutex m;
  int inits = 0;
  std::vector<int> handled;
  std::vector<bool> self_sends;
  bool schedule_refused = false;

  void record(int n) {
    std::lock_guard lock(m);
    handled.push_back(n);
  }
  std::vector<int> snapshot() {
    std::lock_guard lock(m);
    return handled;
  }
};

phyx::ProcessSpec<Msg, int> probe(std::shared_ptr<Log> log, std::size_t max_inbox,
                                  phyx::MailboxPolicy policy = phyx::MailboxPolicy::reject,
                                  std::optional<phyx::Supervision> supervision = std::nullopt) {
  return phyx::ProcessSpec<Msg, int>{
      .name = "probe",
      .init =
          [log](const phyx::Empty&) {
            std::lock_guard lock(log->m);
            ++log->inits;
            return 0;
          },
      .handle =
          [log](int&, Msg& msg, auto& tools) {
            if (auto* w = std::get_if<Work>(&msg)) {
              log->record(w->n);
            } else if (auto* b = std::get_if<Burst>(&msg)) {
              for (int i = 0; i < b->count; ++i) {
                const bool ok = tools.self().send(Work{b->first + i});
                std::lock_guard lock(log->m);
                log->self_sends.push_back(ok);
              }
            } else if (auto* be = std::get_if<BurstEcho>(&msg)) {
              for (int i = 0; i < be->count; ++i) {
                const bool ok = tools.self().send(Work{be->first + i});
                std::lock_guard lock(log->m);
                log->self_sends.push_back(ok);
              }
              be->reply(be->count);
            } else if (auto* bl = std::get_if<Block>(&msg)) {
              bl->gate->entered.set_value();
              (void)bl->gate->release.wait_for(5s);
              log->record(-1);
            } else if (auto* e = std::get_if<Echo>(&msg)) {
              log->record(e->n);
              e->reply(e->n);
            } else if (std::holds_alternative<Crash>(msg)) {
              throw std::runtime_error("crash on purpose");
            } else if (auto* s = std::get_if<SelfSend>(&msg)) {
              const bool ok = tools.self().send(Work{s->n});
              (void)tools.schedule(0ms, Msg{Work{s->n + 1}});
              tools.pipe(phyx::make_ready_future<int>(phyx::Result<int>(s->n + 2)),
                         [](phyx::Result<int> r) { return Msg{Work{r.value()}}; });
              std::lock_guard lock(log->m);
              log->self_sends.push_back(ok);
            }
          },
      .max_inbox = max_inbox,
      .mailbox_policy = policy,
      .supervision = supervision,
  };
}

phyx::RuntimeOptions det(Recorder& rec, std::uint64_t seed = 1) {
  auto o = phyx_test::deterministic_options(seed);
  o.emit = rec.sink();
  return o;
}

phyx::RuntimeOptions threads(Recorder& rec) {
  phyx::RuntimeOptions o;
  o.clock = phyx::create_system_clock();
  o.emit = rec.sink();
  o.workers = 2;
  return o;
}

std::vector<RecordedEvent> events_of(const Recorder& rec, const std::string& type, phyx::ProcessId id) {
  std::vector<RecordedEvent> out;
  for (auto& e : rec.of_type(type)) {
    if (e.process == id) out.push_back(e);
  }
  return out;
}

std::vector<std::string> dead_letter_reasons(const Recorder& rec, phyx::ProcessId id) {
  std::vector<std::string> out;
  for (auto& e : events_of(rec, "process:dead_letter", id)) out.push_back(e.text("reason"));
  return out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// Every `process:mailbox:full` of `id` is immediately followed (among `id`'s events) by a
/// `process:dead_letter` with `reason`.
void check_full_then_dead_letter(const Recorder& rec, phyx::ProcessId id, const std::string& reason,
                                 std::size_t expected) {
  std::vector<RecordedEvent> mine;
  for (auto& e : rec.events()) {
    if (e.process == id) mine.push_back(e);
  }
  std::size_t pairs = 0;
  for (std::size_t i = 0; i < mine.size(); ++i) {
    if (mine[i].type != "process:mailbox:full") continue;
    REQUIRE(i + 1 < mine.size());
    CHECK(mine[i + 1].type == "process:dead_letter");
    if (mine[i + 1].type == "process:dead_letter") {
      CHECK(mine[i + 1].text("reason") == reason);
      CHECK(ends_with(mine[i + 1].text("msg_type"), "Work"));
    }
    ++pairs;
  }
  CHECK(pairs == expected);
}

}  // namespace mbx

using namespace mbx;

TEST_CASE("reject: capacity 2 behind a busy handler accepts 2 then refuses (deterministic)") {
  Recorder rec;
  phyx::Runtime rt(det(rec));
  auto log = std::make_shared<Log>();
  auto p = rt.spawn(probe(log, 2));
  REQUIRE(p.send(Burst{1, 4}));  // its handler is the busy one: it sends 4 to its own lane
  CHECK(rt.run_until_idle() == 3);  // Burst, Work 1, Work 2
  CHECK(log->self_sends == std::vector<bool>{true, true, false, false});
  CHECK(log->handled == std::vector<int>{1, 2});

  const auto s = rt.stats();
  CHECK(s.sent == 5);
  CHECK(s.accepted == 3);
  CHECK(s.refused_full == 2);
  CHECK(s.refused_not_running == 0);
  CHECK(s.handled == 3);

  auto full = events_of(rec, "process:mailbox:full", p.id());
  REQUIRE(full.size() == 2);
  for (auto& e : full) {
    CHECK(e.text("policy") == "reject");
    CHECK(e.integer("size") == 2);
    CHECK(e.name == "probe");
  }
  CHECK(dead_letter_reasons(rec, p.id()) == std::vector<std::string>{"mailbox_full", "mailbox_full"});
  check_full_then_dead_letter(rec, p.id(), "mailbox_full", 2);
  check_laws(rt);
}

TEST_CASE("reject: capacity 2 behind a handler blocked on a worker gives true, true, false, false") {
  Recorder rec;
  auto log = std::make_shared<Log>();
  std::promise<void> release;
  auto gate = std::make_shared<Gate>();
  gate->release = release.get_future().share();
  auto entered = gate->entered.get_future();
  {
    phyx::Runtime rt(threads(rec));
    auto p = rt.spawn(probe(log, 2));
    REQUIRE(p.send(Block{gate}));
    REQUIRE(entered.wait_for(5s) == std::future_status::ready);
    CHECK(p.status() == phyx::Status::running);
    const bool r1 = p.send(Work{1});
    const bool r2 = p.send(Work{2});
    const bool r3 = p.send(Work{3});
    const bool r4 = p.send(Work{4});
    release.set_value();
    CHECK(std::vector<bool>{r1, r2, r3, r4} == std::vector<bool>{true, true, false, false});

    auto done = p.stop(phyx::StopReason::normal(), phyx::StopMode::drain);  // handles 1 and 2, then stops
    REQUIRE(done.wait_for(5s));
    CHECK(log->snapshot() == std::vector<int>{-1, 1, 2});
    CHECK(rt.stats().refused_full == 2);
    rt.shutdown(5s);
    check_laws(rt);
    CHECK(dead_letter_reasons(rec, p.id()) == std::vector<std::string>{"mailbox_full", "mailbox_full"});
    check_full_then_dead_letter(rec, p.id(), "mailbox_full", 2);
  }
}

TEST_CASE("drop_oldest: a full lane evicts the oldest and keeps the newest") {
  Recorder rec;
  phyx::Runtime rt(det(rec));
  auto log = std::make_shared<Log>();
  auto p = rt.spawn(probe(log, 2, phyx::MailboxPolicy::drop_oldest));
  REQUIRE(p.send(Burst{1, 4}));
  CHECK(rt.run_until_idle() == 3);
  CHECK(log->self_sends == std::vector<bool>{true, true, true, true});
  CHECK(log->handled == std::vector<int>{3, 4});

  const auto s = rt.stats();
  CHECK(s.sent == 5);
  CHECK(s.accepted == 5);
  CHECK(s.dropped_oldest == 2);
  CHECK(s.refused_full == 0);

  auto full = events_of(rec, "process:mailbox:full", p.id());
  REQUIRE(full.size() == 2);
  for (auto& e : full) {
    CHECK(e.text("policy") == "drop_oldest");
    CHECK(e.integer("size") == 2);
  }
  CHECK(dead_letter_reasons(rec, p.id()) == std::vector<std::string>{"dropped_oldest", "dropped_oldest"});
  check_full_then_dead_letter(rec, p.id(), "dropped_oldest", 2);
  check_laws(rt);
}

TEST_CASE("drop_oldest: an evicted ask fails at once with NoReplyError") {
  Recorder rec;
  auto clock = phyx::create_manual_clock();
  auto opts = det(rec);
  opts.clock = clock;
  phyx::Runtime rt(opts);
  auto log = std::make_shared<Log>();
  auto p = rt.spawn(probe(log, 1, phyx::MailboxPolicy::drop_oldest));
  rt.run_until_idle();
  auto f = p.ask<int>([](phyx::Reply<int> r) { return Msg{Echo{7, std::move(r)}}; });
  CHECK_FALSE(f.ready());
  CHECK(clock->pending_timer_count() == 1);
  CHECK(p.send(Work{8}));  // evicts the ask
  CHECK(f.ready());
  CHECK_THROWS_WITH_AS(f.get(), "Reply dropped without an answer", phyx::NoReplyError);
  CHECK(clock->pending_timer_count() == 0);  // the ask's timeout went with it
  CHECK(rt.run_until_idle() == 1);
  CHECK(log->handled == std::vector<int>{8});
  CHECK(rt.stats().dropped_oldest == 1);
  auto dl = events_of(rec, "process:dead_letter", p.id());
  REQUIRE(dl.size() == 1);
  CHECK(dl[0].text("reason") == "dropped_oldest");
  CHECK(ends_with(dl[0].text("msg_type"), "Echo"));
  check_laws(rt);
}

TEST_CASE("drop_oldest never evicts the message being handled (deterministic)") {
  Recorder rec;
  phyx::Runtime rt(det(rec));
  auto log = std::make_shared<Log>();
  auto p = rt.spawn(probe(log, 1, phyx::MailboxPolicy::drop_oldest));
  rt.run_until_idle();
  // The ask is being handled while its handler fills the lane 3 times over: each send
  // evicts the previously queued Work, never the ask in hand, which is answered.
  auto f = p.ask<int>([](phyx::Reply<int> r) { return Msg{BurstEcho{1, 3, std::move(r)}}; });
  CHECK(f.get() == 3);
  rt.run_until_idle();
  CHECK(log->self_sends == std::vector<bool>{true, true, true});
  CHECK(log->handled == std::vector<int>{3});
  CHECK(rt.stats().dropped_oldest == 2);
  check_laws(rt);
}

TEST_CASE("drop_oldest never evicts the message being handled (threads)") {
  Recorder rec;
  auto log = std::make_shared<Log>();
  std::promise<void> release;
  auto gate = std::make_shared<Gate>();
  gate->release = release.get_future().share();
  auto entered = gate->entered.get_future();
  phyx::Runtime rt(threads(rec));
  auto p = rt.spawn(probe(log, 1, phyx::MailboxPolicy::drop_oldest));
  REQUIRE(p.send(Block{gate}));
  REQUIRE(entered.wait_for(5s) == std::future_status::ready);
  CHECK(p.send(Work{1}));
  CHECK(p.send(Work{2}));
  CHECK(p.send(Work{3}));
  release.set_value();
  auto done = p.stop(phyx::StopReason::normal(), phyx::StopMode::drain);
  REQUIRE(done.wait_for(5s));
  CHECK(log->snapshot() == std::vector<int>{-1, 3});  // the blocked message finished; 1 and 2 were evicted
  CHECK(rt.stats().dropped_oldest == 2);
  rt.shutdown(5s);
  check_laws(rt);
}

TEST_CASE("sends while starting are queued and handled after init, in order") {
  Recorder rec;
  phyx::Runtime rt(det(rec));
  auto log = std::make_shared<Log>();
  auto p = rt.spawn(probe(log, 16));
  CHECK(p.status() == phyx::Status::starting);
  CHECK(p.send(Work{1}));
  CHECK(p.send(Work{2}));
  CHECK(p.send(Work{3}));
  CHECK(log->inits == 0);
  CHECK(log->handled.empty());
  CHECK(rt.run_until_idle() == 3);
  CHECK(log->inits == 1);
  CHECK(log->handled == std::vector<int>{1, 2, 3});
  CHECK(p.status() == phyx::Status::running);

  const auto types = rec.types(p.id());
  auto at = [&](const std::string& t) { return std::find(types.begin(), types.end(), t) - types.begin(); };
  const auto ready = at("process:ready");
  const auto first_msg = at("process:msg:start");
  CHECK(ready < static_cast<long>(types.size()));
  CHECK(ready < first_msg);
  std::vector<std::int64_t> sizes;
  for (auto& e : events_of(rec, "process:mailbox:enqueue", p.id())) sizes.push_back(e.integer("size"));
  CHECK(sizes == std::vector<std::int64_t>{1, 2, 3});
  check_laws(rt);
}

TEST_CASE("the bound and the policy hold while starting") {
  Recorder rec;
  phyx::Runtime rt(det(rec));
  auto rejecting_log = std::make_shared<Log>();
  auto dropping_log = std::make_shared<Log>();
  auto rejecting = rt.spawn(probe(rejecting_log, 2, phyx::MailboxPolicy::reject));
  auto dropping = rt.spawn(probe(dropping_log, 2, phyx::MailboxPolicy::drop_oldest));
  REQUIRE(rejecting.status() == phyx::Status::starting);
  REQUIRE(dropping.status() == phyx::Status::starting);

  CHECK(rejecting.send(Work{1}));
  CHECK(rejecting.send(Work{2}));
  CHECK_FALSE(rejecting.send(Work{3}));
  CHECK(dropping.send(Work{1}));
  CHECK(dropping.send(Work{2}));
  CHECK(dropping.send(Work{3}));

  CHECK(rt.run_until_idle() == 4);
  CHECK(rejecting_log->handled == std::vector<int>{1, 2});
  CHECK(dropping_log->handled == std::vector<int>{2, 3});
  CHECK(dead_letter_reasons(rec, rejecting.id()) == std::vector<std::string>{"mailbox_full"});
  CHECK(dead_letter_reasons(rec, dropping.id()) == std::vector<std::string>{"dropped_oldest"});
  const auto s = rt.stats();
  CHECK(s.refused_full == 1);
  CHECK(s.dropped_oldest == 1);
  check_laws(rt);
}

TEST_CASE("the bound holds while starting for a restart's backoff, and the lane survives") {
  Recorder rec;
  phyx::Runtime rt(det(rec));
  auto log = std::make_shared<Log>();
  phyx::Supervision sup;
  sup.backoff = phyx::Backoff{100ms, 100ms};
  auto p = rt.spawn(probe(log, 2, phyx::MailboxPolicy::reject, sup));
  rt.run_until_idle();
  REQUIRE(p.send(Crash{}));
  CHECK(rt.run_until_idle() == 1);
  REQUIRE(p.status() == phyx::Status::starting);  // waiting for the 100 ms backoff
  CHECK(p.send(Work{1}));
  CHECK(p.send(Work{2}));
  CHECK_FALSE(p.send(Work{3}));
  CHECK(rt.run_until_idle() == 0);
  CHECK(log->handled.empty());
  rt.advance_by(100ms);
  CHECK(p.status() == phyx::Status::running);
  CHECK(log->inits == 2);
  CHECK(log->handled == std::vector<int>{1, 2});
  CHECK(dead_letter_reasons(rec, p.id()) == std::vector<std::string>{"mailbox_full"});
  const auto s = rt.stats();
  CHECK(s.crashed == 1);
  CHECK(s.refused_full == 1);
  check_laws(rt);
}

TEST_CASE("sends while init runs on a worker are queued within the bound, then handled") {
  Recorder rec;
  auto log = std::make_shared<Log>();
  std::promise<void> release;
  auto released = release.get_future().share();
  std::promise<void> entered;
  auto entered_f = entered.get_future();
  phyx::Runtime rt(threads(rec));
  auto spec = probe(log, 3);
  spec.init = [log, released, &entered](const phyx::Empty&) {
    entered.set_value();
    (void)released.wait_for(5s);
    std::lock_guard lock(log->m);
    ++log->inits;
    return 0;
  };
  auto p = rt.spawn(std::move(spec));
  REQUIRE(entered_f.wait_for(5s) == std::future_status::ready);
  CHECK(p.status() == phyx::Status::starting);
  CHECK(p.send(Work{1}));
  CHECK(p.send(Work{2}));
  CHECK(p.send(Work{3}));
  CHECK_FALSE(p.send(Work{4}));
  release.set_value();
  auto done = p.stop(phyx::StopReason::normal(), phyx::StopMode::drain);
  REQUIRE(done.wait_for(5s));
  CHECK(log->snapshot() == std::vector<int>{1, 2, 3});
  CHECK(rt.stats().refused_full == 1);
  rt.shutdown(5s);
  check_laws(rt);
}

TEST_CASE("the system lane is read first: a stop overtakes queued user messages (deterministic)") {
  Recorder rec;
  phyx::Runtime rt(det(rec));
  auto log = std::make_shared<Log>();
  auto p = rt.spawn(probe(log, 16));
  rt.run_until_idle();
  REQUIRE(p.send(Work{1}));
  REQUIRE(p.send(Work{2}));
  REQUIRE(p.send(Work{3}));
  auto done = p.stop();
  CHECK(rt.run_until_idle() == 0);
  CHECK(log->handled.empty());
  CHECK(done.ready());
  CHECK(p.status() == phyx::Status::stopped);
  CHECK(rt.stats().discarded == 3);
  CHECK(dead_letter_reasons(rec, p.id()) == std::vector<std::string>{"stopped", "stopped", "stopped"});
  check_laws(rt);
}

TEST_CASE("the system lane is read first: a stop sent while a handler is busy (threads)") {
  Recorder rec;
  auto log = std::make_shared<Log>();
  std::promise<void> release;
  auto gate = std::make_shared<Gate>();
  gate->release = release.get_future().share();
  auto entered = gate->entered.get_future();
  phyx::Runtime rt(threads(rec));
  auto p = rt.spawn(probe(log, 16));
  REQUIRE(p.send(Block{gate}));
  REQUIRE(entered.wait_for(5s) == std::future_status::ready);
  REQUIRE(p.send(Work{1}));
  REQUIRE(p.send(Work{2}));
  REQUIRE(p.send(Work{3}));
  auto done = p.stop();
  release.set_value();
  REQUIRE(done.wait_for(5s));
  CHECK(log->snapshot() == std::vector<int>{-1});  // the message in hand finished, nothing after it
  CHECK(rt.stats().discarded == 3);
  rt.shutdown(5s);
  check_laws(rt);
}

TEST_CASE("seq: the n-th accepted message has seq n-1; refused ones take no number") {
  Recorder rec;
  phyx::Runtime rt(det(rec));
  auto log = std::make_shared<Log>();
  auto p = rt.spawn(probe(log, 2));
  CHECK(p.send(Work{1}));        // seq 0
  CHECK(p.send(Work{2}));        // seq 1
  CHECK_FALSE(p.send(Work{3}));  // refused: no number
  rt.run_until_idle();
  CHECK(p.send(Work{4}));  // seq 2
  CHECK(p.send(Crash{}));  // seq 3 (a crash is handled, not refused)
  rt.run_until_idle();
  CHECK(p.send(Work{5}));  // seq 4, handled by the next incarnation
  rt.run_until_idle();
  CHECK(log->handled == std::vector<int>{1, 2, 4, 5});

  std::vector<std::int64_t> seqs;
  for (auto& e : events_of(rec, "process:msg:start", p.id())) seqs.push_back(e.integer("seq"));
  CHECK(seqs == std::vector<std::int64_t>{0, 1, 2, 3, 4});
  std::vector<std::int64_t> end_seqs;
  for (auto& e : events_of(rec, "process:msg:end", p.id())) end_seqs.push_back(e.integer("seq"));
  CHECK(end_seqs == std::vector<std::int64_t>{0, 1, 2, 4});
  auto err = events_of(rec, "process:msg:error", p.id());
  REQUIRE(err.size() == 1);
  CHECK(err[0].integer("seq") == 3);
  check_laws(rt);
}

TEST_CASE("seq: an evicted message kept its number") {
  Recorder rec;
  phyx::Runtime rt(det(rec));
  auto log = std::make_shared<Log>();
  auto p = rt.spawn(probe(log, 1, phyx::MailboxPolicy::drop_oldest));
  CHECK(p.send(Work{1}));  // seq 0, evicted
  CHECK(p.send(Work{2}));  // seq 1
  rt.run_until_idle();
  CHECK(p.send(Work{3}));  // seq 2
  rt.run_until_idle();
  CHECK(log->handled == std::vector<int>{2, 3});
  std::vector<std::int64_t> seqs;
  for (auto& e : events_of(rec, "process:msg:start", p.id())) seqs.push_back(e.integer("seq"));
  CHECK(seqs == std::vector<std::int64_t>{1, 2});
  check_laws(rt);
}

TEST_CASE("dead-letter reason not_running: sends from outside to stopping, stopped and failed processes") {
  Recorder rec;
  phyx::Runtime rt(det(rec));
  auto log = std::make_shared<Log>();
  auto p = rt.spawn(probe(log, 16));
  rt.run_until_idle();
  auto done = p.stop();
  REQUIRE(p.status() == phyx::Status::stopping);
  CHECK_FALSE(p.send(Work{1}));  // stopping
  rt.run_until_idle();
  REQUIRE(p.status() == phyx::Status::stopped);
  CHECK_FALSE(p.send(Work{2}));  // stopped

  phyx::Supervision none;
  none.type = phyx::Strategy::none;
  auto failing_log = std::make_shared<Log>();
  auto q = rt.spawn(probe(failing_log, 16, phyx::MailboxPolicy::reject, none));
  REQUIRE(q.send(Crash{}));
  rt.run_until_idle();
  REQUIRE(q.status() == phyx::Status::failed);
  CHECK_FALSE(q.send(Work{3}));  // failed

  CHECK(dead_letter_reasons(rec, p.id()) == std::vector<std::string>{"not_running", "not_running"});
  CHECK(dead_letter_reasons(rec, q.id()) == std::vector<std::string>{"not_running"});
  for (auto& e : rec.of_type("process:dead_letter")) {
    CHECK(ends_with(e.text("msg_type"), "Work"));
    CHECK(e.name == "probe");
  }
  const auto s = rt.stats();
  CHECK(s.refused_not_running == 3);
  CHECK(s.refused_full == 0);
  CHECK(log->handled.empty());
  check_laws(rt);
}

TEST_CASE("dead-letter reason stopped: self-sends, schedules and pipe results during a drain (SPEC 14.18)") {
  Recorder rec;
  auto clock = phyx::create_manual_clock();
  auto opts = det(rec);
  opts.clock = clock;
  phyx::Runtime rt(opts);
  auto log = std::make_shared<Log>();
  auto p = rt.spawn(probe(log, 16));
  rt.run_until_idle();
  REQUIRE(p.send(SelfSend{10}));
  REQUIRE(p.send(Work{2}));
  auto done = p.stop(phyx::StopReason::normal(), phyx::StopMode::drain);
  CHECK_FALSE(p.send(Work{3}));  // from outside while stopping: not_running
  CHECK(rt.run_until_idle() == 2);
  CHECK(done.ready());
  CHECK(p.status() == phyx::Status::stopped);
  CHECK(log->self_sends == std::vector<bool>{false});
  CHECK(log->handled == std::vector<int>{2});
  CHECK(clock->pending_timer_count() == 0);

  CHECK(dead_letter_reasons(rec, p.id()) ==
        std::vector<std::string>{"not_running", "stopped", "stopped", "stopped"});
  const auto s = rt.stats();
  CHECK(s.sent == 6);  // SelfSend, Work 2, Work 3, the self-send, the schedule, the pipe result
  CHECK(s.accepted == 2);
  CHECK(s.refused_not_running == 4);
  CHECK(s.handled == 2);
  CHECK(s.discarded == 0);
  check_laws(rt);
}

TEST_CASE("dead-letter reason failed: messages left behind a crash under Strategy::none") {
  Recorder rec;
  phyx::Runtime rt(det(rec));
  auto log = std::make_shared<Log>();
  phyx::Supervision none;
  none.type = phyx::Strategy::none;
  auto p = rt.spawn(probe(log, 16, phyx::MailboxPolicy::reject, none));
  rt.run_until_idle();
  REQUIRE(p.send(Crash{}));
  REQUIRE(p.send(Work{1}));
  auto f = p.ask<int>([](phyx::Reply<int> r) { return Msg{Echo{2, std::move(r)}}; });
  rt.run_until_idle();
  CHECK(p.status() == phyx::Status::failed);
  CHECK(log->handled.empty());
  CHECK_THROWS_WITH_AS(f.get(), "Reply dropped without an answer", phyx::NoReplyError);  // SPEC 14.19
  CHECK(dead_letter_reasons(rec, p.id()) == std::vector<std::string>{"failed", "failed"});
  const auto s = rt.stats();
  CHECK(s.crashed == 1);
  CHECK(s.discarded == 2);
  check_laws(rt);
}

TEST_CASE("many senders on many threads: per-sender order and exact accounting") {
  Recorder rec;
  auto log = std::make_shared<Log>();
  phyx::Runtime rt(threads(rec));
  auto p = rt.spawn(probe(log, 64));
  constexpr int kSenders = 4;
  constexpr int kPerSender = 500;
  std::vector<int> accepted(kSenders, 0);
  std::vector<std::thread> senders;
  for (int t = 0; t < kSenders; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < kPerSender; ++i) {
        if (p.send(Work{t * 100000 + i})) ++accepted[t];
      }
    });
  }
  for (auto& t : senders) t.join();
  auto done = p.stop(phyx::StopReason::normal(), phyx::StopMode::drain);
  REQUIRE(done.wait_for(5s));
  const auto handled = log->snapshot();
  int total_accepted = 0;
  for (int a : accepted) total_accepted += a;
  CHECK(static_cast<int>(handled.size()) == total_accepted);
  std::map<int, int> last;  // sender -> last n seen
  bool in_order = true;
  for (int n : handled) {
    const int sender = n / 100000;
    auto it = last.find(sender);
    if (it != last.end() && it->second >= n) in_order = false;
    last[sender] = n;
  }
  CHECK(in_order);
  const auto s = rt.stats();
  CHECK(s.sent == static_cast<std::uint64_t>(kSenders * kPerSender));
  CHECK(s.accepted == static_cast<std::uint64_t>(total_accepted));
  CHECK(s.refused_full == static_cast<std::uint64_t>(kSenders * kPerSender - total_accepted));
  rt.shutdown(5s);
  check_laws(rt);
}

TEST_CASE("drop_oldest under many senders: nothing disappears uncounted") {
  auto log = std::make_shared<Log>();
  phyx::Runtime rt({.clock = phyx::create_system_clock(), .workers = 2});
  auto p = rt.spawn(probe(log, 8, phyx::MailboxPolicy::drop_oldest));
  constexpr int kSenders = 4;
  constexpr int kPerSender = 2000;
  std::vector<std::thread> senders;
  std::vector<int> refused(kSenders, 0);
  for (int t = 0; t < kSenders; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < kPerSender; ++i) {
        if (!p.send(Work{t * 100000 + i})) ++refused[t];
      }
    });
  }
  for (auto& t : senders) t.join();
  for (int r : refused) CHECK(r == 0);  // drop_oldest always accepts while running
  auto done = p.stop(phyx::StopReason::normal(), phyx::StopMode::drain);
  REQUIRE(done.wait_for(5s));
  rt.shutdown(5s);
  const auto s = rt.stats();
  CHECK(s.sent == static_cast<std::uint64_t>(kSenders * kPerSender));
  CHECK(s.accepted == s.sent);
  CHECK(s.handled + s.dropped_oldest == s.accepted);
  CHECK(s.handled == log->snapshot().size());
  CHECK(s.discarded == 0);
  check_laws(rt);
}
