// engine/journal/journal.cpp — the non-template parts of Journal<T> (phyx/journal.hpp):
// option validation and event emission.
#include "phyx/journal.hpp"

#include <string>

namespace phyx::detail {

void validate_journal(const JournalSettings& s) {
  if (!s.has_clock) throw SpecError("Journal: options.clock is required (got none)");
  if (s.overflow != Overflow::none) {
    const char* policy = s.overflow == Overflow::drop_oldest ? "drop_oldest" : "error";
    if (!s.max_entries) {
      throw SpecError(std::string("Journal: options.max_entries is required with Overflow::") +
                      policy + " (got none)");
    }
    if (*s.max_entries == 0) throw SpecError("Journal: options.max_entries must be >= 1 (got 0)");
  }
  if (!s.path->empty()) {
    if (s.durability == Durability::memory) {
      throw SpecError(
          "Journal: options.durability must be flush or fsync when options.path is set (got "
          "memory, path '" +
          s.path->string() + "')");
    }
    if (!s.has_codec)
      throw SpecError(
          "Journal: options.codec needs encode and decode for a durable journal of this type");
  } else if (s.durability != Durability::memory) {
    throw SpecError(std::string("Journal: options.durability is ") +
                    (s.durability == Durability::flush ? "flush" : "fsync") +
                    " but options.path is empty (an in-memory journal cannot be durable)");
  }
}

void emit_journal_event(const EmitFn& emit, Instant at, std::string_view type,
                        Fields fields) noexcept {
  try {
    emit(Event{type, ProcessId{}, "journal", at, std::move(fields)});
  } catch (...) {
    // A sink that throws never breaks the journal (as for the runtime's sink, SPEC 8).
  }
}

}  // namespace phyx::detail
