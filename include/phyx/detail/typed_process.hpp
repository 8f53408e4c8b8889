// phyx/detail/typed_process.hpp — a ProcessCore for one (Msg, State, Ctx).
#pragma once

#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "phyx/detail/envelope.hpp"
#include "phyx/detail/process_core.hpp"
#include "phyx/detail/runtime_core.hpp"
#include "phyx/spec.hpp"
#include "phyx/tools.hpp"

namespace phyx::detail {

/// Throws SpecError naming the first invalid field of a spec (SPEC 3, 6).
void validate_spec(const CoreSpec& spec, bool has_init, bool has_handle);

/// What processes spawned from one spec share: settings (the CoreSpec base, which
/// ProcessCore keeps) and functions. Built once per spawn from a ProcessSpec, or once for
/// many spawns by phyx::share. Immutable while shared.
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
  std::function<State(const Ctx&)> init;
  Handler<Msg, State, Ctx> handle;
  std::function<void(State&, const StopReason&, const Ctx&)> on_stop;
};

/// A process of one (Msg, State, Ctx). `spec` owns the behaviour when it is shared (a
/// SharedSpec's), or owns nothing when the behaviour lives inside the process object
/// (PlainProcess below).
template <class Msg, class State, class Ctx>
class TypedProcess : public ProcessCore {
 public:
  /// `behaviour` is kept as ProcessCore's spec (owned, or not, as above): behaviour()
  /// casts it back, which the parameter's type makes safe.
  TypedProcess(RuntimeCore& rt, std::shared_ptr<const Behaviour<Msg, State, Ctx>> behaviour, Ctx ctx)
      : ProcessCore(rt, std::move(behaviour)), ctx_(std::move(ctx)) {}
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
    // What the functions captured (refs to peers, which may hold refs to us) must not
    // outlive our stop in a cycle. A behaviour only we hold is ours to empty; a shared one
    // lives as long as its other processes or the user's SharedSpec (their business).
    if (behaviour_unshared()) {  // ours alone: inside this object, or the last holder of a shared one
      auto* mine = const_cast<Behaviour<Msg, State, Ctx>*>(&behaviour());  // built non-const, held by us alone
      mine->init = nullptr;
      mine->handle = nullptr;
      mine->on_stop = nullptr;
    }
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
        TypedProcess<Msg, State, Ctx>(rt, unowned(&this->held), std::move(ctx)) {}

 private:
  /// A pointer that owns nothing (use_count() == 0): the behaviour dies with this object.
  static std::shared_ptr<const Behaviour<Msg, State, Ctx>> unowned(const Behaviour<Msg, State, Ctx>* b) noexcept {
    return std::shared_ptr<const Behaviour<Msg, State, Ctx>>(std::shared_ptr<const Behaviour<Msg, State, Ctx>>(), b);
  }
};

/// Registers a process of a shared `behaviour` under `parent` (nullptr = the root).
template <class Msg, class State, class Ctx>
ProcessHandle spawn_shared(RuntimeCore& rt, ProcessCore* parent,
                           const std::shared_ptr<const Behaviour<Msg, State, Ctx>>& behaviour, Ctx ctx) {
  ProcessHandle handle(new TypedProcess<Msg, State, Ctx>(rt, behaviour, std::move(ctx)));
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
  return ProcessRef<M>(detail::spawn_shared(self_->runtime(), self_, spec.behaviour_, std::move(ctx)));
}

template <class Msg, class State, class Ctx>
SharedSpec<Msg, State, Ctx> share(ProcessSpec<Msg, State, Ctx> spec) {
  return SharedSpec<Msg, State, Ctx>(std::make_shared<const detail::Behaviour<Msg, State, Ctx>>(std::move(spec)));
}

template <class Msg, class State, class Ctx>
const std::string& SharedSpec<Msg, State, Ctx>::name() const noexcept {
  return behaviour_->name;
}

}  // namespace phyx
