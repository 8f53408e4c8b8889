// phyx/event.hpp — structured telemetry (SPEC section 8).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "phyx/clock.hpp"
#include "phyx/ids.hpp"

namespace phyx {

using FieldValue = std::variant<std::int64_t, double, std::string, bool>;
/// An ordered list of (key, value).
using Fields = std::vector<std::pair<std::string, FieldValue>>;

/// One telemetry event. `type` and `name` view storage that lives for the duration of the
/// sink call only: copy them (e.g. into std::string) to keep them.
struct Event {
  std::string_view type;
  ProcessId process;
  std::string_view name;
  Instant at;
  Fields fields;

  /// The field's value when present and of that kind (get_double also converts integers).
  std::optional<std::int64_t> get_int(std::string_view key) const;
  std::optional<double> get_double(std::string_view key) const;
  std::optional<std::string_view> get_string(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;
  const FieldValue* find(std::string_view key) const;
};

/// One JSON object: {"type":..,"process":id,"name":..,"at":{"wall_ms":..,"mono_ms":..},
/// "fields":{..}} with strings escaped. Allocates; any thread.
std::string to_json(const Event& event);

/// The telemetry sink. phyx never calls it concurrently from two threads for one runtime,
/// but it may be called from any of the runtime's threads. A sink that throws is caught
/// and counted (Stats::sink_errors). Empty = no events are built at all.
using EmitFn = std::function<void(const Event&)>;

}  // namespace phyx
