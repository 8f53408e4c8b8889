// bench/load/metrics_server.cpp — MetricsServer: a minimal HTTP/1.1 server answering
// Prometheus scrapes of `phyx-bench load --metrics-port N` (bench/load/metrics_server.hpp).
//
// Design. One thread, two file descriptors it polls: the listening socket and an eventfd
// that stop() writes.
//  1. The constructor binds 127.0.0.1:port (SO_REUSEADDR, so a restarted run is not refused
//     while the last one's connections are in TIME_WAIT), listens, creates the eventfd and
//     starts the thread. Both descriptors are non-blocking.
//  2. The thread polls {listening socket, eventfd} with no timeout. The eventfd readable
//     means stop: go to 6.
//  3. It accepts one connection (non-blocking) and reads until the end of the request
//     headers (a blank line), at most 8 KiB, within 5 s of the accept; every wait polls
//     {client, eventfd}, so stop() interrupts a slow or idle client at once.
//  4. It parses the request line: `GET /metrics` (a query string is ignored) gets 200 with
//     `Content-Type: text/plain; version=0.0.4; charset=utf-8` and body() — the exposition
//     format's own content type; another path 404, another method 405, anything
//     unparseable 400, a body() that throws 500. Every response has Content-Length and
//     `Connection: close`.
//  5. It writes the response (MSG_NOSIGNAL: a client that went away is not a SIGPIPE),
//     half-closes, closes the connection, and goes back to 2.
//  6. stop() writes the eventfd and joins the thread; then it closes both descriptors.
// Invariants: at most one connection is open at a time; no wait is unbounded except the
// poll of step 2, which the eventfd ends; body() is called only on the server thread, so it
// needs no lock of its own against itself. No shared memory is written after the thread
// starts: stop() talks to the thread only through the eventfd (the kernel orders the write
// before the poll that sees it) and through join(), so there is no atomic here.
// Not done, on purpose (a scrape endpoint on loopback for one bench run): TLS, keep-alive,
// chunked encoding, concurrent connections, request bodies.
// Rejected: prometheus-cpp's exposer (libprometheus-cpp-dev is not in Debian 12, and it
// would bring civetweb for one endpoint); a poll timeout checking an atomic stop flag (the
// stop waits for the timeout to pass, or the thread spins with a short one); closing the
// listening socket from stop() to unblock accept() (racy: the descriptor number can be
// reused by another thread's open() before the server thread sees the error); a thread per
// connection (a scraper polls every few seconds; one at a time is plenty).
#include "load/metrics_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace phyx_bench::load {
namespace {

constexpr std::size_t kMaxRequest = 8 * 1024;
constexpr int kConnectionBudgetMs = 5000;

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

std::string response(const char* status, std::string_view content_type, std::string_view body) {
  std::string out = "HTTP/1.1 ";
  out += status;
  out += "\r\nContent-Type: ";
  out += content_type;
  out += "\r\nContent-Length: ";
  out += std::to_string(body.size());
  out += "\r\nConnection: close\r\n";
  if (std::string_view(status).starts_with("405")) out += "Allow: GET\r\n";
  out += "\r\n";
  out += body;
  return out;
}

std::string plain(const char* status, std::string_view text) {
  return response(status, "text/plain; charset=utf-8", std::string(text) + "\n");
}

class Fd {  // closes on scope exit
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

}  // namespace

MetricsServer::MetricsServer(std::uint16_t port, Body body) : body_(std::move(body)) {
  Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (listener.get() < 0) throw_errno("metrics server: socket");
  const int one = 1;
  if (::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
    throw_errno("metrics server: SO_REUSEADDR");
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    throw_errno("metrics server: bind 127.0.0.1");
  }
  if (::listen(listener.get(), 16) != 0) throw_errno("metrics server: listen");
  socklen_t len = sizeof addr;
  if (::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw_errno("metrics server: getsockname");
  }
  port_ = ntohs(addr.sin_port);
  Fd wake(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (wake.get() < 0) throw_errno("metrics server: eventfd");
  listen_fd_ = listener.release();
  wake_fd_ = wake.release();
  thread_ = std::thread([this] { run(); });  // step 1; the thread start publishes the fields
}

MetricsServer::~MetricsServer() {
  stop();
}

void MetricsServer::stop() {
  if (thread_.joinable()) {
    const std::uint64_t one = 1;
    // Step 6. An eventfd write of 1 cannot fail short of an overflow of 2^64 - 2 writes.
    [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
    thread_.join();
  }
  if (listen_fd_ >= 0) ::close(std::exchange(listen_fd_, -1));
  if (wake_fd_ >= 0) ::close(std::exchange(wake_fd_, -1));
}

int MetricsServer::wait_for(int fd, short events, int timeout_ms) const {
  pollfd fds[2] = {{fd, events, 0}, {wake_fd_, POLLIN, 0}};
  for (;;) {
    const int n = ::poll(fds, 2, timeout_ms);
    if (n < 0 && errno == EINTR) continue;  // a signal; the caller re-checks its budget
    if (n < 0 || (fds[1].revents & POLLIN) != 0) return -1;
    if (n == 0) return 0;
    return 1;  // ready, or an error/hang-up the next read or write reports
  }
}

void MetricsServer::run() {
  for (;;) {
    // Step 2.
    if (wait_for(listen_fd_, POLLIN, -1) < 0) return;
    // Step 3.
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client < 0) {
      // EAGAIN, ECONNABORTED: the client left first; poll again. EMFILE, ENFILE, ENOBUFS: no
      // descriptor to take it with, and the listening socket stays readable: back off
      // 100 ms (stop() still wakes the wait) instead of spinning on it.
      const bool transient =
          errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED || errno == EINTR;
      if (!transient && wait_for(wake_fd_, POLLIN, 100) < 0) return;
      continue;
    }
    Fd connection(client);
    if (!serve(connection.get())) return;
  }
}

bool MetricsServer::serve(int client) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(kConnectionBudgetMs);
  auto remaining_ms = [&] {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return static_cast<int>(left > 0 ? left : 0);
  };

  // Step 3: read the request headers.
  std::string request;
  std::size_t header_end = std::string::npos;
  char buf[2048];
  while (header_end == std::string::npos) {
    const ssize_t n = ::recv(client, buf, sizeof buf, 0);
    if (n > 0) {
      request.append(buf, static_cast<std::size_t>(n));
      header_end = request.find("\r\n\r\n");
      if (header_end == std::string::npos) header_end = request.find("\n\n");
      if (header_end == std::string::npos && request.size() > kMaxRequest) break;
      continue;
    }
    if (n == 0) return true;  // the client closed before a full request: nothing to answer
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return true;
    const int ready = wait_for(client, POLLIN, remaining_ms());
    if (ready < 0) return false;  // woken by stop()
    if (ready == 0) return true;  // the budget ran out: drop the connection
  }

  // Step 4: the request line.
  std::string reply;
  const std::string_view head(request);
  const std::string_view line = head.substr(0, head.find('\n'));
  const std::string_view request_line =
      line.ends_with('\r') ? line.substr(0, line.size() - 1) : line;
  const std::size_t sp1 = request_line.find(' ');
  const std::size_t sp2 =
      sp1 == std::string_view::npos ? std::string_view::npos : request_line.find(' ', sp1 + 1);
  if (header_end == std::string::npos || sp2 == std::string_view::npos ||
      !request_line.substr(sp2 + 1).starts_with("HTTP/1.")) {
    reply = plain("400 Bad Request", "bad request");
  } else {
    const std::string_view method = request_line.substr(0, sp1);
    std::string_view target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    target = target.substr(0, target.find('?'));
    if (target != "/metrics") {
      reply = plain("404 Not Found", "not found; the metrics are at /metrics");
    } else if (method != "GET") {
      reply = plain("405 Method Not Allowed", "only GET");
    } else {
      try {
        reply = response("200 OK", "text/plain; version=0.0.4; charset=utf-8", body_());
      } catch (const std::exception& e) {
        reply = plain("500 Internal Server Error", e.what());
      } catch (...) {
        reply = plain("500 Internal Server Error", "the metrics callback threw");
      }
    }
  }

  // Step 5: write it, then half-close so the client reads the end of the body.
  std::size_t written = 0;
  while (written < reply.size()) {
    const ssize_t n = ::send(client, reply.data() + written, reply.size() - written, MSG_NOSIGNAL);
    if (n > 0) {
      written += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return true;
    const int ready = wait_for(client, POLLOUT, remaining_ms());
    if (ready < 0) return false;
    if (ready == 0) return true;
  }
  ::shutdown(client, SHUT_WR);
  return true;
}

}  // namespace phyx_bench::load
