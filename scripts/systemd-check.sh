#!/usr/bin/env bash
# systemd-check.sh BUILD_DIR OUT_DIR
#
# Boots real systemd in a throw-away container (systemd-nspawn on the host's own /, with
# --volatile=yes so nothing persists) and checks units/steadypost.service for real:
#   a. `systemctl start` returns once the daemon sent READY=1 (Type=notify);
#   b. `steadypost status --json` answers on the control socket;
#   c. a SIGKILLed posting worker is replaced by the supervisor (new pid, state running);
#   d. a frozen supervisor (SIGSTOP: no more WATCHDOG=1) is killed by systemd's watchdog and
#      restarted (NRestarts >= 1, new MainPID, active again);
#   e. the posting worker's journal lines carry SYSLOG_IDENTIFIER=steadypost-posting and
#      nothing from anyone else.
# Also recorded, not required to pass: LoadCredential= delivery, control-socket access for an
# operator in the steadypost group, leftovers of the killed process tree, how the watchdog
# kill happened, `systemctl stop` (clean and within TimeoutStopSec=), and socket activation
# through units/steadypost.socket (when present).
# BUILD_DIR holds the built `steadypostd` and `steadypost` (e.g. .build/debug); it is bound
# read-only at /opt/steadypost. OUT_DIR receives the evidence: `result` (key=value lines),
# systemctl and status snapshots, journal exports, the container console and the check log.
#
# Exit status: 0 when every check passed, 1 when one failed (or the run overran), 77 when
# systemd-nspawn is not installed (skip), 2 on bad usage.
# Environment: STEADYPOST_UNIT (default: units/steadypost.service next to this script),
# STEADYPOST_CHECK_TIMEOUT (default 120 seconds, the bound on the whole container run).
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 BUILD_DIR OUT_DIR" >&2
    exit 2
fi
if ! command -v systemd-nspawn >/dev/null 2>&1; then
    echo "skip: systemd-nspawn is not installed (apt-get install systemd-container)"
    exit 77
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "systemd-check: systemd-nspawn needs root" >&2
    exit 1
fi

build_dir=$(realpath "$1")
mkdir -p "$2"
out_dir=$(realpath "$2")
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
unit=${STEADYPOST_UNIT:-$script_dir/../units/steadypost.service}
socket_unit=${STEADYPOST_SOCKET_UNIT:-$(dirname "$unit")/steadypost.socket}
run_timeout=${STEADYPOST_CHECK_TIMEOUT:-120}

for exe in steadypostd steadypost; do
    if [[ ! -x $build_dir/$exe ]]; then
        echo "systemd-check: $build_dir/$exe is missing; build first" >&2
        exit 1
    fi
done
if [[ ! -r $unit ]]; then
    echo "systemd-check: unit file $unit not found" >&2
    exit 1
fi

tmp=$(mktemp -d /tmp/steadypost-systemd-check.XXXXXX)
nspawn_pid=""
timer_pid=""

# The container's PID 1 (and with it every process of the container) by pid: the children of
# the nspawn process, never anything found by name.
kill_machine() {
    local pid=$1 child
    [[ -n $pid ]] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do
            kill -KILL "$child" 2>/dev/null || true
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
}

stop_timer() {
    [[ -n $timer_pid ]] || return 0
    kill -KILL "$timer_pid" 2>/dev/null || true
    wait "$timer_pid" 2>/dev/null || true
    timer_pid=""
}

cleanup() {
    stop_timer
    kill_machine "$nspawn_pid"
    rm -rf -- "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# OUT_DIR is ours: empty, or left by an earlier run (marker file), whose files go first.
if [[ -e $out_dir/.steadypost-systemd-check ]]; then
    (cd "$out_dir" && rm -f -- result duration steadypost.service.container console.log check.log \
        status-errors.txt worker-pids.txt identifiers.txt posting.json posting.txt unit.json \
        unit.txt boot.txt a-show.txt a-credentials.txt b-status.json b2-operator-status.json \
        b2-operator-errors.txt c-status.json d-show.txt d-status.json d-systemctl-status.txt \
        g-show.txt g-stop-journal.txt h-socket.txt h-status.json h-status-2.json h-show.txt)
elif [[ -n $(ls -A "$out_dir") ]]; then
    echo "systemd-check: $out_dir is not empty; give an empty or new directory" >&2
    exit 2
fi
touch "$out_dir/.steadypost-systemd-check"

# --- the unit as the container runs it ------------------------------------------------------
# Same unit, three changes: the binary from the bound build dir, a 3 s watchdog and a 2 s abort
# timeout so the watchdog check takes seconds, not a minute.
mkdir -p "$tmp/system" "$tmp/etc-steadypost/credentials" "$tmp/check"
sed -e 's#^ExecStart=[^ ]*steadypostd\b#ExecStart=/opt/steadypost/steadypostd#' \
    -e '/^WatchdogSec=/d' -e '/^TimeoutAbortSec=/d' \
    -e '/^ExecStart=/a WatchdogSec=3s\nTimeoutAbortSec=2s' \
    "$unit" > "$tmp/system/steadypost.service"
grep -q '^ExecStart=/opt/steadypost/steadypostd ' "$tmp/system/steadypost.service" ||
    { echo "systemd-check: could not rewrite ExecStart= in $unit" >&2; exit 1; }
cp "$tmp/system/steadypost.service" "$out_dir/steadypost.service.container"

# The static user the unit names, created at boot by systemd-sysusers as a package would, and
# an operator account in its group (for the control-socket access check).
cat > "$tmp/sysusers.conf" <<'EOF'
u steadypost - "steadypost daemon" /var/lib/steadypost
u steadyop - "steadypost operator (test)" /
m steadyop steadypost
EOF

# A test config: every worker but the browser (no Chromium needed for these checks), quick
# heartbeats, no accounts.
cat > "$tmp/etc-steadypost/steadypost.toml" <<'EOF'
[daemon]
state_dir = "/var/lib/steadypost"
runtime_dir = "/run/steadypost"
credentials_dir = "/etc/steadypost/credentials"
control_group = "steadypost"

[api]
listen = "127.0.0.1:0"

[workers.posting]
heartbeat_interval = "500ms"
hang_timeout = "5s"

[workers.metrics]
heartbeat_interval = "500ms"
hang_timeout = "5s"

[workers.replies]
heartbeat_interval = "500ms"
hang_timeout = "5s"

[workers.reconciler]
heartbeat_interval = "500ms"
hang_timeout = "5s"

[workers.api]
heartbeat_interval = "500ms"
hang_timeout = "5s"

[workers.browser]
enabled = false
EOF
# A credential file, so LoadCredential= has something to hand over (checked in step a).
echo '{"access_token": "container-test-token"}' > "$tmp/etc-steadypost/credentials/sim-x.json"
chmod 0700 "$tmp/etc-steadypost/credentials"
chmod 0600 "$tmp/etc-steadypost/credentials/sim-x.json"
chmod 0644 "$tmp/etc-steadypost/steadypost.toml"

# --- the check, run by systemd inside the container ----------------------------------------
cat > "$tmp/check/check.service" <<'EOF'
[Unit]
Description=steadypost systemd check
# Whatever happens, the machine goes down when the check ends.
SuccessAction=poweroff
FailureAction=poweroff

[Service]
Type=oneshot
Environment=BUDGET=@BUDGET@
ExecStart=/bin/bash /etc/steadypost-check/check.sh
TimeoutStartSec=@CHECK_TIMEOUT@
StandardOutput=journal+console
StandardError=journal+console
EOF

cat > "$tmp/check/check.sh" <<'EOF'
#!/bin/bash
# Runs inside the container as check.service. Every wait is a bounded poll.
set -u
OUT=/srv/out
SOCK=/run/steadypost/control.sock
CLI=/opt/steadypost/steadypost
exec > "$OUT/check.log" 2>&1

t0=$(date +%s.%N)
log() { printf '[%6.2fs] %s\n' "$(echo "$(date +%s.%N) - $t0" | bc)" "$*"; }
show() { systemctl show -p ActiveState,SubState,NRestarts,MainPID,StatusText,Result steadypost.service; }
prop() { systemctl show -P "$1" steadypost.service; }
status_json() { timeout "$(cap 5)" "$CLI" status --json --socket "$SOCK" 2>>"$OUT/status-errors.txt"; }
# worker_field ROLE FIELD FILE
if command -v jq >/dev/null 2>&1; then
    worker_field() { jq -r --arg r "$1" --arg f "$2" '.workers[] | select(.role == $r) | .[$f] // empty' "$3" 2>/dev/null | head -n1; }
else
    worker_field() { python3 -c 'import json,sys
r,f,p=sys.argv[1:4]
try: ws=json.load(open(p))["workers"]
except Exception: sys.exit(0)
print(next((str(w.get(f,"")) for w in ws if w.get("role")==r),""))' "$1" "$2" "$3"; }
fi
# every "role pid" pair of a status snapshot
worker_pids() { python3 -c 'import json,sys
try: ws=json.load(open(sys.argv[1]))["workers"]
except Exception: sys.exit(0)
for w in ws:
    if w.get("pid"): print(w["role"], w["pid"])' "$1"; }
now() { date +%s%N; }
# One budget for all steps, so the journal and the result are always written well inside the
# host's bound on the whole container run (BUDGET seconds, passed in by the host script).
budget_end=$(( $(now) + BUDGET * 1000000000 ))
# cap N: N seconds, or what is left of the budget if less (at least 1).
cap() {
    local left=$(( (budget_end - $(now)) / 1000000000 ))
    (( left < 1 )) && left=1
    echo $(( $1 < left ? $1 : left ))
}
deadline_in() { echo $(( $(now) + $(cap "$1") * 1000000000 )); }

ready=no restarted_worker=no watchdog_restart=no
nrestarts=0 posting_lines=0 foreign_lines_in_posting=-1
credentials=no operator_access=no stale_workers=-1 stop_clean=no stop_seconds=-1
socket_activation=skipped socket_kept_on_stop=skipped watchdog_timeout_logged=0 notify_rejected=0
start_seconds=-1 worker_restart_seconds=-1 watchdog_restart_seconds=-1

# a. start: for Type=notify, systemctl start returns once READY=1 arrived.
log "a. systemctl start steadypost.service"
s=$(now)
if timeout "$(cap 30)" systemctl start steadypost.service; then
    start_seconds=$(echo "scale=2; ($(now) - $s) / 1000000000" | bc)
    show > "$OUT/a-show.txt"
    if [[ $(prop ActiveState) == active && $(prop SubState) == running ]]; then ready=yes; fi
else
    log "systemctl start failed (rc $?)"
    show > "$OUT/a-show.txt"
fi
cat "$OUT/a-show.txt"
# The credentials systemd handed over (names only: never the contents).
ls -l "/run/credentials/steadypost.service/" > "$OUT/a-credentials.txt" 2>&1
[[ -e /run/credentials/steadypost.service/accounts_sim-x.json ]] && credentials=yes
log "ready=$ready in ${start_seconds}s"

# b. status over the control socket.
log "b. steadypost status --json"
if [[ $ready == yes ]]; then
    d=$(deadline_in 10)
    until status_json > "$OUT/b-status.json" && [[ -n $(worker_field posting pid "$OUT/b-status.json") ]]; do
        (( $(now) < d )) || break
        sleep 0.2
    done
    cat "$OUT/b-status.json"; echo
fi

# b2. an operator (member of the steadypost group, not root) may use the control socket.
if [[ $ready == yes ]]; then
    if timeout "$(cap 5)" setpriv --reuid=steadyop --regid=steadyop --init-groups \
        "$CLI" status --json --socket "$SOCK" > "$OUT/b2-operator-status.json" 2> "$OUT/b2-operator-errors.txt"; then
        operator_access=yes
    fi
    log "operator_access=$operator_access"
fi

# c. SIGKILL the posting worker; the supervisor must replace it.
old_pid=$(worker_field posting pid "$OUT/b-status.json" 2>/dev/null)
if [[ -n $old_pid && $old_pid != 0 && $old_pid != null ]]; then
    log "c. kill -KILL posting worker $old_pid"
    s=$(now)
    kill -KILL "$old_pid"
    d=$(deadline_in 10)
    while (( $(now) < d )); do
        if status_json > "$OUT/c-status.json"; then
            new_pid=$(worker_field posting pid "$OUT/c-status.json")
            state=$(worker_field posting state "$OUT/c-status.json")
            if [[ -n $new_pid && $new_pid != "$old_pid" && $new_pid != 0 && $state == running ]]; then
                restarted_worker=yes
                worker_restart_seconds=$(echo "scale=2; ($(now) - $s) / 1000000000" | bc)
                break
            fi
        fi
        sleep 0.2
    done
    cat "$OUT/c-status.json"; echo
    log "restarted_worker=$restarted_worker in ${worker_restart_seconds}s"
else
    log "c. skipped: no posting pid in the status"
fi

# d. freeze the supervisor: its WATCHDOG=1 pings stop, systemd must kill and restart it.
main_pid=$(prop MainPID)
nr0=$(prop NRestarts)
if [[ $ready == yes && -n $main_pid && $main_pid != 0 ]]; then
    log "d. kill -STOP supervisor $main_pid (NRestarts=$nr0)"
    s=$(now)
    kill -STOP "$main_pid"
    d=$(deadline_in 15)
    while (( $(now) < d )); do
        if (( $(prop NRestarts) > nr0 )) && [[ $(prop ActiveState) == active && $(prop SubState) == running ]] &&
           [[ $(prop MainPID) != "$main_pid" && $(prop MainPID) != 0 ]]; then
            watchdog_restart=yes
            watchdog_restart_seconds=$(echo "scale=2; ($(now) - $s) / 1000000000" | bc)
            break
        fi
        sleep 0.2
    done
    show > "$OUT/d-show.txt"
    cat "$OUT/d-show.txt"
    log "watchdog_restart=$watchdog_restart in ${watchdog_restart_seconds}s"
    if [[ $watchdog_restart == yes ]]; then
        # Nothing of the old process tree may survive: every worker pid seen before is gone.
        d=$(deadline_in 10)
        until status_json > "$OUT/d-status.json" && [[ $(worker_field posting state "$OUT/d-status.json") == running ]]; do
            (( $(now) < d )) || break
            sleep 0.2
        done
        stale_workers=0
        for f in "$OUT/b-status.json" "$OUT/c-status.json"; do
            [[ -s $f ]] || continue
            while read -r role pid; do
                if [[ -d /proc/$pid ]] && ! grep -qw "$pid" "$OUT/d-status.json"; then
                    stale_workers=$((stale_workers + 1))
                    log "stale: $role worker $pid still alive: $(tr '\0' ' ' < "/proc/$pid/cmdline")"
                fi
            done < <(worker_pids "$f")
        done
        if [[ -d /proc/$main_pid ]]; then
            stale_workers=$((stale_workers + 1))
            log "stale: old supervisor $main_pid still alive"
        fi
    fi
else
    log "d. skipped: service not running"
fi
nrestarts=$(prop NRestarts)
systemctl status --no-pager -l steadypost.service > "$OUT/d-systemctl-status.txt" 2>&1

# g. an orderly stop: SIGTERM to the supervisor alone (KillMode=mixed), which drains its
# workers itself; systemd must not have to SIGKILL anything.
if [[ $(prop ActiveState) == active ]]; then
    log "g. systemctl stop steadypost.service"
    cursor=$(journalctl -n0 --show-cursor -q | sed -n 's/^-- cursor: //p')
    s=$(now)
    timeout "$(cap 25)" systemctl stop steadypost.service
    stop_seconds=$(echo "scale=2; ($(now) - $s) / 1000000000" | bc)
    show > "$OUT/g-show.txt"
    journalctl --no-pager -o short-precise --after-cursor="$cursor" > "$OUT/g-stop-journal.txt"
    if [[ $(prop ActiveState) == inactive && $(prop Result) == success ]] &&
       ! grep -q -E "timed out|with signal SIGKILL" "$OUT/g-stop-journal.txt"; then
        stop_clean=yes
    fi
    log "stop_clean=$stop_clean in ${stop_seconds}s"
fi

# h. socket activation: systemd owns control.sock; the first client starts the daemon, which
# takes the socket from LISTEN_FDS; a stop leaves the socket in place.
if [[ -e /etc/systemd/system/steadypost.socket ]] && (( $(cap 30) >= 30 )); then
    log "h. socket activation"
    socket_activation=no socket_kept_on_stop=no
    if timeout "$(cap 10)" systemctl start steadypost.socket; then
        ls -l "$SOCK" > "$OUT/h-socket.txt" 2>&1
        # The client's connection waits in the backlog while systemd starts the daemon (which
        # may answer before it has sent READY=1: wait for "active" too).
        if timeout "$(cap 15)" "$CLI" status --json --socket "$SOCK" > "$OUT/h-status.json" 2>> "$OUT/status-errors.txt"; then
            d=$(deadline_in 15)
            until [[ $(prop ActiveState) == active ]] || (( $(now) >= d )); do sleep 0.2; done
            if [[ $(prop ActiveState) == active ]] &&
               tr '\0' '\n' < "/proc/$(prop MainPID)/environ" | grep -q '^LISTEN_FDNAMES=control$'; then
                socket_activation=yes
            fi
        fi
        show > "$OUT/h-show.txt"
        timeout "$(cap 20)" systemctl stop steadypost.service
        ls -l "$SOCK" >> "$OUT/h-socket.txt" 2>&1
        if [[ -S $SOCK ]] && timeout "$(cap 15)" "$CLI" status --json --socket "$SOCK" > "$OUT/h-status-2.json" 2>> "$OUT/status-errors.txt"; then
            socket_kept_on_stop=yes
        fi
        timeout "$(cap 20)" systemctl stop steadypost.socket steadypost.service
    fi
    log "socket_activation=$socket_activation socket_kept_on_stop=$socket_kept_on_stop"
fi

# e. the journal: one identifier per worker.
log "e. journal"
timeout 10 journalctl --sync 2>/dev/null || true
journalctl --no-pager -t steadypost-posting -o json > "$OUT/posting.json"
journalctl --no-pager -t steadypost-posting -o cat > "$OUT/posting.txt"
journalctl --no-pager -u steadypost.service -o json > "$OUT/unit.json"
journalctl --no-pager -u steadypost.service -o short-precise > "$OUT/unit.txt"
journalctl --no-pager -b -o short-precise > "$OUT/boot.txt"
posting_lines=$(grep -c . "$OUT/posting.json")
# Foreign: an entry under the posting identifier that another process wrote: another worker's
# pid (from any status snapshot), another identifier, or a line naming another role.
for f in "$OUT"/b-status.json "$OUT"/c-status.json "$OUT"/d-status.json "$OUT"/h-status.json "$OUT"/h-status-2.json; do
    [[ -s $f ]] && worker_pids "$f"
done | sort -u > "$OUT/worker-pids.txt"
for f in "$OUT"/a-show.txt "$OUT"/d-show.txt "$OUT"/h-show.txt; do
    [[ -s $f ]] && sed -n 's/^MainPID=\([1-9][0-9]*\)$/supervisor \1/p' "$f"
done >> "$OUT/worker-pids.txt"
foreign_lines_in_posting=$(python3 - "$OUT/posting.json" "$OUT/worker-pids.txt" <<'PY'
import json, re, sys
others = {}
for line in open(sys.argv[2]):
    role, pid = line.split()
    if role != "posting":
        others[pid] = role
roles = "metrics|replies|browser|reconciler|api"
marker = re.compile(r"\b(role|worker)=\"?(%s)\b|steadypost-(%s)\b|^(%s)\[\d+\]:" % (roles, roles, roles))
foreign = 0
for line in open(sys.argv[1]):
    e = json.loads(line)
    msg = e.get("MESSAGE", "")
    if isinstance(msg, list):
        msg = bytes(msg).decode("utf-8", "replace")
    if (e.get("SYSLOG_IDENTIFIER") != "steadypost-posting" or e.get("_PID") in others
            or marker.search(msg)):
        foreign += 1
        print("foreign:", e.get("_PID"), e.get("SYSLOG_IDENTIFIER"), msg[:200], file=sys.stderr)
print(foreign)
PY
)
jq -r '.SYSLOG_IDENTIFIER // "-"' "$OUT/unit.json" 2>/dev/null | sort | uniq -c > "$OUT/identifiers.txt"
cat "$OUT/identifiers.txt"
watchdog_timeout_logged=$(grep -c 'Watchdog timeout' "$OUT/boot.txt")
# How the frozen supervisor died: systemd sends SIGABRT (+SIGCONT), so a stopped process dies
# of it at once ("abrt"); if something kept it alive (Swift's backtracer does, unless
# SWIFT_BACKTRACE=enable=no), TimeoutAbortSec= ends it with SIGKILL ("abort-timeout").
if grep -q "stop-watchdog' timed out" "$OUT/boot.txt"; then
    watchdog_kill=abort-timeout
elif grep -q 'Main process exited, code=killed, status=6/ABRT' "$OUT/boot.txt"; then
    watchdog_kill=abrt
elif grep -q 'Main process exited, code=dumped, status=6/ABRT' "$OUT/boot.txt"; then
    watchdog_kill=abrt-dumped
else
    watchdog_kill=none
fi
notify_rejected=$(grep -c 'reception only permitted for main PID' "$OUT/boot.txt")

cat > "$OUT/result" <<RES
ready=$ready
restarted_worker=$restarted_worker
watchdog_restart=$watchdog_restart
nrestarts=$nrestarts
posting_lines=$posting_lines
foreign_lines_in_posting=$foreign_lines_in_posting
credentials=$credentials
operator_access=$operator_access
stop_clean=$stop_clean
stop_seconds=$stop_seconds
socket_activation=$socket_activation
socket_kept_on_stop=$socket_kept_on_stop
stale_workers=$stale_workers
watchdog_timeout_logged=$watchdog_timeout_logged
watchdog_kill=$watchdog_kill
notify_rejected=$notify_rejected
start_seconds=$start_seconds
worker_restart_seconds=$worker_restart_seconds
watchdog_restart_seconds=$watchdog_restart_seconds
RES
log "f. done; powering off"
cat "$OUT/result"
sync
# `systemctl poweroff` asks logind first (absent here: "Failed to connect to bus"), then starts
# poweroff.target; start it directly. check.service's SuccessAction= is the backstop.
systemctl --no-block --job-mode=replace-irreversibly start poweroff.target
exit 0
EOF
chmod 0755 "$tmp/check/check.sh"
# Steps get the run's bound less 25 s (boot, journal export, poweroff, slack); check.service
# itself is stopped 10 s before the host gives up.
budget=$(( run_timeout > 45 ? run_timeout - 25 : 20 ))
sed -i -e "s/@BUDGET@/$budget/" -e "s/@CHECK_TIMEOUT@/$(( run_timeout > 20 ? run_timeout - 10 : 10 ))s/" \
    "$tmp/check/check.service"

# --- boot ------------------------------------------------------------------------------------
binds=(
    --bind-ro="$build_dir:/opt/steadypost"
    --bind="$out_dir:/srv/out"
    --bind-ro="$tmp/system/steadypost.service:/etc/systemd/system/steadypost.service"
    --bind-ro="$tmp/check/check.service:/etc/systemd/system/check.service"
    --bind-ro="$tmp/check:/etc/steadypost-check"
    --bind-ro="$tmp/etc-steadypost:/etc/steadypost"
    --bind-ro="$tmp/sysusers.conf:/etc/sysusers.d/steadypost.conf"
)
if [[ -r $socket_unit ]]; then
    binds+=(--bind-ro="$(realpath "$socket_unit"):/etc/systemd/system/steadypost.socket")
fi
# The Swift runtime the binaries link against, wherever the toolchain lives.
for dir in /opt/swift /usr/share/swift; do
    [[ -d $dir ]] && binds+=(--bind-ro="$dir")
done

echo "systemd-check: booting systemd in a container (bound: ${run_timeout}s)"
started=$(date +%s%N)
systemd-nspawn -D / --volatile=yes --register=no --keep-unit --console=read-only \
    --machine="steadypost-check-$$" "${binds[@]}" \
    -b systemd.firstboot=off systemd.unit=check.service \
    > "$out_dir/console.log" 2>&1 &
nspawn_pid=$!
# The bound: past it, SIGTERM asks nspawn to halt the container, and 10 s later the machine
# dies by pid. The timers are plain `sleep` children waited on together with nspawn (`wait -n`),
# and killed with SIGKILL: a parent may hand this script a signal mask that blocks SIGTERM
# (Foundation's Process does), so nothing relies on SIGTERM reaching a shell.
rc=0
timer_pid=""
await_nspawn() {   # await_nspawn SECONDS: 0 once nspawn exited (rc set), 1 if the time ran out
    local done_pid="" status=0
    sleep "$1" &
    timer_pid=$!
    wait -n -p done_pid "$nspawn_pid" "$timer_pid" || status=$?
    if [[ $done_pid == "$nspawn_pid" ]]; then
        rc=$status
        nspawn_pid=""
        stop_timer
        return 0
    fi
    timer_pid=""
    return 1
}
if ! await_nspawn "$run_timeout"; then
    echo "systemd-check: overran ${run_timeout}s; halting the container" | tee -a "$out_dir/console.log" >&2
    kill -TERM "$nspawn_pid" 2>/dev/null || true
    if ! await_nspawn 10; then
        kill_machine "$nspawn_pid"
        wait "$nspawn_pid" 2>/dev/null || true
        nspawn_pid=""
    fi
    rc=124
fi
elapsed=$(( ($(date +%s%N) - started) / 1000000 ))
echo "systemd-check: container ran ${elapsed} ms (systemd-nspawn exit $rc)"
echo "duration_ms=$elapsed" > "$out_dir/duration"

if [[ ! -s $out_dir/result ]]; then
    echo "systemd-check: FAILED: no result file; the check did not finish. Console tail:" >&2
    tail -n 40 "$out_dir/console.log" >&2
    [[ -s $out_dir/check.log ]] && { echo "--- check.log" >&2; tail -n 40 "$out_dir/check.log" >&2; }
    exit 1
fi

echo "--- $out_dir/result"
cat "$out_dir/result"
value() { sed -n "s/^$1=//p" "$out_dir/result" | head -n1; }
failed=()
[[ $(value ready) == yes ]] || failed+=("ready")
[[ $(value restarted_worker) == yes ]] || failed+=("restarted_worker")
[[ $(value watchdog_restart) == yes ]] || failed+=("watchdog_restart")
(( $(value nrestarts) >= 1 )) || failed+=("nrestarts")
(( $(value posting_lines) > 0 )) || failed+=("posting_lines")
[[ $(value foreign_lines_in_posting) == 0 ]] || failed+=("foreign_lines_in_posting")
if (( ${#failed[@]} > 0 )); then
    echo "systemd-check: FAILED: ${failed[*]} (evidence in $out_dir)" >&2
    exit 1
fi
echo "systemd-check: passed"
exit 0
