// bench/load/metrics_server.hpp — a minimal HTTP/1.1 exposer for Prometheus scrapes during
// `phyx-bench load --metrics-port N` (issue 9). Hand-written because Debian 12 does not
// package prometheus-cpp; see bench/load/metrics_server.cpp for the design and what it does
// not do (no TLS, no keep-alive, one connection at a time).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <thread>

namespace phyx_bench::load {

/// Serves `GET /metrics` on 127.0.0.1 from one thread: the body is whatever `body()`
/// returns at the time of the request, as `text/plain; version=0.0.4`. Other paths get 404,
/// other methods 405, a malformed request 400, a throwing `body` 500. Every connection is
/// closed after its response.
class MetricsServer {
 public:
  /// Produces the body of one scrape; called on the server's thread, one call at a time.
  using Body = std::function<std::string()>;

  /// Binds 127.0.0.1:`port` and starts the thread. `port` 0 binds an ephemeral port (tests;
  /// read it with port()). Throws std::system_error when the socket cannot be bound.
  MetricsServer(std::uint16_t port, Body body);
  /// stop().
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  /// The bound port (the ephemeral one when constructed with 0).
  std::uint16_t port() const { return port_; }

  /// Wakes the thread (also in the middle of a connection, which is then closed without a
  /// response), joins it and closes the sockets. Prompt: no timeout is waited out.
  /// Idempotent; not to be called concurrently with itself.
  void stop();

 private:
  void run();
  /// Reads one request from `client` and answers it; false when stop() woke the thread.
  bool serve(int client);
  /// Polls `fd` for `events` and the wake-up eventfd: 1 ready, 0 timed out, -1 woken/error.
  int wait_for(int fd, short events, int timeout_ms) const;

  Body body_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // an eventfd: stop() writes it, the thread polls it
  std::uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace phyx_bench::load
