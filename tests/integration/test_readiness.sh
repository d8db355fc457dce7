# test_readiness.sh - delays on non-blocking sockets are seen through
# readiness, never by stalling the loop (SPEC 12, issue 17): small event
# loops in helper_readiness.c, each playing both ends on loopback.
#
# What is pinned: a non-blocking connect under a connect delay returns
# EINPROGRESS at once, shows nothing (and reaches no listener) before the
# deadline and becomes writable at it; recv under a delay returns EAGAIN
# at once and becomes readable at the deadline while another socket of
# the same poll/select loop is served at once; edge-triggered and one-shot
# epoll see exactly one wake-up per readiness change, with the program's
# data, also for a socket registered before its connect (nginx's order);
# blocking sockets are bounded by SO_RCVTIMEO/SO_SNDTIMEO; the breaker
# counts the outcome of a delayed non-blocking connect. Timing bounds are
# the helper's, measured from the event they follow.
. "$(dirname "$0")/lib.sh"
need_build helper_readiness
trap 'cleanup; remove_domains' EXIT

H="$HELPERS/helper_readiness"
D=800

# run RULES MODE ARGS...: the helper under RULES; fails the test on a FAIL line.
run() {
	local rules=$1
	shift
	FAULTLINE_RULES="$rules" shim "$H" "$@" || fail "helper_readiness $* (see the FAIL lines above)"
}

P=$(free_port)
O=$(free_port)
check "non-blocking connect under a ${D} ms connect delay: EINPROGRESS at once, EALREADY, nothing at the listener, writable at the deadline"
run "127.0.0.1:$P fault on=connect delay_ms=$D" connect "$P" "$D"

check "recv under a ${D} ms delay on a non-blocking socket (poll): EAGAIN at once, hidden, readable at the deadline; the other socket of the loop at once"
run "127.0.0.1:$P fault on=recv delay_ms=$D" recv-poll "$P" "$D" "$O"
check "the same through select"
run "127.0.0.1:$P fault on=recv delay_ms=$D" recv-select "$P" "$D" "$O"

check "edge-triggered epoll: one event per readiness change, the program's data, woken at the deadline"
run "127.0.0.1:$P fault on=recv delay_ms=$D" epoll-et "$P" "$D"
check "EPOLLONESHOT: one event at the deadline after re-arming, nothing until re-armed again"
run "127.0.0.1:$P fault on=recv delay_ms=$D" epoll-oneshot "$P" "$D"
check "a socket registered (EPOLLET) before its delayed connect: no EPOLLHUP, one EPOLLOUT at the deadline"
run "127.0.0.1:$P fault on=connect delay_ms=$D" epoll-connect "$P" "$D"

check "blocking recv: a 2 s delay is bounded by SO_RCVTIMEO 300 ms (EAGAIN)"
run "127.0.0.1:$P fault on=recv delay_ms=2000" blocking-recv "$P" 2000
check "blocking connect: a 1.5 s delay is bounded by SO_SNDTIMEO 300 ms (EINPROGRESS), the connect goes on"
run "127.0.0.1:$P fault on=connect delay_ms=1500" blocking-connect "$P" 1500

check "a delayed non-blocking connect that fails: SO_ERROR gives the error at the deadline, the breaker counts it and opens"
RULES="127.0.0.1:$P fault on=connect delay_ms=300 error=ECONNREFUSED; 127.0.0.1:$P breaker failure_threshold=2 timeout_ms=60000"
for i in 1 2; do
	out=$(FAULTLINE_RULES="$RULES" shim "$H" connect-fails "$P" 300 ECONNREFUSED) || fail "connect $i: $out"
	assert_contains "connect $i" "$out" "so_error ECONNREFUSED"
done
out=$(FAULTLINE_RULES="$RULES" shim "$H" connect-fails "$P" 300 ECONNREFUSED)
assert_contains "connect 3 (breaker open: rejected at once)" "$out" "connect ECONNREFUSED"
json=$("$CLI" stats --json --domain "$FAULTLINE_DOMAIN")
calls=$(printf '%s' "$json" | "$PY" -c 'import json,sys; d=[x for x in json.load(sys.stdin)["destinations"] if x["destination"]==sys.argv[1]][0]; print(d["breaker"]["calls"], d["breaker"]["failures"], d["breaker"]["state"])' "127.0.0.1:$P")
assert_eq "breaker calls, failures, state" "2 2 open" "$calls"

check "a non-blocking connect queued in a full bulkhead of 1 (epoll, edge-triggered): EINPROGRESS, nothing while queued (SO_ERROR 0, EALREADY), exactly one EPOLLOUT after the holder closes"
run "127.0.0.1:$P bulkhead max_concurrent_requests=1 max_queue_size=2 queue_timeout_ms=10000" bulkhead-queued "$P" 10000
check "a queued non-blocking connect that is never admitted: one event at queue_timeout_ms, SO_ERROR = reject_errno once, counted in the bulkhead's timeouts"
Q=$(free_port) # a destination of its own: bulkhead parameters are set when its entry is made
run "127.0.0.1:$Q bulkhead max_concurrent_requests=1 max_queue_size=2 queue_timeout_ms=$D reject_errno=ETIMEDOUT" bulkhead-queued "$Q" "$D" ETIMEDOUT
json=$("$CLI" stats --json --domain "$FAULTLINE_DOMAIN")
got=$(printf '%s' "$json" | "$PY" -c 'import json,sys; d=[x for x in json.load(sys.stdin)["destinations"] if x["destination"]==sys.argv[1]][0]; b=d["bulkhead"]; print(b["timeouts"], b["queued"], b["active"])' "127.0.0.1:$Q")
assert_eq "bulkhead timeouts, queued, active" "1 0 0" "$got"

check "fork while a non-blocking connect is deferred: parent and child both see it writable at the deadline, one real connect is made (not one per process)"
if strace_works; then
	FAULTLINE_RULES="127.0.0.1:$P fault on=connect delay_ms=$D" shim strace -f -qq -e trace=connect -o "$FL_TMP/fork.strace" "$H" fork-connect "$P" "$D" ||
		fail "helper_readiness fork-connect (see the FAIL lines above)"
	connects=$(grep -c "htons($P)" "$FL_TMP/fork.strace")
	assert_eq "connect system calls to port $P (the deferred connect makes no system call; the parent makes the real one at the deadline, the child none; strace: $(tr '\n' ';' <"$FL_TMP/fork.strace"))" 1 "$connects"
else
	run "127.0.0.1:$P fault on=connect delay_ms=$D" fork-connect "$P" "$D"
	echo "   (strace not installed: the count of connect system calls is not checked)"
fi

done_ok
