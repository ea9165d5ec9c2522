#!/usr/bin/env bash
# Runs the benchmarks (P1, P2-P4, P7, thread latency, P5/P6, P8, the media upload and the peer supervisors) on a release build and rewrites
# BENCHMARKS.md with the machine, the figures and the peers measured in the same run.
#
#   scripts/bench.sh [KILLS] [IDLE_SECONDS]      defaults: 100 kills, 60 s idle
#
# Needs s6, runit and supervisord for the peer figures (installed here when root).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
ensure_packages
ensure_swift
kills=${1:-100}
idle=${2:-60}
peer_kills=${PEER_KILLS:-20}
if [ "$(id -u)" -eq 0 ]; then
  for p in s6 runit; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null; done
  command -v supervisord >/dev/null || pip install -q supervisor >/dev/null 2>&1 || true
fi
# A plain release build: the benchmarks set no test hooks (BenchDaemon passes the daemon only
# the variables it names; ARCHITECTURE.md "Test hooks"). Only what the benchmarks run: the
# daemon spawns steadypost-api (P5/P6 measure it) from beside its own executable, and P8 and
# the leak figures need the simulator.
for product in steadypostd steadypost-worker steadypost steadypost-api steadypost-bench steadypost-sim; do swift build -c release --static-swift-stdlib --product "$product" >/dev/null; done
bin=$(swift build -c release --show-bin-path)
out=$(mktemp)
trap 'rm -f "$out"' EXIT

echo "==> P1 ($kills kills)"; p1=$("$bin/steadypost-bench" p1 "$kills" 2>/dev/null)
echo "==> P4"; p4=$("$bin/steadypost-bench" p4 10000 2>/dev/null)
echo "==> P2 (1,000 posts)"; p2=$("$bin/steadypost-bench" p2 1000 2>/dev/null)
echo "==> P3 (1,000 posts)"; p3=$("$bin/steadypost-bench" p3 1000 2>/dev/null)
echo "==> P7"; p7=$("$bin/steadypost-bench" p7 2>/dev/null)
echo "==> Threads (${THREADS:-200} threads of 5 parts, P2 beside)"; threads=$("$bin/steadypost-bench" threads "${THREADS:-200}" 5 1000 2>/dev/null)
echo "==> P5/P6 (${idle} s idle)"; p56=$("$bin/steadypost-bench" p56 "$idle" 2>/dev/null)
echo "==> P8 (${P8_LEASES:-200} leases, 2 browsers)"; p8=$("$bin/steadypost-bench" p8 "${P8_LEASES:-200}" 2>/dev/null)
echo "==> Media upload (${MEDIA_MB:-200} MB video, 4 MiB chunks)"; media=$("$bin/steadypost-bench" media "${MEDIA_MB:-200}" 4194304 2>/dev/null)
peers="(s6, runit or supervisord missing: peer figures skipped)"
if command -v s6-supervise >/dev/null && command -v runsv >/dev/null && command -v supervisord >/dev/null; then
  echo "==> peers with the C child ($peer_kills kills each)"
  peers_c=$(python3 ../shared/bench/restart_peers.py "$peer_kills")
  echo "==> peers with steadypost's bare Swift child"
  peers_swift=$(STAMP="$bin/steadypost-bench stamp" python3 ../shared/bench/restart_peers.py "$peer_kills")
  peers=$(printf 'C child (../shared/bench/stamp.c):\n%s\n\nSwift child (steadypost-bench stamp, same libraries as a worker minus the config):\n%s' "$peers_c" "$peers_swift")
fi

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
cat > BENCHMARKS.md <<MD
# Benchmarks

Measured by \`THREADS=${THREADS:-200} P8_LEASES=${P8_LEASES:-200} MEDIA_MB=${MEDIA_MB:-200} PEER_KILLS=$peer_kills scripts/bench.sh $kills $idle\` on $(date -u +%Y-%m-%d): $(nproc) cores ($cpu),
$(free -g | awk '/Mem:/{print $2}') GiB, kernel $(uname -r), $(swift --version 2>&1 | head -1), release build.
This machine is a shared VM: read each figure beside its peer from the same run, not alone.
Benchmarks are not tests: nothing here is asserted by the test suite.

## P1: restart latency (goal: p99 ≤ 25 ms for a first restart)

A worker is SIGKILLed; the time runs until the supervisor has the replacement's \`ready\`
(a \`wait-ready\` request registered before the kill answers at that moment). Each kill comes
after the worker ran past \`stable_after\`, so every restart is a first restart. Beside it,
the same run spawns the bare Swift benchmark binary until its \`main\` runs.

| what | p50 | p99 | max | n |
|---|---|---|---|---|
$p1

Peer supervisors, first restart after SIGKILL (../shared/bench/restart_peers.py, same machine,
same session; they time kill → child's first instruction, not a readiness handshake):

\`\`\`
$peers
\`\`\`

## P4: worker socket round trip (goal: ≤ 2× raw)

A request frame to a real \`steadypost-worker worker posting\` over its SOCK_SEQPACKET socket
(encode, send, the worker's epoll loop decodes and answers, decode), beside the same bytes
bounced by a raw echo child over a socketpair, 10,000 round trips each.

| what | p50 | p99 | max | n |
|---|---|---|---|---|
$p4

## P2, P3, P7: the posting path against the simulator

The daemon posting to \`steadypost-sim\` (release builds, loopback, no injected latency) with
four Bluesky accounts (the simulator's most generous write limit), concurrency 4.
P2: 1,000 posts due 20 ms apart; the time from each post's due time to its create arriving
at the simulator (the simulator's ground-truth creation time). P3: 1,000 posts due at once;
posts per second until the last one is live, beside the rate of single-row
\`synchronous=FULL\` commits SQLite manages on the same disk in the same run, divided by the
three commits a post needs (claim, attempt, outcome). P7: posts due every 50 ms, the
supervisor SIGKILLed after 4 s and started again; the time from the restart to the first
post created after it, and an audit of the whole run.

| what | | | | |
|---|---|---|---|---|
$p2
$p3
$p7

## Threads (issue 16; goal: p99 ≤ 50 ms, as P2)

A thread's part N+1 may go out only once part N is posted: the time from the simulator's
answer to part N's create to part N+1's create arriving there, over ${THREADS:-200} threads of 5 parts
(4 Bluesky accounts, round-robin, part 1 of each due 100 ms after the one before), with 1,000
single posts due 20 ms apart among them on the same daemon (P2's setup: release builds,
loopback, no injected latency, concurrency 4); their due → create (P2) is beside it, from the
same run. Both ends are the simulator's: part N+1's ground-truth \`created_at_ms\`, and part
N's create arrival plus the time the simulator took to answer it (\`/_sim/requests\`
\`at_ms\` + \`duration_ms\`, matched by the record key; the log is read every 250 ms). The
time includes the outcome's commit, freeing part N+1 in the same transaction, the posting
worker's next claim and the Bluesky create of part N+1 naming part N and part 1.
\`steadypost-bench threads ${THREADS:-200} 5 1000\`.

| what | p50 | p99 | max | |
|---|---|---|---|---|
$threads

## P5/P6: idle CPU and memory (goals: ≤ 0.1 % of a core in all; RSS ≤ 10 MB supervisor, ≤ 30 MB worker)

The daemon with all six workers on default settings (2 s heartbeats), nothing to do, measured over ${idle} s from
/proc/PID/stat; RSS (VmRSS) and PSS (smaps_rollup: shared library pages split between the
processes that map them) at the end.

| what | | | | |
|---|---|---|---|---|
$p56

Release builds link the Swift runtime statically (\`--static-swift-stdlib\`), and the
supervisor is an executable of its own (\`steadypostd\`: no worker code, no Foundation, no
argument-parsing library); the workers share \`steadypost-worker\`. RSS counts every page a
process has mapped, shared or not, and the kernel maps the cached pages around each one a
process touches, so RSS grows with the size of the code a process shares a file with; PSS
splits shared pages between the processes that map them. How the supervisor came under
its goal, step by step, is in "Memory per process" below: 15.9 MB with one shared-library
executable for everything, 8.2–8.4 MB now.

## P8: the browser pool (headless Chromium, 2 browsers)

The daemon with \`[workers.browser] concurrency = 2\` scrapes the simulator's post page
(\`/web/posts/ID\`, one value read) through routed \`browser.scrape\` requests on the control
socket, each with its own URL (no single-flight sharing), every lease in its own browser
context and tab. One caller at a time on warm browsers gives a lease's own latency; 4 callers
on 2 browsers keep each browser busy with one lease waiting behind it (the throughput, with
the recycles after 50 leases included). PSS is the pool's own measurement (smaps_rollup summed
over each browser's process group). A recycle is measured by SIGKILLing every browser, waiting
until the worker has reaped its whole group, then timing the one lease that must start a new
Chromium. \`steadypost-bench p8 ${P8_LEASES:-200}\`.

| what | | | | |
|---|---|---|---|---|
$p8

## Media upload (issue 15; goals: ≥ 80 % of curl, peak RSS ≤ idle + 2 × chunk + 10 MB)

A ${MEDIA_MB:-200} MB video (an MP4 by its magic bytes: an \`ftyp\` box with brand \`isom\`, then
pseudo-random bytes) uploaded to the simulator's X endpoint (release build, loopback, no
injected latency) by the real posting worker with \`[media] chunk_bytes = 4194304\` (4 MiB
segments; X takes at most 5 MB a segment), scheduled as an operator would: the open file
handed to \`posting.media_put\` over the control socket, then \`posting.create\` naming its
SHA-256. Beside it, \`curl\` uploads the same bytes to the same endpoint as the same requests:
INIT, one APPEND per 4 MiB segment (multipart field \`media\`, the segment files cut before
the timed region), FINALIZE, all after INIT in one curl process joined by \`--next\` (one
reused connection), with \`Expect:\` empty as the product sends it. Both are timed the same
way, from the simulator's request log (\`/_sim/requests\`): INIT's arrival to FINALIZE's
answer; three rounds, the worker's upload (a new post, a new media id) then curl's, and each
peer's median round. The worker's RSS is sampled from /proc/PID/statm every 10 ms from the benchmark
process, and its VmHWM, reset (\`clear_refs\` 5) just before the first post falls due, is read
once the last post is live; idle is its RSS before the \`media_put\` (the figure after the copy
into the media store is beside it). CPU seconds are the processes' own, per round. The
simulator hashes every byte it gets (its ground truth) on a thread of its own, beside its
answers, so it does not set the pace; it still uses about a core while a round lasts, so on
a small machine read the ratio, not the MB/s.
\`steadypost-bench media ${MEDIA_MB:-200} 4194304\`.

| what | | | | |
|---|---|---|---|---|
$media
MD
# Earlier one-off measurements (A/B runs) that this script does not repeat.
if [ -f docs/benchmarks-history.md ]; then printf '\n' >> BENCHMARKS.md; cat docs/benchmarks-history.md >> BENCHMARKS.md; fi
echo "==> BENCHMARKS.md written"
cat BENCHMARKS.md
