// engine/telemetry/prometheus.cpp — phyx::to_prometheus: Stats (SPEC 8) in the Prometheus
// text exposition format 0.0.4 (include/phyx/prometheus.hpp).
//
// The metric table below lists every field of Stats once; the static_assert on the size of
// Stats fails the build when a field is added and not rendered (every field is a uint64_t).
// Rejected: the prometheus-cpp library (not packaged in Debian 12, and a registry, locks and
// a serializer for 19 numbers); OpenMetrics 1.0 (`# EOF`, `_total` only on samples), which
// the classic text format's scrapers do not all accept.
#include "phyx/prometheus.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace phyx {
namespace {

enum class Kind { counter, gauge };

struct Metric {
  const char* name;  // as sampled, with the phyx_ prefix and, for a counter, _total
  Kind kind;
  std::uint64_t Stats::*field;
  const char* help;  // fixed text: no backslash, no newline (nothing to escape)
};

constexpr Metric kMetrics[] = {
    {"phyx_sent_total", Kind::counter, &Stats::sent, "Send, ask and scheduled delivery attempts."},
    {"phyx_accepted_total", Kind::counter, &Stats::accepted, "Messages that entered a user lane."},
    {"phyx_refused_full_total", Kind::counter, &Stats::refused_full,
     "Messages refused by a full lane under the reject policy."},
    {"phyx_refused_not_running_total", Kind::counter, &Stats::refused_not_running,
     "Messages refused because the target was stopping, stopped or failed, or a refused "
     "self-send."},
    {"phyx_handled_total", Kind::counter, &Stats::handled, "Messages whose handler returned."},
    {"phyx_crashed_total", Kind::counter, &Stats::crashed, "Messages whose handler threw."},
    {"phyx_dropped_oldest_total", Kind::counter, &Stats::dropped_oldest,
     "Messages evicted by the drop_oldest policy."},
    {"phyx_discarded_total", Kind::counter, &Stats::discarded,
     "Messages dropped at stop, shutdown or failure."},
    {"phyx_queued", Kind::gauge, &Stats::queued, "Messages in user lanes now."},
    {"phyx_restarts_total", Kind::counter, &Stats::restarts, "Restarts decided by supervisors."},
    {"phyx_giveups_total", Kind::counter, &Stats::giveups,
     "Supervisors that gave up (max_restarts exceeded)."},
    {"phyx_asks_total", Kind::counter, &Stats::asks, "Asks whose message was built."},
    {"phyx_ask_timeouts_total", Kind::counter, &Stats::ask_timeouts,
     "Asks whose timeout passed first."},
    {"phyx_late_replies_total", Kind::counter, &Stats::late_replies,
     "Replies that arrived after their ask had settled."},
    {"phyx_timers_fired_total", Kind::counter, &Stats::timers_fired,
     "Timers fired: schedules, sleeps, restart waits and ask timeouts."},
    {"phyx_processes_alive", Kind::gauge, &Stats::processes_alive,
     "Processes spawned and not yet stopped or failed."},
    {"phyx_spawned_total", Kind::counter, &Stats::spawned,
     "Processes spawned, plus failed processes revived by a group restart."},
    {"phyx_dead_letters_total", Kind::counter, &Stats::dead_letters,
     "Dead letters (process:dead_letter occurrences)."},
    {"phyx_sink_errors_total", Kind::counter, &Stats::sink_errors,
     "Exceptions thrown by the telemetry sink."},
    {"phyx_events_dropped_total", Kind::counter, &Stats::events_dropped,
     "Events never delivered: the sink was stalled with 65,536 waiting."},
};

static_assert(sizeof(Stats) == std::size(kMetrics) * sizeof(std::uint64_t),
              "a field of phyx::Stats is missing from kMetrics in prometheus.cpp");

bool valid_label_name(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && i > 0)) return false;
  }
  return true;
}

/// `{a="x",b="y"}`, or "" without labels; validates the names.
std::string label_set(const std::vector<PrometheusLabel>& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const PrometheusLabel& label = labels[i];
    if (!valid_label_name(label.name)) {
      throw std::invalid_argument("phyx::to_prometheus: invalid label name '" + label.name + "'");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (labels[j].name == label.name) {
        throw std::invalid_argument("phyx::to_prometheus: duplicate label name '" + label.name +
                                    "'");
      }
    }
    if (i > 0) out += ',';
    out += label.name;
    out += "=\"";
    out += prometheus_escape_label_value(label.value);
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace

std::string prometheus_escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string to_prometheus(const Stats& stats) {
  return to_prometheus(stats, {});
}

std::string to_prometheus(const Stats& stats, const std::vector<PrometheusLabel>& labels) {
  const std::string labels_text = label_set(labels);
  std::string out;
  out.reserve(std::size(kMetrics) * 160);
  for (const Metric& m : kMetrics) {
    out += "# HELP ";
    out += m.name;
    out += ' ';
    out += m.help;
    out += "\n# TYPE ";
    out += m.name;
    out += m.kind == Kind::counter ? " counter\n" : " gauge\n";
    out += m.name;
    out += labels_text;
    out += ' ';
    out += std::to_string(stats.*m.field);
    out += '\n';
  }
  return out;
}

}  // namespace phyx
