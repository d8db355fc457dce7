# test_eventloop_curl.sh - curl's own connect timeout under an injected
# connect delay (issue 17, SPEC 12).
#
# curl connects with a non-blocking socket and waits for writability in its
# poll loop, where its --connect-timeout timer lives. SPEC 12: on such a
# socket the shim never sleeps inside connect(); it returns EINPROGRESS at
# once and the socket becomes writable only when the delay has passed. So a
# 4 s connect delay behaves like a 4 s slow network: `--connect-timeout 1`
# fires after about 1 s (exit 28), and without it curl gets the page after
# about 4 s. A shim that sleeps inside connect() makes curl wait out the
# whole delay whatever its timeout says.
#
# The breaker sees the attempt curl gave up on as a failure (SPEC 5: a
# socket closed while its connect was pending counts as ETIMEDOUT).
. "$(dirname "$0")/lib.sh"
need_cmd curl
need_build
trap 'cleanup; remove_domains' EXIT

start_server http http tcp4
PORT=$SERVER_PORT
URL="http://127.0.0.1:$PORT/x"
BODY="hello from the faultline test server"
DELAY=4000

# fetch RULES CURL_ARGS...: curl under the shim in $DOMAIN; sets OUT, ERR,
# RC and MS (curl's wall time, measured around the curl process).
fetch() {
	local rules=$1 t0
	shift
	t0=$(now_ms)
	FAULTLINE_DOMAIN=$DOMAIN FAULTLINE_RULES="$rules" LD_PRELOAD="$SHIM" \
		curl -sS --max-time 30 "$@" "$URL" >"$FL_TMP/curl.out" 2>"$FL_TMP/curl.err"
	RC=$?
	MS=$(($(now_ms) - t0))
	OUT=$(cat "$FL_TMP/curl.out")
	ERR=$(cat "$FL_TMP/curl.err")
}

# assert_before_delay WHAT MS: MS ended before the injected delay would
# have: the property under test (curl's timer fired while the delay was
# pending), so this bound is the delay itself, never scaled.
assert_before_delay() {
	[ "$2" -lt "$DELAY" ] ||
		fail "$1: $2 ms, not less than the $DELAY ms connect delay: curl waited out the whole delay, its connect timeout did not fire while the connect was pending (the shim slept inside connect() of a non-blocking socket instead of returning EINPROGRESS, SPEC 12)"
}

new_domain ct
check "curl --connect-timeout 1 under a $DELAY ms connect delay: exit 28 after about 1 s"
fetch "127.0.0.1:$PORT fault on=connect delay_ms=$DELAY" --connect-timeout 1
printf '   curl exit status %s after %s ms; it said: %s\n' "$RC" "$MS" "$ERR"
assert_before_delay "curl --connect-timeout 1 wall time" "$MS"
assert_eq "curl exit status (28 = operation timed out); it said: $ERR" 28 "$RC"
assert_ge "curl wall time (ms): its 1 s connect timeout cannot fire earlier" 900 "$MS"
assert_took "curl --connect-timeout 1 wall time" 2500 "$MS"

new_domain noct
check "the same delay without --connect-timeout: curl gets the page after about $DELAY ms"
fetch "127.0.0.1:$PORT fault on=connect delay_ms=$DELAY"
assert_eq "curl exit status; it said: $ERR" 0 "$RC"
assert_eq "body" "$BODY" "$OUT"
assert_ge "curl wall time (ms): the delay cannot end early" $((DELAY - 100)) "$MS"
assert_took "curl wall time" $((DELAY + 4000)) "$MS"

new_domain ct-breaker
DEST="127.0.0.1:$PORT"
RULES="$DEST fault on=connect delay_ms=$DELAY; $DEST breaker failure_threshold=5 timeout_ms=60000"
check "breaker: the connect curl gave up on (--connect-timeout 1) counts as one failure"
fetch "$RULES" --connect-timeout 1
printf '   curl exit status %s after %s ms\n' "$RC" "$MS"
assert_before_delay "curl --connect-timeout 1 wall time (with the breaker)" "$MS"
assert_eq "curl exit status (28); it said: $ERR" 28 "$RC"
# The failure is recorded when curl closes the socket; curl has exited, so
# it is in the segment now. Read it through the CLI.
got=$(FAULTLINE_DOMAIN=$DOMAIN json_get "(d('$DEST')['breaker']['calls'], d('$DEST')['breaker']['failures'], d('$DEST')['breaker']['consecutive_failures'])")
assert_eq "breaker (calls, failures, consecutive_failures) after the abandoned connect" "(1, 1, 1)" "$got"
assert_eq "connect delays injected" 1 "$(FAULTLINE_DOMAIN=$DOMAIN json_get "d('$DEST')['ops']['connect']['delays_injected']")"

check "breaker: a second abandoned connect with failure_threshold=2 opens it"
new_domain ct-breaker2
RULES="$DEST fault on=connect delay_ms=$DELAY; $DEST breaker failure_threshold=2 timeout_ms=60000"
fetch "$RULES" --connect-timeout 1
assert_eq "first curl exit status (28); it said: $ERR" 28 "$RC"
fetch "$RULES" --connect-timeout 1
assert_eq "second curl exit status (28); it said: $ERR" 28 "$RC"
assert_eq "breaker state after two abandoned connects" open "$(FAULTLINE_DOMAIN=$DOMAIN json_get "d('$DEST')['breaker']['state']")"
check "breaker: open, it refuses the third curl at once (exit 7) without the delay"
fetch "$RULES" --connect-timeout 1
assert_eq "third curl exit status (7 = couldn't connect); it said: $ERR" 7 "$RC"
assert_took "refused curl wall time" 1500 "$MS"

done_ok
