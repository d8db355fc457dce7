#!/bin/bash
# test_supervise.sh - `faultline run` supervises Go and static programs
# (SPEC 13): LD_PRELOAD never reaches them, so the rules apply through
# seccomp user notifications on connect. Real programs: a Go client built
# here with Debian's golang-go (tests/integration/go/flgo.go) and a static
# C client (tests/integration/static/flstatic.c, gcc -static).
. "$(dirname "$0")/lib.sh"

need_cmd go gcc
trap 'cleanup; remove_domains' EXIT

check "the kernel lets faultline install its seccomp listener here"
probe=$("$CLI" run --supervise --rules "127.0.0.1:1 breaker" -- true 2>&1)
case $probe in
*"cannot supervise"*) skip "no seccomp user notifications here: $probe" ;;
esac
assert_eq "supervised true" "" "$probe"

export GOCACHE="$FL_TMP/gocache" GOPATH="$FL_TMP/gopath" GOFLAGS=-mod=mod GOPROXY=off GO111MODULE=auto
(cd "$FL_TOP/tests/integration/go" && go build -o "$FL_TMP/flgo" flgo.go) >"$FL_TMP/gobuild.log" 2>&1 ||
	skip "go build failed: $(tail -n 3 "$FL_TMP/gobuild.log")"
gcc -static -O2 -o "$FL_TMP/flstatic" "$FL_TOP/tests/integration/static/flstatic.c" 2>"$FL_TMP/gcc.log" ||
	skip "no static libc (gcc -static failed: $(tail -n 1 "$FL_TMP/gcc.log"))"
GO="$FL_TMP/flgo"
ST="$FL_TMP/flstatic"

run_sv() { # RULES CMD... : supervised run in $DOMAIN; output in $OUT, status in $RC
	local rules=$1
	shift
	OUT=$("$CLI" run --rules "$rules" --domain "$DOMAIN" -- "$@" 2>"$FL_TMP/err.log")
	RC=$?
	ERR=$(cat "$FL_TMP/err.log")
}

ms() { # "ok 123" / "err 123: ..." -> 123
	printf '%s\n' "$1" | sed -n 's/^[a-z]* \([0-9]*\).*/\1/p'
}

# --- errors ----------------------------------------------------------------
new_domain sv-err
start_server srv sink tcp4
SRV_PORT=$SERVER_PORT
check "a refused connect gives Go's own 'connection refused'; nothing reaches the server"
run_sv "127.0.0.1:$SERVER_PORT fault error=ECONNREFUSED on=connect" "$GO" dial "127.0.0.1:$SERVER_PORT" 2000
assert_eq "exit status" 1 "$RC"
assert_contains "Go's error" "$OUT" "connect: connection refused"
assert_not_contains "stderr (no 'cannot see' warning)" "$ERR" "warning"
assert_no_connection srv 0 "$SERVER_PORT"

check "--no-supervise keeps the warning and injects nothing"
OUT=$("$CLI" run --no-supervise --rules "127.0.0.1:$SERVER_PORT fault error=ECONNREFUSED on=connect" \
	--domain "$DOMAIN" -- "$GO" dial "127.0.0.1:$SERVER_PORT" 2000 2>"$FL_TMP/err.log")
assert_contains "Go's dial" "$OUT" "ok "
assert_contains "the warning" "$(cat "$FL_TMP/err.log")" "is a Go program"

check "the same rule on another port lets a Go connect through to the server"
run_sv "127.0.0.1:1 fault error=ECONNREFUSED on=connect" "$GO" dial "127.0.0.1:$SERVER_PORT" 2000
assert_eq "exit status" 0 "$RC"
wait_events srv "accept " 2

check "a static C client gets the injected errno from a blocking connect"
run_sv "127.0.0.1:$SERVER_PORT fault error=ENETUNREACH on=connect" "$ST" connect "$SERVER_PORT"
assert_contains "static client" "$OUT" "Network is unreachable"

check "I/O faults cannot apply to a supervised program: refused at start, naming the statement"
run_sv "127.0.0.1:$SERVER_PORT fault error=ECONNRESET on=recv" "$GO" dial "127.0.0.1:$SERVER_PORT" 2000
assert_eq "exit status" 2 "$RC"
assert_contains "message" "$ERR" "--rules:1:1:"
assert_contains "message" "$ERR" "cannot apply to a supervised program"

# --- delays ----------------------------------------------------------------
check "a 1 s connect delay shows in the Go client's timing"
run_sv "127.0.0.1:$SERVER_PORT fault delay_ms=1000 on=connect" "$GO" dial "127.0.0.1:$SERVER_PORT" 5000
assert_contains "dial" "$OUT" "ok "
t=$(ms "$OUT")
[ "$t" -ge 950 ] || fail "the dial took $t ms, under the 1000 ms delay"
assert_took "delayed dial" 3000 "$t"

check "...and the client's own shorter dial timeout fires first (Go's i/o timeout)"
before=$(accepted srv)
run_sv "127.0.0.1:$SERVER_PORT fault delay_ms=1000 on=connect" "$GO" dial "127.0.0.1:$SERVER_PORT" 300
assert_contains "dial" "$OUT" "i/o timeout"
t=$(ms "$OUT")
[ "$t" -ge 280 ] || fail "timed out after $t ms, before its 300 ms"
assert_took "dial timeout" 900 "$t"
assert_no_connection srv "$before" "$SERVER_PORT"

check "a static client's blocking connect waits out the delay"
run_sv "127.0.0.1:$SERVER_PORT fault delay_ms=500 on=connect" "$ST" connect "$SERVER_PORT"
assert_contains "static client" "$OUT" "ok "
t=$(ms "$OUT")
[ "$t" -ge 480 ] || fail "the connect took $t ms, under the 500 ms delay"
assert_took "delayed connect" 2500 "$t"

check "a supervised blocking connect ends with EINPROGRESS after the socket's SO_SNDTIMEO, as the kernel's does"
start_bg stuck "$PY" -c '
import socket, sys, time
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(0)  # never accepts: the second SYN waits
open(sys.argv[1] + ".tmp", "w").write(str(l.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(60)' "$FL_TMP/stuck.port"
wait_for "the stuck listener" 10 test -s "$FL_TMP/stuck.port"
STUCK=$(cat "$FL_TMP/stuck.port")
OUT=$("$CLI" run --supervise --rules "127.0.0.1:$STUCK breaker" --domain "$DOMAIN" -- "$PY" -c '
import errno, socket, struct, sys, time
socks = []
for i in range(4):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 0, 300000))
    t = time.time()
    try:
        s.connect(("127.0.0.1", int(sys.argv[1]))); r = "ok"
    except OSError as e:
        r = errno.errorcode[e.errno]
    socks.append(s)
    if r != "ok":
        print(r, int((time.time() - t) * 1000)); break' "$STUCK")
assert_contains "the connect that cannot complete" "$OUT" "EINPROGRESS "
t=$(printf '%s\n' "$OUT" | awk '{ print $2 }')
[ "$t" -ge 280 ] || fail "EINPROGRESS after $t ms, before SO_SNDTIMEO (300 ms)"
assert_took "SO_SNDTIMEO" 1500 "$t"

# --- breaker ---------------------------------------------------------------
new_domain sv-breaker
PORT=$(free_port)
RULE="127.0.0.1:$PORT breaker failure_threshold=3 timeout_ms=60000"
check "a breaker counts three separate supervised runs' refused connects and opens"
for i in 1 2 3; do
	run_sv "$RULE" "$GO" dial "127.0.0.1:$PORT" 2000
	assert_contains "run $i" "$OUT" "connection refused"
done
state=$("$CLI" stats --domain "$DOMAIN" --json | "$PY" -c '
import json, sys
d = json.load(sys.stdin)["destinations"][0]
print(d["breaker"]["state"], d["breaker"]["calls"], d["breaker"]["failures"])')
assert_eq "breaker state calls failures" "open 3 3" "$state"

check "the fourth run fails at once and no connect reaches the server"
start_server late sink tcp4 --port "$PORT"
run_sv "$RULE" "$GO" dial "127.0.0.1:$PORT" 2000
assert_contains "run 4" "$OUT" "connection refused"
assert_no_connection late 0 "$PORT"
rej=$("$CLI" stats --domain "$DOMAIN" --json | "$PY" -c '
import json, sys; print(json.load(sys.stdin)["destinations"][0]["breaker"]["rejected"])')
assert_eq "rejected" 1 "$rej"

check "a Go dial given up on (its timeout fired during a delay) counts as a failure"
new_domain sv-giveup
RULE2="127.0.0.1:$SERVER_PORT breaker failure_threshold=5
127.0.0.1:$SERVER_PORT fault delay_ms=1000 on=connect"
run_sv "$RULE2" "$GO" dial "127.0.0.1:$SERVER_PORT" 200
assert_contains "dial" "$OUT" "i/o timeout"
f=$("$CLI" stats --domain "$DOMAIN" --json | "$PY" -c '
import json, sys; b = json.load(sys.stdin)["destinations"][0]["breaker"]; print(b["calls"], b["failures"])')
assert_eq "calls failures" "1 1" "$f"

# --- bulkhead --------------------------------------------------------------
new_domain sv-bulkhead
start_conc conc
RULE="127.0.0.1:$CONC_PORT bulkhead max_concurrent_requests=1 max_queue_size=0"
check "a bulkhead of 1 refuses a second concurrent Go client"
start_bg holder "$CLI" run --rules "$RULE" --domain "$DOMAIN" -- "$GO" dial "127.0.0.1:$CONC_PORT" 2000 3000
wait_conc conc current 1
run_sv "$RULE" "$GO" dial "127.0.0.1:$CONC_PORT" 2000
assert_contains "second client" "$OUT" "connection refused"
assert_eq "server's accepted count" 1 "$(conc_stat conc accepted)"

check "faultline stats shows the supervised clients' slot and rejection"
js=$("$CLI" stats --domain "$DOMAIN" --json | "$PY" -c '
import json, sys
d = json.load(sys.stdin)["destinations"][0]
print(d["destination"], d["bulkhead"]["active"], d["bulkhead"]["limit"], d["bulkhead"]["rejected"], d["ops"]["connect"]["calls"])')
assert_eq "destination active limit rejected calls" "127.0.0.1:$CONC_PORT 1 1 1 2" "$js"
assert_contains "faultline ps" "$("$CLI" ps --domain "$DOMAIN")" "faultline run (supervising) $GO"

check "the slot comes back when the holding program exits"
wait_for "the holder to exit" 10 sh -c "grep -q '^ok' '$FL_TMP/holder.log' && ! kill -0 ${BG_PIDS[-1]} 2>/dev/null"
active=$("$CLI" stats --domain "$DOMAIN" --json | "$PY" -c '
import json, sys; print(json.load(sys.stdin)["destinations"][0]["bulkhead"]["active"])')
assert_eq "active" 0 "$active"
run_sv "$RULE" "$GO" dial "127.0.0.1:$CONC_PORT" 2000
assert_contains "third client" "$OUT" "ok "

check "a slot comes back when its socket is closed: 5 dials in a row in one process all pass"
run_sv "$RULE" "$GO" loop "127.0.0.1:$CONC_PORT" 5
assert_eq "loop output" "done" "$OUT"

check "threads: 12 goroutines dial at once through a bulkhead of 3: exactly 3 get through"
new_domain sv-par
run_sv "127.0.0.1:$CONC_PORT bulkhead max_concurrent_requests=3 max_queue_size=0" "$GO" par "127.0.0.1:$CONC_PORT" 12 1000
assert_eq "result" "ok=3 err=9" "$OUT"
wait_conc conc current 0

check "a static client's blocking connect waits in a full bulkhead's queue for the slot"
new_domain sv-queue
RULE="127.0.0.1:$CONC_PORT bulkhead max_concurrent_requests=1 max_queue_size=1 queue_timeout_ms=5000"
start_bg qholder "$CLI" run --rules "$RULE" --domain "$DOMAIN" -- "$GO" dial "127.0.0.1:$CONC_PORT" 2000 1000
wait_conc conc current 1
run_sv "$RULE" "$ST" connect "$CONC_PORT"
assert_contains "queued client" "$OUT" "ok "
t=$(ms "$OUT")
[ "$t" -ge 300 ] || fail "the queued connect took $t ms: it did not wait for the holder (1000 ms)"
assert_took "queued connect" 4000 "$t"

check "...and fails with reject_errno when queue_timeout_ms passes first"
new_domain sv-queue2
RULE="127.0.0.1:$CONC_PORT bulkhead max_concurrent_requests=1 max_queue_size=1 queue_timeout_ms=300"
wait_conc conc current 0
start_bg qholder2 "$CLI" run --rules "$RULE" --domain "$DOMAIN" -- "$GO" dial "127.0.0.1:$CONC_PORT" 2000 3000
wait_conc conc current 1
run_sv "$RULE" "$ST" connect "$CONC_PORT"
assert_contains "queued client" "$OUT" "Connection refused"
t=$(ms "$OUT")
[ "$t" -ge 280 ] || fail "refused after $t ms, before queue_timeout_ms=300"
assert_took "queue timeout" 1500 "$t"
timeouts=$("$CLI" stats --domain "$DOMAIN" --json | "$PY" -c '
import json, sys; print(json.load(sys.stdin)["destinations"][0]["bulkhead"]["timeouts"])')
assert_eq "bulkhead timeouts" 1 "$timeouts"

check "a Go HTTP client, a new connection per request: 100 requests, every connect a success for the breaker"
new_domain sv-http
HP=$(free_port)
start_bg gohttp "$GO" serve "127.0.0.1:$HP" -
wait_port "$HP"
run_sv "127.0.0.1:$HP breaker failure_threshold=1" "$GO" http "http://127.0.0.1:$HP/" 100 new
assert_contains "client" "$OUT" "requests/s"
b=$("$CLI" stats --domain "$DOMAIN" --json | "$PY" -c '
import json, sys; b = json.load(sys.stdin)["destinations"][0]["breaker"]; print(b["state"], b["calls"], b["failures"])')
assert_eq "breaker state calls failures" "closed 100 0" "$b"

check "children are supervised too: a Go client started by a shell (--supervise on the dynamic shell)"
new_domain sv-child
OUT=$("$CLI" run --supervise --rules "127.0.0.1:$SRV_PORT fault error=EHOSTUNREACH on=connect" --domain "$DOMAIN" \
	-- sh -c "\"$GO\" dial 127.0.0.1:$SRV_PORT 2000; echo status=\$?" 2>&1)
assert_contains "grandchild's dial" "$OUT" "no route to host"
assert_contains "shell went on" "$OUT" "status=1"

check "--supervise on a dynamic program: python's connect is answered by the supervisor (no shim preloaded)"
OUT=$("$CLI" run --supervise --rules "127.0.0.1:$SRV_PORT fault error=ECONNABORTED on=connect" --domain "$DOMAIN" \
	-- "$PY" -c "
import socket
try:
    socket.create_connection(('127.0.0.1', $SRV_PORT), timeout=2); print('connected')
except OSError as e:
    print('error', e.errno == __import__('errno').ECONNABORTED)" 2>&1)
assert_eq "python" "error True" "$OUT"

check "where seccomp is refused (a profile forbidding seccomp(2)): one line, the program runs unsupervised"
OUT=$("$HELPERS/helper_noseccomp" "$CLI" run --rules "127.0.0.1:$SRV_PORT fault error=ECONNREFUSED on=connect" \
	--domain "$DOMAIN" -- "$GO" dial "127.0.0.1:$SRV_PORT" 2000 2>"$FL_TMP/err.log")
assert_contains "program ran" "$OUT" "ok "
assert_eq "lines on stderr" 1 "$(wc -l <"$FL_TMP/err.log")"
assert_contains "the line" "$(cat "$FL_TMP/err.log")" "cannot supervise"

check "unix sockets: a fault on an absolute path applies to a supervised program"
new_domain sv-unix
start_server usrv sink "unix:$FL_TMP/u.sock"
UCLIENT='
import errno, os, socket, sys, time
if len(sys.argv) > 3:
    os.chdir(sys.argv[3])  # the supervisor stays where it was started
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1]); print("connected"); sys.stdout.flush(); time.sleep(float(sys.argv[2]))
except OSError as e:
    print("error", errno.errorcode[e.errno])'
OUT=$("$CLI" run --supervise --rules "unix:$FL_TMP/u.sock fault error=EACCES on=connect" --domain "$DOMAIN" \
	-- "$PY" -c "$UCLIENT" "$FL_TMP/u.sock" 0)
assert_eq "absolute path" "error EACCES" "$OUT"

check "...a relative path is connected by the kernel in the program's own directory (it chdir'ed), its slot kept"
RULE="unix:u.sock bulkhead max_concurrent_requests=1 max_queue_size=0"
"$CLI" run --supervise --rules "$RULE" --domain "$DOMAIN" -- "$PY" -c "$UCLIENT" u.sock 3 "$FL_TMP" \
	>"$FL_TMP/uhold.log" 2>&1 &
UHOLD=$!
wait_for "the relative-path client to connect" 10 grep -q connected "$FL_TMP/uhold.log"
OUT=$("$CLI" run --supervise --rules "$RULE" --domain "$DOMAIN" -- "$PY" -c "$UCLIENT" u.sock 0 "$FL_TMP")
assert_eq "second client, bulkhead full" "error ECONNREFUSED" "$OUT"
wait "$UHOLD" || true

# --- the supervisor dies ----------------------------------------------------
new_domain sv-kill
check "supervisor SIGKILLed mid-run: the program's connects fail with ENOSYS, it finishes, no hang"
# Started by a shell of its own, which reports the SIGKILL into victim.log
# instead of this test's output.
start_bg victim bash -c '"$@" & echo $! >"$0"; wait' "$FL_TMP/victim.pid" \
	"$CLI" run --rules "127.0.0.1:$SRV_PORT fault delay_ms=1 on=connect" --domain "$DOMAIN" \
	-- "$GO" loop "127.0.0.1:$SRV_PORT" 100
wait_for "the supervisor's pid" 10 test -s "$FL_TMP/victim.pid"
SV=$(cat "$FL_TMP/victim.pid")
wait_for "the first supervised dials" 10 sh -c "[ \$(grep -c 'accept ' '$FL_TMP/srv.events') -ge 12 ]"
kill -9 "$SV"
wait_for "the Go program to finish its loop" 20 grep -q '^done' "$FL_TMP/victim.log"
assert_contains "its dials after the kill" "$(cat "$FL_TMP/victim.log")" "function not implemented"

done_ok
