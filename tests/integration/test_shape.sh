# test_shape.sh - the `shape` kind (SPEC 10) on real programs: curl's
# download at rate_kbps, a budget shared by 8 processes of the domain
# (scope=destination), redis-benchmark's parallel clients sharing one, and
# a signal ending a shaping sleep as it ends a delay (SPEC 5).
. "$(dirname "$0")/lib.sh"
need_cmd curl sha256sum redis-server redis-benchmark
need_build

CX="$FL_TOP/tests/integration/cx_server.py"
head -c 5000000 /dev/urandom >"$FL_TMP/blob5"
SUM=$(sha256sum <"$FL_TMP/blob5" | cut -d' ' -f1)
start_bg file "$PY" -u "$CX" --ready "$FL_TMP/file.ready" --events "$FL_TMP/file.events" --mode file \
	--file "$FL_TMP/blob5"
wait_for "file server" 10 test -s "$FL_TMP/file.ready"
PORT=$(cat "$FL_TMP/file.ready")

# Expected seconds for B bytes at R KB/s: the first 64 KB burst is free.
expect_ms() { echo $((($1 - 64000) * 1000 / ($2 * 1000))); }

check "curl downloads 5 MB under shape rate_kbps=500 in 10 s (+/- 10%), byte-identical"
# curl's own clock (-w time_total: from its start to the last byte), so a
# loaded machine's slow exec of curl and the shim does not count.
t0=$(now_ms)
total=$(FAULTLINE_RULES="127.0.0.1:$PORT shape rate_kbps=500" shim curl -sS --max-time 60 -o "$FL_TMP/got" \
	-w '%{time_total}' "http://127.0.0.1:$PORT/blob5")
assert_eq "curl exit status" 0 "$?"
took=$(awk -v t="$total" 'BEGIN { printf "%d", t * 1000 }')
want=$(expect_ms 5000000 500)
printf '   curl: %s ms (wall %s ms), rate model %s ms\n' "$took" "$(($(now_ms) - t0))" "$want"
assert_ge "download time (10 s - 10%; not faster than the rate)" 9000 "$took"
assert_took "download time (10 s + 10%)" 11000 "$took"
assert_eq "sha256 of the download" "$SUM" "$(sha256sum <"$FL_TMP/got" | cut -d' ' -f1)"
shaped=$("$CLI" stats --json | "$PY" -c '
import json, sys
for e in json.load(sys.stdin)["destinations"]:
    if e["destination"] == sys.argv[1]:
        c = e["connection"]["recv"]; print(c["shaped_bytes"], c["shape_ms_total"] > 5000)' "127.0.0.1:$PORT")
assert_contains "stats: bytes shaped on recv, time spent shaping" "$shaped" " True"

check "8 processes share one destination budget: 8 x 625 KB at 500 KB/s in 10 s (+/- 5%)"
head -c 625000 /dev/urandom >"$FL_TMP/blob8"
start_bg file8 "$PY" -u "$CX" --ready "$FL_TMP/file8.ready" --events "$FL_TMP/file8.events" --mode file \
	--file "$FL_TMP/blob8"
wait_for "file server" 10 test -s "$FL_TMP/file8.ready"
PORT8=$(cat "$FL_TMP/file8.ready")
# Each process notes (wall clock) its first and last byte; the rate is all
# bytes over the span from the earliest first byte to the latest last one.
cat >"$FL_TMP/fetch.py" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
first = None
n = 0
while True:
    b = s.recv(65536)
    if not b:
        break
    if first is None:
        first = time.time()
    n += len(b)
print(first, time.time(), n)
PY
pids=()
for i in 1 2 3 4 5 6 7 8; do
	FAULTLINE_RULES="127.0.0.1:$PORT8 shape rate_kbps=500 scope=destination" shim timeout 60 \
		"$PY" "$FL_TMP/fetch.py" "$PORT8" >"$FL_TMP/fetch.$i" &
	pids+=("$!")
done
for p in "${pids[@]}"; do
	wait "$p" || fail "a client failed"
done
rate=$(cat "$FL_TMP"/fetch.[1-8] | awk '
	NR == 1 || $1 < a { a = $1 } NR == 1 || $2 > b { b = $2 } { n += $3 }
	END { printf "%d %d", (n - 64000) / (b - a) / 1000, n }')
printf '   8 processes: %s KB/s over the span, %s bytes\n' "${rate% *}" "${rate#* }"
assert_eq "bytes received (8 x 625 KB + headers)" 5000664 "${rate#* }"
assert_ge "shared rate (500 KB/s - 5%; a budget each would give 4000)" 475 "${rate% *}"
assert_le "shared rate (500 KB/s + 5%)" 525 "${rate% *}"

check "redis-benchmark: its parallel clients share one destination budget"
RPORT=$(free_port)
start_bg redis redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no
wait_port "$RPORT"
# 400 SETs of 2000-byte values, ~2.05 KB sent each: ~820 KB at 200 KB/s.
t0=$(now_ms)
FAULTLINE_RULES="127.0.0.1:$RPORT shape on=send,write rate_kbps=200 scope=destination" shim timeout 120 \
	redis-benchmark -h 127.0.0.1 -p "$RPORT" -c 8 -n 400 -d 2000 -t set -q >"$FL_TMP/bench.out" 2>&1
assert_eq "redis-benchmark exit status" 0 "$?"
took=$(($(now_ms) - t0))
printf '   redis-benchmark: %s ms (%s)\n' "$took" "$(tr '\r' '\n' <"$FL_TMP/bench.out" | grep -a 'SET' | tail -1)"
assert_ge "8 clients together held to 200 KB/s (>= 3.5 s for ~820 KB)" 3500 "$took"
assert_took "redis-benchmark" 8000 "$took"
bytes=$("$CLI" stats --json | "$PY" -c '
import json, sys
for e in json.load(sys.stdin)["destinations"]:
    if e["destination"] == sys.argv[1]:
        c = e["connection"]; print(c["send"]["shaped_bytes"] + c["write"]["shaped_bytes"])' "127.0.0.1:$RPORT")
assert_ge "bytes shaped" 800000 "$bytes"

check "a signal ends a shaping sleep of a blocking recv (EINTR, handler without SA_RESTART)"
out=$(FAULTLINE_RULES="127.0.0.1:$PORT shape on=recv rate_kbps=1 burst_kb=1" shim timeout 30 "$PY" -c '
import signal, socket, sys, time
class Alarm(Exception): pass
def on_alarm(*_): raise Alarm()
signal.signal(signal.SIGALRM, on_alarm)
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /blob5 HTTP/1.0\r\n\r\n")
got = 0
t = time.monotonic()
signal.setitimer(signal.ITIMER_REAL, 1.5)
try:
    while True:
        got += len(s.recv(65536))
except Alarm:
    print("interrupted %.1f" % (time.monotonic() - t), got <= 3000)' "$PORT" 2>&1)
assert_eq "recv interrupted by the alarm, after no more than ~2 KB" "interrupted 1.5 True" "$out"

done_ok
