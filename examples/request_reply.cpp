// request_reply.cpp: the seed's "Add Responses: Request-Reply Pattern".
//
// ask() builds a message around a fresh phyx::Reply<R> and sends it; the handler
// answers by calling the reply once. The caller gets a phyx::Future<R>:
//   - get() waits for the answer (on the main thread; a handler must never block),
//   - the ask fails with TimeoutError if no answer comes in time (5 s by default),
//   - and with NoReplyError at once if the handler drops the Reply unanswered.
//
// Messages from one sender to one process arrive in send order, so an ask sent
// after N increments sees all N of them.
//
// Run: example_request_reply [--deterministic]
// Exit status 0 when every answer is the expected count and the dropped-reply ask
// fails with NoReplyError.
#include <phyx/phyx.hpp>

#include "example_options.hpp"

#include <chrono>
#include <cstdio>
#include <string_view>
#include <variant>

using namespace std::chrono_literals;

struct Increment {};
struct Get {
  phyx::Reply<int> reply;  // move-only, answered once
};
struct Forget {  // a buggy request: the handler lets the Reply go unanswered
  phyx::Reply<int> reply;
};
using CounterMsg = std::variant<Increment, Get, Forget>;

struct CounterState {
  int count = 0;
};

int main(int argc, char** argv) {
  const bool deterministic = has_flag(argc, argv, "--deterministic");
  phyx::Runtime rt(make_options(deterministic));

  // tour:begin ask (README.md shows these lines)
  auto counter = rt.spawn(phyx::ProcessSpec<CounterMsg, CounterState>{
      .name = "counter",
      .init = [](const phyx::Empty&) { return CounterState{}; },
      .handle = [](CounterState& state, CounterMsg& msg, auto&) -> CounterState {
        if (std::holds_alternative<Increment>(msg)) return {state.count + 1};
        if (auto* get = std::get_if<Get>(&msg)) get->reply(state.count);  // answer the ask
        // Forget: the Reply is destroyed with the message -> the ask fails with NoReplyError.
        return state;
      },
  });

  // A helper that asks for the current count. ask<R>(build, timeout): build makes
  // the message from the Reply<R>.
  auto ask_count = [&counter] {
    return counter.ask<int>([](phyx::Reply<int> reply) { return Get{std::move(reply)}; }, 1000ms);
  };
  // tour:end ask

  bool ok = true;
  for (int i = 0; i < 5; ++i) counter.send(Increment{});
  // get() blocks this (non-worker) thread; in deterministic mode it drives the
  // runtime until the future settles instead.
  const int after_five = ask_count().get();
  std::printf("Current count: %d (expected 5)\n", after_five);
  ok &= after_five == 5;

  // Several asks in flight at once: each future is answered in send order.
  for (int i = 0; i < 5; ++i) counter.send(Increment{});
  auto first = ask_count();
  counter.send(Increment{});
  auto second = ask_count();
  const int a = first.get();
  const int b = second.get();
  std::printf("Two asks in flight: %d then %d (expected 10 then 11)\n", a, b);
  ok &= a == 10 && b == 11;

  // A handler that lets the Reply go: the ask fails at once, not after the timeout.
  try {
    counter.ask<int>([](phyx::Reply<int> reply) { return Forget{std::move(reply)}; }).get();
    std::printf("Forgotten reply: unexpectedly answered\n");
    ok = false;
  } catch (const phyx::NoReplyError& e) {
    std::printf("Forgotten reply fails with NoReplyError: %s\n", e.what());
  }

  // The counter is unharmed by the forgotten reply.
  const int last = ask_count().get();
  std::printf("Final count: %d (expected 11)\n", last);
  ok &= last == 11;

  std::printf("%s\n", ok ? "OK" : "WRONG");
  return ok ? 0 : 1;
}
