// phyx/status.hpp — process status, stop reasons and modes, mailbox policy (SPEC 3-5).
#pragma once

#include <string>
#include <string_view>

namespace phyx {

enum class Status { starting, running, stopping, stopped, failed };
std::string_view to_string(Status status) noexcept;

enum class StopKind { normal, shutdown, error };
std::string_view to_string(StopKind kind) noexcept;

struct StopReason {
  StopKind kind = StopKind::normal;
  std::string message;

  static StopReason normal() { return {StopKind::normal, {}}; }
  static StopReason shutdown() { return {StopKind::shutdown, {}}; }
  static StopReason error(std::string message) { return {StopKind::error, std::move(message)}; }
  friend bool operator==(const StopReason&, const StopReason&) = default;
};
/// "normal", "shutdown", or "error: <message>" ("error" when the message is empty).
std::string to_string(const StopReason& reason);

/// discard: queued user messages become dead letters (reason `stopped`).
/// drain: queued user messages are handled first; new sends are refused meanwhile.
enum class StopMode { discard, drain };

enum class MailboxPolicy { reject, drop_oldest };
/// "reject" or "drop_oldest" (the value of the `policy` field of process:mailbox:full).
std::string_view to_string(MailboxPolicy policy) noexcept;

}  // namespace phyx
