// engine/platform/file.cpp — POSIX file calls for the durable journal (see file.hpp).
#include "platform/file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace phyx::detail {

FileDescriptor& FileDescriptor::operator=(FileDescriptor&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

FileDescriptor::~FileDescriptor() {
  if (fd_ >= 0) ::close(fd_);
}

int FileDescriptor::release() noexcept {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

int open_file(const std::filesystem::path& path, int flags, unsigned mode) noexcept {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, static_cast<mode_t>(mode));
  } while (fd < 0 && errno == EINTR);
  return fd >= 0 ? fd : -errno;
}

int write_all(int fd, std::string_view bytes) noexcept {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return 0;
}

int read_all(int fd, std::string& out) {
  out.clear();
  const std::int64_t size = file_size(fd);
  if (size < 0) return static_cast<int>(-size);
  out.resize(static_cast<std::size_t>(size));
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) break;  // the file shrank under us: keep what was there
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  return 0;
}

int sync_data(int fd) noexcept {
  int r;
  do {
    r = ::fdatasync(fd);
  } while (r != 0 && errno == EINTR);
  return r == 0 ? 0 : errno;
}

int sync_directory(const std::filesystem::path& dir) noexcept {
  const int fd = open_file(dir.empty() ? std::filesystem::path(".") : dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return -fd;
  int r;
  do {
    r = ::fsync(fd);
  } while (r != 0 && errno == EINTR);
  const int error = r == 0 ? 0 : errno;
  ::close(fd);
  return error;
}

int truncate_file(int fd, std::uint64_t size) noexcept {
  int r;
  do {
    r = ::ftruncate(fd, static_cast<off_t>(size));
  } while (r != 0 && errno == EINTR);
  return r == 0 ? 0 : errno;
}

int lock_exclusive(int fd) noexcept {
  int r;
  do {
    r = ::flock(fd, LOCK_EX | LOCK_NB);
  } while (r != 0 && errno == EINTR);
  return r == 0 ? 0 : errno;
}

std::int64_t file_size(int fd) noexcept {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return -errno;
  return static_cast<std::int64_t>(st.st_size);
}

std::string describe_errno(int error) {
  // The glibc 2.32+ _np functions return static strings: thread-safe, unlike strerror.
  const char* text = strerrordesc_np(error);
  const char* name = strerrorname_np(error);
  return std::string(text != nullptr ? text : "unknown error") + " (" +
         (name != nullptr ? name : std::to_string(error)) + ")";
}

}  // namespace phyx::detail
