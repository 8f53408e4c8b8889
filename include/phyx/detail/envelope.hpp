// phyx/detail/envelope.hpp — a typed user message in a mailbox.
#pragma once

#include <memory>
#include <new>
#include <string_view>
#include <utility>

#include "phyx/detail/process_core.hpp"
#include "phyx/detail/type_name.hpp"

namespace phyx::detail {

/// TypedEnvelope's tags: the message is the result of a call, built in its place
/// (BuiltBy), or built later by a derived envelope (MessageLater: a pipe's, whose message
/// is made when the future settles; phyx/detail/pipe_envelope.hpp).
struct BuiltBy {};
struct MessageLater {};

/// Every user message of a process with message type Msg travels in one of these (the
/// handler's side casts to it), or in a class derived from it.
template <class Msg>
struct TypedEnvelope : Envelope {
  explicit TypedEnvelope(Msg m) : msg(std::move(m)) {}
  /// The message is `build()`'s result, initialised in place (no move of it, no moved-from
  /// one to destroy): for the messages the engine builds, an ask's. `build` returns Msg.
  template <class Build>
  TypedEnvelope(BuiltBy, Build&& build) : msg(std::forward<Build>(build)()) {}
  ~TypedEnvelope() override {
    if (message_live_) msg.~Msg();
  }
  TypedEnvelope(const TypedEnvelope&) = delete;
  TypedEnvelope& operator=(const TypedEnvelope&) = delete;
  /// Only while the message is alive (before destroy_message()).
  std::string_view msg_type() const noexcept override { return msg_type_name(msg); }
  void destroy_message() noexcept override {
    msg.~Msg();
    message_live_ = false;
  }
  // In a union: destroy_message() ends the message's life before the envelope's (the user
  // lane may still link through the envelope: phyx/detail/user_lane.hpp step 3).
  union {
    Msg msg;
  };

 protected:
  /// No message yet: build_message() makes it, at most once, before the envelope is sent.
  explicit TypedEnvelope(MessageLater) noexcept : message_live_(false) {}
  /// The message is `build()`'s result, in place. If build throws there is still none.
  template <class Build>
  void build_message(Build&& build) {
    ::new (static_cast<void*>(std::addressof(msg))) Msg(std::forward<Build>(build)());
    message_live_ = true;
  }

 private:
  bool message_live_ = true;
};

}  // namespace phyx::detail
