// Unit tests of engine/mailbox/envelope_cache.hpp: a worker's recycled envelope blocks,
// one thread, no runtime.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "mailbox/envelope_cache.hpp"

using phyx::detail::EnvelopeCache;

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
  CHECK(cache.held() == EnvelopeCache::kPerClass);
}

TEST_CASE("blocks larger than the largest class are never cached") {
  EnvelopeCache cache;
  void* big = cache.allocate(1000);
  cache.deallocate(big, 1000);
  CHECK(cache.held() == 0);
}
