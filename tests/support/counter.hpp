// tests/support/counter.hpp — the SPEC 1 counter, used across tests.
#pragma once

#include <variant>

#include <phyx/phyx.hpp>

namespace phyx_test {

struct Increment {};
struct Get {
  phyx::Reply<int> reply;
};
using CounterMsg = std::variant<Increment, Get>;

inline phyx::ProcessSpec<CounterMsg, int> counter_spec(std::string name = "counter") {
  return phyx::ProcessSpec<CounterMsg, int>{
      .name = std::move(name),
      .init = [](const phyx::Empty&) { return 0; },
      .handle =
          [](int& count, CounterMsg& msg, auto&) {
            if (std::holds_alternative<Increment>(msg)) {
              ++count;
            } else {
              std::get<Get>(msg).reply(count);
            }
          },
  };
}

inline phyx::Future<int> get_count(const phyx::ProcessRef<CounterMsg>& ref,
                                   std::chrono::milliseconds timeout = std::chrono::milliseconds{5000}) {
  return ref.ask<int>([](phyx::Reply<int> r) { return CounterMsg{Get{std::move(r)}}; }, timeout);
}

inline phyx::RuntimeOptions deterministic_options(std::uint64_t seed = 1) {
  phyx::RuntimeOptions o;
  o.clock = phyx::create_manual_clock();
  o.deterministic = true;
  o.seed = seed;
  return o;
}

}  // namespace phyx_test
