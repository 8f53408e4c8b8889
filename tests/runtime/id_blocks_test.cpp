// engine/runtime/id_blocks.hpp through the public API on two workers: children spawned on
// both workers at once get ids that are unique, and top-level ids still rise in spawn
// order. Ends with the accounting law of SPEC 8.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include <phyx/phyx.hpp>

#include "support/accounting.hpp"
#include "support/scale.hpp"

using namespace std::chrono_literals;
using phyx_test::check_laws;
using phyx_test::scale;

namespace {

struct Ids {
  std::mutex mutex;
  std::vector<std::uint64_t> children;  // under mutex
};

struct Go {
  int left = 0;
  std::shared_ptr<std::promise<void>> done;
};

struct SpawnerCtx {
  std::shared_ptr<Ids> ids;
};

phyx::ProcessSpec<int, int> leaf() {
  return {.name = "leaf", .init = [](const phyx::Empty&) { return 0; }, .handle = [](int&, int&, auto&) {}};
}

phyx::ProcessSpec<Go, int, SpawnerCtx> spawner() {
  return {
      .name = "spawner",
      .init = [](const SpawnerCtx&) { return 0; },
      .handle =
          [](int&, Go& go, auto& tools) {
            // A few children per turn, then a message to self: the two spawners' turns
            // interleave on both workers, each worker taking ids from its own block.
            std::vector<std::uint64_t> made;
            for (int i = 0; i < 8 && go.left > 0; ++i, --go.left) {
              auto child = tools.spawn(leaf());
              made.push_back(child.id().value);
              (void)child.stop();
            }
            {
              Ids& ids = *tools.ctx().ids;
              std::lock_guard lock(ids.mutex);
              ids.children.insert(ids.children.end(), made.begin(), made.end());
            }
            if (go.left > 0) {
              tools.self().send(std::move(go));
            } else {
              go.done->set_value();
            }
          },
  };
}

}  // namespace

TEST_CASE("ids (id_blocks.hpp): children spawned on two workers at once get unique ids; top-level ids rise in spawn order") {
  phyx::RuntimeOptions o;
  o.clock = phyx::create_system_clock();
  o.workers = 2;
  phyx::Runtime rt(o);
  auto ids = std::make_shared<Ids>();
  const int per_spawner = static_cast<int>(2'000 * scale());
  std::vector<phyx::ProcessRef<Go>> spawners;
  std::vector<std::future<void>> finished;
  for (int i = 0; i < 2; ++i) spawners.push_back(rt.spawn(spawner(), SpawnerCtx{ids}));
  for (auto& s : spawners) {
    auto done = std::make_shared<std::promise<void>>();
    finished.push_back(done->get_future());
    REQUIRE(s.send(Go{per_spawner, done}));
  }
  for (auto& f : finished) REQUIRE(f.wait_for(30s) == std::future_status::ready);
  // Top-level processes spawned after the children: their ids still rise in spawn order,
  // and none repeats a child's.
  std::vector<std::uint64_t> roots;
  for (int i = 0; i < 5; ++i) roots.push_back(rt.spawn(leaf()).id().value);
  for (std::size_t i = 1; i < roots.size(); ++i) CHECK(roots[i - 1] < roots[i]);
  std::set<std::uint64_t> all;
  {
    std::lock_guard lock(ids->mutex);
    CHECK(ids->children.size() == static_cast<std::size_t>(2 * per_spawner));
    all.insert(ids->children.begin(), ids->children.end());
    CHECK(all.size() == ids->children.size());  // no child id twice
  }
  for (const auto& s : spawners) all.insert(s.id().value);
  for (std::uint64_t r : roots) all.insert(r);
  CHECK(all.size() == static_cast<std::size_t>(2 * per_spawner + 2 + 5));  // nor a root's
  CHECK(all.count(0) == 0);  // 0 is the empty ref's id
  rt.shutdown(10s);
  check_laws(rt);
}
