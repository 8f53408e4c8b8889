/// \file
/// phyx/prometheus.hpp — the counters of phyx::Stats (SPEC 8) in the Prometheus text
/// exposition format 0.0.4, for a scrape endpoint or a textfile collector.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "phyx/stats.hpp"

namespace phyx {

/// One label attached to every sample of to_prometheus(): `name="value"`.
struct PrometheusLabel {
  std::string name;   ///< `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__` (reserved)
  std::string value;  ///< any UTF-8 text; escaped on output (backslash, `"`, newline)
};

/// Renders every counter of `stats` in the Prometheus text exposition format 0.0.4: for
/// each, a `# HELP` line, a `# TYPE` line and one sample, names prefixed `phyx_`. Monotonic
/// counters are of type `counter` with the suffix `_total` (`phyx_sent_total`, ...);
/// `queued` and `processes_alive` are of type `gauge`. Every line ends with `\n`.
/// Any thread; allocates the returned string; never blocks; no state of its own.
std::string to_prometheus(const Stats& stats);

/// As to_prometheus(const Stats&), with `labels` on every sample, in the given order:
/// `phyx_sent_total{runtime="bench"} 42`. Label values are escaped with
/// prometheus_escape_label_value(). Any thread; allocates; never blocks.
/// Throws std::invalid_argument for an invalid or duplicate label name.
std::string to_prometheus(const Stats& stats, const std::vector<PrometheusLabel>& labels);

/// `value` escaped for a label value of the text format 0.0.4: `\` becomes `\\`, `"`
/// becomes `\"` and a newline becomes `\n`; everything else is copied.
/// Any thread; allocates the returned string; never blocks.
std::string prometheus_escape_label_value(std::string_view value);

}  // namespace phyx
