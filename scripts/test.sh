#!/usr/bin/env bash
# The README's test command: installs missing system packages, builds everything, runs every
# test (unit, integration with real processes, the real unit under systemd-nspawn).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
ensure_packages
ensure_swift
echo "==> building (debug, tests included)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! swift build --build-tests >"$log" 2>&1; then
  cat "$log"
  echo "build failed" >&2
  exit 1
fi
# No warnings in our own code (dependencies are theirs to fix).
if grep -E "^$PWD/(Sources|Tests)/.*warning:" "$log"; then
  echo "the build has warnings in Sources/ or Tests/: fix them" >&2
  exit 1
fi
tail -n 1 "$log"
echo "==> running tests"
# Serially: many tests start real daemons, browsers and simulators, and run against
# deadlines; on a 2-core machine running suites in parallel only trades time for flakes.
swift test --skip-build --no-parallel "$@"
# Each libFuzzer target briefly (the long runs' figures are in RELIABILITY.md). Skipped when
# a test filter was given.
if [ $# -eq 0 ]; then
  echo "==> fuzzing each target for 10 s (scripts/fuzz.sh all 10)"
  scripts/fuzz.sh all 10
fi
