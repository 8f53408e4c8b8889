// phyx/detail/envelope.hpp — a typed user message in a mailbox.
#pragma once

#include <string_view>
#include <utility>

#include "phyx/detail/process_core.hpp"
#include "phyx/detail/type_name.hpp"

namespace phyx::detail {

/// TypedEnvelope's tag: the message is the result of a call, built in its place.
struct BuiltBy {};

template <class Msg>
struct TypedEnvelope final : Envelope {
  explicit TypedEnvelope(Msg m) : msg(std::move(m)) {}
  /// The message is `build()`'s result, initialised in place (no move of it, no moved-from
  /// one to destroy): for the messages the engine builds, an ask's and a pipe's. `build`
  /// returns Msg.
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
  bool message_live_ = true;
};

}  // namespace phyx::detail
