/// \file
/// phyx/spec.hpp — ProcessSpec and Handler (SPEC section 3).
#pragma once

#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <stdexcept>

#include "phyx/status.hpp"
#include "phyx/supervision.hpp"
#include "phyx/task.hpp"

namespace phyx {

/// The default context type: a spec whose processes need no ctx.
struct Empty {};

template <class Msg, class State, class Ctx>
class Tools;

namespace detail {
template <class Msg, class State, class Ctx>
struct SharedBehaviour;
}  // namespace detail

/// A message handler, built implicitly from any callable of one of three shapes
/// (the third argument is Tools<Msg, State, Ctx>&; `auto&` works):
///   void(State&, Msg&, Tools&)             mutate state in place
///   State(State&, Msg&, Tools&)            the returned value becomes the new state
///   Task<void>(State&, Msg&, Tools&)       a coroutine
template <class Msg, class State, class Ctx = Empty>
class Handler {
 public:
  using ToolsT = Tools<Msg, State, Ctx>;  ///< the handler's third argument
  /// Which of the three shapes it holds (none: empty).
  enum class Shape { none, in_place, returns_state, coroutine };  // = the index in fn_

  /// No handler: a spec without one fails to spawn (SpecError).
  Handler() = default;
  /// No handler, as Handler().
  Handler(std::nullptr_t) {}  // NOLINT(google-explicit-constructor)

  /// From a callable of one of the three shapes; any other return type does not compile.
  /// Allocates what std::function needs to hold `f`.
  template <class F>
    requires(!std::same_as<std::decay_t<F>, Handler> && std::invocable<F&, State&, Msg&, ToolsT&>)
  Handler(F f) {  // NOLINT(google-explicit-constructor)
    using R = std::invoke_result_t<F&, State&, Msg&, ToolsT&>;
    if constexpr (std::is_void_v<R>) {
      fn_.template emplace<1>(std::move(f));
    } else if constexpr (std::is_same_v<R, Task<void>>) {
      fn_.template emplace<3>(std::move(f));
    } else {
      static_assert(std::is_convertible_v<R, State>, "a handler returns void, State, or phyx::Task<void>");
      fn_.template emplace<2>(std::move(f));
    }
  }

  /// Which shape it holds.
  Shape shape() const noexcept { return static_cast<Shape>(fn_.index()); }
  /// False when empty.
  explicit operator bool() const noexcept { return fn_.index() != 0; }

  /// The coroutine shape only: the coroutine, created suspended before its first
  /// statement (the process starts and resumes it; engine/process/process_core.cpp).
  Task<void> start(State& state, Msg& msg, ToolsT& tools) const { return std::get<3>(fn_)(state, msg, tools); }

  /// Runs the handler once on `state` (a coroutine up to its first suspension, which
  /// throws std::logic_error: only a process can resume it).
  void operator()(State& state, Msg& msg, ToolsT& tools) const {
    switch (fn_.index()) {
      case 1:
        std::get<1>(fn_)(state, msg, tools);
        return;
      case 2:
        state = std::get<2>(fn_)(state, msg, tools);
        return;
      case 3: {  // outside a process nothing resumes a suspension: run to the first one
        Task<void> task = std::get<3>(fn_)(state, msg, tools);
        if (!task.resume()) throw std::logic_error("Handler::operator(): the coroutine suspended; only a process resumes it");
        task.rethrow_if_failed();
        return;
      }
      default:
        return;
    }
  }

 private:
  // One callable, whichever shape it has (index = Shape): an idle process keeps one
  // std::function, not three.
  std::variant<std::monostate, std::function<void(State&, Msg&, ToolsT&)>, std::function<State(State&, Msg&, ToolsT&)>,
               std::function<Task<void>(State&, Msg&, ToolsT&)>>
      fn_;
};

/// What a process is: its name, its functions and its settings (SPEC 3). Spawn it with
/// Runtime::spawn or Tools::spawn, or prepare it for many spawns with phyx::share; spawn
/// throws SpecError naming the first invalid field. `init`, `handle` and `on_stop` run on
/// the process's own turn, one at a time. An exception escaping `init` or `handle` is a
/// crash (SPEC 6); one escaping `on_stop` is reported (process:fail) and the stop still
/// completes. `on_stop` runs only with live state: not for a crashed incarnation, not for
/// a failed process.
template <class Msg, class State, class Ctx = Empty>
struct ProcessSpec {
  std::string name;                                                    ///< required, non-empty
  std::function<State(const Ctx&)> init;                               ///< required; may throw
  Handler<Msg, State, Ctx> handle;                                     ///< required
  std::function<void(State&, const StopReason&, const Ctx&)> on_stop;  ///< optional
  std::size_t max_inbox = 1024;  ///< user-message capacity, >= 1 (and <= 2^31 - 1)
  MailboxPolicy mailbox_policy = MailboxPolicy::reject;                ///< for a full user lane
  std::optional<Supervision> supervision;                              ///< nullopt = Supervision{}
};

/// A ProcessSpec prepared once for many spawns (phyx::share): validated once, and its
/// name, settings and functions are shared by every process spawned from it instead of
/// copied into each (an idle process is then ~40% smaller, and a spawn copies no
/// std::function). Immutable; copies share the same behaviour. Any thread.
/// Spawn with Runtime::spawn(shared, ctx) or tools.spawn(shared, ctx), as with a spec.
template <class Msg, class State, class Ctx = Empty>
class SharedSpec {
 public:
  /// The spec's name. Any thread.
  const std::string& name() const noexcept;

 private:
  template <class M, class S, class C>
  friend SharedSpec<M, S, C> share(ProcessSpec<M, S, C> spec);
  friend class Runtime;
  template <class M, class S, class C>
  friend class Tools;
  explicit SharedSpec(std::shared_ptr<const detail::SharedBehaviour<Msg, State, Ctx>> b) noexcept
      : behaviour_(std::move(b)) {}
  std::shared_ptr<const detail::SharedBehaviour<Msg, State, Ctx>> behaviour_;
};

/// Any thread; allocates once. Validates `spec` (SpecError naming the field, as spawn does)
/// and prepares it for many spawns.
template <class Msg, class State, class Ctx>
SharedSpec<Msg, State, Ctx> share(ProcessSpec<Msg, State, Ctx> spec);

}  // namespace phyx
