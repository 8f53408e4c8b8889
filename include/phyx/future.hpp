/// \file
/// phyx/future.hpp — Future<T>: the result of an ask, a stop or a tools.ask (SPEC 7, 14.15).
#pragma once

#include <chrono>
#include <optional>
#include <type_traits>
#include <utility>

#include "phyx/detail/future_state.hpp"
#include "phyx/errors.hpp"
#include "phyx/result.hpp"

namespace phyx {

namespace detail {
/// What an empty Future (default-constructed or moved from) throws when used.
[[noreturn]] inline void throw_empty_future() {
  throw Error("Future is empty (default-constructed or moved from)");
}
}  // namespace detail

/// Copies share one state; each copy may call get() once.
/// A Future is settled once, by whichever thread answers, times out or stops; reading it
/// (ready, try_get, then) is safe from any thread, but one Future object is not to be used
/// by two threads at once (get() marks it used): give each thread its own copy.
template <class T>
class Future {
 public:
  /// An empty future: valid() is false, and get, wait_for and then throw phyx::Error.
  Future() = default;
  /// Over an engine state (made by ask, stop, tools.ask, make_ready_future; not by users).
  explicit Future(detail::StateRef<detail::FutureState<T>> state) noexcept
      : state_(std::move(state)) {}

  /// False for a default-constructed future. Any thread; never blocks.
  bool valid() const noexcept { return state_ != nullptr; }
  /// Any thread; never blocks.
  bool ready() const noexcept { return state_ && state_->ready(); }

  /// Blocks the calling (non-worker) thread until settled, then returns the value or
  /// rethrows the failure. On a worker thread, or inside a handler, throws WouldBlockError
  /// (and the call is not used up). In deterministic mode it drives the runtime instead of
  /// blocking (SPEC 14.21). A second call throws phyx::Error.
  /// A move-only T is moved out of the shared state: only one copy can get it.
  T get() {
    check_valid();
    if (got_) throw Error("Future::get() may be called only once");
    state_->wait();
    got_ = true;
    return state_->value();
  }

  /// Waits at most `d` (blocking the caller; drives a deterministic runtime). True when settled.
  /// On a worker thread or inside a handler it does not wait: it returns ready(). Does not
  /// use up get(). An empty future throws phyx::Error.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> d) const {
    check_valid();
    return state_->wait_for(std::chrono::duration_cast<std::chrono::nanoseconds>(d));
  }

  /// A copy of the result when settled, else nullopt; never blocks. Any thread; allocates
  /// what copying the value allocates. Needs a copyable T.
  std::optional<Result<T>> try_get() const {
    if (!ready()) return std::nullopt;
    return state_->result();
  }

  /// Runs f(Result<T>) once when settled: on the caller if already settled, else on the
  /// thread that settles it (a worker, a timer or the replying thread). f must not block.
  /// Exceptions thrown by f are swallowed. Any thread; allocates one node holding f; never
  /// blocks. Any number of continuations run in the order they were added.
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
  const detail::StateRef<detail::FutureState<T>>& state() const noexcept { return state_; }

 private:
  void check_valid() const {
    if (!state_) detail::throw_empty_future();
  }
  detail::StateRef<detail::FutureState<T>> state_;
  bool got_ = false;
};

/// A future that is already settled with `r`. Any thread; allocates the state.
template <class T>
Future<T> make_ready_future(Result<T> r) {
  auto s = detail::make_state<detail::FutureState<T>>();
  s->settle(std::move(r));
  return Future<T>(std::move(s));
}

}  // namespace phyx
