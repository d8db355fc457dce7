# test_events_depth.sh - the event log hears of the actions of SPEC 10 and
# 11 (SPEC 11: "All counters above appear in ... events"): short I/O,
# hangs, resets after N bytes, corruption and shaping waits summarised per
# statement and second (counts that add up to the stats counters), rate
# limit rejections and delays, and failovers, one event a second per
# destination, never one per call. Real python clients, loopback servers.
. "$(dirname "$0")/lib.sh"
use_domain events-depth

CX="$FL_TOP/tests/integration/cx_server.py"
start_bg frames "$PY" -u "$CX" --ready "$FL_TMP/frames.ready" --events "$FL_TMP/frames.events" \
	--mode frames --count 200 --size 996
wait_for "frames server" 10 test -s "$FL_TMP/frames.ready"
FRAMES=$(cat "$FL_TMP/frames.ready")
DEST="127.0.0.1:$FRAMES"
start_server echo echo tcp4
ECHO=$SERVER_PORT

# evq PYTHON-EXPR: evaluated with `ev` = the events (JSON); prints it.
evq() {
	"$CLI" events --json 2>/dev/null | "$PY" -c '
import json, sys
ev = [json.loads(l) for l in sys.stdin if l.strip()]
print(eval(sys.argv[1]))' "$1"
}
# csum WHAT: the counts of connection summaries of WHAT for DEST.
csum() { evq 'sum(e["count"] for e in ev if e["kind"] == "connection" and e["what"] == "'"$1"'" and e["destination"] == "'"$DEST"'")'; }
json_conn() { # OP KEY: a counter of stats --json "connection" for DEST
	"$CLI" stats --json | "$PY" -c '
import json, sys
for e in json.load(sys.stdin)["destinations"]:
    if e["destination"] == sys.argv[1]:
        print(e["connection"][sys.argv[2]][sys.argv[3]]); break
else:
    print(0)' "$DEST" "$1" "$2"
}
# reader ARGS: reads everything from the frames server; prints bytes and the error.
READER='
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
n, err = 0, "-"
while True:
    try:
        c = s.recv(65536)
    except OSError as e:
        err = type(e).__name__
        break
    if not c:
        break
    n += len(c)
print(n, err)'

check "short I/O (max_bytes) summarised per statement and second: counts add up to stats short_io"
"$CLI" run --rules "$DEST fault on=recv max_bytes=100" -- "$PY" -c "$READER" "$FRAMES" >"$FL_TMP/o"
assert_eq "all bytes read" "200000 -" "$(cat "$FL_TMP/o")"
short=$(json_conn recv short_io)
assert_ge "short reads counted" 100 "$short"
assert_eq "summaries add up to stats" "$short" "$(csum short_io)"
assert_eq "statement, ops" "[(0, 'recv')]" "$(evq 'sorted(set((e["statement"], e["ops"]) for e in ev if e["kind"] == "connection"))')"
assert_le "summaries: one a second" 4 "$(evq 'len([e for e in ev if e["kind"] == "connection"])')"

check "hang, reset after N bytes, corruption and shaping each show as their own summary"
"$CLI" run --rules "$DEST fault on=recv close_after_bytes=5000" -- "$PY" -c "$READER" "$FRAMES" >"$FL_TMP/o"
assert_eq "reset after 5000 bytes" "5000 ConnectionResetError" "$(cat "$FL_TMP/o")"
assert_eq "reset summary" 1 "$(csum reset)"
"$CLI" run --rules "$DEST fault on=recv hang_ms=300 times=2" -- "$PY" -c "$READER" "$FRAMES" >"$FL_TMP/o"
assert_contains "hang ends in EAGAIN" "$(cat "$FL_TMP/o")" "BlockingIOError"
assert_eq "hang summary" 1 "$(csum hang)"
"$CLI" run --rules "$DEST fault on=recv corrupt=0.05" -- "$PY" -c "$READER" "$FRAMES" >"$FL_TMP/o"
flipped=$(json_conn recv corrupted_bytes)
assert_ge "bytes flipped" 5000 "$flipped"
assert_eq "corrupt summaries: bytes add up to stats" "$flipped" \
	"$(evq 'sum(e["bytes"] for e in ev if e["kind"] == "connection" and e["what"] == "corrupt")')"
"$CLI" run --rules "$DEST shape rate_kbps=200 burst_kb=16 on=recv" -- "$PY" -c "$READER" "$FRAMES" >"$FL_TMP/o"
assert_eq "shaped read whole" "200000 -" "$(cat "$FL_TMP/o")"
waits=$(json_conn recv shape_waits)
assert_ge "shaping waits" 2 "$waits"
assert_eq "shaped summaries add up to stats shape_waits" "$waits" "$(csum shaped)"
assert_ge "ms waited in the summaries ((200-16)/200 s)" 800 "$(evq 'sum(e["ms"] for e in ev if e["kind"] == "connection" and e["what"] == "shaped")')"
cli events
assert_contains "human line" "$OUT" "shaped x"
assert_contains "human line" "$OUT" "bytes flipped"

check "rate_limit rejections: one event a second per destination, with the total"
RP=$(free_port)
"$CLI" run --rules "127.0.0.1:$RP rate_limit rate=2 burst=1" -- "$PY" -c '
import socket, sys, time
rej = 0
end = time.monotonic() + 1.6
while time.monotonic() < end:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1]))).close()
    except ConnectionRefusedError:
        rej += 1
    time.sleep(0.01)
print(rej)' "$RP" >"$FL_TMP/o"
rej=$(cat "$FL_TMP/o")
assert_ge "connects rejected (the port is closed: every admitted one is refused too)" 50 "$rej"
OUT=$(evq '[(e["what"], e["total"], e["rate"], e["burst"]) for e in ev if e["kind"] == "rate_limit" and e["destination"] == "127.0.0.1:'$RP'"]')
"$PY" -c '
import ast, sys
ev = ast.literal_eval(sys.argv[1])
assert 1 <= len(ev) <= 3, ev
assert all(w == "rejected" and r == 2 and b == 1 for w, t, r, b in ev), ev
assert [t for _, t, _, _ in ev] == sorted(t for _, t, _, _ in ev), ev' "$OUT" || fail "rate_limit events: $OUT"

check "rate_limit delays show as delayed"
"$CLI" run --rules "127.0.0.1:$ECHO rate_limit rate=10 burst=1 action=delay" -- "$PY" -c '
import socket, sys
for i in range(4):
    socket.create_connection(("127.0.0.1", int(sys.argv[1]))).close()' "$ECHO"
assert_contains "delayed event" "$(evq '[(e["what"], e["total"] >= 1) for e in ev if e["kind"] == "rate_limit" and e["destination"] == "127.0.0.1:'$ECHO'"]')" "('delayed', True)"

check "failover shows as a fallback event naming the fallback, one a second"
DEAD=$(free_port)
"$CLI" run --rules "127.0.0.1:$DEAD breaker failure_threshold=1 timeout_ms=60000 fallback=127.0.0.1:$ECHO" -- "$PY" -c '
import socket, sys
out = []
for i in range(6):
    try:
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
        s.sendall(b"y"); out.append("ok" if s.recv(1) == b"y" else "bad"); s.close()
    except OSError:
        out.append("err")
print(" ".join(out))' "$DEAD" >"$FL_TMP/o"
assert_eq "first refused, then the fallback" "err ok ok ok ok ok" "$(cat "$FL_TMP/o")"
assert_eq "fallback events" "[('failed_over', 1, '127.0.0.1:$ECHO')]" \
	"$(evq '[(e["what"], e["total"], e["fallback"]) for e in ev if e["kind"] == "fallback" and e["destination"] == "127.0.0.1:'$DEAD'"]')"
cli events
assert_contains "human line" "$OUT" "failed over to 127.0.0.1:$ECHO"

done_ok
