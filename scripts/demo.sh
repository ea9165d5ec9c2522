#!/usr/bin/env bash
# The README's demo: builds steadypost, starts the platform simulator and the supervisor with
# every worker (Config/demo.toml plus three simulated accounts), posts a batch across X,
# Mastodon and Bluesky with lost responses injected, kills the posting worker mid-way and
# hangs another worker so you can watch the supervisor restart them, audits the result
# against the simulator's ground truth, posts a 5-part thread whose third part's answer is
# lost (each part once, each answering the one before), and shuts down gracefully. Everything it starts is
# stopped by pid when it ends; its files live in .demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
ensure_packages
ensure_swift
echo "==> building (release)"
swift build -c release --static-swift-stdlib >/dev/null 2>.demo-build.log || { cat .demo-build.log; exit 1; }
rm -f .demo-build.log
bin=$(swift build -c release --show-bin-path)
rm -rf .demo && mkdir -p .demo
config=Config/demo.toml
sock=.demo/run/control.sock
cli() { "$bin/steadypost" "$@" --socket "$sock"; }
# HTTP to the simulator's admin API: http METHOD PATH [JSON]
http() {
  python3 -c 'import sys, urllib.request
req = urllib.request.Request(sys.argv[2], method=sys.argv[1], data=sys.argv[3].encode() if len(sys.argv) > 3 else None)
print(urllib.request.urlopen(req, timeout=10).read().decode())' "$1" "$simurl$2" "${@:3}"
}

echo "==> starting steadypost-sim, the platform simulator (log: .demo/sim.log)"
mkdir -p .demo/credentials && chmod 700 .demo/credentials
SWIFT_BACKTRACE=enable=no "$bin/steadypost-sim" --listen 127.0.0.1:0 --port-file .demo/sim.port --seed 7 \
  --account x:demo-x --account mastodon:demo-mastodon --account bluesky:demo-bluesky \
  --credentials-dir .demo/credentials >.demo/sim.log 2>&1 &
sim=$!
daemon=""
cleanup() {
  if [ -n "$daemon" ] && kill -0 "$daemon" 2>/dev/null; then kill -TERM "$daemon"; wait "$daemon" || true; fi
  if kill -0 "$sim" 2>/dev/null; then kill -TERM "$sim"; wait "$sim" || true; fi
}
trap cleanup EXIT
for _ in $(seq 100); do [ -s .demo/sim.port ] && break; sleep 0.1; done
simurl="http://127.0.0.1:$(cat .demo/sim.port)"
# The demo config, plus one account per platform on the simulator.
config=.demo/demo.toml
cp Config/demo.toml "$config"
for a in x:demo-x mastodon:demo-mastodon bluesky:demo-bluesky; do
  printf '\n[[accounts]]\nname = "%s"\nplatform = "%s"\nbase_url = "%s"\ncredentials = "%s.json"\n' \
    "${a#*:}" "${a%%:*}" "$simurl" "${a#*:}" >>"$config"
done
# --- metrics and replies (issue 6): sample 1 s after posting, read mentions every second ---
python3 - "$config" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
text = text.replace("[workers.metrics]\n", "[workers.metrics]\nschedule = [\"1s\", \"1h\"]\nscan_interval = \"1s\"\n", 1)
text = text.replace("[workers.replies]\n", "[workers.replies]\npoll_interval = \"1s\"\nretry_base_delay = \"1s\"\ntemplate = \"@{author} thanks for asking! (a steadypost demo reply)\"\n", 1)
open(path, "w").write(text)
PY
# --- end of metrics and replies ---
"$bin/steadypostd" check-config --config "$config"
echo "==> starting steadypostd (log: .demo/daemon.log)"
# A release build has no test hooks (STEADYPOST_* test variables make it refuse to start):
# the short posting lease the demo needs is Config/demo.toml's [workers.posting] lease.
SWIFT_BACKTRACE=enable=no "$bin/steadypostd" run --config "$config" >.demo/daemon.log 2>&1 &
daemon=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
"$bin/steadypost" debug wait-ready api --socket "$sock" >/dev/null
for role in posting metrics replies browser reconciler; do "$bin/steadypost" debug wait-ready "$role" --socket "$sock" >/dev/null; done
echo
cli status
echo
echo "==> a batch of 12 posts across the three platforms (one each with an image); the simulator loses the answer to"
echo "    each platform's first create (the post exists, the daemon is not told)"
for p in x mastodon bluesky; do
  http POST /_sim/faults "{\"kind\":\"lose-response\",\"endpoint\":\"create\",\"platform\":\"$p\",\"count\":1}" >/dev/null
done
: >.demo/batch.jsonl
for i in 1 2 3; do
  for a in demo-x demo-mastodon demo-bluesky; do
    printf '{"account":"%s","text":"steadypost demo %s #%s"}\n' "$a" "$a" "$i" >>.demo/batch.jsonl
  done
done
# One post per platform carries an image (a PNG made here; the CLI hands the open file to
# the daemon, which keeps its own copy: the file is deleted right after scheduling).
python3 - <<'PY'
import struct, zlib
def png(path, rgb):
    w = h = 32
    raw = b"".join(b"\x00" + bytes(rgb) * w for _ in range(h))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
import hashlib, json
sums = {}
for name, rgb in (("demo-x", (29, 161, 242)), ("demo-mastodon", (99, 100, 255)), ("demo-bluesky", (0, 133, 255))):
    png(f".demo/{name}.png", rgb)
    sums[f"steadypost demo {name} with an image"] = hashlib.sha256(open(f".demo/{name}.png", "rb").read()).hexdigest()
json.dump(sums, open(".demo/media-sha256.json", "w"))
PY
for a in demo-x demo-mastodon demo-bluesky; do
  printf '{"account":"%s","text":"steadypost demo %s with an image","media":[{"path":".demo/%s.png","alt":"a square in %s blue"}]}\n' \
    "$a" "$a" "$a" "$a" >>.demo/batch.jsonl
done
for a in demo-x demo-mastodon demo-bluesky; do
  grep "\"$a\"" .demo/batch.jsonl | sed 's/"account":"[^"]*",//' >".demo/batch-$a.jsonl"
  cli post --account "$a" --file ".demo/batch-$a.jsonl" >/dev/null
  rm -f ".demo/$a.png"
done
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
echo "==> waiting for every post to be published (lost answers are verified, never re-sent)"
for _ in $(seq 120); do
  left=$(cli jobs --json | python3 -c 'import json,sys; print(sum(1 for j in json.load(sys.stdin) if j["state"] != "posted"))')
  [ "$left" = 0 ] && break
  sleep 1
done
cli jobs
echo
echo "==> audit against the simulator's ground truth"
http GET /_sim/posts | python3 -c '
import json, sys, collections
posts = [p for p in json.load(sys.stdin)["posts"] if p["text"].startswith("steadypost demo")]
counts = collections.Counter(p["text"] for p in posts)
expected = [l for l in open(".demo/batch.jsonl")]
dups = sum(c - 1 for c in counts.values() if c > 1)
lost = len(expected) - len(counts)
print(f"  {len(counts)} posted, {dups} duplicates, {lost} lost (of {len(expected)} scheduled)")
with_media = [p for p in posts if p.get("media")]
want = sum(1 for l in expected if "media" in json.loads(l))
for p in with_media:
    m = p["media"][0]
    print("  %-9s %-44s media: %s, sha256 %s..., alt %r" % (p["platform"], p["text"][:44], m.get("type"), str(m.get("sha256"))[:12], m.get("alt")))
sums = json.load(open(".demo/media-sha256.json"))
intact = sum(1 for p in with_media if [m.get("sha256") for m in p["media"]] == [sums.get(p["text"])])
print("  %d of %d posts with an image carry it, %d with the very bytes scheduled (SHA-256)" % (len(with_media), want, intact))
sys.exit(1 if dups or lost or len(with_media) != want or intact != want else 0)'
# --- threads (issue 16) ---
echo
echo "==> a thread of 5 parts on demo-bluesky, each part answering the one before, 3 s apart; the"
echo "    simulator loses the answer to part 3's create (the part exists, the daemon is not told)"
thread=$(cli thread --account demo-bluesky --gap 3s "demo thread 1/5: why a posting daemon" \
  "demo thread 2/5: a post goes out exactly once" "demo thread 3/5: even when the answer is lost" \
  "demo thread 4/5: the next part waits for the one before" "demo thread 5/5: and answers it")
part() { cli show "$thread" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["posts"][int(sys.argv[1]) - 1]["state"])' "$1"; }
for _ in $(seq 300); do [ "$(part 2)" = posted ] && break; sleep 0.1; done
# Part 2 is posted: part 3 is the account's next create (3 s from now).
http POST /_sim/faults '{"kind":"lose-response","endpoint":"create","platform":"bluesky","account":"demo-bluesky","count":1}' >/dev/null
for _ in $(seq 120); do [ "$(part 5)" = posted ] && break; sleep 1; done
cli show "$thread"
cli show "$thread" --json >.demo/thread.json
http GET "/_sim/posts?account=demo-bluesky" >.demo/thread-truth.json
http GET "/_sim/requests?limit=2000" >.demo/thread-requests.json
cli show "$(python3 -c 'import json; print(json.load(open(".demo/thread.json"))["posts"][2]["id"])')" --json >.demo/thread-part3.json
python3 - <<'PY'
import json, sys
thread = json.load(open(".demo/thread.json"))
truth = [p for p in json.load(open(".demo/thread-truth.json"))["posts"] if p["text"].startswith("demo thread ")]
creates = [r for r in json.load(open(".demo/thread-requests.json"))["requests"]
           if r["path"].endswith("createRecord") and r.get("account") == "demo-bluesky"]
parts = sorted(thread["posts"], key=lambda p: p["thread_position"])
live = [[t for t in truth if t["text"].startswith("demo thread %d/5:" % k)] for k in range(1, len(parts) + 1)]
once = sum(1 for copies in live if len(copies) == 1)
chained = all(len(live[k]) == 1 and len(live[k - 1]) == 1 and live[k][0]["in_reply_to"] == live[k - 1][0]["id"]
              and live[k][0]["created_at_ms"] >= live[k - 1][0]["created_at_ms"] for k in range(1, len(live)))
stored = all(p["state"] == "posted" and len(c) == 1 and p["platform_id"] == c[0]["id"] for p, c in zip(parts, live))
for k, copies in enumerate(live, 1):
    for c in copies:
        print("  part %d %s in reply to %s" % (k, c["id"], c["in_reply_to"] or "-"))
third = live[2][0] if len(live) > 2 and len(live[2]) == 1 else None
sent = [r for r in creates if third and r.get("rkey") == third.get("rkey")]
lost = [r for r in sent if r.get("fault") == "lose-response" and not r.get("responded", True)]
print("  part 3: %d create%s sent, %d answer%s lost; the store has %s" % (
    len(sent), "" if len(sent) == 1 else "s", len(lost), "" if len(lost) == 1 else "s", parts[2]["platform_id"] if len(parts) > 2 else "-"))
attempts = json.load(open(".demo/thread-part3.json")).get("attempt_log", [])
for a in attempts:
    detail = a.get("detail") or ""
    # The error as it came (up to its dash), then what verification found.
    short = detail.split(" — ")[0] + (" … " + detail.split("; ")[-1] if "; " in detail else "")
    print("  part 3 attempt #%s: %s%s" % (a["number"], a.get("outcome") or "in progress", ": " + short if short else ""))
ok = once == len(parts) and chained and stored and len(sent) == 1 and len(lost) == 1 and len(attempts) == 1
if ok:
    print("thread: %d of %d parts live, each answering the one before, part 3 once (its answer was lost and verified)" % (once, len(parts)))
else:
    print("thread: %d of %d parts live once, chained: %s, store agrees: %s, part 3 creates %d with %d lost answer(s)" % (
        once, len(parts), chained, stored, len(sent), len(lost)))
sys.exit(0 if ok else 1)
PY
# --- end of threads ---
# --- metrics and replies (issue 6) ---
echo
echo "==> metrics arriving: the simulator adds likes to a Mastodon post; an operator's"
echo "    metrics.scrape samples it now (the schedule also samples it 1 s after posting)"
read -r post status_id < <(cli jobs --json | python3 -c '
import json, sys
j = [j for j in json.load(sys.stdin) if j["account"] == "demo-mastodon" and j["state"] == "posted"][0]
print(j["id"], j["platform_id"])')
http POST /_sim/metrics "{\"account\":\"demo-mastodon\",\"id\":\"$status_id\",\"likes\":12,\"reposts\":4}" >/dev/null
for _ in $(seq 60); do
  cli debug call metrics.scrape "{\"post_id\":\"$post\"}" >/dev/null 2>&1 || true
  likes=$(cli debug call metrics.show "{\"post_id\":\"$post\"}" 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin).get("samples", [])
print(max([x["likes"] for x in s], default=0))' || echo 0)
  [ "$likes" = 12 ] && break
  sleep 1
done
cli debug call metrics.show "{\"post_id\":\"$post\"}" | python3 -c '
import json, sys
j = json.load(sys.stdin)
print("  post %s: state %s, next step %s" % (j["post_id"], j["state"], j["step"]))
for s in j["samples"]:
    print("    step %s via %s: %s likes, %s reposts, %s replies" % (s["step"], s["source"], s["likes"], s["reposts"], s["replies"]))'
echo
echo "==> a mention answered: @alice mentions demo-mastodon; the replies worker decides to"
echo "    answer, enqueues the reply through the posting worker, which publishes it once"
http POST /_sim/mentions '{"account":"demo-mastodon","from":"alice","text":"what is steadypost?"}' >/dev/null
for _ in $(seq 60); do
  replies=$(http GET "/_sim/posts?account=demo-mastodon" | python3 -c '
import json, sys
print(sum(1 for p in json.load(sys.stdin)["posts"] if p.get("in_reply_to")))')
  [ "$replies" -ge 1 ] && break
  sleep 1
done
http GET "/_sim/posts?account=demo-mastodon" | python3 -c '
import json, sys
for p in json.load(sys.stdin)["posts"]:
    if p.get("in_reply_to"):
        print("  on the platform: %r in reply to %s" % (p["text"], p["in_reply_to"]))'
cli debug call replies.mentions '{"account":"demo-mastodon"}' | python3 -c '
import json, sys
for m in json.load(sys.stdin)["mentions"]:
    print("  mention %s from @%s: %s (reply post %s)" % (m["mention_id"], m["author"], m["decision"], m["reply_post_id"]))'
# --- end of metrics and replies ---
echo
cli status
echo
echo "==> what the supervisor logged:"
grep -E "steadypostd\[[0-9]+\]: (ERROR|WARNING|NOTICE)" .demo/daemon.log | sed 's/^/  /'
echo
# ---- the operator surface (issue 7, the api worker): the dashboard and the health figures ----
api=$(python3 -c 'import re,sys; print(re.search(r"^listen = \"([^\"]+)\"", open(sys.argv[1]).read(), re.M).group(1))' "$config")
echo "==> the dashboard: http://$api/   (metrics: http://$api/metrics, health: http://$api/health)"
token=$(cli token create demo)
echo "==> schedule one more post through the HTTP API (token from \`steadypost token create demo\`)"
curl -sS -X POST "http://$api/api/posts" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"account": "demo-mastodon", "text": "scheduled through the HTTP API"}'
echo
if command -v chromium >/dev/null 2>&1; then
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1100,1700 \
    --screenshot=.demo/dashboard.png "http://$api/" >/dev/null 2>&1 && echo "==> dashboard screenshot: .demo/dashboard.png"
fi
echo "==> the health figures (steadypost health; exit 0 healthy, 1 degraded, 2 unhealthy)"
cli health || true
echo
# ---- end of the operator surface block ----

echo "==> SIGTERM: every worker drains, in reverse start order"
kill -TERM "$daemon"
wait "$daemon" && echo "steadypostd exited 0"
daemon=""
kill -TERM "$sim"
wait "$sim" || true
trap - EXIT
