#!/usr/bin/env bash
# test_trust_waits.sh - waits the shim adds to a program's calls behave like
# the calls themselves (issue 10, items 3, 19, 20):
#
#   signals   an injected delay and a connect queued in a full bulkhead end
#             with -1/EINTR, without the real call, when a signal handler
#             installed without SA_RESTART runs (alarm(1) in
#             helper_waits.c); with SA_RESTART they go on to their end.
#   order     bulkhead waiters are admitted first come, first served, also
#             when they have waited longer than the 1 s reap tick.
#   set       `faultline set DEST max_concurrent_requests=N` admits a
#             queued waiter at once, not at its next tick.
#
# Times are lower bounds plus generous upper bounds, measured by the
# programs around their own calls (helper_waits) or from the event
# (bh_client.py's Unix-ms stamps against `date`). A waiter is known to be
# queued when `faultline stats --json` counts it (bounded polling).
. "$(dirname "$0")/lib.sh"
need_build helper_waits
trap 'cleanup; remove_domains' EXIT

WAITS="$HELPERS/helper_waits"

# queued DEST: the bulkhead's queued count of DEST in $DOMAIN.
queued() {
	"$CLI" stats --json --domain "$DOMAIN" | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
print([d for d in s["destinations"] if d["destination"] == sys.argv[1]][0]["bulkhead"]["queued"])' "$1"
}

queued_is() { # DEST N
	[ "$(queued "$1" 2>/dev/null)" = "$2" ]
}

# waits ARGS...: helper_waits under $RULES in $DOMAIN; its line in OUT.
waits() {
	OUT=$(timeout 30 "$CLI" run --rules "$RULES" --domain "$DOMAIN" -- "$WAITS" "$@" 2>&1)
	RC=$?
	printf '   %s\n' "$OUT"
}

# --- (a) a signal during an injected delay ----------------------------------------

new_domain waits-delay
RULES='127.0.0.1 fault on=recv delay_ms=2000'

check "delay: alarm(1) without SA_RESTART during a 2 s recv delay: recv fails with EINTR after ~1 s"
waits recv plain
assert_eq "helper exit status" 0 "$RC"
assert_eq "recv result" -1 "$(field "$OUT" rc)"
assert_eq "recv errno" EINTR "$(field "$OUT" errno)"
assert_eq "handler runs" 1 "$(field "$OUT" handler_runs)"
assert_ge "recv took (ms)" 900 "$(field "$OUT" ms)"
assert_le "recv took (ms)" 1899 "$(field "$OUT" ms)"

check "delay: the interrupted recv made no real call: the data waiting then is received next"
assert_eq "the next recv's result" 3 "$(field "$OUT" again_rc)"
assert_eq "the next recv's data" hi "$(field "$OUT" again_data)"

check "delay: alarm(1) with SA_RESTART: the rest of the delay is slept, then the real recv returns the data"
waits recv restart
assert_eq "helper exit status" 0 "$RC"
assert_eq "recv result (bytes)" 3 "$(field "$OUT" rc)"
assert_eq "handler runs" 1 "$(field "$OUT" handler_runs)"
assert_ge "recv took (ms)" 1950 "$(field "$OUT" ms)"
assert_le "recv took (ms)" 3999 "$(field "$OUT" ms)"

# --- (b) a signal during a wait in the bulkhead queue ------------------------------------

new_domain waits-queue
start_conc wq
PORT=$CONC_PORT
RULES="127.0.0.1:$PORT bulkhead max_concurrent_requests=1 max_queue_size=5 queue_timeout_ms=20000"

check "queue: alarm(1) without SA_RESTART around a connect queued behind a full bulkhead: EINTR after ~1 s"
bh_hold wq-holder "$PORT"
waits connect "$PORT" plain
assert_eq "helper exit status" 0 "$RC"
assert_eq "connect result" -1 "$(field "$OUT" rc)"
assert_eq "connect errno" EINTR "$(field "$OUT" errno)"
assert_ge "connect took (ms)" 900 "$(field "$OUT" ms)"
assert_le "connect took (ms)" 1899 "$(field "$OUT" ms)"

check "queue: the interrupted connect gave its place back and made no real connect"
assert_eq "queued after the interrupted connect" 0 "$(queued "127.0.0.1:$PORT")"
assert_eq "connections the server accepted" 1 "$(conc_stat wq accepted)"
bh_release wq-holder
bh_finish "$HOLDER_PID" "holder"
assert_eq "holder exit status" 0 "$RC"

new_domain waits-queue-restart
RULES="127.0.0.1:$PORT bulkhead max_concurrent_requests=1 max_queue_size=5 queue_timeout_ms=2500"

check "queue: with SA_RESTART the connect waits on to queue_timeout_ms (2500), then fails with reject_errno"
bh_hold wqr-holder "$PORT"
waits connect "$PORT" restart
assert_eq "helper exit status" 0 "$RC"
assert_eq "connect result" -1 "$(field "$OUT" rc)"
assert_eq "connect errno" ECONNREFUSED "$(field "$OUT" errno)"
assert_eq "handler runs" 1 "$(field "$OUT" handler_runs)"
assert_ge "connect took (ms)" 2450 "$(field "$OUT" ms)"
assert_le "connect took (ms)" 5999 "$(field "$OUT" ms)"
bh_release wqr-holder
bh_finish "$HOLDER_PID" "holder"

# --- (c) first come, first served -----------------------------------------------------

new_domain waits-order
start_conc order
PORT=$CONC_PORT
RULES="127.0.0.1:$PORT bulkhead max_concurrent_requests=1 max_queue_size=5 queue_timeout_ms=20000"

check "order: W1, W2, W3 queue in this order behind a holder that keeps the slot past the 1 s reap tick"
bh_hold order-holder "$PORT"
W=()
for i in 1 2 3; do
	bh_start "w$i" "$PORT" --hold-ms 200
	W+=("$BH_PID")
	wait_for "w$i to be counted in the queue" 10 queued_is "127.0.0.1:$PORT" "$i"
	[ "$i" = 1 ] && first_queued=$(now_ms)
done
# Just past W1's first reap tick, where it used to go to the back of the
# line, and before W2's (which queued later): the old code admitted W2 first.
for _ in $(seq 1 100); do
	[ "$(now_ms)" -ge $((first_queued + 1050)) ] && break
	sleep 0.05
done
bh_release order-holder
bh_finish "$HOLDER_PID" "holder"
assert_eq "holder exit status" 0 "$RC"
for i in 1 2 3; do
	bh_finish "${W[$((i - 1))]}" "waiter w$i" 30
	assert_eq "waiter w$i exit status; its log: $(cat "$FL_TMP/w$i.log")" 0 "$RC"
done

check "order: they are admitted one by one, W1 first, then W2, then W3"
c1=$(field "$(bh_result w1)" connected)
c2=$(field "$(bh_result w2)" connected)
c3=$(field "$(bh_result w3)" connected)
printf '   admitted at (Unix ms): w1=%s w2=%s w3=%s\n' "$c1" "$c2" "$c3"
[ "$c1" -lt "$c2" ] && [ "$c2" -lt "$c3" ] || fail "admission order is not w1, w2, w3: w1=$c1 w2=$c2 w3=$c3"
assert_eq "the server's maximum of concurrent connections" 1 "$(conc_stat order max)"

# --- (d) `faultline set` admits waiters at once ---------------------------------------------

new_domain waits-set
start_conc set
PORT=$CONC_PORT
RULES="127.0.0.1:$PORT bulkhead max_concurrent_requests=1 max_queue_size=5 queue_timeout_ms=20000"

check "set: a waiter queued behind a full bulkhead of 1 is admitted well under 0.5 s after set raises the limit to 2"
bh_hold set-holder "$PORT"
bh_start set-waiter "$PORT"
WAITER=$BH_PID
wait_for "the waiter to be counted in the queue" 10 queued_is "127.0.0.1:$PORT" 1
set_at=$(now_ms)
"$CLI" set --domain "$DOMAIN" "127.0.0.1:$PORT" max_concurrent_requests=2 || fail "faultline set failed"
bh_finish "$WAITER" "waiter" 30
assert_eq "waiter exit status; its log: $(cat "$FL_TMP/set-waiter.log")" 0 "$RC"
admitted=$(field "$(bh_result set-waiter)" connected)
printf '   admitted %d ms after the set started\n' $((admitted - set_at))
assert_le "admitted after the set (ms)" 499 $((admitted - set_at))
assert_eq "the server's current connections: holder and waiter" 2 "$(conc_stat set max)"
bh_release set-holder
bh_finish "$HOLDER_PID" "holder"

done_ok
