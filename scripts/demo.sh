#!/usr/bin/env bash
# The README's demo: builds steadypost, starts the supervisor with every worker on
# Config/demo.toml, shows `steadypost status`, then kills a worker and hangs another so you
# can watch the supervisor restart them, and shuts down gracefully. Everything it starts is
# stopped by pid when it ends; its files live in .demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
ensure_packages
ensure_swift
echo "==> building (release)"
swift build -c release >/dev/null 2>.demo-build.log || { cat .demo-build.log; exit 1; }
rm -f .demo-build.log
bin=$(swift build -c release --show-bin-path)
rm -rf .demo && mkdir -p .demo
config=Config/demo.toml
sock=.demo/run/control.sock
cli() { "$bin/steadypost" "$@" --socket "$sock"; }

"$bin/steadypostd" check-config --config "$config"
echo "==> starting steadypostd (log: .demo/daemon.log)"
SWIFT_BACKTRACE=enable=no "$bin/steadypostd" run --config "$config" >.demo/daemon.log 2>&1 &
daemon=$!
cleanup() {
  if kill -0 "$daemon" 2>/dev/null; then kill -TERM "$daemon"; wait "$daemon" || true; fi
}
trap cleanup EXIT
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
"$bin/steadypost" debug wait-ready api --socket "$sock" >/dev/null
for role in posting metrics replies browser reconciler; do "$bin/steadypost" debug wait-ready "$role" --socket "$sock" >/dev/null; done
echo
cli status
echo
victim=$(cli status --json | python3 -c 'import json,sys; print([w["pid"] for w in json.load(sys.stdin)["workers"] if w["role"]=="posting"][0])')
echo "==> SIGKILL the posting worker (pid $victim); the others keep running"
kill -KILL "$victim"
cli debug wait-ready posting --not-pid "$victim"
echo
echo "==> the replies worker stops its loop (fault injection); the supervisor notices the"
echo "    missing heartbeats, sends SIGTERM, then SIGKILL, and starts a new one (about 5 s)"
old=$(cli status --json | python3 -c 'import json,sys; print([w["pid"] for w in json.load(sys.stdin)["workers"] if w["role"]=="replies"][0])')
cli debug fault replies hang
cli debug wait-ready replies --not-pid "$old"
echo
cli status
echo
echo "==> what the supervisor logged:"
grep -E "steadypostd\[[0-9]+\]: (ERROR|WARNING|NOTICE)" .demo/daemon.log | sed 's/^/  /'
echo
echo "==> SIGTERM: every worker drains, in reverse start order"
kill -TERM "$daemon"
wait "$daemon" && echo "steadypostd exited 0"
trap - EXIT
