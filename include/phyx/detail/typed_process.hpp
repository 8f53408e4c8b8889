// phyx/detail/typed_process.hpp — a ProcessCore for one (Msg, State, Ctx).
#pragma once

#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "phyx/detail/envelope.hpp"
#include "phyx/detail/process_core.hpp"
#include "phyx/detail/runtime_core.hpp"
#include "phyx/detail/share_count.hpp"
#include "phyx/spec.hpp"
#include "phyx/tools.hpp"

namespace phyx::detail {

/// Throws SpecError naming the first invalid field of a spec (SPEC 3, 6).
void validate_spec(const CoreSpec& spec, bool has_init, bool has_handle);

/// What processes spawned from one spec share: settings (the CoreSpec base, which
/// ProcessCore keeps) and functions. Built once per spawn from a ProcessSpec (inside the
/// process, PlainProcess below), or once for many spawns by phyx::share (SharedBehaviour).
/// Immutable while shared, but for the emptying of its functions by its last holder.
template <class Msg, class State, class Ctx>
struct Behaviour : CoreSpec {
  Behaviour(ProcessSpec<Msg, State, Ctx>&& spec)
      : CoreSpec{std::move(spec.name), spec.max_inbox, spec.mailbox_policy,
                 spec.supervision ? std::make_unique<const Supervision>(*spec.supervision) : nullptr},
        init(std::move(spec.init)),
        handle(std::move(spec.handle)),
        on_stop(std::move(spec.on_stop)) {
    validate_spec(*this, static_cast<bool>(init), static_cast<bool>(handle));
  }
  /// What the functions captured (refs to peers, which may hold refs to the processes
  /// that hold this behaviour) must not keep a cycle alive once nothing can call them. So
  /// they are dropped by the process that owns a plain behaviour, at its stop, or by
  /// whoever takes a shared behaviour's active count to zero (share_count.hpp step 4).
  void empty_functions() const noexcept {
    auto* self = const_cast<Behaviour*>(this);  // built non-const; no caller is left
    self->init = nullptr;
    self->handle = nullptr;
    self->on_stop = nullptr;
  }
  std::function<State(const Ctx&)> init;
  Handler<Msg, State, Ctx> handle;
  std::function<void(State&, const StopReason&, const Ctx&)> on_stop;
};

/// A behaviour made by phyx::share: counted by its processes and its SharedSpec's copies
/// (share_count.hpp), which empty its functions and delete it.
template <class Msg, class State, class Ctx>
struct SharedBehaviour final : Behaviour<Msg, State, Ctx>, ShareCount {
  explicit SharedBehaviour(ProcessSpec<Msg, State, Ctx>&& spec)
      : Behaviour<Msg, State, Ctx>(std::move(spec)) {}

 private:
  void empty_functions() noexcept override { Behaviour<Msg, State, Ctx>::empty_functions(); }
};

/// A process of one (Msg, State, Ctx). Its behaviour is a SharedSpec's, which it holds by
/// the count (ProcessCore's share_), or lives inside the process object (PlainProcess
/// below).
template <class Msg, class State, class Ctx>
class TypedProcess : public ProcessCore {
 public:
  /// `behaviour` is kept as ProcessCore's spec: behaviour() casts it back, which the
  /// parameter's type makes safe. `share` is its count when it is a SharedBehaviour (the
  /// process takes its units), nullptr when the behaviour lives inside the process object.
  TypedProcess(RuntimeCore& rt, const Behaviour<Msg, State, Ctx>& behaviour, ShareCount* share,
               Ctx ctx)
      : ProcessCore(rt, behaviour, share), ctx_(std::move(ctx)) {}
  ~TypedProcess() override { drop_suspended(); }  // before state_ and ctx_ go

 protected:
  void run_init() override { state_.emplace(behaviour().init(*ctx())); }
  std::unique_ptr<SuspendedHandler> invoke_handler(Envelope& e) override {
    Msg& msg = static_cast<TypedEnvelope<Msg>&>(e).msg;
    if (behaviour().handle.shape() == Handler<Msg, State, Ctx>::Shape::coroutine) {
      // The coroutine refers to its Tools and message across suspensions: both live as
      // long as the call (the message is kept by the process).
      auto call = std::make_unique<CoroutineCall>(this, ctx());
      call->task = behaviour().handle.start(*state_, msg, call->tools);
      if (call->resume()) return nullptr;  // finished without suspending
      return call;
    }
    Tools<Msg, State, Ctx> tools(this, ctx());
    behaviour().handle(*state_, msg, tools);
    return nullptr;
  }
  void run_on_stop(const StopReason& r) override {
    if (behaviour().on_stop) behaviour().on_stop(*state_, r, *ctx());
  }
  void destroy_state() noexcept override { state_.reset(); }
  bool has_state() const noexcept override { return state_.has_value(); }
  void release_behaviour() noexcept override {
    // A behaviour inside this object is ours to empty; a shared one is emptied by its last
    // holder (ProcessCore gives our units back after this, share_count.hpp).
    if (!behaviour_shared()) behaviour().empty_functions();
    if constexpr (!kEmptyCtx) ctx_.reset();  // a ctx holding refs (a peer list including us) must not keep a cycle
  }

 private:
  /// A coroutine handler's call: its Tools and its coroutine (SPEC 7).
  struct CoroutineCall final : SuspendedHandler {
    CoroutineCall(ProcessCore* self, const Ctx* ctx) noexcept : tools(self, ctx) {}
    bool resume() override {
      const bool done = task.resume();
      if (done) task.rethrow_if_failed();
      return done;
    }
    Tools<Msg, State, Ctx> tools;
    Task<void> task;
  };

  /// The behaviour is the spec ProcessCore keeps (kept alive by it, or by PlainProcess):
  /// no pointer of our own, 8 bytes less per process.
  const Behaviour<Msg, State, Ctx>& behaviour() const noexcept {
    return static_cast<const Behaviour<Msg, State, Ctx>&>(core_spec());
  }
  /// An empty Ctx (phyx::Empty, the default) is stored in no room at all: with the two
  /// savings above, a TypedProcess<int, int, Empty> is 192 bytes, mimalloc's 192-byte class,
  /// not 224 (see engine/runtime/README.md on idle memory).
  static constexpr bool kEmptyCtx = std::is_empty_v<Ctx> && std::is_trivially_destructible_v<Ctx>;
  const Ctx* ctx() const noexcept {
    if constexpr (kEmptyCtx) {
      return &ctx_;
    } else {
      return &*ctx_;
    }
  }
  [[no_unique_address]] std::conditional_t<kEmptyCtx, Ctx, std::optional<Ctx>> ctx_;
  std::optional<State> state_;
};

/// Holds the behaviour of a PlainProcess; a base listed first, so it is built before the
/// process (whose ProcessCore reads the settings) and destroyed after it.
template <class Msg, class State, class Ctx>
struct BehaviourHolder {
  explicit BehaviourHolder(ProcessSpec<Msg, State, Ctx>&& spec) : held(std::move(spec)) {}
  Behaviour<Msg, State, Ctx> held;
};

/// A process spawned from a plain ProcessSpec: its behaviour (moved out of the spec's copy)
/// lives in the same allocation, so spawn(spec) costs one allocation, as before specs could
/// be shared.
template <class Msg, class State, class Ctx>
class PlainProcess final : private BehaviourHolder<Msg, State, Ctx>, public TypedProcess<Msg, State, Ctx> {
 public:
  PlainProcess(RuntimeCore& rt, ProcessSpec<Msg, State, Ctx>&& spec, Ctx ctx)
      : BehaviourHolder<Msg, State, Ctx>(std::move(spec)),
        TypedProcess<Msg, State, Ctx>(rt, this->held, nullptr, std::move(ctx)) {}
};

/// Registers a process of a shared `behaviour` under `parent` (nullptr = the root).
template <class Msg, class State, class Ctx>
ProcessHandle spawn_shared(RuntimeCore& rt, ProcessCore* parent,
                           const SharedBehaviour<Msg, State, Ctx>& behaviour, Ctx ctx) {
  // The process's units are taken from the count (share_count.hpp step 1); the const_cast
  // reaches the count, never the behaviour's contents.
  auto& shared = const_cast<SharedBehaviour<Msg, State, Ctx>&>(behaviour);
  ProcessHandle handle(new TypedProcess<Msg, State, Ctx>(rt, shared, &shared, std::move(ctx)));
  rt.adopt(handle.get(), parent);
  return handle;
}

/// Validates, builds and registers a process under `parent` (nullptr = the root).
template <class Msg, class State, class Ctx>
ProcessHandle spawn_process(RuntimeCore& rt, ProcessCore* parent, ProcessSpec<Msg, State, Ctx> spec, Ctx ctx) {
  ProcessHandle handle(new PlainProcess<Msg, State, Ctx>(rt, std::move(spec), std::move(ctx)));
  rt.adopt(handle.get(), parent);
  return handle;
}

}  // namespace phyx::detail

namespace phyx {

template <class Msg, class State, class Ctx>
template <class M, class S, class C>
ProcessRef<M> Tools<Msg, State, Ctx>::spawn(ProcessSpec<M, S, C> spec, C ctx) const {
  auto child = detail::spawn_process(self_->runtime(), self_, std::move(spec), std::move(ctx));
  return ProcessRef<M>(std::move(child));
}

template <class Msg, class State, class Ctx>
template <class M, class S, class C>
ProcessRef<M> Tools<Msg, State, Ctx>::spawn(const SharedSpec<M, S, C>& spec, C ctx) const {
  return ProcessRef<M>(
      detail::spawn_shared(self_->runtime(), self_, *spec.behaviour_, std::move(ctx)));
}

template <class Msg, class State, class Ctx>
SharedSpec<Msg, State, Ctx> share(ProcessSpec<Msg, State, Ctx> spec) {
  // The copies of the SharedSpec share one shared_ptr, whose deleter gives their units
  // back to the count (share_count.hpp step 1): copying a SharedSpec never touches it. If
  // the control block cannot be allocated, shared_ptr calls the deleter, which frees it.
  using Shared = detail::SharedBehaviour<Msg, State, Ctx>;
  return SharedSpec<Msg, State, Ctx>(std::shared_ptr<const Shared>(
      new Shared(std::move(spec)), [](const Shared* b) { const_cast<Shared*>(b)->drop_spec(); }));
}

template <class Msg, class State, class Ctx>
const std::string& SharedSpec<Msg, State, Ctx>::name() const noexcept {
  return behaviour_->name;
}

}  // namespace phyx
