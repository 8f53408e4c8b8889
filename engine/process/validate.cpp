// engine/process/validate.cpp — SpecError for every invalid ProcessSpec field (SPEC 3, 6).
#include <string>

#include "phyx/detail/typed_process.hpp"
#include "mailbox/lane_word.hpp"
#include "phyx/errors.hpp"
#include "supervise/policy.hpp"

namespace phyx::detail {

void validate_spec(const CoreSpec& spec, bool has_init, bool has_handle) {
  if (spec.name.empty()) throw SpecError("ProcessSpec.name must not be empty (got \"\")");
  const std::string who = " for process '" + spec.name + "'";
  if (!has_init) throw SpecError("ProcessSpec.init is required (got an empty function)" + who);
  if (!has_handle) throw SpecError("ProcessSpec.handle is required (got an empty handler)" + who);
  if (spec.max_inbox == 0) throw SpecError("ProcessSpec.max_inbox must be >= 1 (got 0)" + who);
  if (spec.max_inbox > lane::kMaxInbox) {  // the mailbox counts in 31 bits (engine/mailbox/README.md)
    throw SpecError("ProcessSpec.max_inbox must be <= " + std::to_string(lane::kMaxInbox) + " (got " +
                    std::to_string(spec.max_inbox) + ")" + who);
  }
  if (auto error = supervision_error(spec.supervision()); !error.empty()) throw SpecError(error + who);
}

void throw_bad_timeout(const char* what, std::chrono::milliseconds timeout) {
  const bool is_delay = std::string_view(what).find("delay") != std::string_view::npos;
  throw SpecError(std::string(what) + (is_delay ? " must be >= 0ms (got " : " must be > 0ms (got ") +
                  std::to_string(timeout.count()) + "ms)");
}

}  // namespace phyx::detail
