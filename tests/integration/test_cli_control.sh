# test_cli_control.sh - `faultline trip`, `reset`, `set` and `clear`
# steering real programs: a tripped breaker fails curl without a connect
# system call, reset lets it through again, set changes what the next
# process sees, clear refuses while processes are attached.
. "$(dirname "$0")/lib.sh"
need_cmd curl
need_build
use_domain it-control

start_server http http tcp4
PORT=$SERVER_PORT
DEST="127.0.0.1:$PORT"
URL="http://$DEST/x"
RULES="$DEST breaker failure_threshold=5 timeout_ms=60000"

fetch() { # curl under the shim with $RULES; RC, OUT, MS
	local t0
	t0=$(now_ms)
	OUT=$(FAULTLINE_RULES="$RULES" shim curl -sS --max-time 10 "$URL" 2>&1)
	RC=$?
	MS=$(($(now_ms) - t0))
}

check "baseline: curl under a breaker rule fetches the page; the destination appears"
fetch
assert_eq "curl exit status" 0 "$RC"
assert_eq "STATE" closed "$(stats_field "$DEST" STATE)"
assert_eq "CALLS" 1 "$(stats_field "$DEST" CALLS)"

check "trip DEST: forced_open; the next curl fails at once and the server sees nothing"
cli trip "$DEST"
assert_eq "trip exit status" 0 "$RC"
assert_eq "STATE" forced_open "$(stats_field "$DEST" STATE)"
before=$(accepted http)
fetch
assert_eq "curl exit status (7 = couldn't connect)" 7 "$RC"
assert_took "curl wall time" 3000 "$MS"
assert_eq "REJECTED" 1 "$(stats_field "$DEST" REJECTED)"
assert_no_connection http "$before" "$PORT"

check "tripped: no connect system call to the port at all (strace)"
if strace_works; then
	FAULTLINE_RULES="$RULES" strace -f -o "$FL_TMP/trip.strace" -e trace=connect \
		env LD_PRELOAD="$SHIM" curl -sS --max-time 10 "$URL" >/dev/null 2>&1
	assert_eq "curl exit status under strace" 7 "$?"
	assert_not_contains "traced connect calls" "$(cat "$FL_TMP/trip.strace")" "htons($PORT)"
else
	echo "   (strace cannot trace here; the server's view above stands alone)"
fi

check "reset DEST: closed again, every counter cleared, and curl gets the page"
cli reset "$DEST"
assert_eq "reset exit status" 0 "$RC"
assert_eq "state, calls, failures, rejected, transitions, connect calls" \
	"('closed', 0, 0, 0, 0, 0)" "$(json_get "(d('$DEST')['breaker']['state'], d('$DEST')['breaker']['calls'],
	d('$DEST')['breaker']['failures'], d('$DEST')['breaker']['rejected'], d('$DEST')['breaker']['transitions'],
	d('$DEST')['ops']['connect']['calls'])")"
fetch
assert_eq "curl exit status" 0 "$RC"
assert_contains "body" "$OUT" "hello"
if strace_works; then
	FAULTLINE_RULES="$RULES" strace -f -o "$FL_TMP/reset.strace" -e trace=connect \
		env LD_PRELOAD="$SHIM" curl -sS --max-time 10 "$URL" >/dev/null 2>&1
	assert_contains "traced connect calls after reset" "$(cat "$FL_TMP/reset.strace")" "htons($PORT)"
fi

check "options may follow operands: trip DEST --domain D == --domain D trip DEST"
export -n FAULTLINE_DOMAIN
"$CLI" trip "$DEST" --domain "$DOMAIN" || fail "trip DEST --domain D"
assert_eq "STATE" forced_open "$(FAULTLINE_DOMAIN=$DOMAIN stats_field "$DEST" STATE)"
"$CLI" --domain "$DOMAIN" reset "$DEST" || fail "--domain D reset DEST"
assert_eq "STATE" closed "$(FAULTLINE_DOMAIN=$DOMAIN stats_field "$DEST" STATE)"
export FAULTLINE_DOMAIN

check "an unknown destination: reset and set exit 1, 'destination ... not found in domain ...'"
cli reset 10.9.9.9:1
assert_eq "reset exit status" 1 "$RC"
assert_eq "reset stderr" "faultline: destination '10.9.9.9:1' not found in domain '$DOMAIN'" "$ERR"
cli set 10.9.9.9:1 failure_threshold=2
assert_eq "set exit status" 1 "$RC"
check "trip of a destination not contacted yet creates it forced_open (SPEC 11); a target that is no one destination is not found"
cli trip 10.9.9.9:1
assert_eq "trip exit status" 0 "$RC"
assert_eq "STATE" forced_open "$(stats_field 10.9.9.9:1 STATE)"
cli trip 10.9.9.0/24:1
assert_eq "trip of a CIDR exit status" 1 "$RC"
assert_contains "trip of a CIDR stderr" "$ERR" "not found in domain"

check "a destination without a breaker: trip gives it one, forced_open (SPEC 11); reset of the fault counters works"
FAULT_ONLY=$(free_port)
FAULTLINE_RULES="127.0.0.1:$FAULT_ONLY fault on=connect error=ECONNREFUSED" shim curl -s "http://127.0.0.1:$FAULT_ONLY/" >/dev/null
cli trip "127.0.0.1:$FAULT_ONLY"
assert_eq "exit status" 0 "$RC"
assert_eq "STATE" forced_open "$(stats_field "127.0.0.1:$FAULT_ONLY" STATE)"

check "a scope=rule breaker is named by its statement's target: trip it, every destination it matches fails"
SHARED=$(free_port)
SRULES="127.0.0.0/8:$SHARED breaker scope=rule"
probe "$SRULES" "4:127.0.0.1:$SHARED"
expect_probe "4:127.0.0.1:$SHARED" ECONNREFUSED
assert_eq "KIND of the statement's entry" rule "$(stats_field "127.0.0.0/8:$SHARED" KIND)"
assert_eq "CALLS of the statement's entry" 1 "$(stats_field "127.0.0.0/8:$SHARED" CALLS)"
cli trip "127.0.0.0/8:$SHARED"
assert_eq "trip exit status" 0 "$RC"
assert_eq "STATE" forced_open "$(stats_field "127.0.0.0/8:$SHARED" STATE)"
probe "$SRULES" "4:127.0.0.2:$SHARED" "4:127.0.0.1:$SHARED"
assert_eq "REJECTED (both destinations)" 2 "$(stats_field "127.0.0.0/8:$SHARED" REJECTED)"
cli reset "127.0.0.0/8:$SHARED"
assert_eq "reset exit status" 0 "$RC"
assert_eq "STATE" closed "$(stats_field "127.0.0.0/8:$SHARED" STATE)"

check "usage: trip and reset need exactly one destination (or reset --all)"
cli trip
assert_eq "trip without DEST" 2 "$RC"
cli reset
assert_eq "reset without DEST" 2 "$RC"
cli reset "$DEST" --all
assert_eq "reset DEST --all" 2 "$RC"

CLOSED=$(free_port)
CDEST="127.0.0.1:$CLOSED"
closed_curl() {
	FAULTLINE_RULES="$CDEST breaker failure_threshold=5" shim curl -sS --max-time 10 "http://$CDEST/" >/dev/null 2>&1
	RC=$?
}
check "set failure_threshold=1 takes effect on the next connection of a new process"
closed_curl
assert_eq "one failure, threshold 5: still closed" closed "$(stats_field "$CDEST" STATE)"
"$CLI" reset "$CDEST" || fail "reset $CDEST"
cli set "$CDEST" failure_threshold=1
assert_eq "set exit status" 0 "$RC"
assert_eq "failure_threshold" 1 "$(json_get "d('$CDEST')['breaker']['failure_threshold']")"
closed_curl
assert_eq "after one more failure" open "$(stats_field "$CDEST" STATE)"

check "set validates like the rule parser: source 'set', column = argv position, exit 2"
cli set "$CDEST" failur_threshold=3
assert_eq "exit status" 2 "$RC"
assert_eq "stderr" "faultline: set:1:3: unknown key 'failur_threshold' in breaker (did you mean 'failure_threshold'?)" "$ERR"
cli set "$CDEST" success_threshold=2 timeout_ms=0
assert_eq "exit status" 2 "$RC"
assert_eq "stderr" "faultline: set:1:4: value '0' of 'timeout_ms' is out of range 1..2147483647" "$ERR"
cli set "$CDEST" reject_errno=ECONRESET
assert_eq "exit status" 2 "$RC"
assert_contains "stderr" "$ERR" "unknown errno name 'ECONRESET' for 'reject_errno' (did you mean 'ECONNRESET'?)"
cli set "$CDEST" probability=0.5
assert_eq "a fault key" 2 "$RC"
assert_contains "stderr" "$ERR" "'probability' is a key of fault, not breaker"
cli set "$CDEST" failure_threshold
assert_eq "no '='" 2 "$RC"
cli set "$CDEST" failure_threshold=2 failure_threshold=3
assert_eq "a key twice" 2 "$RC"
assert_contains "stderr" "$ERR" "duplicate key 'failure_threshold'"
cli set "$CDEST" scope=rule
assert_eq "scope cannot change live" 2 "$RC"
assert_contains "stderr" "$ERR" "'scope' of a breaker cannot be changed live"
cli set "$CDEST"
assert_eq "no KEY=VALUE" 2 "$RC"

check "set is all-or-nothing: one bad pair, nothing written"
cli set "$CDEST" failure_threshold=7 success_threshold=9 timeout_ms=soon
assert_eq "exit status" 2 "$RC"
assert_eq "failure_threshold, success_threshold unchanged" "(1, 2)" \
	"$(json_get "(d('$CDEST')['breaker']['failure_threshold'], d('$CDEST')['breaker']['success_threshold'])")"

check "a bulkhead key on a destination with no bulkhead: exit 1"
cli set "$CDEST" max_concurrent_requests=3
assert_eq "exit status" 1 "$RC"
assert_contains "stderr" "$ERR" "has no bulkhead"

check "set enabled=false: disabled, connections pass to the network again (refused by it, not by the breaker)"
cli set "$CDEST" enabled=false
assert_eq "exit status" 0 "$RC"
assert_eq "STATE" disabled "$(stats_field "$CDEST" STATE)"
rejected=$(stats_field "$CDEST" REJECTED)
probe "$CDEST breaker failure_threshold=5" "4:127.0.0.1:$CLOSED"
expect_probe "4:127.0.0.1:$CLOSED" ECONNREFUSED
assert_eq "REJECTED unchanged" "$rejected" "$(stats_field "$CDEST" REJECTED)"
cli set "$CDEST" enabled=true
assert_eq "enabled again: STATE" closed "$(stats_field "$CDEST" STATE)"

check "set reject_errno: the breaker rejects with the new errno"
cli set "$CDEST" reject_errno=EHOSTUNREACH
assert_eq "exit status" 0 "$RC"
"$CLI" trip "$CDEST" || fail "trip $CDEST"
probe "$CDEST breaker failure_threshold=5" "4:127.0.0.1:$CLOSED"
expect_probe "4:127.0.0.1:$CLOSED" EHOSTUNREACH

BOTH=$(free_port)
BDEST="127.0.0.1:$BOTH"
check "a key both parts have applies to both; breaker.KEY / bulkhead.KEY pick one"
FAULTLINE_RULES="$BDEST breaker; $BDEST bulkhead max_concurrent_requests=3" shim curl -s "http://$BDEST/" >/dev/null
cli set "$BDEST" reject_errno=ENETUNREACH bulkhead.max_concurrent_requests=7 max_queue_size=2
assert_eq "exit status" 0 "$RC"
assert_eq "reject_errno of both, limit, queue" "('ENETUNREACH', 'ENETUNREACH', 7, 2)" \
	"$(json_get "(d('$BDEST')['breaker']['reject_errno'], d('$BDEST')['bulkhead']['reject_errno'],
	d('$BDEST')['bulkhead']['limit'], d('$BDEST')['bulkhead']['max_queue_size'])")"
cli set "$BDEST" breaker.reject_errno=ECONNRESET
assert_eq "breaker only" "('ECONNRESET', 'ENETUNREACH')" \
	"$(json_get "(d('$BDEST')['breaker']['reject_errno'], d('$BDEST')['bulkhead']['reject_errno'])")"
cli set "$BDEST" breaker.max_queue_size=1
assert_eq "a bulkhead key given to the breaker" 2 "$RC"
assert_contains "stderr" "$ERR" "'max_queue_size' is a key of bulkhead, not breaker"
assert_eq "BULKHEAD shows the new limit" 0/0/7 "$(stats_field "$BDEST" BULKHEAD)"

check "reset --all: every destination back to closed, counters cleared"
cli reset --all
assert_eq "exit status" 0 "$RC"
assert_eq "states and calls" "[('closed', 0), ('closed', 0), ('closed', 0), ('closed', 0), ('closed', 0), ('closed', 0)]" \
	"$(json_get "[(x['breaker']['state'], x['breaker']['calls']) for x in s['destinations'] if x['breaker']]")"
assert_eq "connect calls" "[0, 0, 0, 0, 0, 0, 0, 0]" "$(json_get "[x['ops']['connect']['calls'] for x in s['destinations']]")"

check "clear: refused while a process is attached, done with --force"
start_bg sleeper env FAULTLINE_RULES="$RULES" LD_PRELOAD="$SHIM" sleep 60
SLEEPER=${BG_PIDS[-1]}
wait_for "the sleeper to attach" 10 sh -c "'$CLI' ps | awk '\$1 == $SLEEPER' | grep -q yes"
cli clear
assert_eq "exit status" 1 "$RC"
assert_contains "stderr" "$ERR" "live process attached (pid $SLEEPER)"
assert_eq "the domain is still there" closed "$(stats_field "$DEST" STATE)"
cli clear --force
assert_eq "exit status with --force" 0 "$RC"
cli stats
assert_eq "stats after clear" 1 "$RC"
assert_eq "stats after clear: stderr" "faultline: domain '$DOMAIN' does not exist" "$ERR"
cli clear
assert_eq "clear of a missing domain" 1 "$RC"
assert_eq "clear of a missing domain: stderr" "faultline: domain '$DOMAIN' does not exist" "$ERR"

check "clear without live processes needs no --force"
FAULTLINE_RULES="$RULES" shim /bin/true # (a program, not the shell builtin)
cli clear
assert_eq "exit status" 0 "$RC"
[ -e "/dev/shm/faultline.$(id -u).$DOMAIN" ] && fail "the segment is still in /dev/shm"

done_ok
