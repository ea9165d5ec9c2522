#!/usr/bin/env bash
# The chaos run: the simulator and the daemon with 3 platforms x 2 accounts, N posts due over
# a few minutes, platform faults on (lost responses, 429s, expired tokens, 5xx, slow
# timelines), a worker SIGKILLed about every second and the supervisor every ~30 s; then
# quiescence and an audit of the simulator's ground truth against the store. Threads of 2-5
# parts are due among the single posts. Prints one summary line; exits 1 on any duplicate,
# lost, stuck, mismatched or over-quota post, a post whose media (SHA-256s in order on the
# simulator) are not exactly the ones scheduled with it, or a chain error (a live thread part
# that does not answer the live part before it, or was created before it).
#
#   scripts/chaos.sh                      the full run: 5,000 posts, seed 1
#   scripts/chaos.sh --posts 500 --max-kills 30 --spread-ms 60000    the CI-sized run
#
# Options (steadypost-bench chaos): --posts N, --seed S, --spread-ms MS (posts due over this),
# --kill-every-ms MS, --supervisor-kill-every-ms MS, --max-kills N, --settle-ms MS,
# --quota N and --quota-window-ms MS (the hourly quota, with a shortened hour),
# --media-share N (every Nth post carries one or two small images, default 10; 0: none),
# --threads N (threads of 2-5 parts, round-robin over the accounts, default 50; 0: none),
# --thread-gap-ms MS (the gap every other thread waits between parts, default 500), --keep.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
ensure_packages
ensure_swift
# The debug build the tests use: exactly-once does not depend on the optimizer, CI has that
# build already, and it has the test hooks the run sets (STEADYPOST_FAULTS, a shortened lease
# and quota hour; ARCHITECTURE.md "Test hooks"). A plain release build refuses to start with
# them; a release chaos run needs every product built with
# `swift build -c release -Xswiftc -DSTEADYPOST_TEST_HOOKS`.
for product in steadypostd steadypost-worker steadypost steadypost-api steadypost-bench steadypost-sim; do swift build --product "$product" >/dev/null; done
bin=$(swift build --show-bin-path)
exec "$bin/steadypost-bench" chaos "$@"
