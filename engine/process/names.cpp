// engine/process/names.cpp — the strings of statuses, stop reasons, policies, strategies.
#include "phyx/status.hpp"
#include "phyx/supervision.hpp"

namespace phyx {

std::string_view to_string(Status status) noexcept {
  switch (status) {
    case Status::starting: return "starting";
    case Status::running: return "running";
    case Status::stopping: return "stopping";
    case Status::stopped: return "stopped";
    case Status::failed: return "failed";
  }
  return "unknown";
}

std::string_view to_string(StopKind kind) noexcept {
  switch (kind) {
    case StopKind::normal: return "normal";
    case StopKind::shutdown: return "shutdown";
    case StopKind::error: return "error";
  }
  return "unknown";
}

std::string to_string(const StopReason& reason) {
  if (reason.kind != StopKind::error || reason.message.empty()) return std::string(to_string(reason.kind));
  return "error: " + reason.message;
}

std::string_view to_string(MailboxPolicy policy) noexcept {
  return policy == MailboxPolicy::reject ? "reject" : "drop_oldest";
}

std::string_view to_string(Strategy s) noexcept {
  switch (s) {
    case Strategy::none: return "none";
    case Strategy::one_for_one: return "one_for_one";
    case Strategy::one_for_all: return "one_for_all";
    case Strategy::rest_for_one: return "rest_for_one";
  }
  return "unknown";
}

}  // namespace phyx
