// tests/telemetry/prometheus_test.cpp — phyx::to_prometheus (include/phyx/prometheus.hpp):
// golden text for a known Stats, every Stats field exactly once, label escaping, and a
// strict line-by-line parser of the text exposition format 0.0.4 that the output must pass.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <phyx/prometheus.hpp>
#include <phyx/stats.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

// --- a strict parser of the text format 0.0.4 -------------------------------------------

struct Sample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // unescaped values
  double value = 0;
};

struct Exposition {
  std::map<std::string, std::string> type;  // metric name -> counter / gauge / ...
  std::map<std::string, std::string> help;  // metric name -> unescaped docstring
  std::vector<Sample> samples;
};

bool name_char(char c, bool first, bool colon_ok) {
  const bool letter =
      (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_ok && c == ':');
  return letter || (!first && c >= '0' && c <= '9');
}

/// Reads a metric name (colons allowed) or a label name (no colons) at `pos`.
std::optional<std::string> read_name(std::string_view line, std::size_t& pos, bool colon_ok) {
  const std::size_t start = pos;
  while (pos < line.size() && name_char(line[pos], pos == start, colon_ok)) ++pos;
  if (pos == start) return std::nullopt;
  return std::string(line.substr(start, pos - start));
}

/// Parses `text` or fails the test with the offending line. Rules enforced: every line
/// ends with '\n' and is not empty; a comment is `# HELP name doc` or `# TYPE name type`
/// (at most one of each per metric, TYPE before the metric's first sample, type one of the
/// five of 0.0.4); a sample is `name[{label="value",...}] value` with valid names, only the
/// escapes \\ \" \n in label values, no duplicate label, a float value and no timestamp
/// (this exposer never writes one); a metric's samples are contiguous.
std::optional<Exposition> parse_exposition(std::string_view text, std::string& error) {
  Exposition out;
  std::set<std::string> finished;  // metrics whose samples are over (another one began)
  std::string current;             // the metric of the last sample
  if (!text.empty() && text.back() != '\n') {
    error = "the last line does not end with a newline";
    return std::nullopt;
  }
  std::size_t line_no = 0;
  while (!text.empty()) {
    const std::size_t eol = text.find('\n');
    const std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol + 1);
    ++line_no;
    auto fail = [&](const std::string& why) {
      error = "line " + std::to_string(line_no) + " '" + std::string(line) + "': " + why;
      return std::nullopt;
    };
    if (line.empty()) return fail("empty line");
    if (line.front() == '#') {
      const bool is_help = line.starts_with("# HELP ");
      const bool is_type = line.starts_with("# TYPE ");
      if (!is_help && !is_type) return fail("a comment other than HELP or TYPE");
      std::size_t pos = 7;
      const auto name = read_name(line, pos, true);
      if (!name || pos >= line.size() || line[pos] != ' ') return fail("bad metric name");
      const std::string_view rest = line.substr(pos + 1);
      if (is_type) {
        static const std::set<std::string_view> kTypes = {"counter", "gauge", "histogram",
                                                          "summary", "untyped"};
        if (!kTypes.contains(rest)) return fail("unknown type");
        if (out.type.contains(*name)) return fail("second TYPE line");
        for (const Sample& s : out.samples) {
          if (s.name == *name) return fail("TYPE after a sample of the metric");
        }
        out.type[*name] = std::string(rest);
      } else {
        if (out.help.contains(*name)) return fail("second HELP line");
        std::string doc;
        for (std::size_t i = 0; i < rest.size(); ++i) {
          if (rest[i] != '\\') {
            doc += rest[i];
            continue;
          }
          if (++i == rest.size()) return fail("dangling backslash in HELP");
          if (rest[i] == '\\') {
            doc += '\\';
          } else if (rest[i] == 'n') {
            doc += '\n';
          } else {
            return fail("bad escape in HELP");
          }
        }
        out.help[*name] = doc;
      }
      continue;
    }
    Sample sample;
    std::size_t pos = 0;
    const auto name = read_name(line, pos, true);
    if (!name) return fail("bad metric name");
    sample.name = *name;
    if (pos < line.size() && line[pos] == '{') {
      ++pos;
      while (pos < line.size() && line[pos] != '}') {
        const auto label = read_name(line, pos, false);
        if (!label) return fail("bad label name");
        if (label->starts_with("__")) return fail("reserved label name");
        for (const auto& [n, v] : sample.labels) {
          if (n == *label) return fail("duplicate label");
        }
        if (line.substr(pos, 2) != "=\"") return fail("expected =\" after the label name");
        pos += 2;
        std::string value;
        for (;;) {
          if (pos >= line.size()) return fail("unterminated label value");
          const char c = line[pos++];
          if (c == '"') break;
          if (c != '\\') {
            value += c;
            continue;
          }
          if (pos >= line.size()) return fail("dangling backslash");
          const char e = line[pos++];
          if (e == '\\') {
            value += '\\';
          } else if (e == '"') {
            value += '"';
          } else if (e == 'n') {
            value += '\n';
          } else {
            return fail("bad escape in a label value");
          }
        }
        sample.labels.emplace_back(*label, value);
        if (pos < line.size() && line[pos] == ',') ++pos;
      }
      if (pos >= line.size()) return fail("unterminated label set");
      ++pos;  // '}'
    }
    if (pos >= line.size() || line[pos] != ' ') return fail("expected one space before the value");
    const std::string value_text(line.substr(pos + 1));
    if (value_text.empty() || value_text.find(' ') != std::string::npos) {
      return fail("the value is missing or followed by a timestamp");
    }
    char* end = nullptr;
    sample.value = std::strtod(value_text.c_str(), &end);
    if (*end != '\0') return fail("the value is not a float");
    if (sample.name != current) {
      if (finished.contains(sample.name)) return fail("the metric's samples are not contiguous");
      if (!current.empty()) finished.insert(current);
      current = sample.name;
    }
    out.samples.push_back(std::move(sample));
  }
  return out;
}

Exposition parse_or_fail(const std::string& text) {
  std::string error;
  const auto parsed = parse_exposition(text, error);
  INFO(error);
  REQUIRE(parsed.has_value());
  return *parsed;
}

/// Every field of Stats with the name it is rendered under. The size check makes a new
/// field of Stats fail this test until it is listed here (and rendered).
struct Field {
  std::uint64_t phyx::Stats::*member;
  const char* metric;
  const char* type;
};
const std::vector<Field>& all_fields() {
  static const std::vector<Field> fields = {
      {&phyx::Stats::sent, "phyx_sent_total", "counter"},
      {&phyx::Stats::accepted, "phyx_accepted_total", "counter"},
      {&phyx::Stats::refused_full, "phyx_refused_full_total", "counter"},
      {&phyx::Stats::refused_not_running, "phyx_refused_not_running_total", "counter"},
      {&phyx::Stats::handled, "phyx_handled_total", "counter"},
      {&phyx::Stats::crashed, "phyx_crashed_total", "counter"},
      {&phyx::Stats::dropped_oldest, "phyx_dropped_oldest_total", "counter"},
      {&phyx::Stats::discarded, "phyx_discarded_total", "counter"},
      {&phyx::Stats::queued, "phyx_queued", "gauge"},
      {&phyx::Stats::restarts, "phyx_restarts_total", "counter"},
      {&phyx::Stats::giveups, "phyx_giveups_total", "counter"},
      {&phyx::Stats::asks, "phyx_asks_total", "counter"},
      {&phyx::Stats::ask_timeouts, "phyx_ask_timeouts_total", "counter"},
      {&phyx::Stats::late_replies, "phyx_late_replies_total", "counter"},
      {&phyx::Stats::timers_fired, "phyx_timers_fired_total", "counter"},
      {&phyx::Stats::processes_alive, "phyx_processes_alive", "gauge"},
      {&phyx::Stats::spawned, "phyx_spawned_total", "counter"},
      {&phyx::Stats::dead_letters, "phyx_dead_letters_total", "counter"},
      {&phyx::Stats::sink_errors, "phyx_sink_errors_total", "counter"},
      {&phyx::Stats::events_dropped, "phyx_events_dropped_total", "counter"},
  };
  return fields;
}

}  // namespace

TEST_CASE("to_prometheus: golden text for a known Stats") {
  phyx::Stats s;
  s.sent = 10;
  s.accepted = 9;
  s.refused_full = 1;
  s.handled = 7;
  s.crashed = 1;
  s.queued = 1;
  s.restarts = 1;
  s.asks = 3;
  s.timers_fired = 2;
  s.processes_alive = 4;
  s.spawned = 5;
  s.dead_letters = 18446744073709551615ull;  // the largest value prints exactly
  const std::string expected =
      "# HELP phyx_sent_total Send, ask and scheduled delivery attempts.\n"
      "# TYPE phyx_sent_total counter\n"
      "phyx_sent_total 10\n"
      "# HELP phyx_accepted_total Messages that entered a user lane.\n"
      "# TYPE phyx_accepted_total counter\n"
      "phyx_accepted_total 9\n"
      "# HELP phyx_refused_full_total Messages refused by a full lane under the reject policy.\n"
      "# TYPE phyx_refused_full_total counter\n"
      "phyx_refused_full_total 1\n"
      "# HELP phyx_refused_not_running_total Messages refused because the target was "
      "stopping, stopped or failed, or a refused self-send.\n"
      "# TYPE phyx_refused_not_running_total counter\n"
      "phyx_refused_not_running_total 0\n"
      "# HELP phyx_handled_total Messages whose handler returned.\n"
      "# TYPE phyx_handled_total counter\n"
      "phyx_handled_total 7\n"
      "# HELP phyx_crashed_total Messages whose handler threw.\n"
      "# TYPE phyx_crashed_total counter\n"
      "phyx_crashed_total 1\n"
      "# HELP phyx_dropped_oldest_total Messages evicted by the drop_oldest policy.\n"
      "# TYPE phyx_dropped_oldest_total counter\n"
      "phyx_dropped_oldest_total 0\n"
      "# HELP phyx_discarded_total Messages dropped at stop, shutdown or failure.\n"
      "# TYPE phyx_discarded_total counter\n"
      "phyx_discarded_total 0\n"
      "# HELP phyx_queued Messages in user lanes now.\n"
      "# TYPE phyx_queued gauge\n"
      "phyx_queued 1\n"
      "# HELP phyx_restarts_total Restarts decided by supervisors.\n"
      "# TYPE phyx_restarts_total counter\n"
      "phyx_restarts_total 1\n"
      "# HELP phyx_giveups_total Supervisors that gave up (max_restarts exceeded).\n"
      "# TYPE phyx_giveups_total counter\n"
      "phyx_giveups_total 0\n"
      "# HELP phyx_asks_total Asks whose message was built.\n"
      "# TYPE phyx_asks_total counter\n"
      "phyx_asks_total 3\n"
      "# HELP phyx_ask_timeouts_total Asks whose timeout passed first.\n"
      "# TYPE phyx_ask_timeouts_total counter\n"
      "phyx_ask_timeouts_total 0\n"
      "# HELP phyx_late_replies_total Replies that arrived after their ask had settled.\n"
      "# TYPE phyx_late_replies_total counter\n"
      "phyx_late_replies_total 0\n"
      "# HELP phyx_timers_fired_total Timers fired: schedules, sleeps, restart waits and ask "
      "timeouts.\n"
      "# TYPE phyx_timers_fired_total counter\n"
      "phyx_timers_fired_total 2\n"
      "# HELP phyx_processes_alive Processes spawned and not yet stopped or failed.\n"
      "# TYPE phyx_processes_alive gauge\n"
      "phyx_processes_alive 4\n"
      "# HELP phyx_spawned_total Processes spawned, plus failed processes revived by a group "
      "restart.\n"
      "# TYPE phyx_spawned_total counter\n"
      "phyx_spawned_total 5\n"
      "# HELP phyx_dead_letters_total Dead letters (process:dead_letter occurrences).\n"
      "# TYPE phyx_dead_letters_total counter\n"
      "phyx_dead_letters_total 18446744073709551615\n"
      "# HELP phyx_sink_errors_total Exceptions thrown by the telemetry sink.\n"
      "# TYPE phyx_sink_errors_total counter\n"
      "phyx_sink_errors_total 0\n"
      "# HELP phyx_events_dropped_total Events never delivered: the sink was stalled with 65,536 "
      "waiting.\n"
      "# TYPE phyx_events_dropped_total counter\n"
      "phyx_events_dropped_total 0\n";
  CHECK(phyx::to_prometheus(s) == expected);
  parse_or_fail(expected);
}

TEST_CASE("to_prometheus: every Stats field exactly once, with its own value and type") {
  REQUIRE(sizeof(phyx::Stats) == all_fields().size() * sizeof(std::uint64_t));
  phyx::Stats s;
  std::uint64_t next = 1000;
  for (const Field& f : all_fields()) s.*f.member = next++;  // distinct values
  const Exposition e = parse_or_fail(phyx::to_prometheus(s));
  CHECK(e.samples.size() == all_fields().size());
  CHECK(e.type.size() == all_fields().size());
  CHECK(e.help.size() == all_fields().size());
  for (const Field& f : all_fields()) {
    CAPTURE(f.metric);
    int seen = 0;
    for (const Sample& sample : e.samples) {
      if (sample.name != f.metric) continue;
      ++seen;
      CHECK(sample.labels.empty());
      CHECK(sample.value == static_cast<double>(s.*f.member));
    }
    CHECK(seen == 1);
    CHECK(e.type.at(f.metric) == f.type);
    CHECK(!e.help.at(f.metric).empty());
    const std::string_view name = f.metric;
    CHECK(name.starts_with("phyx_"));
    CHECK(name.ends_with("_total") == (std::string_view(f.type) == "counter"));
  }
}

TEST_CASE("to_prometheus: labels on every sample, values escaped") {
  CHECK(phyx::prometheus_escape_label_value("plain") == "plain");
  CHECK(phyx::prometheus_escape_label_value("a\\b") == "a\\\\b");
  CHECK(phyx::prometheus_escape_label_value("say \"hi\"") == "say \\\"hi\\\"");
  CHECK(phyx::prometheus_escape_label_value("two\nlines") == "two\\nlines");
  CHECK(phyx::prometheus_escape_label_value("\\\"\n") == "\\\\\\\"\\n");
  CHECK(phyx::prometheus_escape_label_value("tab\tand \xc3\xa9") == "tab\tand \xc3\xa9");

  phyx::Stats s;
  s.sent = 5;
  const std::string nasty = "a \"quoted\" \\path\\\nnext, {x=\"1\"}";
  const std::string text = phyx::to_prometheus(s, {{"runtime", "bench"}, {"instance", nasty}});
  CHECK(text.find("\nphyx_sent_total{runtime=\"bench\",instance=\"a \\\"quoted\\\" "
                  "\\\\path\\\\\\nnext, {x=\\\"1\\\"}\"} 5\n") != std::string::npos);
  const Exposition e = parse_or_fail(text);
  REQUIRE(e.samples.size() == all_fields().size());
  for (const Sample& sample : e.samples) {
    CAPTURE(sample.name);
    REQUIRE(sample.labels.size() == 2);
    CHECK(sample.labels[0] == std::pair<std::string, std::string>{"runtime", "bench"});
    CHECK(sample.labels[1] == std::pair<std::string, std::string>{"instance", nasty});
  }
  // An empty label set renders as no braces at all.
  CHECK(phyx::to_prometheus(s, {}) == phyx::to_prometheus(s));
}

TEST_CASE("to_prometheus: invalid or duplicate label names are refused") {
  const phyx::Stats s;
  CHECK_THROWS_AS(phyx::to_prometheus(s, {{"", "x"}}), std::invalid_argument);
  CHECK_THROWS_AS(phyx::to_prometheus(s, {{"1abc", "x"}}), std::invalid_argument);
  CHECK_THROWS_AS(phyx::to_prometheus(s, {{"a-b", "x"}}), std::invalid_argument);
  CHECK_THROWS_AS(phyx::to_prometheus(s, {{"a:b", "x"}}), std::invalid_argument);
  CHECK_THROWS_AS(phyx::to_prometheus(s, {{"__name__", "x"}}), std::invalid_argument);
  CHECK_THROWS_AS(phyx::to_prometheus(s, {{"a", "x"}, {"a", "y"}}), std::invalid_argument);
  CHECK_NOTHROW(phyx::to_prometheus(s, {{"_a9", "x"}, {"B", ""}}));
}

TEST_CASE("the strict parser rejects what the format forbids") {
  const char* bad[] = {
      "phyx_x 1",                                    // no final newline
      "phyx_x 1\n\n",                                // empty line
      "# a comment\nphyx_x 1\n",                     // a comment other than HELP / TYPE
      "# TYPE phyx_x countr\nphyx_x 1\n",            // unknown type
      "phyx_x 1\n# TYPE phyx_x counter\n",           // TYPE after the sample
      "# TYPE phyx_x gauge\n# TYPE phyx_x gauge\n",  // TYPE twice
      "phyx_x{a=\"1\\t\"} 1\n",                      // bad escape
      "phyx_x{a=\"1\"\n",                            // unterminated
      "phyx_x{a=\"1\",a=\"2\"} 1\n",                 // duplicate label
      "phyx_x one\n",                                // not a number
      "phyx_x 1 1700000000\n",                       // a timestamp (never written here)
      "phyx_x 1\nphyx_y 1\nphyx_x 2\n",              // samples not contiguous
      "9phyx 1\n",                                   // bad name
  };
  for (const char* text : bad) {
    CAPTURE(text);
    std::string error;
    CHECK(!parse_exposition(text, error).has_value());
  }
}
