// engine/platform/file.hpp — the POSIX file calls the durable journal needs, with errors
// turned into return codes the caller words (it knows which path and which field).
//
// Every function: any thread; blocks on disk I/O; does not allocate unless it returns a
// string. EINTR is retried inside; short writes are continued.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace phyx::detail {

/// Owns one file descriptor; closes it on destruction. Move-only.
class FileDescriptor {
 public:
  FileDescriptor() = default;
  explicit FileDescriptor(int fd) noexcept : fd_(fd) {}
  FileDescriptor(FileDescriptor&& o) noexcept : fd_(o.release()) {}
  FileDescriptor& operator=(FileDescriptor&& o) noexcept;
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor();

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  int release() noexcept;

 private:
  int fd_ = -1;
};

/// open(2) with O_CLOEXEC added. Returns the descriptor, or -errno.
int open_file(const std::filesystem::path& path, int flags, unsigned mode = 0644) noexcept;
/// Writes all of `bytes`. Returns 0 or errno (some bytes may have been written).
int write_all(int fd, std::string_view bytes) noexcept;
/// Reads the whole file from offset 0 into `out`. Returns 0 or errno.
int read_all(int fd, std::string& out);
/// fdatasync(2): the data and the metadata needed to read it back (the size). 0 or errno.
int sync_data(int fd) noexcept;
/// fsync(2) of a directory, so a rename or a new name in it is durable. 0 or errno.
int sync_directory(const std::filesystem::path& dir) noexcept;
/// ftruncate(2). 0 or errno.
int truncate_file(int fd, std::uint64_t size) noexcept;
/// flock(LOCK_EX | LOCK_NB): 0, or EWOULDBLOCK when another descriptor holds it, or errno.
int lock_exclusive(int fd) noexcept;
/// The file's size, or -errno.
std::int64_t file_size(int fd) noexcept;
/// strerror for messages: "No space left on device (ENOSPC)".
std::string describe_errno(int error);

}  // namespace phyx::detail
