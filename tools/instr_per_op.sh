#!/usr/bin/env bash
# Instructions per operation of phyx-bench workloads on one worker, counted by valgrind's
# callgrind: a figure that does not move with the host's speed, unlike the wall clock
# (this VM's swings by 2-3x within the hour). Each workload runs at two sizes and the
# difference is divided by the difference in operations, so start-up, shutdown and the
# first fill of a mailbox cancel out.
#
#   bash tools/instr_per_op.sh [PHYX_BENCH]   (default build/release/bench/phyx-bench)
#   WORKLOADS="fan-in ping-pong" bash tools/instr_per_op.sh /tmp/a/phyx-bench
#
# Needs valgrind (apt-get install valgrind). About 6 s per workload. Compare two binaries
# by running it on each: the count says what changed in the code path; only a side-by-side
# run says what that is worth in time (a cache miss costs as much as hundreds of
# instructions, and callgrind does not see it).
set -euo pipefail
bin="${1:-build/release/bench/phyx-bench}"
command -v valgrind >/dev/null || { echo "instr_per_op.sh: needs valgrind (apt-get install valgrind)" >&2; exit 2; }
# workload | size flag | small size | large size (operations = the workload's own unit)
cases=(
  "fan-in|--n|400000|800000|--producers 2"
  "ping-pong|--n|200000|400000|"
  "ring|--hops|200000|400000|"
  "ask|--n|100000|200000|"
  "ask-many|--n|100000|200000|"
)
wanted="${WORKLOADS:-}"
count() {  # args: phyx-bench arguments; prints the instructions the whole run executed
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" --workers 1 --json "$@" 2>&1 |
    awk '/refs:/ { gsub(",", "", $NF); print $NF }'
}
for c in "${cases[@]}"; do
  IFS='|' read -r wl flag small large extra <<<"$c"
  if [[ -n "$wanted" && " $wanted " != *" $wl "* ]]; then continue; fi
  # shellcheck disable=SC2086  # $extra is a list of arguments
  a=$(count --workload "$wl" "$flag" "$small" $extra)
  # shellcheck disable=SC2086
  b=$(count --workload "$wl" "$flag" "$large" $extra)
  awk -v a="$a" -v b="$b" -v n=$((large - small)) -v wl="$wl" 'BEGIN { printf "%-10s %7.1f instructions/op\n", wl, (b - a) / n }'
done
