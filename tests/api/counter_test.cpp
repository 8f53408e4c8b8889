// The SPEC 1 program, deterministic and on threads.
#include <doctest/doctest.h>

#include "support/accounting.hpp"
#include "support/counter.hpp"

using namespace phyx_test;

TEST_CASE("the SPEC 1 counter works on worker threads") {
  phyx::Runtime rt({.clock = phyx::create_system_clock(), .workers = 2});
  auto counter = rt.spawn(counter_spec());
  CHECK(counter.send(Increment{}));
  CHECK(get_count(counter).get() == 1);
  CHECK(counter.status() == phyx::Status::running);
  rt.shutdown(std::chrono::seconds(5));
  check_laws(rt);
}

TEST_CASE("the SPEC 1 counter works deterministically") {
  phyx::Runtime rt(deterministic_options());
  auto counter = rt.spawn(counter_spec());
  CHECK(counter.status() == phyx::Status::starting);
  CHECK(counter.send(Increment{}));
  CHECK(counter.send(Increment{}));
  CHECK(rt.run_until_idle() == 2);
  CHECK(counter.status() == phyx::Status::running);
  CHECK(get_count(counter).get() == 2);
  check_laws(rt);
}

TEST_CASE("create_root_supervisor is a Runtime") {
  phyx::Runtime rt = phyx::create_root_supervisor(deterministic_options());
  auto counter = rt.spawn(counter_spec());
  counter.send(Increment{});
  CHECK(get_count(counter).get() == 1);
}
