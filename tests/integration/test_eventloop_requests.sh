# test_eventloop_requests.sh - python-requests' connect timeout under an
# injected connect delay (issue 17, SPEC 12).
#
# requests (urllib3) gives its socket a timeout: Python then makes it
# O_NONBLOCK, calls connect() and waits for writability with poll() for at
# most the timeout. SPEC 12: on such a socket a connect delay returns
# EINPROGRESS at once and the socket becomes writable only when the delay
# has passed, so `timeout=1` against a 4 s delay raises ConnectTimeout
# after about 1 s, as against a slow network. A shim that sleeps inside
# connect() lets the connection succeed after 4 s instead.
. "$(dirname "$0")/lib.sh"
need_build
"$PY" -c 'import requests' 2>/dev/null ||
	skip "python3-requests is not installed for $PY (tools/deps.sh installs it)"
DELAY=4000

start_server http http tcp4
PORT=$SERVER_PORT

# get TIMEOUT: requests.get under the shim and the delay rule; prints
# "OUTCOME ms=N" where OUTCOME is the status code or the exception's name.
get() {
	FAULTLINE_RULES="127.0.0.1:$PORT fault on=connect delay_ms=$DELAY" shim "$PY" -c '
import sys, time, requests
url, timeout = sys.argv[1], float(sys.argv[2])
t = time.monotonic()
try:
    r = requests.get(url, timeout=timeout)
    outcome = str(r.status_code)
except requests.exceptions.RequestException as e:
    outcome = type(e).__name__
print("%s ms=%d" % (outcome, (time.monotonic() - t) * 1000))' "http://127.0.0.1:$PORT/x" "$1" 2>&1
}

check "requests.get(timeout=1) under a $DELAY ms connect delay raises ConnectTimeout after about 1 s"
OUT=$(get 1)
printf '   %s\n' "$OUT"
ms=$(printf '%s\n' "$OUT" | sed -n 's/.* ms=\([0-9]*\)$/\1/p')
[ -n "$ms" ] || fail "the requests client printed no result: $OUT"
[ "$ms" -lt "$DELAY" ] ||
	fail "requests.get(timeout=1) ended after $ms ms with '${OUT% ms=*}', not before the $DELAY ms connect delay ended: its connect timeout did not fire while the connect was pending (the shim slept inside connect() of a non-blocking socket instead of returning EINPROGRESS, SPEC 12)"
assert_eq "requests' outcome" ConnectTimeout "${OUT% ms=*}"
assert_ge "time to ConnectTimeout (ms): the 1 s timeout cannot fire earlier" 900 "$ms"
assert_took "time to ConnectTimeout" 2500 "$ms"

check "requests.get(timeout=10) under the same delay gets the page after about $DELAY ms"
OUT=$(get 10)
printf '   %s\n' "$OUT"
ms=$(printf '%s\n' "$OUT" | sed -n 's/.* ms=\([0-9]*\)$/\1/p')
assert_eq "requests' outcome; it said: $OUT" 200 "${OUT% ms=*}"
assert_ge "time to the page (ms): the delay cannot end early" $((DELAY - 100)) "${ms:-0}"
assert_took "time to the page" $((DELAY + 4000)) "${ms:-0}"

done_ok
