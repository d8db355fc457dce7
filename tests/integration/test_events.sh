# test_events.sh - `faultline events`: the domain's event log, written by
# real programs under the shim and by the CLI. Breaker transitions come in
# order with their reasons (curl against a refused port, then a server on
# it); trip and reset show as forced and reset; a bulkhead rejection, a
# process attaching, exiting and found gone after SIGKILL, and injected
# faults counted per statement and second show; a writer SIGKILLed between
# taking its record and publishing it leaves the log readable; --follow
# prints an event that comes later; --since starts at a time.
. "$(dirname "$0")/lib.sh"
need_cmd curl
need_build helper_lib_events
use_domain it-events

P=$(free_port)
DEST="127.0.0.1:$P"
RULE="$DEST breaker failure_threshold=2 success_threshold=1 timeout_ms=700"

# jfield JSON-LINES FIELD: the values of FIELD, one a line.
jfield() {
	"$PY" -c '
import json, sys
for line in sys.stdin:
    if line.strip():
        v = json.loads(line).get(sys.argv[1])
        print("" if v is None else v)' "$2" <<<"$1"
}

# evjson: the log as JSON lines, in OUT (and ERR, RC).
evjson() { cli events --json "$@"; }

# breaker_moves: "from>to:reason" of the breaker events for DEST, space-separated.
breaker_moves() {
	"$PY" -c '
import json, sys
print(" ".join("%s>%s:%s" % (e["from"], e["to"], e["reason"]) for e in map(json.loads, sys.stdin)
               if e["kind"] == "breaker" and e["destination"] == sys.argv[1]))' "$DEST" <<<"$OUT"
}

check "every line of --json is one object with time, kind, destination and pid"
"$CLI" run --rules "$RULE" -- curl -s --max-time 5 "http://$DEST/" >/dev/null
evjson
assert_eq "events --json exit status ($ERR)" 0 "$RC"
"$PY" -c '
import json, sys
n = 0
for line in sys.stdin:
    e = json.loads(line)
    for k in ("time", "kind", "destination", "pid"):
        assert k in e, (k, line)
    assert isinstance(e["time"], int) and e["time"] > 1.7e12, line
    n += 1
assert n >= 2, n' <<<"$OUT" || fail "not one object per line with the fixed fields:
$OUT"

check "a breaker opening shows closed -> open (failure_threshold), in order"
"$CLI" run --rules "$RULE" -- curl -s --max-time 5 "http://$DEST/" >/dev/null
evjson
assert_eq "breaker moves after two refused connects" "closed>open:failure_threshold" "$(breaker_moves)"

check "after timeout_ms and a trial that succeeds: open -> half_open (timeout), half_open -> closed (trial_succeeded)"
start_bg http "$PY" -m http.server "$P" --bind 127.0.0.1
wait_port "$P"
sleep 0.8 # timeout_ms=700: the next connect is a trial
"$CLI" run --rules "$RULE" -- curl -s --max-time 5 -o /dev/null "http://$DEST/" || fail "curl through the half-open breaker"
evjson
assert_eq "breaker moves" "closed>open:failure_threshold open>half_open:timeout half_open>closed:trial_succeeded" \
	"$(breaker_moves)"
times=$("$PY" -c '
import json, sys
t = [e["time"] for e in map(json.loads, sys.stdin) if e["kind"] == "breaker"]
assert t == sorted(t), t
print(t[1] - t[0])' <<<"$OUT") || fail "breaker event times are not in order"
assert_ge "ms from open to half_open (timeout_ms=700)" 700 "$times"

check "trip and reset from the CLI show as forced and reset"
cli trip "$DEST"
assert_eq "trip exit status ($ERR)" 0 "$RC"
cli reset "$DEST"
assert_eq "reset exit status ($ERR)" 0 "$RC"
evjson
assert_contains "breaker moves" "$(breaker_moves)" "closed>forced_open:forced forced_open>closed:reset"

check "processes attached and exited show, with the command"
evjson
curl_pids=$("$PY" -c '
import json, sys
ev = [json.loads(l) for l in sys.stdin]
att = {e["pid"] for e in ev if e["kind"] == "process" and e["what"] == "attached" and e["command"].startswith("curl")}
ext = {e["pid"] for e in ev if e["kind"] == "process" and e["what"] == "exited"}
print(len(att), len(att & ext))' <<<"$OUT")
assert_eq "curl processes attached, and of them exited" "3 3" "$curl_pids"

check "a process SIGKILLed shows as gone once it is reclaimed (by stats)"
"$CLI" run --rules "$RULE" -- "$PY" -c 'import time; print("up", flush=True); time.sleep(60)' >"$FL_TMP/victim.out" &
victim=$!
BG_PIDS+=("$victim")
wait_for "the victim to start" 10 grep -q up "$FL_TMP/victim.out"
victim_pid=$(pgrep -f -n 'time.sleep\(60\)' || true)
[ -n "$victim_pid" ] || fail "cannot find the victim's pid"
kill -9 "$victim_pid"
wait "$victim" 2>/dev/null || true
wait_for "the victim to die" 5 sh -c "! kill -0 $victim_pid 2>/dev/null"
cli stats
evjson
gone=$("$PY" -c '
import json, sys
print(sum(1 for e in map(json.loads, sys.stdin)
          if e["kind"] == "process" and e["what"] == "gone" and e["pid"] == int(sys.argv[1])))' "$victim_pid" <<<"$OUT")
assert_eq "gone events for pid $victim_pid" 1 "$gone"

check "a bulkhead rejection shows, with the slots in use and the limit"
"$CLI" run --rules "$DEST bulkhead max_concurrent_requests=1 max_queue_size=0" -- "$PY" -c '
import socket, sys
a = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    print("admitted")
except OSError:
    print("rejected")' "$P" >"$FL_TMP/bh.out"
assert_eq "the second connect" rejected "$(cat "$FL_TMP/bh.out")"
evjson
bh=$("$PY" -c '
import json, sys
for e in map(json.loads, sys.stdin):
    if e["kind"] == "bulkhead":
        print(e["destination"], e["what"], e["total"], e["active"], e["limit"])' <<<"$OUT")
assert_eq "bulkhead events" "$DEST rejected 1 1 1" "$bh"

check "injected faults are counted per statement and second, never one event per call"
FP=$(free_port)
"$CLI" run --rules "127.0.0.1:$FP fault on=connect error=ECONNREFUSED" -- "$PY" -c '
import socket, sys, time
end = time.monotonic() + 1.5
n = 0
while time.monotonic() < end and n < 3000:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1]))).close()
    except OSError:
        n += 1
    time.sleep(0.002)
print(n)' "$FP" >"$FL_TMP/faults.out"
injected=$(cat "$FL_TMP/faults.out")
assert_ge "connects refused" 10 "$injected"
evjson
summary=$("$PY" -c '
import json, sys
ev = [e for e in map(json.loads, sys.stdin) if e["kind"] == "fault"]
secs = [e["second"] for e in ev]
assert secs == sorted(secs) and len(set(secs)) == len(secs), secs
assert all(e["time"] == e["second"] * 1000 for e in ev), ev
assert all(e["error"] == "ECONNREFUSED" and e["ops"] == "connect" and e["statement"] == 0 for e in ev), ev
assert all(e["destination"] == "127.0.0.1:" + sys.argv[1] for e in ev), ev
print(len(ev), sum(e["count"] for e in ev))' "$FP" <<<"$OUT") || fail "fault summaries wrong:
$(grep '"fault"' <<<"$OUT")"
nev=${summary% *}
total=${summary#* }
assert_eq "injections counted in the summaries (the last second's at exit)" "$injected" "$total"
assert_ge "summary events (1.5 s of injections)" 2 "$nev"
assert_le "summary events (one a second)" 3 "$nev"

check "a writer SIGKILLed between taking its record and publishing it leaves the log readable"
"$HELPERS/helper_lib_events" "$DOMAIN" stuck >"$FL_TMP/stuck.out" 2>&1 &
stuck=$!
BG_PIDS+=("$stuck")
wait_for "the writer to mark its record" 10 grep -q marked "$FL_TMP/stuck.out"
kill -9 "$stuck"
wait "$stuck" 2>/dev/null || true
cli trip "$DEST"
start=$(now_ms)
evjson
took=$(($(now_ms) - start))
assert_eq "events exit status ($ERR)" 0 "$RC"
assert_contains "the event before the stuck one" "$OUT" '"layer": "before"'
assert_not_contains "the half-written event is not shown" "$OUT" '"layer": "stuck"'
assert_contains "the event after it" "$(tail -n1 <<<"$OUT")" '"reason": "forced"'
assert_contains "the lost event is counted" "$ERR" "1 event lost"
assert_took "events with a dead writer's record (waited for a moment)" 3000 "$took"
cli events
assert_eq "human events exit status ($ERR)" 0 "$RC"
assert_contains "human line" "$OUT" "closed -> open (failure_threshold)"

check "--follow prints an event that comes later"
start_bg follow "$CLI" events --follow --json
wait_for "follow to print the log so far" 10 grep -q '"forced"' "$FL_TMP/follow.log"
cli reset "$DEST"
start=$(now_ms)
wait_for "follow to print the reset" 10 sh -c "grep -c '\"reason\": \"reset\"' '$FL_TMP/follow.log' | grep -qx 2"
assert_took "the reset reached --follow" 2000 $(($(now_ms) - start))

check "--since: a Unix time in ms, or a duration ago; a bad one is a usage error"
later=$(($(now_ms) + 1))
sleep 0.05
cli trip "$DEST"
evjson --since "$later"
assert_eq "events since the last trip" 1 "$(count_lines "$OUT" '"kind"')"
assert_contains "it is the trip" "$OUT" '"reason": "forced"'
evjson --since 1h
assert_ge "events in the last hour" 10 "$(count_lines "$OUT" '"kind"')"
cli events --since yesterday
assert_eq "bad --since exit status" 2 "$RC"
assert_contains "bad --since message" "$ERR" "--since"
cli events --domain "no-such-domain-$$"
assert_eq "missing domain exit status" 1 "$RC"

done_ok
