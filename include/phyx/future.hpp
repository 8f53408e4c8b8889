// phyx/future.hpp — Future<T>: the result of an ask, a stop or a tools.ask (SPEC 7, 14.15).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "phyx/detail/future_state.hpp"
#include "phyx/errors.hpp"
#include "phyx/result.hpp"

namespace phyx {

/// Copies share one state; each copy may call get() once.
template <class T>
class Future {
 public:
  Future() = default;
  explicit Future(std::shared_ptr<detail::FutureState<T>> state) : state_(std::move(state)) {}

  bool valid() const noexcept { return state_ != nullptr; }
  /// Any thread; never blocks.
  bool ready() const noexcept { return state_ && state_->ready(); }

  /// Blocks the calling (non-worker) thread until settled, then returns the value or
  /// rethrows the failure. On a worker thread, or inside a handler, throws WouldBlockError
  /// (and the call is not used up). In deterministic mode it drives the runtime instead of
  /// blocking (SPEC 14.21). A second call throws phyx::Error.
  T get() {
    check_valid();
    if (got_) throw Error("Future::get() may be called only once");
    state_->wait();
    got_ = true;
    return state_->value();
  }

  /// Waits at most `d` (blocking the caller; drives a deterministic runtime). True when settled.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> d) const {
    check_valid();
    return state_->wait_for(std::chrono::duration_cast<std::chrono::nanoseconds>(d));
  }

  /// A copy of the result when settled; never blocks.
  std::optional<Result<T>> try_get() const {
    if (!ready()) return std::nullopt;
    return state_->result();
  }

  /// Runs f(Result<T>) once when settled: on the caller if already settled, else on the
  /// thread that settles it (a worker, a timer or the replying thread). f must not block.
  /// Exceptions thrown by f are swallowed.
  template <class F>
  void then(F f) const {
    check_valid();
    auto* raw = state_.get();  // the continuation is owned by the state: raw is safe inside it
    state_->on_ready([raw, f = std::move(f)]() mutable {
      try {
        if constexpr (std::is_copy_constructible_v<Result<T>>) {
          f(Result<T>(raw->result()));
        } else {
          f(std::move(raw->result()));
        }
      } catch (...) {
      }
    });
  }

  /// The shared state (for engine adapters such as pipe and co_await).
  const std::shared_ptr<detail::FutureState<T>>& state() const noexcept { return state_; }

 private:
  void check_valid() const {
    if (!state_) throw Error("Future is empty (default-constructed or moved from)");
  }
  std::shared_ptr<detail::FutureState<T>> state_;
  bool got_ = false;
};

/// A future that is already settled.
template <class T>
Future<T> make_ready_future(Result<T> r) {
  auto s = std::make_shared<detail::FutureState<T>>();
  s->settle(std::move(r));
  return Future<T>(std::move(s));
}

}  // namespace phyx
