// phyx/journal.hpp — Journal<T>: an append-only event log for event sourcing (SPEC 10).
//
// A process appends an event for every state change and, in `init`, replays the journal
// to rebuild its state, so a restart (of the process, or of the whole program once the
// journal is durable) finds the state it had.
//
// Thread safety: a Journal is owned by one thread at a time, like a process's state (the
// usual owner is one process, which needs no lock to append). Every method must be called
// by that owner; sharing a journal between threads needs a lock around every call. The
// subscribers run on the appending thread, inside append().
// This file is the in-memory journal. Durable journals (Options::path) are being built:
// until they land, a non-empty path throws phyx::Error at construction.
#pragma once

#include <cstdint>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
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

enum class Overflow { none, drop_oldest, error };
enum class Durability { memory, flush, fsync };  // fsync: append returns after the data is on disk

template <class T>
struct Entry {
  std::string id;  // the sequence in decimal: unique in its journal, the same after reopening
  std::uint64_t sequence = 0;
  Instant timestamp;
  T data;
};

template <class T>
struct Snapshot {
  std::uint64_t first_sequence = 0;  // of the first entry held (0 when empty)
  std::uint64_t last_sequence = 0;   // of the last entry held (0 when empty)
  std::size_t total_count = 0;       // entries held (= entries.size())
  Instant timestamp;                 // when the snapshot was taken
  std::vector<Entry<T>> entries;
};

/// How a durable journal turns T into bytes and back. Built in (the default) for
/// std::string and trivially copyable T; give encode and decode for any other T.
template <class T>
struct Codec {
  std::function<std::string(const T&)> encode;
  std::function<T(std::string_view)> decode;

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
  Codec(std::function<std::string(const T&)> e, std::function<T(std::string_view)> d)
      : encode(std::move(e)), decode(std::move(d)) {}
};

/// Unsubscribes on destruction (or unsubscribe()). Move-only; owner thread of the journal.
class Subscription {
 public:
  Subscription() = default;
  explicit Subscription(std::function<void()> cancel) : cancel_(std::move(cancel)) {}
  Subscription(Subscription&& o) noexcept : cancel_(std::exchange(o.cancel_, nullptr)) {}
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
}  // namespace detail

template <class T>
class Journal {
 public:
  struct Options {
    std::shared_ptr<Clock> clock;  // required
    EmitFn emit;
    std::optional<std::size_t> max_entries;  // used only with Overflow::drop_oldest / error
    Overflow overflow = Overflow::none;
    std::filesystem::path path;                  // empty = in memory only
    Durability durability = Durability::memory;  // must be flush or fsync when path is set
    Codec<T> codec;  // encode/decode; built in for std::string and trivially copyable T
  };

  /// Throws SpecError naming the first bad option. Emits journal:create.
  explicit Journal(Options options) : options_(std::move(options)) {
    detail::validate_journal(
        {static_cast<bool>(options_.clock), options_.max_entries, options_.overflow, &options_.path,
         options_.durability,
         static_cast<bool>(options_.codec.encode) && static_cast<bool>(options_.codec.decode)});
    emit("journal:create", [&] { return Fields{{"durable", !options_.path.empty()}}; });
  }
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  /// Owner. Appends `data` with the next sequence and the clock's time, then runs the
  /// subscribers in order. At max_entries: drop_oldest drops the first entry; error
  /// throws JournalOverflowError and uses no sequence. From inside a subscriber throws
  /// JournalReentrancyError. The reference stays valid until the entry is dropped or
  /// cleared. Allocates.
  const Entry<T>& append(T data) {
    if (subscribers_->notifying)
      throw JournalReentrancyError("Journal append from inside a subscriber");
    if (options_.overflow != Overflow::none && options_.max_entries &&
        entries_.size() >= *options_.max_entries) {
      if (options_.overflow == Overflow::error) {
        emit("journal:overflow", [&] {
          return Fields{{"max_entries", static_cast<std::int64_t>(*options_.max_entries)},
                        {"policy", std::string("error")}};
        });
        throw JournalOverflowError("Journal overflow: maximum entries (" +
                                   std::to_string(*options_.max_entries) + ") reached");
      }
      const std::uint64_t dropped = entries_.front().sequence;
      entries_.pop_front();
      emit("journal:overflow", [&] {
        return Fields{{"max_entries", static_cast<std::int64_t>(*options_.max_entries)},
                      {"policy", std::string("drop_oldest")},
                      {"dropped_sequence", static_cast<std::int64_t>(dropped)}};
      });
    }
    const std::uint64_t seq = next_sequence_++;
    entries_.push_back(Entry<T>{std::to_string(seq), seq, options_.clock->now(), std::move(data)});
    const Entry<T>& e = entries_.back();
    emit("journal:append", [&] {
      return Fields{{"sequence", static_cast<std::int64_t>(seq)}, {"id", e.id}};
    });
    notify(e);
    return e;
  }

  /// Owner. The entry of `sequence`, or nullptr when dropped, cleared or out of range.
  const Entry<T>* get(std::uint64_t sequence) const noexcept {
    if (entries_.empty() || sequence < entries_.front().sequence ||
        sequence > entries_.back().sequence) {
      return nullptr;
    }
    return &entries_[static_cast<std::size_t>(sequence - entries_.front().sequence)];
  }
  const Entry<T>* first() const noexcept { return entries_.empty() ? nullptr : &entries_.front(); }
  const Entry<T>* last() const noexcept { return entries_.empty() ? nullptr : &entries_.back(); }
  std::size_t size() const noexcept { return entries_.size(); }
  bool empty() const noexcept { return entries_.empty(); }
  /// The next sequence append() will use (sequences are never reused).
  std::uint64_t next_sequence() const noexcept { return next_sequence_; }

  /// Owner. Calls f on every entry held with sequence >= from_sequence, in order. f must
  /// not append (the entries it is given would move under it).
  void replay(std::uint64_t from_sequence, const std::function<void(const Entry<T>&)>& f) const {
    for (const Entry<T>& e : entries_) {
      if (e.sequence >= from_sequence) f(e);
    }
  }

  /// Owner. f runs after every later append, synchronously, in subscription order; one
  /// that throws is reported (journal:subscriber:error) and the others still run.
  Subscription subscribe(std::function<void(const Entry<T>&)> f) {
    const std::uint64_t id = next_subscriber_++;
    subscribers_->list.push_back({id, std::move(f), true});
    std::weak_ptr<Subscribers> weak = subscribers_;
    return Subscription([weak, id] {
      auto subs = weak.lock();
      if (!subs) return;  // the journal is gone
      for (auto& s : subs->list) {
        // While notifying, the callable may be the one running: mark it, erase it after.
        if (s.id == id) s.active = false;
      }
      if (!subs->notifying)
        std::erase_if(subs->list, [](const Subscriber& s) { return !s.active; });
    });
  }

  /// Owner. A copy of what is held now.
  Snapshot<T> snapshot() const {
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

  /// Owner. Drops every entry; the sequence goes on (never reused). Emits journal:clear.
  void clear() {
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
  struct Subscribers {
    std::deque<Subscriber>
        list;                // subscription order; a deque: push_back never moves the running one
    bool notifying = false;  // append() is running them: the reentrancy guard
  };

  void notify(const Entry<T>& e) {
    Subscribers& subs = *subscribers_;
    subs.notifying = true;
    // Index loop over the count at the start: a subscriber may subscribe another (added at
    // the end, first called on the next append) or unsubscribe any (marked, skipped).
    const std::size_t n = subs.list.size();
    for (std::size_t i = 0; i < n; ++i) {
      if (!subs.list[i].active) continue;
      try {
        subs.list[i].fn(e);
      } catch (const std::exception& err) {
        report_subscriber_error(e, err.what());
      } catch (...) {
        report_subscriber_error(e, "unknown exception");
      }
    }
    subs.notifying = false;
    std::erase_if(subs.list, [](const Subscriber& s) { return !s.active; });
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
  std::deque<Entry<T>> entries_;  // sequences contiguous from front to back
  std::uint64_t next_sequence_ = 0;
  std::shared_ptr<Subscribers> subscribers_ =
      std::make_shared<Subscribers>();  // Subscriptions hold it weakly
  std::uint64_t next_subscriber_ = 0;
};

}  // namespace phyx
