// Unit tests of engine/runtime/root_stop_chain.hpp on the deterministic runtime (one
// thread): the order of the stops, the skipping of stopped processes, and the cut.
#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <vector>

#include <phyx/phyx.hpp>

#include "runtime/root_stop_chain.hpp"
#include "support/accounting.hpp"
#include "support/counter.hpp"

using phyx::detail::ProcessHandle;
using phyx::detail::RootStopChain;
using phyx_test::check_laws;
using phyx_test::deterministic_options;

namespace {

struct Order {
  std::vector<int> stops;  // on_stop calls, by index
};

phyx::SharedSpec<int, int, int> recorder(const std::shared_ptr<Order>& order) {
  return phyx::share(phyx::ProcessSpec<int, int, int>{
      .name = "root",
      .init = [](const int& index) { return index; },
      .handle = [](int&, int&, auto&) {},
      .on_stop = [order](int& index, const phyx::StopReason&, const int&) { order->stops.push_back(index); },
  });
}

struct Roots {
  std::vector<phyx::ProcessRef<int>> refs;
  std::vector<ProcessHandle> handles() const {
    std::vector<ProcessHandle> out;
    for (const auto& r : refs) out.push_back(r.handle());
    return out;
  }
};

Roots spawn_roots(phyx::Runtime& rt, const phyx::SharedSpec<int, int, int>& spec, int n) {
  Roots roots;
  for (int i = 0; i < n; ++i) roots.refs.push_back(rt.spawn(spec, i));
  rt.run_until_idle();  // every init has run
  return roots;
}

}  // namespace

TEST_CASE("the chain stops its processes youngest first, each after the previous one completed") {
  phyx::Runtime rt(deterministic_options());
  auto order = std::make_shared<Order>();
  Roots roots = spawn_roots(rt, recorder(order), 5);
  auto chain = std::make_shared<RootStopChain>(roots.handles());
  chain->advance();
  // Only the youngest is asked until its stop completes.
  CHECK(roots.refs[4].status() == phyx::Status::stopping);
  for (int i = 0; i < 4; ++i) CHECK(roots.refs[static_cast<std::size_t>(i)].status() == phyx::Status::running);
  CHECK_FALSE(chain->all_stopped()->ready());
  rt.run_until_idle();
  CHECK(order->stops == std::vector<int>{4, 3, 2, 1, 0});
  CHECK(chain->all_stopped()->ready());
  check_laws(rt);
}

TEST_CASE("processes stopped already are skipped without waiting, however many") {
  phyx::Runtime rt(deterministic_options());
  auto order = std::make_shared<Order>();
  Roots roots = spawn_roots(rt, recorder(order), 20'000);
  for (auto& r : roots.refs) (void)r.stop();
  rt.run_until_idle();
  REQUIRE(order->stops.size() == 20'000);
  auto chain = std::make_shared<RootStopChain>(roots.handles());
  chain->advance();  // a loop, not a recursion: 20,000 complete stops in a row
  CHECK(chain->all_stopped()->ready());
  CHECK(order->stops.size() == 20'000);  // nobody stopped twice
  check_laws(rt);
}

TEST_CASE("cut: later advances ask nothing, the rest are asked at once, each process exactly once") {
  phyx::Runtime rt(deterministic_options());
  auto order = std::make_shared<Order>();
  Roots roots = spawn_roots(rt, recorder(order), 6);
  auto chain = std::make_shared<RootStopChain>(roots.handles());
  chain->advance();  // asks 5
  chain->cut();      // asks 4, 3, 2, 1, 0 without waiting
  for (const auto& r : roots.refs) CHECK(r.status() == phyx::Status::stopping);
  rt.run_until_idle();  // 5's completion runs advance(), which sees the cut
  std::vector<int> sorted = order->stops;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == std::vector<int>{0, 1, 2, 3, 4, 5});
  CHECK_FALSE(chain->all_stopped()->ready());  // cut before the last stop: nobody waits for it
  check_laws(rt);
}
