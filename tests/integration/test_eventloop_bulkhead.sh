# test_eventloop_bulkhead.sh - a python client with a socket timeout
# (settimeout: O_NONBLOCK underneath, connect then poll) waits in a
# bulkhead's queue instead of being refused at once (issue 17, SPEC 12).
#
# SPEC 12: a connect waiting for a bulkhead slot on a non-blocking socket
# returns EINPROGRESS at once; the socket becomes writable when the
# bulkhead admits it (the real connect is then made) or rejects it
# (reject_errno through SO_ERROR). So a client with a timeout queues like a
# blocking one: admitted when the holder's slot frees, refused only when
# queue_timeout_ms passes. (Before issue 17 a non-blocking connect never
# waited: refused at once with ECONNREFUSED.)
#
# The waiter (bh_client.py --timeout 10) is known to wait when its main
# thread sleeps in poll() - Python's wait for a pending connect - (or in
# futex, should the shim wait for the slot there), read from
# /proc/PID/syscall; it is released by the holder's close, and its
# admission is timed from the holder's own "closing" clock reading.
. "$(dirname "$0")/lib.sh"
need_build
trap 'cleanup; remove_domains' EXIT

# in_wait PID: the process's main thread sleeps in a readiness call
# (poll, ppoll, select, pselect6: Python's wait for a pending connect), or
# in futex/futex_waitv (should the shim's poll wait for the bulkhead
# there): read from /proc/PID/syscall.
in_wait() {
	local now
	now=$(cut -d' ' -f1 "/proc/$1/syscall" 2>/dev/null)
	case $(uname -m) in
	x86_64) case $now in 7 | 271 | 23 | 270 | 202 | 449) return 0 ;; esac ;;
	aarch64 | riscv64) case $now in 73 | 72 | 98 | 449) return 0 ;; esac ;;
	esac
	return 1
}

# waiting_or_gone PID: the client waits for its connect, or has ended.
waiting_or_gone() {
	in_wait "$1" || ! kill -0 "$1" 2>/dev/null
}

# queued_or_refused NAME PID: until client NAME (PID) waits in poll for its
# connect; fails, with the client's result, if it ended instead.
queued_or_refused() {
	wait_for "client $1 to wait for its connect (in poll or futex) or end" 10 waiting_or_gone "$2"
	kill -0 "$2" 2>/dev/null ||
		fail "client $1 (settimeout 10 s) did not wait in the bulkhead queue: it ended at once with: $(cat "$FL_TMP/$1.log") (a non-blocking connect must return EINPROGRESS and wait for the slot, SPEC 12)"
	printf '   %s waits (system call %s); bulkhead queued (stats): %s\n' "$1" \
		"$(cut -d' ' -f1 "/proc/$2/syscall" 2>/dev/null)" \
		"$(FAULTLINE_DOMAIN=$DOMAIN json_get "d('127.0.0.1:$PORT')['bulkhead']['queued']" 2>&1)"
}

if [ "$(uname -m)" != x86_64 ] && [ "$(uname -m)" != aarch64 ] && [ "$(uname -m)" != riscv64 ]; then
	skip "reading a process's system call from /proc/PID/syscall is only mapped for x86_64, aarch64, riscv64"
fi

# --- admitted when the slot frees ---------------------------------------------------

new_domain ev-bh-admit
start_conc admit
PORT=$CONC_PORT
RULES="127.0.0.1:$PORT bulkhead max_concurrent_requests=1 max_queue_size=5 queue_timeout_ms=5000"

check "settimeout client behind a holder: waits for its connect instead of being refused"
bh_hold holder "$PORT"
H=$HOLDER_PID
bh_start waiter "$PORT" --timeout 10
W=$BH_PID
queued_or_refused waiter "$W"
assert_eq "server's current connections while the waiter waits" 1 "$(conc_stat admit current)"
assert_eq "waiter has no result yet" "" "$(bh_result waiter)"

check "it is admitted when the holder closes, promptly after the release"
bh_release holder
bh_finish "$H" "holder"
assert_eq "holder exit status; its log: $(cat "$FL_TMP/holder.log")" 0 "$RC"
bh_finish "$W" "waiter"
assert_eq "waiter exit status; its log: $(cat "$FL_TMP/waiter.log")" 0 "$RC"
h=$(bh_result holder)
w=$(bh_result waiter)
assert_ge "waiter connected at (ms) >= holder closing at" "$(field "$h" closing)" "$(field "$w" connected)"
assert_took "waiter's admission, from the holder's closing" 1000 $(($(field "$w" connected) - $(field "$h" closing)))
assert_eq "connections the server accepted" 2 "$(conc_stat admit accepted)"
assert_eq "the server's maximum of concurrent connections" 1 "$(conc_stat admit max)"

# --- refused when the queue timeout passes ------------------------------------------

new_domain ev-bh-timeout
start_conc qtimeout
PORT=$CONC_PORT
RULES="127.0.0.1:$PORT bulkhead max_concurrent_requests=1 max_queue_size=5 queue_timeout_ms=1000"

check "settimeout client, slot never freed: refused with ECONNREFUSED after queue_timeout_ms (1000), not at once"
bh_hold holder2 "$PORT"
bh_run late "$PORT" --timeout 10
assert_eq "late client exit status" 1 "$RC"
assert_contains "late client's error" "$OUT" "err errno=ECONNREFUSED "
took=$(($(field "$OUT" end) - $(field "$OUT" start)))
assert_ge "late client: connect took (ms) - refused at once means it never queued" 1000 "$took"
assert_took "late client: connect took" 4000 "$took"
assert_eq "connections the server accepted" 1 "$(conc_stat qtimeout accepted)"
bh_release holder2
bh_finish "$HOLDER_PID" "holder2"

done_ok
