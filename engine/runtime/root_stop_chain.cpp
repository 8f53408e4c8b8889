// engine/runtime/root_stop_chain.cpp — see root_stop_chain.hpp for the protocol.
#include "runtime/root_stop_chain.hpp"

#include <utility>

namespace phyx::detail {

RootStopChain::RootStopChain(std::vector<ProcessHandle> roots)
    : roots_(std::move(roots)),
      next_(roots_.size()),
      all_stopped_(make_state<FutureState<void>>()) {}

bool RootStopChain::claim(std::size_t& index) noexcept {
  std::size_t n = next_.load(std::memory_order_relaxed);  // a first guess; the CAS checks it
  do {
    if (n == 0) return false;
    // relaxed: the claim publishes nothing; the index alone decides who touches roots_[n - 1].
  } while (!next_.compare_exchange_weak(n, n - 1, std::memory_order_relaxed, std::memory_order_relaxed));
  index = n - 1;
  return true;
}

void RootStopChain::advance() {
  std::size_t index = 0;
  for (;;) {
    // acquire: pairs with cut()'s release store (cut() then asks the rest itself).
    if (cut_.load(std::memory_order_acquire)) return;
    if (!claim(index)) break;
    Future<void> stopped = ask(index);
    if (!stopped.ready()) {
      // Step 3: the thread completing this stop asks the next one.
      stopped.state()->on_ready([self = shared_from_this()] {
        try {
          self->advance();
        } catch (...) {  // out of memory for a stop: what is left is abandoned at the deadline
        }
      });
      return;
    }
  }
  all_stopped_->settle(Result<void>());  // step 4 (a second settle, after a cut, is a no-op)
}

void RootStopChain::cut() {
  cut_.store(true, std::memory_order_release);  // pairs with advance()'s acquire load
  std::size_t index = 0;
  while (claim(index)) (void)ask(index);
}

Future<void> RootStopChain::ask(std::size_t index) {
  ProcessHandle process = std::move(roots_[index]);  // ours alone: we claimed it
  return process->request_stop(StopReason::shutdown(), StopMode::discard);
}

}  // namespace phyx::detail
