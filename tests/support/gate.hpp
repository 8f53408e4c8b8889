// tests/support/gate.hpp — holds a handler (or init) on a worker thread until the test
// releases it; both sides wait with a bound, never sleep.
#pragma once

#include <future>

namespace phyx_test {

struct Gate {
  std::promise<void> entered;       // set by the handler once it runs
  std::shared_future<void> release;  // the handler waits on it
};

}  // namespace phyx_test
