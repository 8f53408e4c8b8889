// phyx/errors.hpp — the error types of SPEC section 11.
//
// Every error phyx throws or fails a Future with derives from phyx::Error, which is a
// std::runtime_error. Messages say what happened and to what, with the offending value.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "phyx/ids.hpp"

namespace phyx {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An invalid ProcessSpec / Supervision field, or an invalid duration argument.
/// The message names the field and the value, e.g. "ProcessSpec.max_inbox must be >= 1 (got 0)".
class SpecError : public Error {
 public:
  using Error::Error;
};

/// A process refused an operation (e.g. "Failed to send ask message").
class ProcessError : public Error {
 public:
  explicit ProcessError(const std::string& message, ProcessId process_id = {})
      : Error(message), process_id_(process_id) {}
  /// The process concerned (ProcessId{} = 0 when unknown).
  ProcessId process_id() const noexcept { return process_id_; }

 private:
  ProcessId process_id_;
};

/// An ask or tools.ask timed out: "Ask timeout after 5000ms", "Ask 'desc' timeout".
class TimeoutError : public Error {
 public:
  using Error::Error;
};

/// The last Reply / Resolve+Reject was destroyed unanswered: "Reply dropped without an answer".
class NoReplyError : public Error {
 public:
  using Error::Error;
};

/// The process stopped (or the runtime shut down) with the ask pending: "Process stopping".
class StoppedError : public Error {
 public:
  using Error::Error;
};

/// Future::get() was called where blocking would deadlock: on a worker thread, inside a
/// handler, or in deterministic mode when the runtime went idle before the future settled.
class WouldBlockError : public Error {
 public:
  using Error::Error;
};

class JournalOverflowError : public Error {
 public:
  using Error::Error;
};

class JournalReentrancyError : public Error {
 public:
  using Error::Error;
};

class JournalCorruptError : public Error {
 public:
  JournalCorruptError(const std::string& message, std::uint64_t offset)
      : Error(message), offset_(offset) {}
  /// Byte offset of the corrupt record in the journal file.
  std::uint64_t offset() const noexcept { return offset_; }

 private:
  std::uint64_t offset_;
};

}  // namespace phyx
