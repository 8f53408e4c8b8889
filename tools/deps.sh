# shellcheck shell=bash
# Sourced helper: installs the Debian packages phyx needs, only if missing.
#
#   source tools/deps.sh && phyx_install_deps
#
# Running it directly (`bash tools/deps.sh`) also installs the packages.
# apt-get update runs at most once, and only when something is missing.
# Root runs apt-get directly; otherwise sudo is used if available, else the
# required command is printed and the function fails.

PHYX_DEB_PACKAGES=(
  build-essential cmake g++ clang libclang-rt-14-dev ninja-build
  doctest-dev libbenchmark-dev libmimalloc-dev libconcurrentqueue-dev
  doxygen  # the `docs` target and the docs_build test (tools/cmake/docs.cmake)
  curl     # the HTTP client tests/bench/metrics_server_test.cpp scrapes with
  python3-matplotlib  # tools/plot.py: the charts in README.md and bench/results/
)

phyx_install_deps() {
  local missing=() pkg status
  for pkg in "${PHYX_DEB_PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    if [[ "$status" != "install ok installed" ]]; then
      missing+=("$pkg")
    fi
  done
  if ((${#missing[@]} == 0)); then
    return 0
  fi

  echo "phyx: installing missing Debian packages: ${missing[*]}" >&2
  local -a sudo=()
  if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "phyx: not root and sudo is unavailable; run as root:" >&2
      echo "  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}" >&2
      return 1
    fi
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update || return 1
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}" || return 1
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  phyx_install_deps
fi
