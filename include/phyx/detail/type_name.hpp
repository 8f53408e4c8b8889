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
  std::string_view name = p.substr(start, end - start);
  // A type in an anonymous namespace is still "Task" to its reader, not "{anonymous}::Task".
  for (std::string_view anon : {std::string_view("{anonymous}::"), std::string_view("(anonymous namespace)::")}) {
    if (name.substr(0, anon.size()) == anon) name.remove_prefix(anon.size());
  }
  return name;
}

/// The name, computed once at compile time (type_name<T>() called at run time would parse
/// __PRETTY_FUNCTION__ on every call).
template <class T>
inline constexpr std::string_view type_name_v = type_name<T>();

/// Matches std::variant and types derived from one (a message type that must name itself,
/// e.g. `struct NodeMsg : std::variant<Set, Gossip> { using variant::variant; };`).
template <class... Ts>
const std::variant<Ts...>& as_variant(const std::variant<Ts...>& v) noexcept {
  return v;
}
template <class T>
concept VariantLike = requires(const T& t) { detail::as_variant(t); };

/// The alternative's type name for a std::variant message, else the message's type name.
template <class Msg>
std::string_view msg_type_name(const Msg& msg) noexcept {
  if constexpr (VariantLike<Msg>) {
    const auto& v = as_variant(msg);
    if (v.valueless_by_exception()) return "valueless_by_exception";
    return std::visit([](const auto& alt) { return type_name_v<std::decay_t<decltype(alt)>>; }, v);
  } else {
    return type_name_v<Msg>;
  }
}

}  // namespace phyx::detail
