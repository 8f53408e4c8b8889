/// \file
/// phyx/status.hpp — process status, stop reasons and modes, mailbox policy (SPEC 3-5).
#pragma once

#include <string>
#include <string_view>

namespace phyx {

/// Where a process is in its life (ProcessRef::status, SPEC 4).
/// starting: init running, or waiting for a restart; sends are queued (bound and policy apply).
/// running: handling messages. stopping: stop() began; sends are refused, the message in hand
/// finishes. stopped: for good. failed: strategy `none`, or supervision gave up; sends are
/// refused; it becomes stopped when its parent stops, crashes or restarts, or at shutdown
/// (SPEC 14.4), and a group restart of its family restarts it (14.7).
enum class Status { starting, running, stopping, stopped, failed };
/// "starting", "running", ... Any thread; never allocates.
std::string_view to_string(Status status) noexcept;

/// Why a process stops (StopReason::kind). normal: the default of ProcessRef::stop.
/// shutdown: what the runtime gives children of a stopping or restarting parent, members of
/// a group restart, and every process at shutdown. error: StopReason::error(message).
enum class StopKind { normal, shutdown, error };
/// "normal", "shutdown" or "error". Any thread; never allocates.
std::string_view to_string(StopKind kind) noexcept;

/// The reason given to ProcessRef::stop and passed to on_stop (SPEC 4).
struct StopReason {
  StopKind kind = StopKind::normal;  ///< which kind of stop
  std::string message;               ///< what went wrong (StopReason::error); else empty

  /// An ordinary stop.
  static StopReason normal() { return {StopKind::normal, {}}; }
  /// The reason the runtime gives children, group members and shutdown.
  static StopReason shutdown() { return {StopKind::shutdown, {}}; }
  /// A stop because of `message` (to_string gives "error: <message>").
  static StopReason error(std::string message) { return {StopKind::error, std::move(message)}; }
  /// Same kind and same message.
  friend bool operator==(const StopReason&, const StopReason&) = default;
};
/// "normal", "shutdown", or "error: <message>" ("error" when the message is empty).
/// Any thread; allocates the string.
std::string to_string(const StopReason& reason);

/// What a stop does with the queued user messages (ProcessRef::stop).
/// discard: queued user messages become dead letters (reason `stopped`).
/// drain: queued user messages are handled first; new sends are refused meanwhile.
enum class StopMode { discard, drain };

/// What a full user lane does with a new message (ProcessSpec::mailbox_policy, SPEC 5).
/// reject: the new message is refused (send returns false; dead letter `mailbox_full`).
/// drop_oldest: the oldest queued message is evicted (dead letter `dropped_oldest`) and the
/// new one accepted.
enum class MailboxPolicy { reject, drop_oldest };
/// "reject" or "drop_oldest" (the value of the `policy` field of process:mailbox:full).
/// Any thread; never allocates.
std::string_view to_string(MailboxPolicy policy) noexcept;

}  // namespace phyx
