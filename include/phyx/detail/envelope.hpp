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
  std::string_view msg_type() const noexcept override { return msg_type_name(msg); }
  Msg msg;
};

}  // namespace phyx::detail
