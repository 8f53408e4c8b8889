// tests/bench/load_driver_test.cpp — `phyx-bench load` (bench/load/load_driver.cpp) run as
// the built binary: the JSON lines it prints (schema, and the counts adding up), the
// --slo-p99 exit code, and bad arguments.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdio>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

namespace {

// --- a small strict JSON reader (enough to check the schema) ---------------------------

struct Json;
using JsonObject = std::map<std::string, Json>;
using JsonArray = std::vector<Json>;
struct Json {
  std::variant<std::nullptr_t, bool, double, std::string, std::shared_ptr<JsonArray>,
               std::shared_ptr<JsonObject>>
      v;
  bool is_number() const { return std::holds_alternative<double>(v); }
  bool is_null() const { return std::holds_alternative<std::nullptr_t>(v); }
  double number() const { return std::get<double>(v); }
  bool boolean() const { return std::get<bool>(v); }
  const std::string& string() const { return std::get<std::string>(v); }
  const JsonArray& array() const { return *std::get<std::shared_ptr<JsonArray>>(v); }
  const JsonObject& object() const { return *std::get<std::shared_ptr<JsonObject>>(v); }
  const Json& operator[](const std::string& key) const {
    const auto& o = object();
    auto it = o.find(key);
    if (it == o.end()) throw std::runtime_error("missing key " + key);
    return it->second;
  }
  bool has(const std::string& key) const { return object().count(key) != 0; }
};

class JsonReader {
 public:
  explicit JsonReader(const std::string& text) : s_(text) {}
  Json document() {
    Json j = value();
    space();
    if (i_ != s_.size()) fail("trailing characters");
    return j;
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error("JSON: " + what + " at " + std::to_string(i_) + " in: " + s_);
  }
  void space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }
  void expect(char c) {
    space();
    if (i_ >= s_.size() || s_[i_] != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  bool literal(const char* word) {
    const std::string w(word);
    if (s_.compare(i_, w.size(), w) != 0) return false;
    i_ += w.size();
    return true;
  }
  std::string string() {
    expect('"');
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      if (s_[i_] == '\\') ++i_;
      out += s_[i_++];
    }
    if (i_ >= s_.size()) fail("unterminated string");
    ++i_;
    return out;
  }
  Json value() {
    space();
    if (i_ >= s_.size()) fail("unexpected end");
    const char c = s_[i_];
    if (c == '{') {
      ++i_;
      auto o = std::make_shared<JsonObject>();
      space();
      if (s_[i_] == '}') return ++i_, Json{o};
      for (;;) {
        std::string key = string();
        expect(':');
        if (!o->emplace(key, value()).second) fail("duplicate key " + key);
        space();
        if (s_[i_] == ',') {
          ++i_;
          continue;
        }
        expect('}');
        return Json{o};
      }
    }
    if (c == '[') {
      ++i_;
      auto a = std::make_shared<JsonArray>();
      space();
      if (s_[i_] == ']') return ++i_, Json{a};
      for (;;) {
        a->push_back(value());
        space();
        if (s_[i_] == ',') {
          ++i_;
          continue;
        }
        expect(']');
        return Json{a};
      }
    }
    if (c == '"') return Json{string()};
    if (literal("true")) return Json{true};
    if (literal("false")) return Json{false};
    if (literal("null")) return Json{nullptr};
    std::size_t used = 0;
    double d;
    try {
      d = std::stod(s_.substr(i_), &used);
    } catch (...) {
      fail("bad value");
    }
    i_ += used;
    return Json{d};
  }
  const std::string& s_;
  std::size_t i_ = 0;
};

// --- running the binary ------------------------------------------------------------------

struct Run {
  int exit_code;
  std::vector<std::string> lines;  // stdout
};

Run run_load(const std::string& args) {
  const std::string command = std::string(PHYX_BENCH_PATH) + " load " + args;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int status = pclose(pipe);
  Run run{WIFEXITED(status) ? WEXITSTATUS(status) : -1, {}};
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) run.lines.push_back(line);
  INFO("command: " << command << "\noutput:\n" << out);
  return run;
}

double u(const Json& j, const std::string& key) {
  INFO("key " << key);
  REQUIRE(j.has(key));
  REQUIRE(j[key].is_number());
  const double v = j[key].number();
  CHECK(v >= 0);
  return v;
}

/// Checks the final result object's schema and that its counts add up; returns it.
Json check_result(const Run& run, const std::string& mode) {
  REQUIRE(!run.lines.empty());
  std::vector<Json> docs;
  for (const auto& line : run.lines) {
    INFO("line: " << line);
    docs.push_back(JsonReader(line).document());  // every stdout line is one JSON object
  }
  for (std::size_t k = 0; k + 1 < docs.size(); ++k) {
    const Json& p = docs[k];
    CHECK(p["type"].string() == "progress");
    for (const char* key : {"elapsed_s", "sent", "sent_per_s", "completed_per_s", "p99_ns",
                            "p99_this_interval_ns", "timeouts", "refusals", "errors"}) {
      u(p, key);
    }
  }
  const Json r = docs.back();
  CHECK(r["type"].string() == "result");
  CHECK(r["mode"].string() == mode);
  const double planned = u(r, "planned"), sent = u(r, "sent"), unsent = u(r, "unsent");
  const double completed = u(r, "completed"), timeouts = u(r, "timeouts"),
               refusals = u(r, "refusals"), errors = u(r, "errors");
  CHECK(completed + timeouts + errors + refusals == sent);
  CHECK(sent + unsent == planned);
  CHECK(u(r, "outstanding") == 0);
  CHECK(u(r, "duplicates") == 0);
  u(r, "requested_rate");
  u(r, "achieved_rate");
  u(r, "send_rate");
  u(r, "duration_s");
  u(r, "processes");
  u(r, "workers");
  u(r, "drivers");
  u(r, "timeout_ms");
  u(r, "warmup_s");
  u(r, "warmup_sent");
  u(r, "warmup_outstanding");
  CHECK((r["shortfall"].boolean() || !r["shortfall"].boolean()));
  const Json& lat = r["latency_ns"];
  const double p50 = u(lat, "p50"), p90 = u(lat, "p90"), p99 = u(lat, "p99"),
               p999 = u(lat, "p99.9"), max = u(lat, "max");
  CHECK(p50 <= p90);
  CHECK(p90 <= p99);
  CHECK(p99 <= p999);
  CHECK(p999 <= max);
  CHECK(u(lat, "min") <= p50);
  CHECK(u(lat, "count") == completed + timeouts);  // refusals and errors carry no latency
  u(lat, "mean");
  u(lat, "saturated");
  double last_p = -1, last_v = -1;
  for (const Json& point : r["percentiles"].array()) {
    REQUIRE(point.array().size() == 2);
    CHECK(point.array()[0].number() > last_p);
    CHECK(point.array()[1].number() >= last_v);
    last_p = point.array()[0].number();
    last_v = point.array()[1].number();
  }
  const Json& stats = r["stats"];
  CHECK(stats["laws_hold"].boolean());
  CHECK(u(stats, "sent") ==
        u(stats, "accepted") + u(stats, "refused_full") + u(stats, "refused_not_running"));
  CHECK(u(stats, "accepted") == u(stats, "handled") + u(stats, "crashed") +
                                    u(stats, "dropped_oldest") + u(stats, "discarded") +
                                    u(stats, "queued"));
  CHECK(r["harness_ok"].boolean());
  return r;
}

}  // namespace

TEST_CASE("ask mode: JSON progress lines, then one result whose counts add up") {
  const Run run = run_load("--rate 2000 --duration 1100ms --warmup 200ms --processes 10 --json");
  CHECK(run.exit_code == 0);
  const Json r = check_result(run, "ask");
  CHECK(run.lines.size() >= 2);  // a progress line at 1 s
  CHECK(r["planned"].number() == 2200);
  CHECK(r["requested_rate"].number() == 2000);
  CHECK(r["processes"].number() == 10);
  CHECK(r["slo_p99_ns"].is_null());
  CHECK(r["slo_met"].is_null());
  CHECK(r["warmup_s"].number() == doctest::Approx(0.2));
  // 400 are planned for the warm-up; a driver starved of CPU (a loaded CI machine) may end
  // the phase with a few unsent, which the warm-up does not carry over.
  CHECK(r["warmup_sent"].number() <= 400);
  CHECK(r["warmup_sent"].number() > 0);
  CHECK(r["warmup_outstanding"].number() == 0);
  // The engine counted every ask of both phases.
  CHECK(r["stats"]["asks"].number() == r["sent"].number() + r["warmup_sent"].number());
}

TEST_CASE("send mode: the targets record the latency; counts add up") {
  const Run run =
      run_load("--rate 2000 --duration 300ms --processes 10 --mode send --warmup 0 --json");
  CHECK(run.exit_code == 0);
  const Json r = check_result(run, "send");
  CHECK(r["planned"].number() == 600);
  CHECK(r["timeouts"].number() == 0);
  CHECK(r["stats"]["asks"].number() == 0);
}

TEST_CASE("send mode against one tiny mailbox: refusals are counted, nothing is lost") {
  const Run run = run_load(
      "--rate 100000 --duration 200ms --processes 1 --inbox 1 --mode send --warmup 0 --json");
  CHECK(run.exit_code == 0);
  const Json r = check_result(run, "send");
  CHECK(r["refusals"].number() == r["stats"]["refused_full"].number());
}

TEST_CASE("--slo-p99: exit 1 and slo_met false when p99 is above it, 0 when below") {
  const Run missed =
      run_load("--rate 1000 --duration 100ms --processes 4 --slo-p99 1ns --warmup 0 --json");
  CHECK(missed.exit_code == 1);
  const Json r = check_result(missed, "ask");
  CHECK(r["slo_p99_ns"].number() == 1);
  CHECK_FALSE(r["slo_met"].boolean());

  const Run met =
      run_load("--rate 1000 --duration 100ms --processes 4 --slo-p99 1h --warmup 0 --json");
  CHECK(met.exit_code == 0);
  CHECK(check_result(met, "ask")["slo_met"].boolean());
}

TEST_CASE("bad arguments exit 2") {
  CHECK(run_load("--rate 0 2>/dev/null").exit_code == 2);
  CHECK(run_load("--duration 10parsecs 2>/dev/null").exit_code == 2);
  CHECK(run_load("--mode shout 2>/dev/null").exit_code == 2);
  CHECK(run_load("--timeout 0ms 2>/dev/null").exit_code == 2);
  CHECK(run_load("--frobnicate 1 2>/dev/null").exit_code == 2);
  CHECK(run_load("--metrics-port 65536 2>/dev/null").exit_code == 2);
  CHECK(run_load("--metrics-port -1 2>/dev/null").exit_code == 2);
}
