/// \file
/// phyx/event.hpp — structured telemetry (SPEC section 8).
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

/// One field's value: an integer, a float, a string or a bool.
using FieldValue = std::variant<std::int64_t, double, std::string, bool>;
/// An ordered list of (key, value).
using Fields = std::vector<std::pair<std::string, FieldValue>>;

/// One telemetry event. `type` and `name` view storage that lives for the duration of the
/// sink call only: copy them (e.g. into std::string) to keep them.
struct Event {
  std::string_view type;  ///< "process:start", ..., or the type given to tools.emit
  ProcessId process;      ///< the process concerned; ProcessId{} in runtime and journal events
  std::string_view name;  ///< that process's spec name; "root" or "journal" with ProcessId{}
  Instant at;             ///< when it happened, on the runtime's (or journal's) clock
  Fields fields;          ///< the type's fields, in order (SPEC 8)

  /// The field's value when present and of that kind (get_double also converts integers).
  /// Any thread; never allocates (as get_string, get_bool and find).
  std::optional<std::int64_t> get_int(std::string_view key) const;
  /// A float field, or an integer one converted; nullopt when absent or of another kind.
  std::optional<double> get_double(std::string_view key) const;
  /// A string field, viewing this event's storage; nullopt when absent or of another kind.
  std::optional<std::string_view> get_string(std::string_view key) const;
  /// A bool field; nullopt when absent or of another kind.
  std::optional<bool> get_bool(std::string_view key) const;
  /// The value of the first field named `key`, or nullptr.
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
