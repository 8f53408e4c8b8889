// tests/support/scale.hpp — PHYX_TEST_SCALE multiplies the size of stress tests (default 1).
#pragma once

#include <algorithm>
#include <cstdlib>

namespace phyx_test {

inline long scale() {
  const char* s = std::getenv("PHYX_TEST_SCALE");
  return s != nullptr ? std::max(1L, std::atol(s)) : 1L;
}

/// True in sanitizer and systematic builds (set by tests/CMakeLists.txt): bounds on
/// latency "on an unloaded machine" are not checked there.
inline bool instrumented() { return std::getenv("PHYX_TEST_INSTRUMENTED") != nullptr; }

}  // namespace phyx_test
