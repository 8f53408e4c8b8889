// phyx/detail/envelope.hpp — a typed user message in a mailbox.
#pragma once

#include <string_view>
#include <utility>

#include "phyx/detail/process_core.hpp"
#include "phyx/detail/type_name.hpp"

namespace phyx::detail {

template <class Msg>
struct TypedEnvelope final : Envelope {
  explicit TypedEnvelope(Msg m) : msg(std::move(m)) {}
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
