// SPEC 8: telemetry events, their fields and their order; user events; throwing sinks;
// to_json and the Event accessors.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "support/accounting.hpp"
#include "support/counter.hpp"
#include "support/printing.hpp"
#include "support/recorder.hpp"


/// prefix + std::to_string(n), built by appending (GCC 12 warns falsely on "lit" + string).
inline std::string cat(const char* prefix, long long n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

using namespace std::chrono_literals;
using phyx_test::check_laws;
using phyx_test::RecordedEvent;
using phyx_test::Recorder;

// Message types live in the global namespace so that their type names are exactly these.
struct Ping {};
struct Boom {};
struct Hold {
  phyx::Reply<int> reply;
};
struct Answer {
  int value = 0;
};
struct Emit {};
struct SelfSend {};
using TMsg = std::variant<Ping, Boom, Hold, Answer, Emit, SelfSend>;

struct TState {
  std::optional<phyx::Reply<int>> held;
};

namespace {

constexpr std::int64_t kWallStart = 1'700'000'000'000;

phyx::ProcessSpec<TMsg, TState> worker_spec(std::string name = "worker") {
  return phyx::ProcessSpec<TMsg, TState>{
      .name = std::move(name),
      .init = [](const phyx::Empty&) { return TState{}; },
      .handle =
          [](TState& s, TMsg& m, auto& tools) {
            if (std::holds_alternative<Boom>(m)) throw std::runtime_error("boom");
            if (auto* h = std::get_if<Hold>(&m)) s.held = std::move(h->reply);
            if (auto* a = std::get_if<Answer>(&m)) {
              if (s.held) {
                (*s.held)(a->value);
                s.held.reset();
              }
            }
            if (std::holds_alternative<Emit>(m)) {
              tools.emit("user:thing", phyx::Fields{{"n", std::int64_t{7}},
                                                    {"label", std::string("x")},
                                                    {"ratio", 0.5},
                                                    {"flag", true}});
            }
            if (std::holds_alternative<SelfSend>(m)) tools.self().send(Ping{});
          },
  };
}

/// A deterministic runtime on a ManualClock whose wall time starts at kWallStart, recording
/// every event. The recorder is declared first so that it outlives the runtime.
struct Det {
  Recorder rec;
  std::shared_ptr<phyx::ManualClock> clock = phyx::create_manual_clock(phyx::Instant{.wall_ms = kWallStart});
  phyx::Runtime rt{phyx::RuntimeOptions{.clock = clock, .emit = rec.sink(), .deterministic = true, .seed = 3}};
};

std::vector<std::string> keys(const RecordedEvent& e) {
  std::vector<std::string> out;
  for (const auto& [k, v] : e.fields) out.push_back(k);
  return out;
}

std::vector<RecordedEvent> of(const Recorder& rec, phyx::ProcessId id) {
  std::vector<RecordedEvent> out;
  for (auto& e : rec.events()) {
    if (e.process == id) out.push_back(e);
  }
  return out;
}

using Types = std::vector<std::string>;

}  // namespace


TEST_CASE("one process: start, ready, enqueue..., msg:start, msg:end, stop, with exact fields") {
  Det d;
  auto w = d.rt.spawn(worker_spec());
  d.rt.run_until_idle();
  d.rt.advance_by(250ms);
  CHECK(w.send(Ping{}));
  CHECK(w.send(Ping{}));
  CHECK(d.rt.run_until_idle() == 2);
  w.stop();
  d.rt.run_until_idle();

  const auto events = of(d.rec, w.id());
  CHECK(d.rec.types(w.id()) == Types{"process:start", "process:ready", "process:mailbox:enqueue",
                                     "process:mailbox:enqueue", "process:msg:start", "process:msg:end",
                                     "process:msg:start", "process:msg:end", "process:stop"});
  REQUIRE(events.size() == 9);
  for (const auto& e : events) {
    CHECK(e.name == "worker");
    CHECK(e.process == w.id());
  }
  CHECK(events[0].fields.empty());
  CHECK(keys(events[1]) == Types{"started_at"});
  CHECK(events[1].integer("started_at") == kWallStart);  // wall time in ms, at time 0
  CHECK(events[0].at.mono_ms == 0);
  CHECK(keys(events[2]) == Types{"size"});
  CHECK(events[2].integer("size") == 1);
  CHECK(events[3].integer("size") == 2);
  CHECK(events[2].at.mono_ms == 250);
  for (int i = 0; i < 2; ++i) {
    const auto& start = events[static_cast<std::size_t>(4 + 2 * i)];
    const auto& end = events[static_cast<std::size_t>(5 + 2 * i)];
    CHECK(keys(start) == Types{"msg_type", "seq"});
    CHECK(start.text("msg_type") == "Ping");
    CHECK(start.integer("seq") == i);
    CHECK(keys(end) == Types{"msg_type", "seq", "duration_ns"});
    CHECK(end.text("msg_type") == "Ping");
    CHECK(end.integer("seq") == i);
    CHECK(end.integer("duration_ns") >= 0);
    CHECK(start.at.mono_ms == 250);
  }
  CHECK(keys(events[8]) == Types{"reason"});
  CHECK(events[8].text("reason") == "normal");
  check_laws(d.rt);
}

TEST_CASE("messages sent before init are enqueued before process:start") {
  Det d;
  auto w = d.rt.spawn(worker_spec());
  CHECK(w.send(Ping{}));
  d.rt.run_until_idle();
  CHECK(d.rec.types(w.id()) == Types{"process:mailbox:enqueue", "process:start", "process:ready",
                                     "process:msg:start", "process:msg:end"});
  check_laws(d.rt);
}

TEST_CASE("msg_type is the variant alternative's type name, else the message's type name") {
  Det d;
  auto w = d.rt.spawn(worker_spec());
  w.send(Ping{});
  w.send(Answer{3});
  w.send(Emit{});
  auto plain = d.rt.spawn(phyx::ProcessSpec<int, int>{
      .name = "plain",
      .init = [](const phyx::Empty&) { return 0; },
      .handle = [](int& s, int& m, auto&) { s += m; },
  });
  plain.send(5);
  auto counter = d.rt.spawn(phyx_test::counter_spec("counter"));
  counter.send(phyx_test::Increment{});
  d.rt.run_until_idle();

  std::vector<std::string> types;
  for (auto& e : d.rec.of_type("process:msg:start")) {
    if (e.process == w.id()) types.push_back(e.text("msg_type"));
  }
  CHECK(types == Types{"Ping", "Answer", "Emit"});
  auto plain_start = d.rec.of_type("process:msg:start");
  std::optional<std::string> plain_type, counter_type;
  for (auto& e : plain_start) {
    if (e.process == plain.id()) plain_type = e.text("msg_type");
    if (e.process == counter.id()) counter_type = e.text("msg_type");
  }
  CHECK(plain_type == "int");
  CHECK(counter_type == "phyx_test::Increment");  // a namespaced alternative keeps its namespace
  check_laws(d.rt);
}

TEST_CASE("a crashing handler: msg:error, fail, restart, then start and ready again") {
  Det d;
  auto w = d.rt.spawn(worker_spec());
  d.rt.run_until_idle();
  d.rec.clear();
  w.send(Ping{});
  w.send(Boom{});
  w.send(Ping{});
  CHECK(d.rt.run_until_idle() == 3);  // the crashed one counts

  const auto events = of(d.rec, w.id());
  CHECK(d.rec.types(w.id()) ==
        Types{"process:mailbox:enqueue", "process:mailbox:enqueue", "process:mailbox:enqueue", "process:msg:start",
              "process:msg:end", "process:msg:start", "process:msg:error", "process:fail", "supervisor:restart",
              "process:start", "process:ready", "process:msg:start", "process:msg:end"});
  REQUIRE(events.size() == 13);
  const auto& error = events[6];
  CHECK(keys(error) == Types{"msg_type", "seq", "error"});
  CHECK(error.text("msg_type") == "Boom");
  CHECK(error.integer("seq") == 1);
  CHECK(error.text("error") == "boom");
  CHECK(keys(events[7]) == Types{"error"});
  CHECK(events[7].text("error") == "boom");
  CHECK(keys(events[8]) == Types{"attempt", "delay_ms"});
  CHECK(events[8].integer("attempt") == 1);
  CHECK(events[8].integer("delay_ms") == 0);  // no backoff: restart at once
  CHECK(events[11].integer("seq") == 2);      // the user lane survived the crash
  CHECK(w.status() == phyx::Status::running);
  check_laws(d.rt);
}

TEST_CASE("supervisor:restart carries the attempt and the backoff delay") {
  Det d;
  auto spec = worker_spec();
  spec.supervision = phyx::Supervision{.backoff = phyx::Backoff{.initial = 100ms, .max = 1000ms}};
  auto w = d.rt.spawn(spec);
  d.rt.run_until_idle();
  w.send(Boom{});
  d.rt.run_until_idle();
  CHECK(w.status() == phyx::Status::starting);
  d.rt.advance_by(100ms);
  CHECK(w.status() == phyx::Status::running);
  w.send(Boom{});
  d.rt.run_until_idle();
  d.rt.advance_by(200ms);
  CHECK(w.status() == phyx::Status::running);
  const auto restarts = d.rec.of_type("supervisor:restart");
  REQUIRE(restarts.size() == 2);
  CHECK(restarts[0].integer("attempt") == 1);
  CHECK(restarts[0].integer("delay_ms") == 100);
  CHECK(restarts[1].integer("attempt") == 2);
  CHECK(restarts[1].integer("delay_ms") == 200);
  CHECK(restarts[0].process == w.id());
  CHECK(restarts[0].name == "worker");
  // every incarnation starts with process:start
  CHECK(d.rec.count("process:start") == 3);
  CHECK(d.rec.count("process:ready") == 3);
  check_laws(d.rt);
}

TEST_CASE("init that throws: start, fail, restart after 1 ms, then start and ready") {
  Det d;
  auto failures = std::make_shared<int>(1);
  auto w = d.rt.spawn(phyx::ProcessSpec<TMsg, TState, std::shared_ptr<int>>{
                          .name = "flaky-init",
                          .init =
                              [](const std::shared_ptr<int>& left) {
                                if ((*left)-- > 0) throw std::runtime_error("init failed");
                                return TState{};
                              },
                          .handle = [](TState&, TMsg&, auto&) {},
                      },
                      failures);
  d.rt.run_until_idle();
  CHECK(d.rec.types(w.id()) == Types{"process:start", "process:fail", "supervisor:restart"});
  const auto events = of(d.rec, w.id());
  REQUIRE(events.size() == 3);
  CHECK(events[1].text("error") == "init failed");
  CHECK(events[2].integer("attempt") == 1);
  CHECK(events[2].integer("delay_ms") == 1);
  d.rt.advance_by(1ms);
  CHECK(d.rec.types(w.id()) ==
        Types{"process:start", "process:fail", "supervisor:restart", "process:start", "process:ready"});
  CHECK(of(d.rec, w.id()).back().integer("started_at") == d.clock->now().wall_ms);
}

TEST_CASE("supervisor:giveup, then queued messages are dead letters with reason failed") {
  Det d;
  auto spec = worker_spec();
  spec.supervision = phyx::Supervision{.max_restarts = phyx::MaxRestarts{.count = 1, .within = 1000ms}};
  auto w = d.rt.spawn(spec);
  w.send(Boom{});
  w.send(Boom{});
  w.send(Ping{});
  d.rt.run_until_idle();
  CHECK(w.status() == phyx::Status::failed);
  const auto giveups = d.rec.of_type("supervisor:giveup");
  REQUIRE(giveups.size() == 1);
  CHECK(keys(giveups[0]) == Types{"attempts", "within_ms"});
  CHECK(giveups[0].integer("attempts") == 1);
  CHECK(giveups[0].integer("within_ms") == 1000);
  CHECK(giveups[0].process == w.id());
  const auto dead = d.rec.of_type("process:dead_letter");
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].text("reason") == "failed");
  CHECK(dead[0].text("msg_type") == "Ping");
  CHECK(d.rt.stats().dead_letters == 1);
  check_laws(d.rt);
}

TEST_CASE("process:stop carries the stop reason") {
  Det d;
  auto a = d.rt.spawn(worker_spec("a"));
  auto b = d.rt.spawn(worker_spec("b"));
  auto c = d.rt.spawn(worker_spec("c"));
  d.rt.run_until_idle();
  a.stop();
  b.stop(phyx::StopReason::error("bad"));
  d.rt.run_until_idle();
  d.rt.shutdown(1s);
  auto reason_of = [&](phyx::ProcessId id) {
    auto events = of(d.rec, id);
    REQUIRE(!events.empty());
    REQUIRE(events.back().type == "process:stop");
    return events.back().text("reason");
  };
  CHECK(reason_of(a.id()) == "normal");
  CHECK(reason_of(b.id()) == "error: bad");
  CHECK(reason_of(c.id()) == "shutdown");
  CHECK(d.rec.count("process:stop") == 3);
}

TEST_CASE("an on_stop that throws emits process:fail, then process:stop") {
  Det d;
  auto spec = worker_spec();
  spec.on_stop = [](TState&, const phyx::StopReason&, const phyx::Empty&) { throw std::runtime_error("stop-boom"); };
  auto w = d.rt.spawn(spec);
  d.rt.run_until_idle();
  d.rec.clear();
  auto done = w.stop();
  d.rt.run_until_idle();
  CHECK(done.ready());
  CHECK(d.rec.types(w.id()) == Types{"process:fail", "process:stop"});
  CHECK(d.rec.of_type("process:fail").at(0).text("error") == "stop-boom");
  CHECK(w.status() == phyx::Status::stopped);
}

TEST_CASE("reject: a full lane emits mailbox:full then dead_letter(mailbox_full)") {
  Det d;
  auto spec = worker_spec();
  spec.max_inbox = 2;
  auto w = d.rt.spawn(spec);
  CHECK(w.send(Ping{}));
  CHECK(w.send(Ping{}));
  CHECK_FALSE(w.send(Answer{1}));
  CHECK(d.rec.types(w.id()) == Types{"process:mailbox:enqueue", "process:mailbox:enqueue", "process:mailbox:full",
                                     "process:dead_letter"});
  const auto events = of(d.rec, w.id());
  REQUIRE(events.size() == 4);
  CHECK(keys(events[2]) == Types{"policy", "size"});
  CHECK(events[2].text("policy") == "reject");
  CHECK(events[2].integer("size") == 2);
  CHECK(keys(events[3]) == Types{"reason", "msg_type"});
  CHECK(events[3].text("reason") == "mailbox_full");
  CHECK(events[3].text("msg_type") == "Answer");
  d.rt.run_until_idle();
  // the refused message took no seq number: the next accepted one is seq 2
  CHECK(w.send(Emit{}));
  d.rt.run_until_idle();
  std::vector<std::int64_t> seqs;
  for (auto& e : d.rec.of_type("process:msg:start")) seqs.push_back(e.integer("seq"));
  CHECK(seqs == std::vector<std::int64_t>{0, 1, 2});
  check_laws(d.rt);
}

TEST_CASE("drop_oldest: mailbox:full, dead_letter(dropped_oldest) of the evicted one, then enqueue") {
  Det d;
  auto spec = worker_spec();
  spec.max_inbox = 2;
  spec.mailbox_policy = phyx::MailboxPolicy::drop_oldest;
  auto w = d.rt.spawn(spec);
  CHECK(w.send(Ping{}));
  CHECK(w.send(Answer{1}));
  CHECK(w.send(Emit{}));
  CHECK(d.rec.types(w.id()) == Types{"process:mailbox:enqueue", "process:mailbox:enqueue", "process:mailbox:full",
                                     "process:dead_letter", "process:mailbox:enqueue"});
  const auto events = of(d.rec, w.id());
  REQUIRE(events.size() == 5);
  CHECK(events[2].text("policy") == "drop_oldest");
  CHECK(events[2].integer("size") == 2);
  CHECK(events[3].text("reason") == "dropped_oldest");
  CHECK(events[3].text("msg_type") == "Ping");  // the oldest, not the new one
  CHECK(events[4].integer("size") == 2);
  CHECK(d.rt.run_until_idle() == 2);
  check_laws(d.rt);
}

TEST_CASE("dead letters: stopped (discarded at stop, refused self-send in a drain), not_running") {
  Det d;
  auto w = d.rt.spawn(worker_spec());
  d.rt.run_until_idle();
  w.send(Ping{});
  w.send(Answer{2});
  w.stop();
  CHECK_FALSE(w.send(Emit{}));  // stopping: refused at once
  d.rt.run_until_idle();
  const auto dead = d.rec.of_type("process:dead_letter");
  REQUIRE(dead.size() == 3);
  CHECK(dead[0].text("reason") == "not_running");
  CHECK(dead[0].text("msg_type") == "Emit");
  CHECK(dead[1].text("reason") == "stopped");
  CHECK(dead[1].text("msg_type") == "Ping");
  CHECK(dead[2].text("reason") == "stopped");
  CHECK(dead[2].text("msg_type") == "Answer");
  for (auto& e : dead) CHECK(e.process == w.id());
  CHECK(d.rec.types(w.id()).back() == "process:stop");

  auto v = d.rt.spawn(worker_spec("drainer"));
  d.rt.run_until_idle();
  v.send(SelfSend{});
  v.stop(phyx::StopReason::normal(), phyx::StopMode::drain);
  d.rt.run_until_idle();
  const auto drained = d.rec.of_type("process:dead_letter");
  REQUIRE(drained.size() == 4);
  CHECK(drained[3].process == v.id());
  CHECK(drained[3].text("reason") == "stopped");
  CHECK(drained[3].text("msg_type") == "Ping");
  CHECK(d.rt.stats().dead_letters == 4);
  check_laws(d.rt);
}

TEST_CASE("ask:timeout{timeout_ms} and a late reply's dead_letter(late_reply)") {
  Det d;
  auto w = d.rt.spawn(worker_spec());
  auto f = w.ask<int>([](phyx::Reply<int> r) { return TMsg{Hold{std::move(r)}}; }, 100ms);
  d.rt.run_until_idle();
  d.rt.advance_by(100ms);
  REQUIRE(f.ready());
  CHECK_THROWS_WITH_AS(f.get(), "Ask timeout after 100ms", phyx::TimeoutError);
  const auto timeouts = d.rec.of_type("ask:timeout");
  REQUIRE(timeouts.size() == 1);
  CHECK(keys(timeouts[0]) == Types{"timeout_ms"});
  CHECK(timeouts[0].integer("timeout_ms") == 100);
  CHECK(timeouts[0].process == w.id());
  CHECK(timeouts[0].name == "worker");
  CHECK(timeouts[0].at.mono_ms == 100);

  w.send(Answer{5});  // the held Reply answers now: too late
  d.rt.run_until_idle();
  const auto dead = d.rec.of_type("process:dead_letter");
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].text("reason") == "late_reply");
  CHECK(dead[0].text("msg_type") == "Hold");
  CHECK(dead[0].process == w.id());
  CHECK(dead[0].name == "worker");
  const auto s = d.rt.stats();
  CHECK(s.ask_timeouts == 1);
  CHECK(s.late_replies == 1);
  check_laws(d.rt);
}

TEST_CASE("tools.emit: a user event with the process's id and name and the given fields") {
  Det d;
  auto w = d.rt.spawn(worker_spec("emitter"));
  d.rt.advance_by(42ms);
  w.send(Emit{});
  d.rt.run_until_idle();
  const auto user = d.rec.of_type("user:thing");
  REQUIRE(user.size() == 1);
  CHECK(user[0].process == w.id());
  CHECK(user[0].name == "emitter");
  CHECK(user[0].at.mono_ms == 42);
  REQUIRE(user[0].fields.size() == 4);
  CHECK(user[0].fields[0] == std::pair<std::string, phyx::FieldValue>{"n", std::int64_t{7}});
  CHECK(user[0].fields[1] == std::pair<std::string, phyx::FieldValue>{"label", std::string("x")});
  CHECK(user[0].fields[2] == std::pair<std::string, phyx::FieldValue>{"ratio", 0.5});
  CHECK(user[0].fields[3] == std::pair<std::string, phyx::FieldValue>{"flag", true});
  // it sits between the msg:start and msg:end of the message whose handler emitted it
  CHECK(d.rec.types(w.id()) == Types{"process:start", "process:ready", "process:mailbox:enqueue",
                                     "process:msg:start", "user:thing", "process:msg:end"});
  check_laws(d.rt);
}

namespace {
/// Sends, crashes, refuses, emits, asks and stops: every kind of event at least once.
void busy_workload(phyx::Runtime& rt) {
  auto spec = worker_spec();
  spec.max_inbox = 3;
  auto w = rt.spawn(spec);
  rt.run_until_idle();
  w.send(Ping{});
  w.send(Emit{});
  w.send(Boom{});
  CHECK_FALSE(w.send(Ping{}));  // full
  rt.run_until_idle();
  auto f = w.ask<int>([](phyx::Reply<int> r) { return TMsg{Hold{std::move(r)}}; }, 10ms);
  rt.run_until_idle();
  rt.advance_by(10ms);
  CHECK_THROWS_AS(f.get(), phyx::TimeoutError);
  w.send(Answer{1});  // late reply
  rt.run_until_idle();
  w.send(Ping{});  // discarded by the stop
  w.stop();
  CHECK_FALSE(w.send(Ping{}));
  rt.run_until_idle();
  CHECK(w.status() == phyx::Status::stopped);
}
}  // namespace

TEST_CASE("a throwing sink never crashes the engine; every throw is counted") {
  std::uint64_t calls = 0;
  phyx::Runtime rt(phyx::RuntimeOptions{.clock = phyx::create_manual_clock(),
                                        .emit =
                                            [&calls](const phyx::Event&) {
                                              ++calls;
                                              throw std::runtime_error("sink down");
                                            },
                                        .deterministic = true});
  busy_workload(rt);
  const auto s = rt.stats();
  CHECK(calls > 10);
  CHECK(s.sink_errors == calls);
  CHECK(s.crashed == 1);
  CHECK(s.late_replies == 1);
  check_laws(rt);
}

TEST_CASE("a sink throwing a non-std exception is caught too, and later events still arrive") {
  Recorder rec;
  auto sink = rec.sink();
  std::uint64_t thrown = 0;
  phyx::Runtime rt(phyx::RuntimeOptions{.clock = phyx::create_manual_clock(),
                                        .emit =
                                            [&](const phyx::Event& e) {
                                              if (e.type == "process:msg:start") {
                                                ++thrown;
                                                throw 42;
                                              }
                                              sink(e);
                                            },
                                        .deterministic = true});
  busy_workload(rt);
  CHECK(thrown > 0);
  CHECK(rt.stats().sink_errors == thrown);
  CHECK(rec.count("process:msg:start") == 0);
  CHECK(rec.count("process:msg:end") > 0);
  CHECK(rec.count("process:stop") == 1);
  check_laws(rt);
}

TEST_CASE("no sink: the same workload runs, nothing is counted as a sink error") {
  phyx::Runtime rt(phyx_test::deterministic_options());
  busy_workload(rt);
  const auto s = rt.stats();
  CHECK(s.sink_errors == 0);
  CHECK(s.dead_letters == 4);  // mailbox_full, late_reply, stopped (the queued Ping), not_running
  check_laws(rt);
}

TEST_CASE("a sink sees only its own runtime's events") {
  Recorder rec_a;
  phyx::Runtime a(phyx::RuntimeOptions{.clock = phyx::create_manual_clock(), .emit = rec_a.sink(), .deterministic = true});
  phyx::Runtime b(phyx_test::deterministic_options());
  auto wb = b.spawn(worker_spec("in-b"));
  wb.send(Emit{});
  b.run_until_idle();
  CHECK(rec_a.events().empty());
  auto wa = a.spawn(worker_spec("in-a"));
  a.run_until_idle();
  for (auto& e : rec_a.events()) CHECK(e.name == "in-a");
  CHECK_FALSE(rec_a.events().empty());
  check_laws(a);
  check_laws(b);
}

TEST_CASE("on worker threads, one process's events arrive in the order they happened") {
  const int n = 20'000;
  Recorder rec;
  phyx::ProcessId id;
  {
    phyx::Runtime rt(phyx::RuntimeOptions{.clock = phyx::create_system_clock(), .emit = rec.sink(), .workers = 2});
    auto spec = worker_spec();
    // Room for every message this case sends (n Pings, the Hold, the Answer): the worker
    // may not have taken one yet when the last is offered (a loaded machine).
    spec.max_inbox = static_cast<std::size_t>(n) + 2;
    auto w = rt.spawn(spec);
    id = w.id();
    for (int i = 0; i < n; ++i) REQUIRE(w.send(Ping{}));
    // The Hold waits behind up to n Pings of one process (3 recorded events each), which
    // one worker handles: the default 5 s ask timeout was a speed bound, and a loaded TSan
    // host missed it (answered after 0.5-5.1 s at load averages of 8-17; 2 failures in
    // 81 runs). 60 s bounds liveness only.
    auto f = w.ask<int>([](phyx::Reply<int> r) { return TMsg{Hold{std::move(r)}}; }, 60s);
    REQUIRE(w.send(Answer{1}));
    CHECK(f.get() == 1);
    rt.shutdown(60s);
    check_laws(rt);
  }
  // Every message is enqueued before its handler starts, and handlers do not overlap.
  std::int64_t enqueued = 0, started = 0, ended = 0;
  bool ready = false;
  std::int64_t first_bad = -1;
  for (auto& e : of(rec, id)) {
    if (e.type == "process:ready") ready = true;
    if (e.type == "process:mailbox:enqueue") ++enqueued;
    if (e.type == "process:msg:start") {
      if (!ready || e.integer("seq") != started || started != ended || started >= enqueued) {
        if (first_bad < 0) first_bad = started;
      }
      ++started;
    }
    if (e.type == "process:msg:end") ++ended;
  }
  INFO("first message whose msg:start came before its mailbox:enqueue (or out of order): seq " << first_bad);
  CHECK(first_bad == -1);
  CHECK(started == n + 2);
  CHECK(ended == n + 2);
}

namespace {

/// A system clock that, once armed, blocks the arming thread's next now() call: it first
/// releases `on_block`, then waits (bounded) for `until`. It widens the window between a
/// send's enqueue and its process:mailbox:enqueue event (the event's `at` is read from the
/// clock while the event is built) so that the ordering is tested deterministically.
class GateClock final : public phyx::Clock {
 public:
  phyx::Instant now() const override {
    if (armed_.load(std::memory_order_acquire) && std::this_thread::get_id() == armed_thread_) {
      armed_.store(false, std::memory_order_release);
      on_block_->set_value();
      blocked_.store(until_.wait_for(std::chrono::seconds(1)) == std::future_status::ready, std::memory_order_release);
    }
    return system_->now();
  }
  void arm(std::promise<void>* on_block, std::shared_future<void> until) {
    on_block_ = on_block;
    until_ = std::move(until);
    armed_thread_ = std::this_thread::get_id();
    armed_.store(true, std::memory_order_release);
  }
  bool saw_reorder() const { return blocked_.load(std::memory_order_acquire); }

 private:
  std::shared_ptr<phyx::Clock> system_ = phyx::create_system_clock();
  mutable std::atomic<bool> armed_{false};
  mutable std::atomic<bool> blocked_{false};
  std::thread::id armed_thread_;
  std::promise<void>* on_block_ = nullptr;
  std::shared_future<void> until_;
};

struct Gate {
  std::promise<void> entered;                   // the handler of the first message is running
  std::promise<void> release;                   // lets that handler return
  std::shared_future<void> released = release.get_future().share();
};

}  // namespace

TEST_CASE("on worker threads, mailbox:enqueue comes before the msg:start of the same message") {
  // Message A's handler blocks the worker inside the process's slice. B is sent meanwhile;
  // while the sender builds B's enqueue event, A is released: the worker then pops B at once.
  // SPEC 8: events for one process arrive in the order they happened, so B's enqueue event
  // must still precede B's msg:start.
  auto clock = std::make_shared<GateClock>();
  Recorder rec;
  std::promise<void> b_started;
  std::atomic<bool> b_started_set{false};
  auto record = rec.sink();
  auto gate = std::make_shared<Gate>();
  phyx::ProcessId id;
  {
    phyx::Runtime rt(phyx::RuntimeOptions{
        .clock = clock,
        .emit =
            [&](const phyx::Event& e) {
              record(e);
              if (e.type == "process:msg:start" && e.get_int("seq") == 1 && !b_started_set.exchange(true, std::memory_order_acq_rel)) {
                b_started.set_value();
              }
            },
        .workers = 2});
    auto w = rt.spawn(phyx::ProcessSpec<int, int, std::shared_ptr<Gate>>{
                          .name = "gated",
                          .init = [](const std::shared_ptr<Gate>&) { return 0; },
                          .handle =
                              [](int& st, int& m, auto& tools) {
                                ++st;
                                if (m == 0) {
                                  tools.ctx()->entered.set_value();
                                  (void)tools.ctx()->released.wait_for(std::chrono::seconds(5));
                                }
                              },
                      },
                      gate);
    id = w.id();
    REQUIRE(w.send(0));  // A
    REQUIRE(gate->entered.get_future().wait_for(std::chrono::seconds(5)) == std::future_status::ready);
    clock->arm(&gate->release, b_started.get_future().share());
    REQUIRE(w.send(1));  // B
    auto f = w.stop(phyx::StopReason::normal(), phyx::StopMode::drain);
    REQUIRE(f.wait_for(std::chrono::seconds(5)));
    rt.shutdown(5s);
    check_laws(rt);
  }
  std::string order;
  for (auto& e : of(rec, id)) {
    if (e.type == "process:mailbox:enqueue") order += "enqueue ";
    if (e.type == "process:msg:start") order += cat("start#", e.integer("seq")) + " ";
  }
  INFO("the worker started B before B's enqueue event was emitted: " << clock->saw_reorder());
  CHECK(order == "enqueue start#0 enqueue start#1 ");
}

TEST_CASE("to_json: one object with type, process, name, at and fields, strings escaped") {
  phyx::Event e{"a\"b", phyx::ProcessId{3}, "n\\m", phyx::Instant{.wall_ms = 10, .mono_ms = 20, .mono_ns = 20'000'000},
                phyx::Fields{{"i", std::int64_t{-1}},
                             {"d", 1.5},
                             {"s", std::string("x\ny\t\x01")},
                             {"b", true},
                             {"f", false}}};
  CHECK(phyx::to_json(e) ==
        R"({"type":"a\"b","process":3,"name":"n\\m","at":{"wall_ms":10,"mono_ms":20},)"
        R"("fields":{"i":-1,"d":1.5,"s":"x\ny\t\u0001","b":true,"f":false}})");
  phyx::Event empty{"process:start", phyx::ProcessId{1}, "w", phyx::Instant{}, {}};
  CHECK(phyx::to_json(empty) ==
        R"({"type":"process:start","process":1,"name":"w","at":{"wall_ms":0,"mono_ms":0},"fields":{}})");
}

TEST_CASE("to_json: non-finite doubles stay valid JSON") {
  phyx::Event e{"t", phyx::ProcessId{1}, "n", phyx::Instant{},
                phyx::Fields{{"nan", std::nan("")}, {"inf", std::numeric_limits<double>::infinity()}}};
  const std::string json = phyx::to_json(e);
  INFO(json);
  CHECK(json.find("\"nan\":") != std::string::npos);
  CHECK(json.find("\"inf\":") != std::string::npos);
  CHECK(json.find(":-nan") == std::string::npos);
  CHECK(json.find("NaN") == std::string::npos);
  CHECK(json.find("Infinity") == std::string::npos);
  CHECK(json.find(":inf") == std::string::npos);
  CHECK(json.find(":nan") == std::string::npos);
}

TEST_CASE("to_json of recorded engine events is well formed") {
  bool saw_error = false;
  phyx::Runtime rt(phyx::RuntimeOptions{
      .clock = phyx::create_manual_clock(),
      .emit =
          [&](const phyx::Event& e) {
            const std::string json = phyx::to_json(e);
            CHECK(json.front() == '{');
            CHECK(json.back() == '}');
            CHECK(json.find("\"type\":\"" + std::string(e.type) + "\"") != std::string::npos);
            if (e.type == "process:msg:error") {
              saw_error = true;
              CHECK(json.find(R"("name":"j\"son")") != std::string::npos);
              CHECK(json.find(R"("error":"boom")") != std::string::npos);
              CHECK(json.find(R"("msg_type":"Boom")") != std::string::npos);
            }
          },
      .deterministic = true});
  auto v = rt.spawn(worker_spec("j\"son"));
  v.send(Boom{});
  rt.run_until_idle();
  CHECK(saw_error);
  check_laws(rt);
}

TEST_CASE("Event::get_int / get_double / get_string / get_bool / find") {
  phyx::Event e{"t", phyx::ProcessId{1}, "n", phyx::Instant{},
                phyx::Fields{{"size", std::int64_t{12}}, {"ratio", 0.25}, {"reason", std::string("stopped")},
                             {"ok", true}}};
  CHECK(e.get_int("size") == std::optional<std::int64_t>{12});
  CHECK(e.get_int("ratio") == std::nullopt);  // a double is not an int
  CHECK(e.get_int("reason") == std::nullopt);
  CHECK(e.get_int("missing") == std::nullopt);
  CHECK(e.get_double("ratio") == std::optional<double>{0.25});
  CHECK(e.get_double("size") == std::optional<double>{12.0});  // integers convert
  CHECK(e.get_double("reason") == std::nullopt);
  CHECK(e.get_double("missing") == std::nullopt);
  CHECK(e.get_string("reason") == std::optional<std::string_view>{"stopped"});
  CHECK(e.get_string("size") == std::nullopt);
  CHECK(e.get_string("missing") == std::nullopt);
  CHECK(e.get_bool("ok") == std::optional<bool>{true});
  CHECK(e.get_bool("size") == std::nullopt);
  REQUIRE(e.find("ratio") != nullptr);
  CHECK(std::get<double>(*e.find("ratio")) == 0.25);
  CHECK(e.find("nope") == nullptr);
  // duplicate keys: the first one wins
  phyx::Event dup{"t", {}, "n", {}, phyx::Fields{{"k", std::int64_t{1}}, {"k", std::int64_t{2}}}};
  CHECK(dup.get_int("k") == std::optional<std::int64_t>{1});
}

TEST_CASE("Event accessors on engine events") {
  std::vector<std::string> seen;
  phyx::Runtime rt(phyx::RuntimeOptions{
      .clock = phyx::create_manual_clock(phyx::Instant{.wall_ms = kWallStart}),
      .emit =
          [&](const phyx::Event& e) {
            if (e.type == "process:ready") {
              CHECK(e.get_int("started_at") == std::optional<std::int64_t>{kWallStart});
              seen.emplace_back(e.type);
            }
            if (e.type == "process:mailbox:enqueue") {
              CHECK(e.get_int("size") == std::optional<std::int64_t>{1});
              seen.emplace_back(e.type);
            }
            if (e.type == "process:msg:start") {
              CHECK(e.get_string("msg_type") == std::optional<std::string_view>{"Ping"});
              CHECK(e.get_int("seq") == std::optional<std::int64_t>{0});
              seen.emplace_back(e.type);
            }
          },
      .deterministic = true});
  auto w = rt.spawn(worker_spec());
  rt.run_until_idle();
  w.send(Ping{});
  rt.run_until_idle();
  CHECK(seen == Types{"process:ready", "process:mailbox:enqueue", "process:msg:start"});
  check_laws(rt);
}
