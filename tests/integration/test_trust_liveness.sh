#!/usr/bin/env bash
# test_trust_liveness.sh - a process is alive while it runs, whether or not
# its pid can be seen.
#
# Containers that share /dev/shm (docs/fleet.md) share a domain but not a
# PID namespace: a holder's recorded pid is invisible in the other
# namespace, or belongs to someone else there. `faultline ps`/`stats` and
# the shim's own reapers (a connect that finds the bulkhead full reaps dead
# holders) must still see the holder alive - by the liveness token it
# holds (procreg.h) - and give its slot back once it really ends.
#
#   1. holder inside a new PID namespace (unshare --pid --fork
#      --mount-proc), everything else outside: ps shows it alive, stats
#      keep active at 1, and a 2nd connection under the shim is refused
#      (its reaper did not take the slot); after the holder is killed the
#      slot is reclaimed (active 0, polled with a bound);
#   2. the reverse: the holder outside, ps/stats run inside a namespace.
. "$FL_TOP/tests/integration/lib.sh"
[ -x "$CLI" ] || fail "no CLI at $CLI"
need_build
need_cmd unshare timeout
[ "$(id -u)" = 0 ] || skip "unshare --pid needs root (or user namespaces); running as uid $(id -u)"
unshare --pid --fork --mount-proc true 2>/dev/null ||
	skip "unshare --pid --fork --mount-proc is not permitted here: $(unshare --pid --fork --mount-proc true 2>&1)"

start_server sink sink tcp4
PORT=$SERVER_PORT
DEST="127.0.0.1:$PORT"
RULES="$DEST bulkhead max_concurrent_requests=1 max_queue_size=0"
export FAULTLINE_RULES=$RULES

# The holder: connects under the shim, says so, holds until killed or until
# the release file appears (bounded: 60 s).
HOLD='
import os, socket, sys, time
ready, release = sys.argv[1], sys.argv[2]
s = socket.create_connection(("127.0.0.1", int(sys.argv[3])), timeout=10)
open(ready + ".tmp", "w").write(str(os.getpid()))
os.rename(ready + ".tmp", ready)
deadline = time.monotonic() + 60
while not os.path.exists(release) and time.monotonic() < deadline:
    time.sleep(0.05)
s.close()'

# Under the shim, a non-blocking 2nd connection: ECONNREFUSED while the
# only slot is held (the bulkhead's reject errno), 0/EINPROGRESS once free.
PROBE='
import errno, socket, sys
p = socket.socket()
p.setblocking(False)
r = p.connect_ex(("127.0.0.1", int(sys.argv[1])))
print(errno.errorcode.get(r, r))'
probe() {
	LD_PRELOAD="$SHIM" timeout 20 "$PY" -c "$PROBE" "$PORT" 2>&1
}

stat_active() {
	"$CLI" stats --json | "$PY" -c '
import json, sys
d = [x for x in json.load(sys.stdin)["destinations"] if x["destination"] == sys.argv[1]]
print(d[0]["bulkhead"]["active"] if d else "none")' "$DEST"
}

holder_alive_in_ps() { # PS_JSON PID: "[True]" when the holder (its pid as it recorded it) is alive
	printf '%s' "$1" | "$PY" -c '
import json, sys
ps = json.load(sys.stdin)["processes"]
print([p["alive"] for p in ps if p["pid"] == int(sys.argv[1])])' "$2"
}

# --- 1. holder in its own PID namespace ------------------------------------------
check "a holder in its own PID namespace is alive for ps and stats outside it, repeatedly"
unshare --pid --fork --kill-child --mount-proc env LD_PRELOAD="$SHIM" "$PY" -c "$HOLD" \
	"$FL_TMP/in.ready" "$FL_TMP/in.release" "$PORT" >"$FL_TMP/in.log" 2>&1 &
UNSHARE_PID=$!
BG_PIDS+=("$UNSHARE_PID")
wait_for "the namespaced holder to connect" 20 test -s "$FL_TMP/in.ready"
INNER_PID=$(cat "$FL_TMP/in.ready")
assert_eq "the holder's pid in its namespace" 1 "$INNER_PID"
for round in 1 2 3; do
	PS=$("$CLI" ps --json)
	assert_eq "holder alive in ps (round $round): $PS" "[True]" "$(holder_alive_in_ps "$PS" 1)"
	assert_eq "bulkhead active after stats (round $round)" 1 "$(stat_active)"
done

check "the shim's own reaper outside the namespace does not take the held slot"
assert_eq "a 2nd connection while the namespaced holder holds the only slot" ECONNREFUSED "$(probe)"
assert_eq "bulkhead active after the refused probe" 1 "$(stat_active)"
PS=$("$CLI" ps --json)
assert_eq "holder still alive in ps" "[True]" "$(holder_alive_in_ps "$PS" 1)"

check "once the namespaced holder is killed, its slot is reclaimed"
kill -KILL "$UNSHARE_PID" # --kill-child: the holder gets SIGKILL too
wait "$UNSHARE_PID" 2>/dev/null
active=1
for _ in $(seq 1 200); do
	active=$(stat_active)
	[ "$active" = 0 ] && break
	sleep 0.05
done
assert_eq "bulkhead active after the holder died (polled up to 10 s)" 0 "$active"
PS=$("$CLI" ps --json)
assert_eq "the dead holder's record is gone from ps" "[]" "$(holder_alive_in_ps "$PS" 1)"

# --- 2. reapers inside a namespace, holder outside ----------------------------
check "a holder outside is alive for ps and stats run inside a new PID namespace"
LD_PRELOAD="$SHIM" "$PY" -c "$HOLD" "$FL_TMP/out.ready" "$FL_TMP/out.release" "$PORT" \
	>"$FL_TMP/out.log" 2>&1 &
HOLDER=$!
BG_PIDS+=("$HOLDER")
wait_for "the outside holder to connect" 20 test -s "$FL_TMP/out.ready"
for round in 1 2; do
	PS=$(unshare --pid --fork --mount-proc "$CLI" ps --json)
	assert_eq "holder alive in ps inside the namespace (round $round): $PS" "[True]" "$(holder_alive_in_ps "$PS" "$HOLDER")"
	INNER=$(unshare --pid --fork --mount-proc "$CLI" stats --json | "$PY" -c '
import json, sys
d = [x for x in json.load(sys.stdin)["destinations"] if x["destination"] == sys.argv[1]]
print(d[0]["bulkhead"]["active"])' "$DEST")
	assert_eq "bulkhead active seen inside the namespace (round $round)" 1 "$INNER"
done
assert_eq "bulkhead active outside after the inside reapers ran" 1 "$(stat_active)"
touch "$FL_TMP/out.release"
wait "$HOLDER"
assert_eq "bulkhead active after the outside holder closed" 0 "$(stat_active)"
done_ok
