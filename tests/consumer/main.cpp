// A program outside the project: finds phyx with find_package(phyx) and links phyx::phyx.
// It is the SPEC 1 program, on worker threads and then deterministically.
#include <phyx/phyx.hpp>

#include <variant>

struct Increment {};
struct Get {
  phyx::Reply<int> reply;
};
using CounterMsg = std::variant<Increment, Get>;

static int run(phyx::RuntimeOptions options) {
  phyx::Runtime rt(std::move(options));
  auto counter = rt.spawn(phyx::ProcessSpec<CounterMsg, int>{
      .name = "counter",
      .init = [](const phyx::Empty&) { return 0; },
      .handle =
          [](int& count, CounterMsg& msg, auto&) {
            if (std::holds_alternative<Increment>(msg)) {
              ++count;
            } else {
              std::get<Get>(msg).reply(count);
            }
          },
  });
  counter.send(Increment{});
  return counter.ask<int>([](phyx::Reply<int> r) { return Get{std::move(r)}; }).get();
}

int main() {
  const int threaded = run({.clock = phyx::create_system_clock()});
  const int deterministic = run({.clock = phyx::create_manual_clock(), .deterministic = true});
  return threaded == 1 && deterministic == 1 ? 0 : 1;
}
