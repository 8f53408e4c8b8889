// tests/bench/metrics_server_test.cpp — the `--metrics-port` exposer of `phyx-bench load`
// (bench/load/metrics_server.hpp), scraped by a real HTTP client: curl (tools/deps.sh
// installs it), run through popen. 200 with the exposition body and content type, 404, 405,
// 500 from a throwing callback, a fresh body per scrape, and a prompt stop.
#include "load/metrics_server.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <phyx/prometheus.hpp>
#include <phyx/stats.hpp>
#include <stdexcept>
#include <string>

using phyx_bench::load::MetricsServer;

namespace {

struct HttpReply {
  int exit_code = -1;  // curl's
  std::string status_line;
  std::string headers;  // lower-cased
  std::string body;
};

/// `curl -sS -i` on http://127.0.0.1:port<path>, with extra curl arguments.
HttpReply curl(std::uint16_t port, const std::string& path, const std::string& extra = "") {
  const std::string command = "curl -sS -i --max-time 10 " + extra +
                              " 'http://127.0.0.1:" + std::to_string(port) + path + "' 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int status = ::pclose(pipe);
  HttpReply reply;
  reply.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  INFO("command: " << command << "\noutput:\n" << out);
  REQUIRE_MESSAGE(reply.exit_code == 0, "curl failed (is curl installed? tools/deps.sh)");
  const std::size_t head_end = out.find("\r\n\r\n");
  REQUIRE(head_end != std::string::npos);
  const std::string head = out.substr(0, head_end);
  reply.body = out.substr(head_end + 4);
  const std::size_t eol = head.find("\r\n");
  reply.status_line = head.substr(0, eol);
  reply.headers = eol == std::string::npos ? "" : head.substr(eol + 2);
  for (char& c : reply.headers) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return reply;
}

}  // namespace

TEST_CASE("metrics server: GET /metrics answers 200 with the Prometheus text") {
  phyx::Stats stats;
  stats.sent = 42;
  stats.processes_alive = 3;
  const std::string expected = phyx::to_prometheus(stats, {{"runtime", "bench"}});
  MetricsServer server(0, [&] { return phyx::to_prometheus(stats, {{"runtime", "bench"}}); });
  REQUIRE(server.port() != 0);

  const HttpReply r = curl(server.port(), "/metrics");
  CHECK(r.status_line == "HTTP/1.1 200 OK");
  CHECK(r.headers.find("content-type: text/plain; version=0.0.4") != std::string::npos);
  CHECK(r.headers.find("content-length: " + std::to_string(expected.size())) != std::string::npos);
  CHECK(r.headers.find("connection: close") != std::string::npos);
  CHECK(r.body == expected);
  CHECK(r.body.find("phyx_sent_total{runtime=\"bench\"} 42\n") != std::string::npos);

  // A query string is ignored (Prometheus may add one).
  CHECK(curl(server.port(), "/metrics?x=1").body == expected);
}

TEST_CASE("metrics server: the body is produced afresh for every scrape") {
  std::uint64_t scrapes = 0;  // only the server thread touches it while it runs
  MetricsServer server(0, [&] {
    phyx::Stats s;
    s.handled = ++scrapes;
    return phyx::to_prometheus(s);
  });
  for (int i = 1; i <= 3; ++i) {
    const HttpReply r = curl(server.port(), "/metrics");
    CHECK(r.body.find("\nphyx_handled_total " + std::to_string(i) + "\n") != std::string::npos);
  }
  server.stop();  // joins the thread: `scrapes` is ours again
  CHECK(scrapes == 3);
}

TEST_CASE("metrics server: other paths 404, other methods 405, a throwing body 500") {
  MetricsServer server(0, []() -> std::string { throw std::runtime_error("no stats yet"); });
  const HttpReply missing = curl(server.port(), "/");
  CHECK(missing.status_line == "HTTP/1.1 404 Not Found");
  CHECK(curl(server.port(), "/metricsx").status_line == "HTTP/1.1 404 Not Found");

  const HttpReply post = curl(server.port(), "/metrics", "-X POST -d x=1");
  CHECK(post.status_line == "HTTP/1.1 405 Method Not Allowed");
  CHECK(post.headers.find("allow: get") != std::string::npos);

  const HttpReply failed = curl(server.port(), "/metrics");
  CHECK(failed.status_line == "HTTP/1.1 500 Internal Server Error");
  CHECK(failed.body == "no stats yet\n");
}

TEST_CASE("metrics server: two servers get distinct ephemeral ports; stop is idempotent") {
  MetricsServer a(0, [] { return std::string("a\n"); });
  MetricsServer b(0, [] { return std::string("b\n"); });
  CHECK(a.port() != b.port());
  CHECK(curl(a.port(), "/metrics").body == "a\n");
  CHECK(curl(b.port(), "/metrics").body == "b\n");
  a.stop();
  a.stop();
}

TEST_CASE("metrics server: stop is prompt even with a client connected and silent") {
  MetricsServer server(0, [] { return std::string("x\n"); });
  // A client that connects and never sends a request: the server waits for it (up to its
  // 5 s per-connection budget) in a poll that stop() interrupts.
  const int client = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(client >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server.port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(client, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
  const auto start = std::chrono::steady_clock::now();
  server.stop();
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(took < std::chrono::seconds(2));  // far below the 5 s budget the wait would take
  // The server closed its end without a response (or never accepted): the client reads EOF
  // or a reset, never data.
  char c;
  CHECK(::recv(client, &c, 1, 0) <= 0);
  ::close(client);
}
