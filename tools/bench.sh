#!/usr/bin/env bash
# README command 1: build the release preset and print the benchmark table.
#   bash tools/bench.sh [phyx-bench args...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

source tools/deps.sh
phyx_install_deps

cmake --preset release
cmake --build --preset release -j2 --target phyx-bench
exec build/release/bench/phyx-bench "$@"
