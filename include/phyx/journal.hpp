/// \file
/// phyx/journal.hpp — Journal<T>: an append-only event log for event sourcing (SPEC 10).
///
/// A process appends an event for every state change and, in `init`, replays the journal
/// to rebuild its state, so a restart (of the process, or of the whole program once the
/// journal is durable) finds the state it had.
///
/// Thread safety: every method may be called from any thread; calls serialise on the
/// journal's own (recursive) mutex. The usual owner is one process, whose appends never
/// wait on it: uncontended it costs ~20 ns, next to an append's allocation. When shared,
/// what a method returns by pointer or reference can be dropped or cleared by another
/// thread's call; copy it if other threads append to a bounded journal or clear it.
/// Subscribers run on the appending thread, inside append(), holding the lock.
///
/// Durable journals (Options::path): the file format and its torn-tail rules are in
/// engine/journal/record_format.hpp, the write, group-commit and recovery protocol in
/// engine/journal/durable_log.cpp, the decisions in engine/journal/README.md.
#pragma once

#include <cstdint>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "phyx/clock.hpp"
#include "phyx/errors.hpp"
#include "phyx/event.hpp"

namespace phyx {

/// What append does at Options::max_entries. none: no bound (max_entries unused).
/// drop_oldest: the first entry is dropped (journal:overflow). error: append throws
/// JournalOverflowError and uses no sequence.
enum class Overflow { none, drop_oldest, error };
/// How far an append goes before it returns. memory: no file (Options::path empty).
/// flush: one write(2) per append, so the OS has the record when append returns (survives
/// the program's crash, not the machine's). fsync: append returns after fdatasync covered
/// the record (engine/journal/README.md).
enum class Durability { memory, flush, fsync };  // fsync: append returns after the data is on disk

/// One journal entry (SPEC 10).
template <class T>
struct Entry {
  std::string id;  ///< the sequence in decimal: unique in its journal, the same after reopening
  std::uint64_t sequence = 0;  ///< from 0, rising by 1, never reused
  Instant timestamp;           ///< the journal clock's time at append
  T data;                      ///< the event
};

/// A copy of what a journal held (Journal::snapshot).
template <class T>
struct Snapshot {
  std::uint64_t first_sequence = 0;  ///< of the first entry held (0 when empty)
  std::uint64_t last_sequence = 0;   ///< of the last entry held (0 when empty)
  std::size_t total_count = 0;       ///< entries held (= entries.size())
  Instant timestamp;                 ///< when the snapshot was taken
  std::vector<Entry<T>> entries;     ///< the entries, in sequence order
};

/// How a durable journal turns T into bytes and back. Built in (the default) for
/// std::string and trivially copyable T; give encode and decode for any other T.
template <class T>
struct Codec {
  std::function<std::string(const T&)> encode;  ///< T to a record's payload
  std::function<T(std::string_view)> decode;    ///< back; a throw: JournalCorruptError at open

  /// The built-in codec for std::string (the bytes) and for trivially copyable,
  /// default-constructible T (the object's bytes; decode throws JournalCorruptError for a
  /// payload of another size); empty functions for any other T (a durable Journal then
  /// throws SpecError).
  Codec() {
    if constexpr (std::is_same_v<T, std::string>) {
      encode = [](const T& v) { return v; };
      decode = [](std::string_view b) { return T(b); };
    } else if constexpr (std::is_trivially_copyable_v<T> && std::is_default_constructible_v<T>) {
      encode = [](const T& v) { return std::string(reinterpret_cast<const char*>(&v), sizeof(T)); };
      decode = [](std::string_view b) {
        if (b.size() != sizeof(T)) {
          throw JournalCorruptError("Journal record holds " + std::to_string(b.size()) +
                                        " bytes, expected " + std::to_string(sizeof(T)),
                                    0);
        }
        T v;
        std::memcpy(&v, b.data(), sizeof(T));
        return v;
      };
    }
  }
  /// A codec of your own: `e` encodes, `d` decodes.
  Codec(std::function<std::string(const T&)> e, std::function<T(std::string_view)> d)
      : encode(std::move(e)), decode(std::move(d)) {}
};

/// Unsubscribes on destruction (or unsubscribe()). Move-only. Any thread: unsubscribing
/// takes the journal's lock (so it waits for a notification in progress on another
/// thread), and does nothing once the journal is gone.
class Subscription {
 public:
  /// Subscribed to nothing.
  Subscription() = default;
  /// Runs `cancel` once, at unsubscribe (made by Journal::subscribe).
  explicit Subscription(std::function<void()> cancel) : cancel_(std::move(cancel)) {}
  /// Takes over `o`'s subscription; `o` holds none.
  Subscription(Subscription&& o) noexcept : cancel_(std::exchange(o.cancel_, nullptr)) {}
  /// Unsubscribes the current subscription, then takes over `o`'s.
  Subscription& operator=(Subscription&& o) noexcept {
    if (this != &o) {
      unsubscribe();
      cancel_ = std::exchange(o.cancel_, nullptr);
    }
    return *this;
  }
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;
  ~Subscription() { unsubscribe(); }
  /// Idempotent. After it returns the subscriber is never called again.
  void unsubscribe() {
    if (auto c = std::exchange(cancel_, nullptr)) c();
  }

 private:
  std::function<void()> cancel_;
};

namespace detail {
struct JournalSettings {
  bool has_clock;
  std::optional<std::size_t> max_entries;
  Overflow overflow;
  const std::filesystem::path* path;
  Durability durability;
  bool has_codec;
};
/// engine/journal/journal.cpp: SpecError naming the first bad option, else nothing.
void validate_journal(const JournalSettings& s);
/// Emits one journal event to `emit` (no-op when empty); a throwing sink is swallowed.
void emit_journal_event(const EmitFn& emit, Instant at, std::string_view type,
                        Fields fields) noexcept;

/// The file of a durable journal (engine/journal/durable_log.cpp has the protocol).
class DurableLog {
 public:
  /// Where a write ended, for sync(): the file's generation (clear() replaces the file)
  /// and the byte offset just past the record.
  struct Ticket {
    std::uint64_t generation = 0;
    std::uint64_t end = 0;
  };
  virtual ~DurableLog() = default;
  /// Under the journal's lock. Appends one record with one write(2); on failure throws
  /// phyx::Error and leaves the file as it was (or, if even that fails, refuses every
  /// later write). Allocates only to grow its reused buffer. Blocks on the write.
  virtual Ticket write(std::uint64_t sequence, const Instant& at, std::string_view payload) = 0;
  /// Any thread, without the journal's lock. Returns once the bytes up to `ticket` are
  /// on disk; concurrent callers share one fdatasync (group commit). Throws phyx::Error
  /// if the sync fails, and from then on every write and sync throws (the kernel may
  /// have dropped the dirty pages: see durable_log.cpp). Blocks.
  virtual void sync(Ticket ticket) = 0;
  /// Under the journal's lock. Replaces the file by an empty one whose next record has
  /// `base_sequence` (clear()). Throws phyx::Error and keeps the old file on failure.
  virtual void reset(std::uint64_t base_sequence) = 0;
  /// Any thread. fdatasyncs run by sync() so far (appends / syncs = the group-commit gain).
  virtual std::uint64_t syncs() const = 0;
};

struct RecoveredRecord {
  std::uint64_t offset = 0;
  std::uint64_t sequence = 0;
  Instant timestamp;
  std::string_view payload;  // into OpenedLog::bytes
};

struct OpenedLog {
  std::unique_ptr<DurableLog> log;
  std::string bytes;  // the file as read; the records' payloads point into it
  std::vector<RecoveredRecord> records;
  std::uint64_t next_sequence = 0;
  bool existed = false;               // the file was there before
  std::uint64_t truncated_bytes = 0;  // of a torn tail, cut
  std::uint64_t torn_offset = 0;      // where the cut was (when truncated_bytes > 0)
};

/// Opens (creating if absent) and recovers the journal file at `path`: every whole
/// record, a torn tail cut and reported. Throws JournalCorruptError (with the offset) for
/// damage before the end, phyx::Error for I/O failures and for a file another Journal
/// holds. Caller: the Journal constructor. Allocates; blocks on disk I/O.
OpenedLog open_durable_log(const std::filesystem::path& path, Durability durability);

/// Throws JournalCorruptError for a record whose bytes the codec refused.
[[noreturn]] void throw_undecodable_record(const std::filesystem::path& path,
                                           const RecoveredRecord& record, const char* what);
}  // namespace detail

/// An append-only log of T, in memory or durable on disk (SPEC 10): a process appends an
/// event per state change and replays them in init. Every method may be called from any
/// thread (see the file's notes on sharing one). Not copyable.
template <class T>
class Journal {
 public:
  /// The journal's settings; the constructor throws SpecError naming the first bad one.
  struct Options {
    std::shared_ptr<Clock> clock;  ///< required
    EmitFn emit;                   ///< journal:* events (process ProcessId{}, name "journal")
    std::optional<std::size_t> max_entries;  ///< used only with Overflow::drop_oldest / error
    Overflow overflow = Overflow::none;      ///< what append does at max_entries
    std::filesystem::path path;                  ///< empty = in memory only
    Durability durability = Durability::memory;  ///< must be flush or fsync when path is set
    Codec<T> codec;  ///< encode/decode; built in for std::string and trivially copyable T
  };

  /// Any thread. Throws SpecError naming the first bad option. With a path, opens or
  /// creates the file and recovers it: every whole record is loaded (the newest
  /// max_entries of them under drop_oldest), a torn tail is cut, and journal:recovered
  /// {entries, truncated_bytes, path} reports it; damage before the end throws
  /// JournalCorruptError with its offset and changes nothing; a file another Journal has
  /// open throws phyx::Error. Emits journal:create. Allocates; blocks on disk I/O.
  explicit Journal(Options options) : options_(std::move(options)) {
    detail::validate_journal(
        {static_cast<bool>(options_.clock), options_.max_entries, options_.overflow, &options_.path,
         options_.durability,
         static_cast<bool>(options_.codec.encode) && static_cast<bool>(options_.codec.decode)});
    emit("journal:create", [&] { return Fields{{"durable", !options_.path.empty()}}; });
    if (!options_.path.empty()) recover();
  }
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  /// Any thread (calls serialise). Appends `data` with the next sequence and the clock's
  /// time, then runs the subscribers in order. At max_entries: drop_oldest drops the first
  /// entry; error throws JournalOverflowError and uses no sequence. From inside a
  /// subscriber (or a replay callback) throws JournalReentrancyError.
  /// Durable: the record is written (one write(2)) before anything else changes; if that
  /// fails append throws phyx::Error and nothing was appended. With Durability::fsync it
  /// returns once the record is on disk (concurrent appenders share one fdatasync); the
  /// subscribers have already run by then, and if the sync fails append throws and the
  /// journal refuses later appends (see engine/journal/durable_log.cpp).
  /// The reference stays valid until the entry is dropped or cleared (by any thread, when
  /// shared). Allocates; blocks on the lock and, when durable, on disk I/O.
  const Entry<T>& append(T data) {
    std::unique_lock lock(shared_->mutex);
    if (shared_->reentrancy_guard)
      throw JournalReentrancyError("Journal append from inside a subscriber");
    const bool full = options_.overflow != Overflow::none && options_.max_entries &&
                      entries_.size() >= *options_.max_entries;
    if (full && options_.overflow == Overflow::error) {
      emit("journal:overflow", [&] {
        return Fields{{"max_entries", static_cast<std::int64_t>(*options_.max_entries)},
                      {"policy", std::string("error")}};
      });
      throw JournalOverflowError("Journal overflow: maximum entries (" +
                                 std::to_string(*options_.max_entries) + ") reached");
    }
    const std::uint64_t seq = next_sequence_;
    const Instant at = options_.clock->now();
    detail::DurableLog::Ticket ticket;
    if (log_) ticket = log_->write(seq, at, options_.codec.encode(data));  // throws: no change
    if (full) {
      const std::uint64_t dropped = entries_.front().sequence;
      entries_.pop_front();
      emit("journal:overflow", [&] {
        return Fields{{"max_entries", static_cast<std::int64_t>(*options_.max_entries)},
                      {"policy", std::string("drop_oldest")},
                      {"dropped_sequence", static_cast<std::int64_t>(dropped)}};
      });
    }
    ++next_sequence_;
    entries_.push_back(Entry<T>{std::to_string(seq), seq, at, std::move(data)});
    const Entry<T>& e = entries_.back();
    emit("journal:append", [&] {
      return Fields{{"sequence", static_cast<std::int64_t>(seq)}, {"id", e.id}};
    });
    notify(e);
    lock.unlock();
    if (log_ && options_.durability == Durability::fsync) log_->sync(ticket);
    return e;
  }

  /// Any thread. The entry of `sequence`, or nullptr when dropped, cleared or out of range.
  const Entry<T>* get(std::uint64_t sequence) const {
    std::lock_guard lock(shared_->mutex);
    if (entries_.empty() || sequence < entries_.front().sequence ||
        sequence > entries_.back().sequence) {
      return nullptr;
    }
    return &entries_[static_cast<std::size_t>(sequence - entries_.front().sequence)];
  }
  /// Any thread. nullptr when empty.
  const Entry<T>* first() const {
    std::lock_guard lock(shared_->mutex);
    return entries_.empty() ? nullptr : &entries_.front();
  }
  /// Any thread. nullptr when empty.
  const Entry<T>* last() const {
    std::lock_guard lock(shared_->mutex);
    return entries_.empty() ? nullptr : &entries_.back();
  }
  /// Any thread.
  std::size_t size() const {
    std::lock_guard lock(shared_->mutex);
    return entries_.size();
  }
  /// Any thread.
  bool empty() const { return size() == 0; }
  /// Any thread. The next sequence append() will use (sequences are never reused).
  std::uint64_t next_sequence() const {
    std::lock_guard lock(shared_->mutex);
    return next_sequence_;
  }

  /// Any thread. The fdatasyncs appends have run since the file was opened: with N
  /// appenders at once, appends / syncs shows how many share one (group commit).
  /// 0 in memory and with Durability::flush.
  std::uint64_t syncs() const { return log_ ? log_->syncs() : 0; }

  /// Any thread. Calls f on every entry held with sequence >= from_sequence, in order,
  /// holding the journal's lock. f may read the journal; an append from f throws
  /// JournalReentrancyError.
  void replay(std::uint64_t from_sequence, const std::function<void(const Entry<T>&)>& f) const {
    std::lock_guard lock(shared_->mutex);
    const bool outer = std::exchange(shared_->reentrancy_guard, true);
    try {
      for (const Entry<T>& e : entries_) {
        if (e.sequence >= from_sequence) f(e);
      }
    } catch (...) {
      shared_->reentrancy_guard = outer;
      throw;
    }
    shared_->reentrancy_guard = outer;
  }

  /// Any thread. f runs after every later append, synchronously on the appending thread
  /// holding the journal's lock, in subscription order; one that throws is reported
  /// (journal:subscriber:error) and the others still run. Allocates.
  Subscription subscribe(std::function<void(const Entry<T>&)> f) {
    std::lock_guard lock(shared_->mutex);
    const std::uint64_t id = next_subscriber_++;
    shared_->subscribers.push_back({id, std::move(f), true});
    std::weak_ptr<Shared> weak = shared_;
    return Subscription([weak, id] {
      auto shared = weak.lock();
      if (!shared) return;                    // the journal is gone
      std::lock_guard relock(shared->mutex);  // waits for a notification in progress
      for (auto& s : shared->subscribers) {
        // While notifying, the callable may be the one running: mark it, erase it after.
        if (s.id == id) s.active = false;
      }
      if (!shared->notifying)
        std::erase_if(shared->subscribers, [](const Subscriber& s) { return !s.active; });
    });
  }

  /// Any thread. A copy of what is held now. Allocates.
  Snapshot<T> snapshot() const {
    std::lock_guard lock(shared_->mutex);
    Snapshot<T> s;
    s.timestamp = options_.clock->now();
    s.total_count = entries_.size();
    if (!entries_.empty()) {
      s.first_sequence = entries_.front().sequence;
      s.last_sequence = entries_.back().sequence;
    }
    s.entries.assign(entries_.begin(), entries_.end());
    return s;
  }

  /// Any thread. Drops every entry; the sequence goes on (never reused, also after
  /// reopening). Durable: the file is replaced by an empty one that starts at the next
  /// sequence (atomically, by rename); if that fails clear throws phyx::Error and keeps
  /// everything. Emits journal:clear. Blocks on disk I/O when durable.
  void clear() {
    std::lock_guard lock(shared_->mutex);
    if (log_) log_->reset(next_sequence_);
    const std::size_t n = entries_.size();
    entries_.clear();
    emit("journal:clear", [&] { return Fields{{"entries", static_cast<std::int64_t>(n)}}; });
  }

 private:
  struct Subscriber {
    std::uint64_t id;
    std::function<void(const Entry<T>&)> fn;
    bool active;  // false once unsubscribed: never called again
  };
  /// What Subscriptions reach (weakly) after the journal is gone, and the lock.
  struct Shared {
    // Recursive: a subscriber or replay callback runs under it and may read the journal.
    mutable std::recursive_mutex mutex;
    std::deque<Subscriber> subscribers;  // subscription order; push_back never moves one
    bool notifying = false;              // append() is running the subscribers
    bool reentrancy_guard = false;       // subscribers or a replay callback are running
  };

  /// Constructor, path set: loads what the file holds.
  void recover() {
    detail::OpenedLog opened = detail::open_durable_log(options_.path, options_.durability);
    std::size_t skip = 0;  // under drop_oldest, only the newest max_entries are kept
    if (options_.overflow == Overflow::drop_oldest && opened.records.size() > *options_.max_entries)
      skip = opened.records.size() - *options_.max_entries;
    for (std::size_t i = skip; i < opened.records.size(); ++i) {
      const detail::RecoveredRecord& r = opened.records[i];
      try {
        entries_.push_back(Entry<T>{std::to_string(r.sequence), r.sequence, r.timestamp,
                                    options_.codec.decode(r.payload)});
      } catch (const std::exception& err) {  // the built-in codec's size check included
        detail::throw_undecodable_record(options_.path, r, err.what());
      } catch (...) {
        detail::throw_undecodable_record(options_.path, r, "unknown exception");
      }
    }
    next_sequence_ = opened.next_sequence;
    log_ = std::move(opened.log);
    if (opened.existed) {
      emit("journal:recovered", [&] {
        Fields f{{"entries", static_cast<std::int64_t>(opened.records.size())},
                 {"truncated_bytes", static_cast<std::int64_t>(opened.truncated_bytes)},
                 {"path", options_.path.string()}};
        if (opened.truncated_bytes > 0)
          f.emplace_back("torn_offset", static_cast<std::int64_t>(opened.torn_offset));
        return f;
      });
    }
  }

  void notify(const Entry<T>& e) {
    Shared& shared = *shared_;
    shared.notifying = true;
    shared.reentrancy_guard = true;
    // Index loop over the count at the start: a subscriber may subscribe another (added at
    // the end, first called on the next append) or unsubscribe any (marked, skipped).
    const std::size_t n = shared.subscribers.size();
    for (std::size_t i = 0; i < n; ++i) {
      if (!shared.subscribers[i].active) continue;
      try {
        shared.subscribers[i].fn(e);
      } catch (const std::exception& err) {
        report_subscriber_error(e, err.what());
      } catch (...) {
        report_subscriber_error(e, "unknown exception");
      }
    }
    shared.notifying = false;
    shared.reentrancy_guard = false;
    std::erase_if(shared.subscribers, [](const Subscriber& s) { return !s.active; });
  }

  void report_subscriber_error(const Entry<T>& e, const char* what) {
    emit("journal:subscriber:error", [&] {
      return Fields{{"sequence", static_cast<std::int64_t>(e.sequence)}, {"error", what}};
    });
  }

  /// Builds the fields only when there is a sink: an append without one allocates nothing
  /// for telemetry.
  template <class MakeFields>
  void emit(std::string_view type, MakeFields make_fields) const {
    if (options_.emit)
      detail::emit_journal_event(options_.emit, options_.clock->now(), type, make_fields());
  }

  Options options_;
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();  // Subscriptions hold it weakly
  // Under shared_->mutex:
  std::deque<Entry<T>> entries_;  // sequences contiguous from front to back
  std::uint64_t next_sequence_ = 0;
  std::uint64_t next_subscriber_ = 0;
  std::unique_ptr<detail::DurableLog> log_;  // null in memory; write/reset under the lock
};

}  // namespace phyx
