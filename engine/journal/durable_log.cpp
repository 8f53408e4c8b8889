// engine/journal/durable_log.cpp — the file under a durable Journal<T>: recovery on open,
// one write(2) per append, and group commit for Durability::fsync.
//
// Protocol
//   Open (the Journal constructor, before any other thread can see the journal):
//   1. open(path, O_RDWR | O_APPEND). If it does not exist, create it whole: write the
//      header to `path.tmp`, fdatasync, rename over `path`, fsync the directory, so a
//      crash never leaves a file with half a header under the journal's name.
//   2. flock(LOCK_EX | LOCK_NB): one Journal per file, in this program or any other.
//   3. Read the file, decode it (record_format.hpp). Corruption before the end throws
//      JournalCorruptError naming the offset. A torn tail is cut (ftruncate + fdatasync
//      before anything new is written after it) and reported by the Journal.
//   4. With fsync durability, one fdatasync: what was recovered (perhaps written by a
//      run that died before its own sync) is on disk before this run builds on it.
//   Append (Journal::append, holding the journal's lock):
//   5. Encode the record into a reused buffer and write(2) it in one call (O_APPEND).
//      A failed write is cut back with ftruncate to the old end, and append throws:
//      nothing was appended. If the cut fails too, the log is broken: every later call
//      throws (a record written after garbage would be unreadable).
//   6. Publish the new end: written_end_.store(release).
//   Sync (Durability::fsync, after the journal's lock is released), group commit:
//   7. Under sync_mutex_: done if synced_end_ >= my end. If a running sync's target
//      covers my end (started_target_ >= my end), wait on synced_: that sync ends
//      (synced_end_ passes my end) or fails (step 8) and wakes everyone. Otherwise I
//      lead: read written_end_ (acquire), raise started_target_ to it, unlock,
//      fdatasync, relock, advance synced_end_ to what I read, wake everyone. Every write
//      whose end I read completed its write(2) before my fdatasync began, so my one
//      sync covers them all, and whoever arrives while it runs with bytes it covers
//      waits instead of syncing again.
//      A writer whose bytes came after a running sync's start does not wait for it: it
//      starts its own at once. Syncs overlap, and the filesystem commits them together
//      (ext4's jbd2 commits one transaction while the next fills, and a disk with a
//      queue serves several flushes at once). Measured here in one interleaved run of
//      3 rounds (engine/journal/README.md): one sync at a time gave 0.27-0.89x of 4
//      threads each doing their own write + fdatasync; overlapping gave 0.88-1.08x.
//   8. A failed fdatasync poisons the log: every later write and sync throws. After a
//      failed fsync Linux may have dropped the dirty pages and marked them clean, so a
//      retry can "succeed" with the data gone (PostgreSQL's fsyncgate, 2018). The only
//      honest state is: not durable, reopen to see what the disk has.
//   Clear (Journal::clear, holding the journal's lock):
//   9. Wait until no sync is running, write a fresh file (header with the next sequence)
//      to `path.tmp`, fdatasync, lock it, rename it over `path`, fsync the directory,
//      then swap the descriptor and bump the generation. Syncs waiting for the old
//      file's bytes return: their entries were cleared.
//
// Invariants
//   - The file is header + whole records, except between a write(2) and its return.
//   - synced_end_ <= started_target_ <= written_end_ within one generation; all three
//     only grow until a reset.
//   - started_target_ >= X means a sync covering X has started, and it has ended
//     (synced_end_ >= X), or it is running, or it failed (sync_error_ != 0). So a waiter
//     on synced_ is always woken by a sync that decides its fate.
//   - fd_ and generation_ change only in reset(), under the journal's lock and
//     sync_mutex_ with no sync running, so a leader's fdatasync never races a close.
//
// Rejected
//   - A user-space buffer flushed later: "flush" would then not mean the OS has the
//     data when append returns, and a process crash would lose acknowledged appends.
//   - Classic leader/follower group commit, one sync in flight: followers share the
//     leader's next sync (2.3 appends per fdatasync with 4 appenders), but the disk
//     sits idle while they wake up and only one flush is ever queued: slower than
//     4 naive threads here (step 7 has the figures).
//   - A sync for every append, even when a running sync already covers its bytes:
//     the same as naive write + fdatasync; skipping the covered ones costs nothing.
//   - A dedicated sync thread: group commit by the waiting appenders themselves needs
//     no thread, no hand-off latency, and nothing to shut down.
//   - O_DSYNC writes: every write becomes its own sync; no grouping possible.
//   - Rewriting the file in place on clear: a crash mid-rewrite would leave neither the
//     old nor the new journal. rename(2) is atomic.
#include <fcntl.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <utility>

#include "journal/record_format.hpp"
#include "phyx/journal.hpp"
#include "platform/file.hpp"

namespace phyx::detail {
namespace {

std::string quoted(const std::filesystem::path& p) {
  // Built by appends: g++ 12 warns falsely (-Wrestrict) on "'" + string.
  std::string s(1, '\'');
  s += p.string();
  s += '\'';
  return s;
}

[[noreturn]] void throw_io(const std::filesystem::path& path, const std::string& doing, int error) {
  throw Error("Journal " + quoted(path) + ": " + doing + " failed: " + describe_errno(error));
}

std::filesystem::path temp_path_for(const std::filesystem::path& path) {
  std::filesystem::path t = path;
  t += ".tmp";
  return t;
}

/// Step 1 / 9: a fresh file with only a header, atomically under `path`, locked.
FileDescriptor create_fresh(const std::filesystem::path& path, std::uint64_t base_sequence) {
  const std::filesystem::path tmp = temp_path_for(path);
  const int fd = open_file(tmp, O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0644);
  if (fd < 0) throw_io(path, "creating " + quoted(tmp), -fd);
  FileDescriptor file(fd);
  if (const int e = write_all(fd, encode_file_header(base_sequence)); e != 0)
    throw_io(path, "writing the header of " + quoted(tmp), e);
  if (const int e = sync_data(fd); e != 0) throw_io(path, "fdatasync of " + quoted(tmp), e);
  if (const int e = lock_exclusive(fd); e != 0) throw_io(path, "locking " + quoted(tmp), e);
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw_io(path, "renaming " + quoted(tmp) + " over it", ec.value());
  if (const int e = sync_directory(path.parent_path()); e != 0)
    throw_io(path, "fsync of its directory", e);
  return file;
}

class FileLog final : public DurableLog {
 public:
  FileLog(std::filesystem::path path, FileDescriptor fd, std::uint64_t end)
      : path_(std::move(path)),
        fd_(std::move(fd)),
        end_(end),
        synced_end_(end),
        started_target_(end) {
    written_end_.store(end, std::memory_order_relaxed);  // before publication: no partner
  }

  Ticket write(std::uint64_t sequence, const Instant& at, std::string_view payload) override {
    if (!broken_.empty()) throw Error(broken_);
    if (sync_failed_.load(std::memory_order_acquire)) {  // partner: sync()'s release store
      std::lock_guard lock(sync_mutex_);
      throw Error(sync_failure());
    }
    buffer_.clear();
    encode_record(RecordStamp{sequence, at.wall_ms, at.mono_ms, at.mono_ns}, payload, buffer_);
    if (const int error = write_all(fd_.get(), buffer_); error != 0) {
      // Step 5: cut a partial record back off, or refuse everything from now on.
      if (const int cut = truncate_file(fd_.get(), end_); cut != 0) {
        broken_ = "Journal " + quoted(path_) + ": a failed write could not be cut back (" +
                  describe_errno(cut) + "); the journal refuses appends; reopen it to recover";
      }
      throw Error("Journal " + quoted(path_) + ": writing sequence " + std::to_string(sequence) +
                  " failed: " + describe_errno(error) + "; nothing was appended");
    }
    end_ += buffer_.size();
    written_end_.store(end_, std::memory_order_release);  // partner: sync()'s acquire load
    return Ticket{generation_, end_};
  }

  void sync(Ticket ticket) override {
    std::unique_lock lock(sync_mutex_);
    for (;;) {
      if (ticket.generation != generation_) return;  // step 9: the file was replaced
      if (synced_end_ >= ticket.end) return;
      if (sync_error_ != 0) throw Error(sync_failure());
      if (started_target_ >= ticket.end) {
        // Step 7: a running sync covers my bytes; it wakes me when it ends (or fails).
        synced_.wait(lock);
        continue;
      }
      // Step 7: lead a sync of every write published so far.
      const std::uint64_t target =
          written_end_.load(std::memory_order_acquire);  // partner: write()'s release store
      started_target_ = std::max(started_target_, target);
      ++syncs_running_;
      const int fd = fd_.get();
      lock.unlock();
      const int error = sync_data(fd);
      lock.lock();
      --syncs_running_;
      ++syncs_;
      if (error != 0) {
        sync_error_ = error;                                  // step 8: poisoned
        sync_failed_.store(true, std::memory_order_release);  // partner: write()'s acquire load
      } else if (target > synced_end_) {
        synced_end_ = target;
      }
      synced_.notify_all();
    }
  }

  void reset(std::uint64_t base_sequence) override {
    if (!broken_.empty()) throw Error(broken_);
    std::unique_lock lock(sync_mutex_);
    synced_.wait(lock, [&] { return syncs_running_ == 0; });
    FileDescriptor fresh = create_fresh(path_, base_sequence);  // throws: old file kept
    fd_ = std::move(fresh);                                     // closes the old one
    ++generation_;
    end_ = kFileHeaderSize;
    synced_end_ = end_;
    started_target_ = end_;
    sync_error_ = 0;  // a new file: the old one's failed sync no longer says anything
    sync_failed_.store(false, std::memory_order_relaxed);  // the journal's lock orders it
                                                           // before the next write()
    written_end_.store(end_, std::memory_order_release);   // partner: sync()'s acquire load
    synced_.notify_all();
  }

  std::uint64_t syncs() const override {
    std::lock_guard lock(sync_mutex_);
    return syncs_;
  }

 private:
  std::string sync_failure() const {
    return "Journal " + quoted(path_) + ": fdatasync failed (" + describe_errno(sync_error_) +
           "); appends since the last good sync may not be on disk, and the journal refuses "
           "appends; reopen it to recover what the disk holds";
  }

  const std::filesystem::path path_;
  // Under the journal's lock (write, reset):
  FileDescriptor fd_;
  std::uint64_t end_;   // the file's size: header + whole records
  std::string buffer_;  // reused for every record
  std::string broken_;  // non-empty: step 5 could not cut a failed write back
  // Published by write() for sync leaders, and by sync() for writers:
  std::atomic<std::uint64_t> written_end_{0};
  std::atomic<bool> sync_failed_{false};  // sync_error_ != 0, readable without the mutex
  // Under sync_mutex_:
  mutable std::mutex sync_mutex_;
  std::condition_variable synced_;
  std::uint64_t synced_end_;
  std::uint64_t started_target_;  // the largest target of any sync started (see step 7)
  int syncs_running_ = 0;
  int sync_error_ = 0;  // step 8
  std::uint64_t syncs_ = 0;
  std::uint64_t generation_ = 0;  // also read by write() under the journal's lock (reset
                                  // changes it under both locks)
};

}  // namespace

OpenedLog open_durable_log(const std::filesystem::path& path, Durability durability) {
  OpenedLog opened;
  // Step 1.
  FileDescriptor fd;
  const int existing = open_file(path, O_RDWR | O_APPEND);
  if (existing >= 0) {
    fd = FileDescriptor(existing);
    opened.existed = true;
    // Step 2 (a file we create is locked before its name appears).
    if (const int e = lock_exclusive(fd.get()); e != 0) {
      if (e == EWOULDBLOCK) {
        throw Error("Journal " + quoted(path) +
                    ": another Journal has this file open (one Journal per file; its "
                    "flock is held)");
      }
      throw_io(path, "flock", e);
    }
  } else if (existing == -ENOENT) {
    const std::filesystem::path dir = path.parent_path();
    std::error_code ec;
    if (!dir.empty() && !std::filesystem::is_directory(dir, ec)) {
      throw Error("Journal: options.path " + quoted(path) + ": the directory " + quoted(dir) +
                  " does not exist");
    }
    fd = create_fresh(path, 0);
  } else {
    throw_io(path, "opening", -existing);
  }

  // Step 3.
  if (const int e = read_all(fd.get(), opened.bytes); e != 0) throw_io(path, "reading", e);
  DecodedLog decoded = decode_log(opened.bytes);
  if (decoded.end == DecodeEnd::corrupt) {
    throw JournalCorruptError("Journal " + quoted(path) + ": corrupt at offset " +
                                  std::to_string(decoded.problem_offset) + ": " + decoded.problem +
                                  " (valid records follow, so this is not a torn tail; nothing "
                                  "was changed)",
                              decoded.problem_offset);
  }
  std::uint64_t end = decoded.valid_bytes;
  if (opened.bytes.empty()) {
    // An empty file (made by someone else, or a crash between create and rename cannot
    // leave one): give it a header.
    const std::string header = encode_file_header(0);
    if (const int e = write_all(fd.get(), header); e != 0) throw_io(path, "writing the header", e);
    if (const int e = sync_data(fd.get()); e != 0) throw_io(path, "fdatasync", e);
    end = header.size();
  } else if (decoded.end == DecodeEnd::torn_tail) {
    if (const int e = truncate_file(fd.get(), decoded.valid_bytes); e != 0)
      throw_io(path, "cutting the torn tail at offset " + std::to_string(decoded.valid_bytes), e);
    if (const int e = sync_data(fd.get()); e != 0) throw_io(path, "fdatasync", e);
    opened.truncated_bytes = opened.bytes.size() - decoded.valid_bytes;
    opened.torn_offset = decoded.valid_bytes;
  } else if (durability == Durability::fsync) {
    // Step 4.
    if (const int e = sync_data(fd.get()); e != 0) throw_io(path, "fdatasync", e);
  }

  opened.records.reserve(decoded.records.size());
  for (const DecodedRecord& r : decoded.records) {
    opened.records.push_back(
        RecoveredRecord{r.offset, r.stamp.sequence,
                        Instant{r.stamp.wall_ms, r.stamp.mono_ms, r.stamp.mono_ns}, r.payload});
  }
  opened.next_sequence = decoded.base_sequence + decoded.records.size();
  opened.log = std::make_unique<FileLog>(path, std::move(fd), end);
  return opened;
}

void throw_undecodable_record(const std::filesystem::path& path, const RecoveredRecord& record,
                              const char* what) {
  throw JournalCorruptError("Journal " + quoted(path) + ": the record at offset " +
                                std::to_string(record.offset) + " (sequence " +
                                std::to_string(record.sequence) + ") does not decode: " + what,
                            record.offset);
}

}  // namespace phyx::detail
