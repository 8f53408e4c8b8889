#!/usr/bin/python3
"""tools/plot.py — PNG charts of phyx-bench results (issue 9), with Debian's python3-matplotlib.

  python3 tools/plot.py peers RAW.txt OUT.png
      RAW.txt: the peers' raw results, one measurement a line:
        <round> <workload> RESULT <runtime> <metric> <value> <unit> params...
      A bar chart per workload: the median over rounds of every runtime, as a ratio to the
      best peer (not phyx) in the direction where more is better (throughput divided by the
      best peer's; time, memory and CPU: the best peer's divided by this one's), log scale.
      Above 1 is better than every peer.

  python3 tools/plot.py load LOAD.jsonl OUT.png
      LOAD.jsonl: the stdout of `phyx-bench load --json`: "type": "progress" lines, then a
      "type": "result" object whose "percentiles" are [percentile, ns] pairs. Left: the
      latency percentile curve (x: percentile on the 1 / (1 - p) scale, y: latency, log);
      right: p99 so far and of each second from the progress lines.

Rows that do not parse are reported on stderr and skipped, never guessed.
Run it with Debian's /usr/bin/python3 (python3-matplotlib is installed for that one; a
python3 from pyenv or a venv earlier on PATH does not see it).
"""

import json
import statistics
import sys
from collections import defaultdict

try:
    import matplotlib
except ImportError:
    sys.exit("tools/plot.py needs matplotlib: apt-get install python3-matplotlib, and run it "
             "with /usr/bin/python3")

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

LOWER_IS_BETTER = {"s", "ms", "us", "ns", "MiB", "KiB", "bytes", "bytes/actor", "%_of_one_core"}
HOME = "phyx"


def normalise_unit(unit):
    # phyx says "process" where the peers say "actor": the same measurement.
    return unit.replace("processes", "actors").replace("process", "actor")


def read_raw(path):
    """{(workload, unit): {runtime: {metric: [values]}}}"""
    table = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            fields = line.split()
            if len(fields) < 7 or fields[2] != "RESULT":
                print(f"{path}:{line_no}: skipped: {line.strip()!r}", file=sys.stderr)
                continue
            _round, workload, _, runtime, metric, value, unit = fields[:7]
            try:
                number = float(value)
            except ValueError:
                print(f"{path}:{line_no}: not a number: {value!r}", file=sys.stderr)
                continue
            table[(workload, normalise_unit(unit))][runtime][metric].append(number)
    return table


def plot_peers(raw_path, out_path):
    table = read_raw(raw_path)
    groups = []  # (label, {runtime: ratio})
    for (workload, unit), runtimes in sorted(table.items()):
        medians = {}
        for runtime, metrics in runtimes.items():
            # Several metrics in one unit (erlang's idle-memory and idle-memory-vm): the
            # shortest name is the one the others qualify.
            metric = min(metrics, key=len)
            medians[runtime] = statistics.median(metrics[metric])
        peers = {r: v for r, v in medians.items() if r != HOME}
        if HOME not in medians or not peers or any(v <= 0 for v in medians.values()):
            continue  # nothing to compare (idle-cpu: phyx only)
        lower = unit in LOWER_IS_BETTER
        best = min(peers.values()) if lower else max(peers.values())
        ratios = {r: (best / v if lower else v / best) for r, v in medians.items()}
        groups.append((f"{workload}\n({unit}{', lower' if lower else ''})", ratios))

    runtimes = [HOME] + sorted({r for _, ratios in groups for r in ratios} - {HOME})
    colours = {HOME: "#d62728"}
    palette = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#7f7f7f", "#e377c2"]
    for i, r in enumerate(runtimes[1:]):
        colours[r] = palette[i % len(palette)]

    width = 0.8 / len(runtimes)
    fig, ax = plt.subplots(figsize=(max(10, 1.1 * len(groups)), 5.5))
    for i, runtime in enumerate(runtimes):
        xs = [g + (i - (len(runtimes) - 1) / 2) * width for g in range(len(groups))]
        ys = [ratios.get(runtime, float("nan")) for _, ratios in groups]
        ax.bar(xs, ys, width, label=runtime, color=colours[runtime],
               edgecolor="black" if runtime == HOME else "none", linewidth=0.6)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([label for label, _ in groups], fontsize=8)
    ax.set_ylabel("relative to the best peer (above 1 = better than every peer)")
    ax.set_title("phyx vs peers per workload: median of the rounds, 2 cores "
                 f"({raw_path.rsplit('/', 1)[-1]})", fontsize=10)
    ax.legend(ncol=len(runtimes), fontsize=8, loc="upper right")
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)
    print(f"wrote {out_path}: {len(groups)} workloads, runtimes {', '.join(runtimes)}")


def plot_load(jsonl_path, out_path):
    progress, result = [], None
    with open(jsonl_path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                doc = json.loads(line)
            except json.JSONDecodeError as e:
                print(f"{jsonl_path}:{line_no}: not JSON ({e})", file=sys.stderr)
                continue
            if doc.get("type") == "progress":
                progress.append(doc)
            elif doc.get("type") == "result":
                result = doc
    if result is None:
        sys.exit(f"{jsonl_path}: no \"type\": \"result\" object")

    # The percentile axis as HdrHistogram plots it: 1 / (1 - p), so 90, 99, 99.9 ... are
    # equally spaced. p = 100 (the max) has no place on it: a dashed line instead.
    points = [(p, ns) for p, ns in result["percentiles"] if p < 100]
    xs = [1.0 / (1.0 - p / 100.0) for p, _ in points]
    ys = [ns / 1e3 for _, ns in points]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8),
                                      gridspec_kw={"width_ratios": [3, 2]})
    left.plot(xs, ys, marker="o", color="#d62728")
    left.axhline(result["latency_ns"]["max"] / 1e3, color="grey", linestyle="--",
                 label=f"max {result['latency_ns']['max'] / 1e3:.1f} us")
    left.set_xscale("log")
    left.set_yscale("log")
    ticks = [p for p in (0, 50, 90, 99, 99.9, 99.99, 99.999) if 1 / (1 - p / 100) <= max(xs)]
    left.set_xticks([1 / (1 - p / 100) for p in ticks])
    left.set_xticklabels([f"{p:g}" for p in ticks])
    left.minorticks_off()
    left.set_xlabel("percentile")
    left.set_ylabel("latency from the intended send time (us)")
    left.set_title(
        f"phyx-bench load --mode {result['mode']}: {result['requested_rate']:.0f}/s requested, "
        f"{result['achieved_rate']:.0f}/s achieved, {result['duration_s']:g} s, "
        f"{result['processes']} processes, {result['workers']} workers", fontsize=9)
    left.grid(which="both", alpha=0.3)
    left.legend(fontsize=8)

    if progress:
        t = [p["elapsed_s"] for p in progress]
        right.plot(t, [p["p99_ns"] / 1e3 for p in progress], marker="o", label="p99 so far")
        right.plot(t, [p["p99_this_interval_ns"] / 1e3 for p in progress], marker="s",
                   label="p99 of that second")
        right.set_yscale("log")
        right.set_xlabel("seconds into the measured phase")
        right.set_ylabel("us")
        right.set_title("progress lines", fontsize=9)
        right.grid(which="both", alpha=0.3)
        right.legend(fontsize=8)
    else:
        right.set_axis_off()
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)
    print(f"wrote {out_path}: {len(points)} percentiles, {len(progress)} progress lines")


def main(argv):
    if len(argv) != 4 or argv[1] not in ("peers", "load"):
        sys.exit(__doc__)
    (plot_peers if argv[1] == "peers" else plot_load)(argv[2], argv[3])


if __name__ == "__main__":
    main(sys.argv)
