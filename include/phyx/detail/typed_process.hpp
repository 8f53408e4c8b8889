// phyx/detail/typed_process.hpp — a ProcessCore for one (Msg, State, Ctx).
#pragma once

#include <memory>
#include <optional>
#include <utility>

#include "phyx/detail/envelope.hpp"
#include "phyx/detail/process_core.hpp"
#include "phyx/detail/runtime_core.hpp"
#include "phyx/spec.hpp"
#include "phyx/tools.hpp"

namespace phyx::detail {

/// Throws SpecError naming the first invalid field of a spec (SPEC 3, 6).
void validate_spec(const CoreSpec& spec, bool has_init, bool has_handle);

template <class Msg, class State, class Ctx>
class TypedProcess final : public ProcessCore {
 public:
  TypedProcess(std::shared_ptr<RuntimeCore> rt, CoreSpec core, ProcessSpec<Msg, State, Ctx> spec, Ctx ctx)
      : ProcessCore(std::move(rt), std::move(core)),
        init_(std::move(spec.init)),
        handle_(std::move(spec.handle)),
        on_stop_(std::move(spec.on_stop)),
        ctx_(std::move(ctx)),
        tools_(this, &*ctx_) {}

 protected:
  void run_init() override { state_.emplace(init_(*ctx_)); }
  void invoke_handler(Envelope& e) override { handle_(*state_, static_cast<TypedEnvelope<Msg>&>(e).msg, tools_); }
  void run_on_stop(const StopReason& r) override {
    if (on_stop_) on_stop_(*state_, r, *ctx_);
  }
  void destroy_state() noexcept override { state_.reset(); }
  bool has_state() const noexcept override { return state_.has_value(); }
  void release_behaviour() noexcept override {
    init_ = nullptr;
    handle_ = nullptr;
    on_stop_ = nullptr;
    ctx_.reset();  // a ctx holding refs (a peer list including us) must not keep a cycle
  }

 private:
  std::function<State(const Ctx&)> init_;
  Handler<Msg, State, Ctx> handle_;
  std::function<void(State&, const StopReason&, const Ctx&)> on_stop_;
  std::optional<Ctx> ctx_;
  Tools<Msg, State, Ctx> tools_;
  std::optional<State> state_;
};

/// Validates, builds and registers a process under `parent` (nullptr = the root).
template <class Msg, class State, class Ctx>
ProcessHandle spawn_process(RuntimeCore& rt, ProcessCore* parent, ProcessSpec<Msg, State, Ctx> spec, Ctx ctx) {
  CoreSpec core{spec.name, spec.max_inbox, spec.mailbox_policy,
                spec.supervision ? std::make_unique<const Supervision>(*spec.supervision) : nullptr};
  validate_spec(core, static_cast<bool>(spec.init), static_cast<bool>(spec.handle));
  ProcessHandle handle(new TypedProcess<Msg, State, Ctx>(rt.shared_from_this(), std::move(core), std::move(spec), std::move(ctx)));
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

}  // namespace phyx
