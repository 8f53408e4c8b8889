/// \file
/// phyx/errors.hpp — the error types of SPEC section 11.
///
/// Every error phyx throws or fails a Future with derives from phyx::Error, which is a
/// std::runtime_error. Messages say what happened and to what, with the offending value.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "phyx/ids.hpp"

namespace phyx {

/// The base of every phyx error; thrown itself for misuse (a second Future::get(), a
/// deterministic-only call on a threaded runtime, a spawn after shutdown began) and for I/O
/// failures of a durable journal.
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

/// A process refused an operation (e.g.\ "Failed to send ask message").
class ProcessError : public Error {
 public:
  /// `message` as what(); `process_id` the process concerned, if known.
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

/// Journal::append at max_entries under Overflow::error:
/// "Journal overflow: maximum entries (N) reached". No sequence was used.
class JournalOverflowError : public Error {
 public:
  using Error::Error;
};

/// Journal::append from inside one of that journal's subscribers or replay callbacks.
class JournalReentrancyError : public Error {
 public:
  using Error::Error;
};

/// A durable journal's file is damaged before its end (a torn tail is cut, not an error), or
/// holds a record its codec refuses. Thrown by the Journal constructor, which then changes
/// nothing.
class JournalCorruptError : public Error {
 public:
  /// `message` as what(); `offset` where the bad record starts.
  JournalCorruptError(const std::string& message, std::uint64_t offset)
      : Error(message), offset_(offset) {}
  /// Byte offset of the corrupt record in the journal file.
  std::uint64_t offset() const noexcept { return offset_; }

 private:
  std::uint64_t offset_;
};

}  // namespace phyx
