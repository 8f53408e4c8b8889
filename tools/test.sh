#!/usr/bin/env bash
# README command 2: configure, build and test every configuration.
#
#   bash tools/test.sh                       # release asan-ubsan tsan systematic fuzz
#   bash tools/test.sh release               # just the given presets
#   PHYX_TEST_CONFIGS="release tsan" bash tools/test.sh
#
# Every configuration is run even if an earlier one fails; the exit code is
# non-zero if any failed. Works from any cwd.
#
# Compiler choice: all presets use g++ 12 (Debian's default toolchain, pinned
# in CMakePresets.json). Both g++ 12 and clang 14 ASan/UBSan/TSan were verified
# to work on the CI machine, so there is no reason to split toolchains: the
# sanitizer builds then compile exactly the code the release build compiles
# (same libstdc++ features, same warnings). clang 14 + libclang-rt-14-dev stays
# installed as a fallback (configure with -DCMAKE_CXX_COMPILER=clang++).
# Note: g++'s TSan does not model std::atomic_thread_fence and warns about it
# (-Wtsan); prefer acquire/release operations on atomics over bare fences.
#
# TSan / ASan and ASLR: kernels with vm.mmap_rnd_bits > 28 (Ubuntu 23.10+,
# Fedora, newer defaults) place mappings where the gcc-12 / clang-14 sanitizer
# runtimes do not expect them, and TSan dies with "FATAL: ThreadSanitizer:
# unexpected memory mapping" (ASan can hang/crash similarly). On the CI
# machine (kernel 6.18, mmap_rnd_bits=28) both work as-is. To stay robust,
# before running a sanitizer configuration this script builds and runs a tiny
# threaded probe with the same compiler; if it fails it retries under
# `setarch <arch> -R` (ASLR off for that process tree only) and then runs ctest
# under that wrapper; as a last resort, as root, it lowers vm.mmap_rnd_bits to 28.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
ROOT="$(pwd)"

# shellcheck source=tools/deps.sh
source tools/deps.sh
phyx_install_deps || { echo "phyx: dependency installation failed" >&2; exit 1; }

if (($# > 0)); then
  CONFIGS=("$@")
else
  read -r -a CONFIGS <<<"${PHYX_TEST_CONFIGS:-release asan-ubsan tsan systematic fuzz}"
fi

banner() {
  local line="=================================================================="
  printf '\n%s\n== %s\n%s\n' "$line" "$*" "$line"
}

# probe_sanitizer <-fsanitize=...>: sets SAN_WRAPPER (array) to the command
# prefix needed to run sanitized binaries on this kernel, or returns 1.
probe_sanitizer() {
  local flag="$1" dir rc=0
  dir="$(mktemp -d "${TMPDIR:-/tmp}/phyx-sanprobe.XXXXXX")" || return 1
  cat >"$dir/probe.cpp" <<'CPP'
#include <atomic>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>
int main() {
  std::atomic<int> n{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([&] { for (int j = 0; j < 1000; ++j) { auto p = std::make_unique<int>(j); n += *p > -1; } });
  for (auto& t : ts) t.join();
  std::printf("%d\n", n.load());
  return n.load() == 4000 ? 0 : 1;
}
CPP
  SAN_WRAPPER=()
  if ! g++ -std=c++20 -g -pthread "$flag" "$dir/probe.cpp" -o "$dir/probe" 2>"$dir/cc.log"; then
    echo "phyx: cannot build a $flag probe with g++:" >&2
    cat "$dir/cc.log" >&2
    rm -rf "$dir"
    return 1
  fi
  if "$dir/probe" >/dev/null 2>"$dir/run.log"; then
    echo "phyx: $flag probe OK (mmap_rnd_bits=$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo '?'))"
  elif command -v setarch >/dev/null 2>&1 &&
       setarch "$(uname -m)" -R "$dir/probe" >/dev/null 2>&1; then
    echo "phyx: $flag probe fails with ASLR on ($(head -n1 "$dir/run.log")); running tests under 'setarch $(uname -m) -R'"
    SAN_WRAPPER=(setarch "$(uname -m)" -R)
  elif [[ "$(id -u)" -eq 0 ]] && [[ -w /proc/sys/vm/mmap_rnd_bits ]] &&
       (($(cat /proc/sys/vm/mmap_rnd_bits) > 28)); then
    echo "phyx: $flag probe fails; lowering vm.mmap_rnd_bits to 28 (sanitizer runtimes need it)"
    sysctl -w vm.mmap_rnd_bits=28 >/dev/null && "$dir/probe" >/dev/null 2>&1 || rc=1
  else
    rc=1
  fi
  if ((rc != 0)); then
    echo "phyx: $flag binaries do not run on this machine:" >&2
    cat "$dir/run.log" >&2
  fi
  rm -rf "$dir"
  return "$rc"
}

# run_config <preset>: configure + build + ctest. Runs in a subshell so the
# sanitizer environment never leaks into the next configuration.
run_config() (
  local cfg="$1"
  SAN_WRAPPER=()
  case "$cfg" in
    tsan)
      export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
      probe_sanitizer -fsanitize=thread || exit 1
      ;;
    systematic)
      # One worker, scheduling choices and yield points drawn from the seed, under TSan
      # (engine/sched/choices.hpp). A fresh seed per run unless PHYX_SEED is given;
      # replay a failure with: PHYX_SEED=<seed> bash tools/test.sh systematic
      export PHYX_SEED="${PHYX_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}"
      echo "-- [$cfg] PHYX_SEED=$PHYX_SEED"
      export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
      probe_sanitizer -fsanitize=thread || exit 1
      ;;
    fuzz)
      # libFuzzer targets (clang; tools/cmake/fuzz.cmake), each for PHYX_FUZZ_SECONDS
      # (60 by default); a crash prints the input and the seed to replay it.
      probe_sanitizer -fsanitize=address,undefined || exit 1
      ;;
    asan-ubsan)
      export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
      export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
      probe_sanitizer -fsanitize=address,undefined || exit 1
      ;;
  esac
  echo "-- [$cfg] configure"
  cmake --preset "$cfg" || exit 1
  echo "-- [$cfg] build"
  cmake --build --preset "$cfg" -j2 || exit 1
  echo "-- [$cfg] test"
  local log="build/$cfg/ctest-output.log"
  "${SAN_WRAPPER[@]}" ctest --preset "$cfg" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  # "N% tests passed, F tests failed out of T": add to the run's totals.
  local counts
  counts=$(grep -Eo '[0-9]+ tests? failed out of [0-9]+' "$log" | tail -n1 | grep -Eo '[0-9]+' | tr '\n' ' ')
  if [[ -n "$counts" ]]; then
    read -r f t <<<"$counts"
    echo "$((t - f)) $f" >>"$TOTALS"
  fi
  if ((rc != 0)); then
    # For the closing digest: CI keeps only the tail of the output, so the
    # failing tests' names and the end of their output must come last.
    {
      echo "-- [$cfg] failed tests:"
      sed -n '/The following tests FAILED:/,$p' "$log" | grep -E '^[[:space:]]+[0-9]+ - ' || echo "   (none listed: configure or build failed)"
      local lastlog="build/$cfg/Testing/Temporary/LastTest.log"
      if [[ -f "$lastlog" ]]; then
        local name
        for name in $(sed -n '/The following tests FAILED:/,$p' "$log" | grep -Eo '^[[:space:]]+[0-9]+ - [^ ]+' | awk '{print $3}'); do
          echo "-- [$cfg] $name: last 40 lines of its output"
          awk -v n="$name" '$0 ~ ("Testing: " n "$") {on = 1; next} on && /^<end of output>/ {exit} on' "$lastlog" | tail -n 40
        done
      fi
    } >>"$FAILURES"
  fi
  if ((rc != 0)) && [[ "$cfg" == systematic ]]; then
    echo "-- [$cfg] failed with PHYX_SEED=$PHYX_SEED: replay with PHYX_SEED=$PHYX_SEED bash tools/test.sh systematic"
  fi
  exit "$rc"
)

declare -a SUMMARY=()
failed=0
TOTALS="$(mktemp "${TMPDIR:-/tmp}/phyx-totals.XXXXXX")"
FAILURES="$(mktemp "${TMPDIR:-/tmp}/phyx-failures.XXXXXX")"
export TOTALS FAILURES
total_start=$SECONDS
for cfg in "${CONFIGS[@]}"; do
  banner "phyx: configuration '$cfg'  (build/$cfg)"
  start=$SECONDS
  if run_config "$cfg"; then
    result="PASS"
  else
    result="FAIL"
    failed=1
  fi
  SUMMARY+=("$(printf '%-12s %s  (%ds)' "$cfg" "$result" $((SECONDS - start)))")
  banner "phyx: configuration '$cfg': $result"
done

banner "phyx: summary ($((SECONDS - total_start))s total, $ROOT)"
for line in "${SUMMARY[@]}"; do
  echo "  $line"
done
if ((failed)); then
  cat "$FAILURES"
  echo "phyx: FAILED"
else
  echo "phyx: all configurations passed"
fi
# The closing line: every CTest entry of every configuration.
awk '{p += $1; f += $2} END {printf "phyx: %d passed, %d failed\n", p, f}' "$TOTALS"
rm -f "$TOTALS" "$FAILURES"
exit "$failed"
