#!/usr/bin/env bash
# phyx-bench side by side with the peer runtimes (CAF, Erlang, Go, Tokio).
#
#   bash tools/peers.sh                                   # every workload, 3 rounds
#   RUNS=1 ONLY_WORKLOADS=ping-pong,ask bash tools/peers.sh
#   PHYX_BENCH=build/release/bench/phyx-bench PEERS=go,tokio bash tools/peers.sh
#
# The peers are the anchor benchmarks of /work/shared/anchors (see its
# README.md): the same SPEC 13 workloads written for each runtime, built and
# run with the command lines of its run-all.sh. Their figures move by 10-50 %
# from one hour to the next, so a comparison only means something inside one
# session, back to back. That is why this script interleaves: every round runs
# each workload on phyx and on every peer once (the order rotates from round to
# round so nobody always goes first on a warm or a cold box) and the table shows
# the median over the rounds.
#
# Output: the markdown table on stdout (also saved as table.md), progress on
# stderr, and in the results folder raw.txt (one line per measurement:
# "<round> <workload> RESULT <runtime> <metric> <value> <unit> params..."),
# logs/ (the full output of every run) and build-*.log.
#
# Environment:
#   RUNS=3            rounds (median over rounds is reported)
#   ONLY_WORKLOADS=   comma list of phyx workloads (default: all): ping-pong, ring,
#                     ring-multi, fan-in (= fan-in-p2,fan-in-p4), fan-in-p2, fan-in-p4,
#                     skynet, ask, ask-many, ask-external, spawn, idle-memory, idle-cpu
#   PEERS=caf,erlang,go,tokio   peer groups to run, "" = phyx only (a group that fails to build is
#                     reported and left out; its column says so)
#   WORKERS=2         threads for everyone: phyx --workers, CAF_THREADS, Erlang
#                     +S N:N, GOMAXPROCS, TOKIO_WORKERS (run-all.sh's 2 by default)
#   PHYX_BENCH=       an already built phyx-bench; unset = build the release preset
#                     (installing missing Debian deps) as tools/bench.sh does
#   OUT=/tmp/phyx-peers/results-<date>   results folder
#   ANCHORS_SRC=<repo>/../shared/anchors  the read-only peer sources
#   ANCHORS_COPY=/tmp/phyx-peers/anchors  where they are copied and built (kept
#                     between runs so only changed sources are rebuilt)
#   TIMEOUT=120       seconds allowed for one run of one workload
#
# The peers need (Debian 12, not installed by this script):
#   apt-get install libcaf-dev erlang-base golang-go cargo librust-tokio-dev \
#     libconcurrentqueue-dev libmimalloc-dev
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

RUNS="${RUNS:-3}"
ONLY_WORKLOADS="${ONLY_WORKLOADS:-}"
PEERS="${PEERS-caf,erlang,go,tokio}"  # set but empty = phyx only
WORKERS="${WORKERS:-2}"
PHYX_BENCH="${PHYX_BENCH:-}"
OUT="${OUT:-/tmp/phyx-peers/results-$(date +%Y%m%d-%H%M%S)}"
ANCHORS_SRC="${ANCHORS_SRC:-$repo/../shared/anchors}"
ANCHORS_COPY="${ANCHORS_COPY:-/tmp/phyx-peers/anchors}"
TIMEOUT="${TIMEOUT:-120}"

log() { echo "# $*" >&2; }
die() { echo "peers.sh: $*" >&2; exit 2; }

# ---------------------------------------------------------------- what runs
# The peers in column order; the *_case and metric columns below follow it.
ALL_PEERS=(caf erlang go tokio)

# One "unit" = one process run per runtime. Fields:
#   unit | phyx-bench arguments | caf case | erlang case | go case | tokio case
# Peer cases are run-all.sh's command lines (run from the anchors folder), same
# sizes as phyx-bench's defaults; "-" = that peer has no counterpart.
# Choices where a peer has several variants:
#   fan-in: Erlang off_heap (the mode recommended for a fan-in counter), CAF actor
#           producers (not threads).
#   ask:    Go reuses a client-owned reply channel, Tokio a oneshot per request,
#           Erlang gen_server:call (not the hand-made "raw" protocol).
#   ask-external (a non-actor thread blocks on each answer): only CAF has one,
#           a scoped_actor doing blocking request().receive().
#   spawn / idle-memory: one run of the peers' idle_memory program gives both.
UNITS=(
  "ping-pong|--workload ping-pong|caf/build/ping_pong 10000000|erlang/run.sh ping_pong 10000000|go/build/anchors ping_pong 10000000|tokio/target/release/anchors ping_pong 10000000"
  "ring|--workload ring|caf/build/ring 1000 10000000 1|erlang/run.sh ring 1000 10000000 1|go/build/anchors ring 1000 10000000 1|tokio/target/release/anchors ring 1000 10000000 1"
  "ring-multi|--workload ring-multi|caf/build/ring 1000 40000000 100|erlang/run.sh ring 1000 40000000 100|go/build/anchors ring 1000 40000000 100|tokio/target/release/anchors ring 1000 40000000 100"
  "fan-in-p2|--workload fan-in --producers 2|caf/build/fan_in 2 10000000 actors|erlang/run.sh fan_in 2 10000000 off_heap|go/build/anchors fan_in 2 10000000|tokio/target/release/anchors fan_in 2 10000000"
  "fan-in-p4|--workload fan-in --producers 4|caf/build/fan_in 4 10000000 actors|erlang/run.sh fan_in 4 10000000 off_heap|go/build/anchors fan_in 4 10000000|tokio/target/release/anchors fan_in 4 10000000"
  "skynet|--workload skynet|caf/build/skynet 1000000|erlang/run.sh skynet 1000000|go/build/anchors skynet 1000000|tokio/target/release/anchors skynet 1000000"
  "ask|--workload ask|caf/build/ask 3000000 actor|erlang/run.sh ask 2000000 call 1|go/build/anchors ask 3000000 reuse|tokio/target/release/anchors ask 3000000 oneshot"
  "ask-many|--workload ask-many|caf/build/ask 3000000 many 100|erlang/run.sh ask 3000000 many 100|go/build/anchors ask 3000000 many 100|tokio/target/release/anchors ask 3000000 many 100"
  "ask-external|--workload ask-external|caf/build/ask 100000 blocking|-|-|-"
  "spawn|--workload spawn|caf/build/idle_memory 1000000|erlang/run.sh idle_memory 1000000|go/build/anchors idle_memory 1000000|tokio/target/release/anchors idle_memory 1000000"
  "idle-cpu|--workload idle-cpu|-|-|-|-"
)

# One table row = one metric of one unit. Fields:
#   row | unit | better (higher|lower) | phyx metric | caf | erlang | go | tokio metric
# (metric = the <workload> field of a RESULT line; "-" = no counterpart)
# Caveat: skynet-peak-rss is the growth of peak RSS for phyx but the absolute
# VmHWM for the peers (a runtime's start-up footprint counts against the peers).
ROWS=(
  "ping-pong|ping-pong|higher|ping-pong|ping-pong|ping-pong|ping-pong|ping-pong"
  "ring|ring|higher|ring|ring|ring|ring|ring"
  "ring-multi|ring-multi|higher|ring-multi|ring-multi|ring-multi|ring-multi|ring-multi"
  "fan-in-p2|fan-in-p2|higher|fan-in-p2|fan-in-actors-p2|fan-in-actors-offheap-p2|fan-in-actors-p2|fan-in-actors-p2"
  "fan-in-p4|fan-in-p4|higher|fan-in-p4|fan-in-actors-p4|fan-in-actors-offheap-p4|fan-in-actors-p4|fan-in-actors-p4"
  "skynet|skynet|lower|skynet|skynet|skynet|skynet|skynet"
  "skynet-peak-rss|skynet|lower|skynet-peak-rss|skynet-peak-rss|skynet-peak-rss|skynet-peak-rss|skynet-peak-rss"
  "ask|ask|higher|ask|ask|ask|ask|ask"
  "ask-many|ask-many|higher|ask-many|ask-many|ask-many|ask-many|ask-many"
  "ask-external|ask-external|higher|ask-external|ask-blocking|-|-|-"
  "spawn|spawn|higher|spawn|spawn-rate|spawn-rate|spawn-rate|spawn-rate"
  "idle-memory|spawn|lower|idle-memory|idle-memory|idle-memory|idle-memory|idle-memory"
  "idle-cpu|idle-cpu|lower|idle-cpu|-|-|-|-"
)

# ---------------------------------------------------------------- selection
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer (got '$RUNS')"
[[ "$WORKERS" =~ ^[1-9][0-9]*$ ]] || die "WORKERS must be a positive integer (got '$WORKERS')"

IFS=, read -r -a want_peers <<< "$PEERS"
for p in "${want_peers[@]}"; do
  [[ " ${ALL_PEERS[*]} " == *" $p "* ]] || die "unknown peer '$p' (known: ${ALL_PEERS[*]})"
done

# A row is selected by its own name, by its unit's name (so "spawn" and
# "idle-memory" both select the one spawn run) or, for fan-in-p2/p4, by "fan-in".
IFS=, read -r -a want_names <<< "$ONLY_WORKLOADS"
for w in "${want_names[@]}"; do
  known=0
  for r in "${ROWS[@]}"; do
    IFS='|' read -r row unit _ <<< "$r"
    if [[ "$w" == "$row" || "$w" == "$unit" || ( "$w" == fan-in && "$row" == fan-in-* ) ]]; then known=1; fi
  done
  ((known)) || die "unknown workload '$w' in ONLY_WORKLOADS"
done
selected_rows=()
selected_units=()
for r in "${ROWS[@]}"; do
  IFS='|' read -r row unit _ <<< "$r"
  pick=0
  if ((${#want_names[@]} == 0)); then pick=1; fi
  for w in "${want_names[@]}"; do
    if [[ "$w" == "$row" || "$w" == "$unit" || ( "$w" == fan-in && "$row" == fan-in-* ) ]]; then pick=1; fi
  done
  ((pick)) || continue
  selected_rows+=("$r")
  # A unit whose row(s) were picked runs once per round, in UNITS order (below).
  [[ " ${selected_units[*]-} " == *" $unit "* ]] || selected_units+=("$unit")
done

mkdir -p "$OUT/logs"
OUT="$(cd "$OUT" && pwd)"
RAW="$OUT/raw.txt"
: > "$RAW"
log "results folder: $OUT"

# ---------------------------------------------------------------- build phyx
PHYX_BENCH_GIVEN="$PHYX_BENCH"  # non-empty: a binary given by path, built from a commit we cannot see
if [[ -z "$PHYX_BENCH" ]]; then
  # Same steps as tools/bench.sh: the release preset, only the bench target.
  log "building phyx-bench (release preset)"
  (
    cd "$repo"
    # shellcheck source=tools/deps.sh
    source tools/deps.sh
    phyx_install_deps
    cmake --preset release
    cmake --build --preset release -j2 --target phyx-bench
  ) >&2
  PHYX_BENCH="$repo/build/release/bench/phyx-bench"
fi
[[ -x "$PHYX_BENCH" ]] || die "PHYX_BENCH '$PHYX_BENCH' is not an executable"
PHYX_BENCH="$(cd "$(dirname "$PHYX_BENCH")" && pwd)/$(basename "$PHYX_BENCH")"

# ---------------------------------------------------------------- build peers
# The anchors folder is read-only where it lives, so build in a copy. Timestamps
# are kept (and the copy is reused) so make/cargo only rebuild what changed.
peers=()         # peers that built
failed_peers=()  # peers that did not
if ((${#want_peers[@]} > 0)); then
  [[ -f "$ANCHORS_SRC/run-all.sh" ]] || die "no peer benchmarks at ANCHORS_SRC=$ANCHORS_SRC"
  mkdir -p "$ANCHORS_COPY"
  [[ "$(cd "$ANCHORS_SRC" && pwd)" != "$(cd "$ANCHORS_COPY" && pwd)" ]] ||
    die "ANCHORS_COPY must differ from ANCHORS_SRC"
  chmod -R u+w "$ANCHORS_COPY"
  cp -r --preserve=timestamps "$ANCHORS_SRC/." "$ANCHORS_COPY/"
  chmod -R u+w "$ANCHORS_COPY"
fi
for p in "${want_peers[@]}"; do
  # run-all.sh with RUNS=0 only builds the group, with exactly its commands
  # (Debian's cargo offline, go with GOPROXY=off, ...), and stops on an error.
  log "building peer $p"
  if ONLY="$p" RUNS=0 OUT="$OUT/build-$p" "$ANCHORS_COPY/run-all.sh" > "$OUT/build-$p.log" 2>&1; then
    peers+=("$p")
  else
    failed_peers+=("$p")
    log "peer $p FAILED to build (left out); last lines of $OUT/build-$p.log:"
    tail -n 15 "$OUT/build-$p.log" >&2
  fi
done

# ---------------------------------------------------------------- running
# Everyone gets the same number of threads (run-all.sh relies on defaults that
# equal the 2 cores of the reference box; here they are explicit).
export GOMAXPROCS="$WORKERS" TOKIO_WORKERS="$WORKERS" CAF_THREADS="$WORKERS"
export ERL_FLAGS="+S $WORKERS:$WORKERS"

unit_spec() {  # unit -> its UNITS line
  local u
  for u in "${UNITS[@]}"; do
    if [[ "${u%%|*}" == "$1" ]]; then echo "$u"; return; fi
  done
}

peer_case() {  # unit peer -> the peer's command line, or "-"
  local fields i
  IFS='|' read -r -a fields <<< "$(unit_spec "$1")"
  for i in "${!ALL_PEERS[@]}"; do
    if [[ "${ALL_PEERS[$i]}" == "$2" ]]; then echo "${fields[$((i + 2))]}"; return; fi
  done
}

# phyx-bench --json prints one object per measurement; turn each into the
# peers' RESULT format so one parser serves all. A measurement whose own check
# failed ("ok": false) is logged and not counted.
json_re='^\{"workload": "([^"]*)", "value": ([^,]*), "unit": "([^"]*)", "ok": (true|false), "params": \{(.*)\}\}$'
phyx_results() {
  local line params
  while IFS= read -r line; do
    [[ "$line" =~ $json_re ]] || continue
    params="${BASH_REMATCH[5]//\": /=}"
    params="${params//\"/}"
    params="${params//, / }"
    if [[ "${BASH_REMATCH[4]}" != true ]]; then
      log "phyx ${BASH_REMATCH[1]} reported a WRONG RESULT; not counted"
      continue
    fi
    echo "RESULT phyx ${BASH_REMATCH[1]} ${BASH_REMATCH[2]} ${BASH_REMATCH[3]// /_} $params"
  done
}

# run_one round unit runtime: one run, its RESULT lines appended to raw.txt.
run_one() {
  local round="$1" unit="$2" rt="$3" logf="$OUT/logs/r$1-$2-$3.txt" cmd args status=0
  local -a phyx_args
  if [[ "$rt" == phyx ]]; then
    IFS='|' read -r _ args _ <<< "$(unit_spec "$unit")"
    read -r -a phyx_args <<< "$args"
    log "round $round/$RUNS $unit: phyx-bench ${phyx_args[*]}"
    timeout "$TIMEOUT" "$PHYX_BENCH" --workers "$WORKERS" --json "${phyx_args[@]}" > "$logf" 2>&1 || status=$?
    phyx_results < "$logf" | sed "s|^|$round $unit |" >> "$RAW"
  else
    cmd="$(peer_case "$unit" "$rt")"
    log "round $round/$RUNS $unit: $cmd"
    # shellcheck disable=SC2086  # cmd is a run-all.sh case line: split on spaces
    (cd "$ANCHORS_COPY" && timeout "$TIMEOUT" $cmd) > "$logf" 2>&1 || status=$?
    # With one worker the peers append "-1sched" to the workload; drop it so
    # the metric names of ROWS match.
    { grep '^RESULT ' "$logf" || true; } | sed -E "s/^(RESULT [^ ]+ [^ ]+)-1sched /\1 /; s|^|$round $unit |" >> "$RAW"
  fi
  if ((status == 124)); then
    log "TIMED OUT after $TIMEOUT s: $unit on $rt, see $logf"
  elif ((status != 0)); then
    log "FAILED (exit $status): $unit on $rt, see $logf"
  fi
}

runtimes=(phyx "${peers[@]}")
start=$(date +%s)
for ((round = 1; round <= RUNS; round++)); do
  # Rotate the runtime order each round (round 1: phyx first).
  order=()
  for ((i = 0; i < ${#runtimes[@]}; i++)); do
    order+=("${runtimes[$(((i + round - 1) % ${#runtimes[@]}))]}")
  done
  for u in "${UNITS[@]}"; do
    unit="${u%%|*}"
    [[ " ${selected_units[*]} " == *" $unit "* ]] || continue
    for rt in "${order[@]}"; do
      if [[ "$rt" != phyx && "$(peer_case "$unit" "$rt")" == - ]]; then continue; fi
      run_one "$round" "$unit" "$rt"
    done
  done
done
log "all rounds done in $(($(date +%s) - start)) s"

# ---------------------------------------------------------------- the table
printf '%s\n' "${selected_rows[@]}" > "$OUT/rows.txt"
cols="$(IFS=,; echo "${want_peers[*]}")"
{
  echo "## phyx vs peers — $(date '+%Y-%m-%d %H:%M'), median of $RUNS interleaved round(s), $WORKERS workers each"
  echo
  checkout="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$repo" diff --quiet HEAD 2>/dev/null || echo ' (+ uncommitted changes)')"
  if [[ -n "$PHYX_BENCH_GIVEN" ]]; then
    # A binary given by path may come from any commit: say which file ran, not only the checkout.
    echo "phyx-bench given: $PHYX_BENCH (modified $(date -r "$PHYX_BENCH" '+%Y-%m-%d %H:%M')); this checkout is at $checkout, load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  else
    echo "phyx $checkout (built here), load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  fi
  echo
  awk -v raw="$RAW" -v cols="$cols" -v all="${ALL_PEERS[*]}" -v failed=" ${failed_peers[*]-} " -v runs="$RUNS" '
    function median(key,   n, i, j, x, a) {
      n = cnt[key]
      for (i = 1; i <= n; i++) a[i] = val[key, i]
      for (i = 2; i <= n; i++) {              # insertion sort
        x = a[i]; j = i - 1
        while (j >= 1 && a[j] > x) { a[j + 1] = a[j]; j-- }
        a[j + 1] = x
      }
      return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function fmt(v) {                         # 3-4 significant digits, M for millions (from 0.10M)
      if (v >= 1e5) return sprintf("%.2fM", v / 1e6)
      if (v >= 100) return sprintf("%.0f", v)
      return sprintf("%.3g", v)
    }
    # cell(unit, runtime, metric): the median (with the count if runs are missing)
    function cell(u, rt, m,   key) {
      key = u SUBSEP rt SUBSEP m
      if (!(key in cnt)) return ""
      got = median(key)
      return fmt(got) (cnt[key] < runs ? " (n=" cnt[key] ")" : "")
    }
    BEGIN {
      ncol = split(cols, C, ","); nall = split(all, A, " ")
      for (i = 1; i <= nall; i++) pos[A[i]] = i
      hdr = "| workload (unit) | better | phyx"; sep = "|---|---|---:"
      for (i = 1; i <= ncol; i++) { hdr = hdr " | " C[i]; sep = sep "|---:" }
      print hdr " | best peer | ratio (>1 = phyx ahead) |"
      print sep "|---|---:|"
    }
    FILENAME == raw {                         # <round> <unit> RESULT <rt> <metric> <value> <unit> ...
      key = $2 SUBSEP $4 SUBSEP $5
      val[key, ++cnt[key]] = $6 + 0
      if (!((key) in unitof)) unitof[key] = $7
      next
    }
    {                                         # rows.txt: row|unit|better|phyx|caf|erlang|go|tokio
      split($0, f, "|"); row = f[1]; u = f[2]; better = f[3]
      pkey = u SUBSEP "phyx" SUBSEP f[4]
      unitstr = (pkey in unitof) ? unitof[pkey] : "?"
      gsub(/_/, " ", unitstr)              # phyx units had their spaces replaced
      pc = cell(u, "phyx", f[4]); pv = got
      if (pc == "") pc = "failed"
      line = "| " row " (" unitstr ") | " better " | " pc
      best = ""; bv = 0
      for (i = 1; i <= ncol; i++) {
        p = C[i]; m = f[4 + pos[p]]
        if (m == "-") { line = line " | —"; continue }
        if (index(failed, " " p " ")) { line = line " | build failed"; continue }
        c = cell(u, p, m)
        if (c == "") { line = line " | failed"; continue }
        line = line " | " c
        if (best == "" || (better == "higher" ? got > bv : got < bv)) { best = p; bv = got }
      }
      if (best == "" || pc == "failed") { ratio = "—" }
      else if (better == "higher") { ratio = bv > 0 ? sprintf("%.3g×", pv / bv) : "—" }
      else { ratio = pv > 0 ? sprintf("%.3g× (inverted)", bv / pv) : "∞ (inverted)" }
      print line " | " (best == "" ? "—" : best " " fmt(bv)) " | " ratio " |"
    }' "$RAW" "$OUT/rows.txt"
  echo
  echo "Ratio > 1 means phyx is ahead. Higher-is-better rows (rates) show phyx ÷ best peer;"
  echo "lower-is-better rows (s, MiB, bytes, % CPU), marked \"inverted\", show best peer ÷ phyx."
  echo "Best peer = the highest (or lowest) peer median. \"—\" = no counterpart; (n=k) = only k runs succeeded."
  if ((${#failed_peers[@]} > 0)); then
    echo "Peers that failed to build (see build-<peer>.log in the results folder): ${failed_peers[*]}."
  fi
  echo
  echo "Cases (phyx-bench --workers $WORKERS --json ARGS; peers: run-all.sh command lines, GOMAXPROCS=$WORKERS TOKIO_WORKERS=$WORKERS CAF_THREADS=$WORKERS ERL_FLAGS=\"+S $WORKERS:$WORKERS\"):"
  for unit in "${selected_units[@]}"; do
    IFS='|' read -r -a fields <<< "$(unit_spec "$unit")"
    line="- $unit: phyx \`${fields[1]}\`"
    for p in "${want_peers[@]}"; do
      c="$(peer_case "$unit" "$p")"
      [[ "$c" == - ]] || line+="; $p \`$c\`"
    done
    echo "$line"
  done
  if [[ " ${selected_units[*]} " == *" skynet "* ]]; then
    echo "- skynet-peak-rss: phyx reports the growth of peak RSS, the peers their absolute peak RSS (VmHWM)."
  fi
} | tee "$OUT/table.md"
log "raw results: $RAW, table: $OUT/table.md"
