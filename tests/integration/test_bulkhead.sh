# test_bulkhead.sh - the bulkhead, shared by every process and thread of a
# domain, seen from real programs: parallel python3 clients (bh_client.py)
# and a pthreads client (helper_bulkhead_threads) against conc_server.py,
# a loopback server that counts how many connections are open at once.
#
# The server is the witness of the limit: clients end a connection by
# half-closing and waiting for the server's EOF before close(), so the
# server has counted a connection gone before the shim frees its slot, and
# its maximum of concurrent connections is exactly what the bulkhead let
# through. Times (queue waits, timeouts) come from the clients' own clocks.
# A client is known to wait in the queue when it sleeps in futex (the
# bulkhead's wait), read from /proc/PID/syscall. The bh_* helpers are at
# the end of lib.sh. Upper time bounds, and the hold time of the limit case
# (so that clients whose python3 start-up is slow still overlap), are
# stretched by the time scale (lib.sh).
#
# Every case has its own domain, removed at exit.
. "$(dirname "$0")/lib.sh"
need_build helper_bulkhead_threads
trap 'cleanup; remove_domains' EXIT

THREADS="$HELPERS/helper_bulkhead_threads"

assert_fast() { # WHAT LINE: the attempt in LINE ended within 500 ms (x time scale)
	assert_took "$1: how long connect took" 500 $(($(field "$2" end) - $(field "$2" start)))
}

# --- (a) the limit ----------------------------------------------------------------

new_domain bh-limit
start_conc limit
PORT=$CONC_PORT
HOLD=$(scaled 700)
# The last pair waits two holds: the queue timeout stretches with the hold,
# so a busy machine (a large time scale) cannot turn the wait into a refusal.
QTIMEOUT=$((15000 + 3 * HOLD))
RULES="127.0.0.1:$PORT bulkhead max_concurrent_requests=2 max_queue_size=10 queue_timeout_ms=$QTIMEOUT"
check "limit: 6 parallel python3 clients, each holding $HOLD ms, through max_concurrent_requests=2"
pids=()
for i in 1 2 3 4 5 6; do
	bh_start "lim$i" "$PORT" --hold-ms "$HOLD"
	pids+=("$BH_PID")
done
for i in 1 2 3 4 5 6; do
	bh_finish "${pids[$((i - 1))]}" "client lim$i" 30
	assert_eq "client lim$i exit status; its log: $(cat "$FL_TMP/lim$i.log")" 0 "$RC"
done
assert_eq "connections the server accepted" 6 "$(conc_stat limit accepted)"
assert_eq "the server's maximum of concurrent connections" 2 "$(conc_stat limit max)"

check "limit: the clients beyond the limit really waited in the queue"
waited=0
for i in 1 2 3 4 5 6; do
	line=$(bh_result "lim$i")
	[ $(($(field "$line" connected) - $(field "$line" start))) -ge 600 ] && waited=$((waited + 1))
done
assert_ge "clients whose connect took at least 600 ms" 3 "$waited"

# --- (b) waiting in the queue ---------------------------------------------------------

new_domain bh-queue
start_conc queue
PORT=$CONC_PORT
RULES="127.0.0.1:$PORT bulkhead max_concurrent_requests=1 max_queue_size=5 queue_timeout_ms=15000"

check "queue: a blocking client behind a holder waits in the queue, the server sees 1 connection"
# The holder holds until released (not for a fixed time): however slowly
# the waiter's python3 starts, it finds the slot taken.
bh_hold qa "$PORT"
A=$HOLDER_PID
bh_start qb "$PORT"
B=$BH_PID
bh_waiting "$B"
assert_eq "server's current connections while qb waits" 1 "$(conc_stat queue current)"
assert_eq "qb has no result yet (it waits)" "" "$(bh_result qb)"

check "queue: it gets in once the holder closes"
bh_release qa
bh_finish "$A" "holder qa"
assert_eq "holder exit status" 0 "$RC"
bh_finish "$B" "waiter qb"
assert_eq "waiter exit status; its log: $(cat "$FL_TMP/qb.log")" 0 "$RC"
a=$(bh_result qa)
b=$(bh_result qb)
assert_ge "waiter connected at (ms) >= holder closing at" "$(field "$a" closing)" "$(field "$b" connected)"
assert_ge "waiter: connect took (ms)" $(($(field "$a" closing) - $(field "$b" start))) \
	$(($(field "$b" connected) - $(field "$b" start)))
assert_eq "the server's maximum of concurrent connections" 1 "$(conc_stat queue max)"

# --- (c) queue timeout ------------------------------------------------------------

for errname in default ETIMEDOUT; do
	new_domain "bh-timeout-$errname"
	start_conc "timeout-$errname"
	PORT=$CONC_PORT
	RULES="127.0.0.1:$PORT bulkhead max_concurrent_requests=1 max_queue_size=5 queue_timeout_ms=1000"
	want=ECONNREFUSED
	if [ "$errname" != default ]; then
		RULES="$RULES reject_errno=$errname"
		want=$errname
	fi

	check "queue timeout ($errname reject_errno): a queued client fails after >= 1000 ms with $want"
	bh_hold "holder-$errname" "$PORT"
	bh_run "late-$errname" "$PORT"
	assert_eq "late client exit status" 1 "$RC"
	assert_contains "late client's error" "$OUT" "err errno=$want "
	assert_contains "late client: connect itself failed" "$OUT" "via=connect"
	took=$(($(field "$OUT" end) - $(field "$OUT" start)))
	assert_ge "late client: connect took (ms)" 1000 "$took"
	assert_took "late client: connect took" 4000 "$took"
	assert_eq "connections the server accepted" 1 "$(conc_stat "timeout-$errname" accepted)"
	bh_release "holder-$errname"
	bh_finish "$HOLDER_PID" "holder"
	assert_eq "holder exit status" 0 "$RC"
done

check "queue timeout: after the holder left, a new client gets in at once"
bh_run after-timeout "$PORT"
assert_eq "client exit status; its log: $OUT" 0 "$RC"

# --- (d) queue full ------------------------------------------------------------------

new_domain bh-noqueue
start_conc noqueue
PORT=$CONC_PORT
RULES="127.0.0.1:$PORT bulkhead max_concurrent_requests=1 max_queue_size=0 queue_timeout_ms=10000"

check "no queue (max_queue_size=0): a blocking client fails at once with ECONNREFUSED"
bh_hold nq-holder "$PORT"
bh_run nq-extra "$PORT"
assert_eq "extra client exit status" 1 "$RC"
assert_contains "extra client's error" "$OUT" "err errno=ECONNREFUSED "
assert_fast "extra client" "$OUT"
assert_eq "connections the server accepted" 1 "$(conc_stat noqueue accepted)"
bh_release nq-holder
bh_finish "$HOLDER_PID" "holder"

new_domain bh-fullqueue
start_conc fullqueue
PORT=$CONC_PORT
RULES="127.0.0.1:$PORT bulkhead max_concurrent_requests=1 max_queue_size=1 queue_timeout_ms=20000"

check "full queue (max_queue_size=1, one already waiting): a third client fails at once"
bh_hold fq-holder "$PORT"
bh_start fq-waiter "$PORT"
W=$BH_PID
bh_waiting "$W"
bh_run fq-extra "$PORT"
assert_eq "extra client exit status" 1 "$RC"
assert_contains "extra client's error" "$OUT" "err errno=ECONNREFUSED "
assert_fast "extra client" "$OUT"

check "full queue: the waiter still gets in when the holder leaves"
bh_release fq-holder
bh_finish "$HOLDER_PID" "holder"
bh_finish "$W" "waiter"
assert_eq "waiter exit status; its log: $(cat "$FL_TMP/fq-waiter.log")" 0 "$RC"
assert_eq "connections the server accepted" 2 "$(conc_stat fullqueue accepted)"

# --- (e) non-blocking sockets queue through readiness (SPEC 12) ---------------------
# A non-blocking connect that finds the bulkhead full gets EINPROGRESS and
# a place in the queue; the socket turns writable when it is admitted (or
# refused, reject_errno through SO_ERROR). Only without room in the queue
# does it fail at once, as a blocking one does.

# queued_in_stats N: the bulkhead of 127.0.0.1:$PORT counts N queued.
queued_in_stats() {
	[ "$(FAULTLINE_DOMAIN=$DOMAIN json_get "d('127.0.0.1:$PORT')['bulkhead']['queued']")" = "$1" ]
}

new_domain bh-nonblock-noqueue
start_conc nbnoqueue
PORT=$CONC_PORT
RULES="127.0.0.1:$PORT bulkhead max_concurrent_requests=1 max_queue_size=0 queue_timeout_ms=10000"

check "non-blocking, no queue (max_queue_size=0): connect_ex fails at once with ECONNREFUSED"
bh_hold nbq-holder "$PORT"
bh_run nbq-so_error "$PORT" --nonblock so_error
assert_eq "client exit status" 1 "$RC"
assert_contains "client's error" "$OUT" "err errno=ECONNREFUSED "
assert_contains "client: connect_ex itself failed (no EINPROGRESS)" "$OUT" "via=connect"
assert_fast "non-blocking client" "$OUT"
bh_run nbq-timeout "$PORT" --timeout 5
assert_eq "settimeout client exit status" 1 "$RC"
assert_contains "settimeout client's error" "$OUT" "err errno=ECONNREFUSED "
assert_fast "settimeout client" "$OUT"
assert_eq "connections the server accepted" 1 "$(conc_stat nbnoqueue accepted)"
bh_release nbq-holder
bh_finish "$HOLDER_PID" "holder"

new_domain bh-nonblock
start_conc nonblock
PORT=$CONC_PORT
RULES="127.0.0.1:$PORT bulkhead max_concurrent_requests=1 max_queue_size=1 queue_timeout_ms=20000"

check "non-blocking, room in the queue: connect_ex gets EINPROGRESS and waits in the queue, not writable meanwhile"
bh_hold nb-holder "$PORT"
bh_start nb-queued "$PORT" --nonblock so_error
W=$BH_PID
wait_for "the non-blocking client to be counted queued" 10 queued_in_stats 1
kill -0 "$W" 2>/dev/null || fail "the non-blocking client ended instead of waiting: $(cat "$FL_TMP/nb-queued.log")"
assert_eq "the queued client has no result yet" "" "$(bh_result nb-queued)"
assert_eq "server's current connections" 1 "$(conc_stat nonblock current)"

check "non-blocking, full queue (max_queue_size=1, one queued): a second one fails at once"
bh_run nb-extra "$PORT" --nonblock so_error
assert_eq "extra client exit status" 1 "$RC"
assert_contains "extra client's error" "$OUT" "err errno=ECONNREFUSED "
assert_contains "extra client: connect_ex itself failed" "$OUT" "via=connect"
assert_fast "extra non-blocking client" "$OUT"

check "non-blocking: the queued client gets in once the holder closes"
bh_release nb-holder
bh_finish "$HOLDER_PID" "holder"
bh_finish "$W" "queued client"
assert_eq "queued client exit status; its log: $(cat "$FL_TMP/nb-queued.log")" 0 "$RC"
assert_eq "connections the server accepted" 2 "$(conc_stat nonblock accepted)"
assert_eq "the server's maximum of concurrent connections" 1 "$(conc_stat nonblock max)"

# --- threads --------------------------------------------------------------------------

new_domain bh-pythreads
start_conc pythreads
PORT=$CONC_PORT
RULES="127.0.0.1:$PORT bulkhead max_concurrent_requests=3 max_queue_size=10 queue_timeout_ms=20000"

check "threads: 8 python3 threads x 3 connections through a limit of 3: the server never sees more than 3"
bh_run pythreads "$PORT" --threads 8 --iterations 3 --hold-ms 150
assert_eq "client exit status; its log: $OUT" 0 "$RC"
assert_eq "connections the server accepted" 24 "$(conc_stat pythreads accepted)"
assert_eq "the server's maximum of concurrent connections" 3 "$(conc_stat pythreads max)"

new_domain bh-cthreads
start_conc cthreads
PORT=$CONC_PORT
RULES="127.0.0.1:$PORT bulkhead max_concurrent_requests=3 max_queue_size=10 queue_timeout_ms=20000"

check "threads: 8 pthreads x 10 connections (started together) through a limit of 3: never more than 3"
OUT=$("$CLI" run --rules "$RULES" --domain "$DOMAIN" -- "$THREADS" "$PORT" 8 10 30 2>&1)
assert_eq "helper exit status; it said: $OUT" 0 "$?"
assert_eq "helper's summary" "connected=80 failed=0 first_errno=none" "$OUT"
assert_eq "connections the server accepted" 80 "$(conc_stat cthreads accepted)"
assert_eq "the server's maximum of concurrent connections" 3 "$(conc_stat cthreads max)"

new_domain bh-procthreads
start_conc procthreads
PORT=$CONC_PORT
RULES="127.0.0.1:$PORT bulkhead max_concurrent_requests=3 max_queue_size=10 queue_timeout_ms=20000"

check "threads: 2 processes x 4 pthreads x 10 connections share the limit of 3"
start_bg proc1 "$CLI" run --rules "$RULES" --domain "$DOMAIN" -- "$THREADS" "$PORT" 4 10 30
P1=$!
start_bg proc2 "$CLI" run --rules "$RULES" --domain "$DOMAIN" -- "$THREADS" "$PORT" 4 10 30
P2=$!
bh_finish "$P1" "process 1" 60
assert_eq "process 1 exit status; it said: $(cat "$FL_TMP/proc1.log")" 0 "$RC"
bh_finish "$P2" "process 2" 60
assert_eq "process 2 exit status; it said: $(cat "$FL_TMP/proc2.log")" 0 "$RC"
assert_eq "connections the server accepted" 80 "$(conc_stat procthreads accepted)"
assert_eq "the server's maximum of concurrent connections" 3 "$(conc_stat procthreads max)"

done_ok
