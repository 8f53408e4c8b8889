// Unit tests of engine/mailbox/envelope_cache.hpp: a worker's recycled envelope blocks,
// one thread, no runtime.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <new>
#include <vector>

#include "mailbox/envelope_cache.hpp"

using phyx::detail::EnvelopeCache;
using phyx::detail::EnvelopeDepot;

TEST_CASE("block sizes round up to 16-byte classes up to 256 bytes, and are exact beyond") {
  CHECK(EnvelopeCache::block_size(1) == 16);
  CHECK(EnvelopeCache::block_size(16) == 16);
  CHECK(EnvelopeCache::block_size(17) == 32);
  CHECK(EnvelopeCache::block_size(256) == 256);
  CHECK(EnvelopeCache::block_size(257) == 257);
}

TEST_CASE("a freed block is reused for the next allocation of its class, not of another") {
  EnvelopeCache cache;
  void* a = cache.allocate(40);  // class 48
  cache.deallocate(a, 40);
  CHECK(cache.held() == 1);
  void* other = cache.allocate(100);  // class 112: not the cached block
  CHECK(other != a);
  void* b = cache.allocate(33);  // class 48 again
  CHECK(b == a);
  CHECK(cache.held() == 0);
  cache.deallocate(b, 33);
  cache.deallocate(other, 100);
  CHECK(cache.held() == 2);
}  // the destructor frees what it holds (ASan/LSan check)

TEST_CASE("a class holds at most kPerClass blocks; the rest go back to the allocator") {
  EnvelopeCache cache;
  std::vector<void*> blocks;
  for (std::uint32_t i = 0; i < EnvelopeCache::kPerClass + 10; ++i) blocks.push_back(cache.allocate(64));
  for (void* p : blocks) cache.deallocate(p, 64);
  CHECK(cache.held() <= EnvelopeCache::kPerClass);
  CHECK(cache.held() >= EnvelopeCache::kMagazine);  // a full spare stays for the next allocations
}

TEST_CASE("a one-way flow trades whole magazines through the depot instead of the allocator") {
  EnvelopeDepot depot;
  std::vector<void*> sent;
  {
    EnvelopeCache sender(&depot);
    EnvelopeCache receiver(&depot);
    // The receiver frees three magazines' worth: the third pushes its spare to the depot.
    const std::uint32_t n = 3 * EnvelopeCache::kMagazine;
    for (std::uint32_t i = 0; i < n; ++i) sent.push_back(sender.allocate(64));
    for (void* p : sent) receiver.deallocate(p, 64);
    CHECK(depot.magazines(3) == 1);  // class 3: 64 bytes
    CHECK(receiver.held() == 2 * EnvelopeCache::kMagazine);
    // The sender, empty, refills from the depot: the blocks it gets are ones it sent.
    void* again = sender.allocate(64);
    CHECK(depot.magazines(3) == 0);
    CHECK(std::find(sent.begin(), sent.end(), again) != sent.end());
    CHECK(sender.held() == EnvelopeCache::kMagazine - 1);
    sender.deallocate(again, 64);
  }  // both caches free what they hold; the depot is empty
  CHECK(depot.magazines(3) == 0);
}

TEST_CASE("the depot holds at most kMaxMagazines per class; a refused magazine is freed") {
  EnvelopeDepot depot;
  {
    EnvelopeCache receiver(&depot);
    const std::uint32_t n = (EnvelopeDepot::kMaxMagazines + 4) * EnvelopeCache::kMagazine;
    std::vector<void*> blocks;
    for (std::uint32_t i = 0; i < n; ++i) blocks.push_back(::operator new(64));
    for (void* p : blocks) receiver.deallocate(p, 64);
    CHECK(depot.magazines(3) == EnvelopeDepot::kMaxMagazines);
  }
}  // the depot's destructor frees its magazines (ASan/LSan check)

TEST_CASE("blocks larger than the largest class are never cached") {
  EnvelopeCache cache;
  void* big = cache.allocate(1000);
  cache.deallocate(big, 1000);
  CHECK(cache.held() == 0);
}
