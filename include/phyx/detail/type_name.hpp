// phyx/detail/type_name.hpp — compile-time type names for `msg_type` (SPEC 8).
//
// Parsed from __PRETTY_FUNCTION__ (GCC and Clang), so there is no RTTI lookup, no
// demangling at run time and no global cache: every name is a string_view into a
// string literal.
#pragma once

#include <string_view>
#include <variant>

namespace phyx::detail {

template <class T>
constexpr std::string_view type_name() noexcept {
  std::string_view p = __PRETTY_FUNCTION__;
  auto start = p.find("T = ");
  if (start == std::string_view::npos) return p;
  start += 4;
  auto end = p.find_first_of(";]", start);
  return p.substr(start, end - start);
}

template <class T>
struct is_variant : std::false_type {};
template <class... Ts>
struct is_variant<std::variant<Ts...>> : std::true_type {};

/// The alternative's type name for a std::variant message, else the message's type name.
template <class Msg>
std::string_view msg_type_name(const Msg& msg) noexcept {
  if constexpr (is_variant<Msg>::value) {
    if (msg.valueless_by_exception()) return "valueless_by_exception";
    return std::visit([](const auto& alt) { return type_name<std::decay_t<decltype(alt)>>(); }, msg);
  } else {
    return type_name<Msg>();
  }
}

}  // namespace phyx::detail
