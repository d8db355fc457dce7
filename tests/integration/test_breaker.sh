# test_breaker.sh - the circuit breaker, shared by separate processes of one
# domain, seen from real programs: a shell loop of curl processes and
# python3 with non-blocking sockets, against loopback ports where nothing
# listens (every connect is refused at once by the kernel).
#
# Witnesses: curl's exit status, strace (an open breaker rejects with no
# connect() system call), and the shim's own info log, which names every
# state change as "faultline[PID]: breaker DEST: FROM -> TO".
#
# Every case has its own domain, removed at exit.
. "$(dirname "$0")/lib.sh"
need_cmd curl
need_build
trap 'cleanup; remove_domains' EXIT

LOG="$FL_TMP/shim.log" # FAULTLINE_LOG_FILE of the current case

# curl_to RULES PORT: one curl process under the shim (info log to $LOG);
# sets RC and MS (wall time).
curl_to() {
	local t0
	t0=$(now_ms)
	FAULTLINE_LOG=info FAULTLINE_LOG_FILE="$LOG" under "$1" \
		curl -sS --max-time 10 "http://127.0.0.1:$2/" >"$FL_TMP/curl.out" 2>"$FL_TMP/curl.err"
	RC=$?
	MS=$(($(now_ms) - t0))
}

# traced_curl RULES PORT: curl_to under `strace -f -e trace=connect`; sets
# RC and CONNECTS (connect() system calls to PORT). Sets TRACED=0 and runs
# curl_to instead where strace cannot trace.
TRACED=1
strace_works || TRACED=0
traced_curl() {
	if [ "$TRACED" = 0 ]; then
		curl_to "$@"
		CONNECTS=unknown
		return
	fi
	FAULTLINE_LOG=info FAULTLINE_LOG_FILE="$LOG" strace -f -o "$FL_TMP/strace.out" -e trace=connect \
		"$CLI" run --rules "$1" --domain "$DOMAIN" -- \
		curl -sS --max-time 10 "http://127.0.0.1:$2/" >"$FL_TMP/curl.out" 2>"$FL_TMP/curl.err"
	RC=$?
	CONNECTS=$(count_lines "$(cat "$FL_TMP/strace.out")" "htons($2)")
}

expect_connects() { # WHAT N: traced_curl saw N connect() calls (when strace works)
	[ "$CONNECTS" = unknown ] && return 0
	assert_eq "$1: connect() system calls to the port (strace)" "$2" "$CONNECTS"
}

# transitions DEST FROM TO: how many "breaker DEST: FROM -> TO" lines $LOG holds.
transitions() {
	count_lines "$(cat "$LOG" 2>/dev/null)" "breaker $1: $2 -> $3"
}

new_case() { # NAME: a fresh domain and an empty log
	new_domain "$1"
	: >"$LOG"
}

# bh PORT ARGS...: bh_client.py under the shim (rules in $RULES); sets OUT, RC.
bh() {
	local port=$1
	shift
	OUT=$(FAULTLINE_LOG=info FAULTLINE_LOG_FILE="$LOG" under "$RULES" "$PY" "$BH_CLIENT" "$port" "$@" 2>&1)
	RC=$?
}

[ "$TRACED" = 1 ] || echo "   (strace cannot trace here: the no-syscall checks rely on the log and curl alone)"

# --- one breaker for a shell loop of curl processes ---------------------------

new_case curl
P=$(free_port)
DEST="127.0.0.1:$P"
RULES="$DEST breaker failure_threshold=3 timeout_ms=60000"

check "curl processes 1 and 2 to a closed port connect for real, fail (exit 7), breaker stays closed"
traced_curl "$RULES" "$P"
assert_eq "curl 1 exit status" 7 "$RC"
expect_connects "curl 1" 1
curl_to "$RULES" "$P"
assert_eq "curl 2 exit status" 7 "$RC"
assert_eq "'closed -> open' lines after 2 failures" 0 "$(transitions "$DEST" closed open)"

check "curl process 3 fails too, and its failure opens the breaker shared by the domain"
traced_curl "$RULES" "$P"
assert_eq "curl 3 exit status" 7 "$RC"
expect_connects "curl 3" 1
assert_eq "'closed -> open' lines after 3 failures; log:
$(cat "$LOG")" 1 "$(transitions "$DEST" closed open)"
grep -Eq "^faultline\[[0-9]+\]: breaker $DEST: closed -> open\$" "$LOG" ||
	fail "the log line should read 'faultline[PID]: breaker $DEST: closed -> open'; log:
$(cat "$LOG")"

check "curl process 4 fails at once (exit 7) with no connect() system call to the port"
traced_curl "$RULES" "$P"
assert_eq "curl 4 exit status" 7 "$RC"
expect_connects "curl 4" 0
assert_contains "curl 4's error" "$(cat "$FL_TMP/curl.err")" "onnect"

check "a shell loop of 5 more curl processes: every one rejected fast, no new transition"
for i in 1 2 3 4 5; do
	curl_to "$RULES" "$P"
	assert_eq "curl $((4 + i)) exit status" 7 "$RC"
	assert_took "curl $((4 + i)) wall time" 3000 "$MS"
done
traced_curl "$RULES" "$P"
expect_connects "curl 10" 0
assert_eq "'closed -> open' lines" 1 "$(transitions "$DEST" closed open)"
assert_eq "transitions out of open" 0 "$(count_lines "$(cat "$LOG")" "breaker $DEST: open ->")"

check "another domain has its own breaker: curl there still connects for real"
SAVED=$DOMAIN
new_domain curl-other
traced_curl "$RULES" "$P"
assert_eq "curl exit status (other domain)" 7 "$RC"
expect_connects "curl (other domain)" 1
DOMAIN=$SAVED

# --- half-open: after timeout_ms, a trial ------------------------------------

new_case half
P=$(free_port)
DEST="127.0.0.1:$P"
TIMEOUT=2000
RULES="$DEST breaker failure_threshold=3 success_threshold=2 timeout_ms=$TIMEOUT"

check "half-open setup: 3 failing curl processes open the breaker"
for i in 1 2 3; do
	curl_to "$RULES" "$P"
	assert_eq "curl $i exit status" 7 "$RC"
done
OPENED=$(now_ms)
assert_eq "'closed -> open' lines" 1 "$(transitions "$DEST" closed open)"

check "before timeout_ms (${TIMEOUT} ms) has passed, curl is rejected with no connect()"
traced_curl "$RULES" "$P"
assert_eq "curl exit status" 7 "$RC"
[ $(($(now_ms) - OPENED)) -lt "$TIMEOUT" ] || fail "setup too slow: the rejection check ran after timeout_ms"
expect_connects "curl while open" 0
assert_eq "'open -> half_open' lines" 0 "$(transitions "$DEST" open half_open)"

# sleep_past T MS: sleeps until MS milliseconds after time T (a lower bound).
sleep_past() {
	local left=$(($1 + $2 - $(now_ms)))
	[ "$left" -gt 0 ] && sleep "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))"
	return 0
}

check "after timeout_ms, port still closed: the trial really connects, fails, and the breaker reopens"
sleep_past "$OPENED" $((TIMEOUT + 300))
traced_curl "$RULES" "$P"
assert_eq "trial curl exit status" 7 "$RC"
expect_connects "trial curl" 1
REOPENED=$(now_ms)
assert_eq "'open -> half_open' lines; log:
$(cat "$LOG")" 1 "$(transitions "$DEST" open half_open)"
assert_eq "'half_open -> open' lines; log:
$(cat "$LOG")" 1 "$(transitions "$DEST" half_open open)"

check "reopened: the next curl is rejected with no connect() again"
traced_curl "$RULES" "$P"
assert_eq "curl exit status" 7 "$RC"
[ $(($(now_ms) - REOPENED)) -lt "$TIMEOUT" ] || fail "setup too slow: the rejection check ran after timeout_ms"
expect_connects "curl after reopening" 0

check "a server now listens on the port; after timeout_ms the trial curl succeeds (exit 0), breaker half-open"
mkdir -p "$FL_TMP/www"
echo "up" >"$FL_TMP/www/index.html"
start_bg http "$PY" -m http.server "$P" --bind 127.0.0.1 --directory "$FL_TMP/www"
wait_port "$P"
sleep_past "$REOPENED" $((TIMEOUT + 300))
curl_to "$RULES" "$P"
assert_eq "trial curl exit status; curl said: $(cat "$FL_TMP/curl.err")" 0 "$RC"
assert_eq "body" "up" "$(cat "$FL_TMP/curl.out")"
assert_eq "'open -> half_open' lines" 2 "$(transitions "$DEST" open half_open)"
assert_eq "'half_open -> closed' lines after 1 success (success_threshold=2)" 0 \
	"$(transitions "$DEST" half_open closed)"

check "a second successful curl closes the breaker (half_open -> closed)"
curl_to "$RULES" "$P"
assert_eq "curl exit status" 0 "$RC"
assert_eq "'half_open -> closed' lines; log:
$(cat "$LOG")" 1 "$(transitions "$DEST" half_open closed)"

check "closed again: curl keeps working, no further transitions"
curl_to "$RULES" "$P"
assert_eq "curl exit status" 0 "$RC"
assert_eq "'closed -> open' lines" 1 "$(transitions "$DEST" closed open)"
assert_eq "'half_open -> open' lines" 1 "$(transitions "$DEST" half_open open)"

# --- non-blocking connect: the outcome comes later -----------------------------

for how in so_error recv; do
	new_case "nb-$how"
	P=$(free_port)
	DEST="127.0.0.1:$P"
	RULES="$DEST breaker failure_threshold=3 timeout_ms=60000"

	check "python3 non-blocking connect_ex + select + $how: 3 processes learn ECONNREFUSED that way, and that opens the breaker"
	for i in 1 2 3; do
		[ "$i" = 3 ] && assert_eq "'closed -> open' lines after 2 ($how)" 0 "$(transitions "$DEST" closed open)"
		bh "$P" --nonblock "$how" --no-greet
		assert_eq "python $i exit status ($OUT)" 1 "$RC"
		assert_contains "python $i result" "$OUT" "err errno=ECONNREFUSED"
		assert_contains "python $i: the error came from $how, after EINPROGRESS" "$OUT" "via=$how"
	done
	assert_eq "'closed -> open' lines after 3 ($how); log:
$(cat "$LOG")" 1 "$(transitions "$DEST" closed open)"

	check "python3 non-blocking, breaker open: connect_ex itself returns ECONNREFUSED"
	bh "$P" --nonblock "$how" --no-greet
	assert_contains "python 4 result" "$OUT" "err errno=ECONNREFUSED"
	assert_contains "python 4: refused by connect itself, no EINPROGRESS" "$OUT" "via=connect"
	if [ "$TRACED" = 1 ]; then
		FAULTLINE_LOG=info FAULTLINE_LOG_FILE="$LOG" strace -f -o "$FL_TMP/strace.out" -e trace=connect \
			"$CLI" run --rules "$RULES" --domain "$DOMAIN" -- \
			"$PY" "$BH_CLIENT" "$P" --nonblock "$how" --no-greet >/dev/null 2>&1
		assert_eq "python 5: connect() system calls to the port (strace)" 0 \
			"$(count_lines "$(cat "$FL_TMP/strace.out")" "htons($P)")"
	fi
done

# --- scope=rule: one breaker for every destination of the statement ------------

# two_ports: sets PA and PB = PA + 1 (both free) and PC, free and outside PA..PB.
two_ports() {
	local ports
	ports=$("$PY" - <<-'EOF'
		import random, socket
		def free(p):
		    s = socket.socket()
		    try:
		        s.bind(("127.0.0.1", p))
		        return True
		    except OSError:
		        return False
		    finally:
		        s.close()
		for _ in range(200):
		    p = random.randint(20000, 60000)
		    if free(p) and free(p + 1) and free(p + 3):
		        print(p, p + 1, p + 3)
		        break
	EOF
	)
	read -r PA PB PC <<<"$ports"
	[ -n "${PC:-}" ] || fail "could not find free loopback ports"
}

n=0
for target in "127.0.0.1:LO-HI" "*:LO-HI" "127.0.0.0/8"; do
	n=$((n + 1))
	new_case "scope-rule-$n"
	two_ports
	T=${target/LO-HI/$PA-$PB}
	RULES="$T breaker failure_threshold=3 timeout_ms=60000 scope=rule"

	check "scope=rule ($T): 3 failures to port $PA open the one breaker"
	for i in 1 2 3; do
		curl_to "$RULES" "$PA"
		assert_eq "curl $i to $PA exit status" 7 "$RC"
	done
	assert_eq "'closed -> open' lines; log:
$(cat "$LOG")" 1 "$(count_lines "$(cat "$LOG")" ": closed -> open")"

	check "scope=rule ($T): port $PB, never tried, is rejected too, with no connect()"
	traced_curl "$RULES" "$PB"
	assert_eq "curl to $PB exit status" 7 "$RC"
	expect_connects "curl to $PB" 0
	traced_curl "$RULES" "$PA"
	expect_connects "curl to $PA" 0

	if [ "$target" != "127.0.0.0/8" ]; then
		check "scope=rule ($T): port $PC, outside the statement, still connects for real"
		traced_curl "$RULES" "$PC"
		assert_eq "curl to $PC exit status" 7 "$RC"
		expect_connects "curl to $PC" 1
	fi
done

new_case scope-dest
two_ports
RULES="127.0.0.1:$PA-$PB breaker failure_threshold=3 timeout_ms=60000 scope=destination"

check "scope=destination: 3 failures to port $PA open $PA's breaker only"
for i in 1 2 3; do
	curl_to "$RULES" "$PA"
	assert_eq "curl $i to $PA exit status" 7 "$RC"
done
assert_eq "'closed -> open' lines for $PA" 1 "$(transitions "127.0.0.1:$PA" closed open)"
traced_curl "$RULES" "$PA"
expect_connects "curl to $PA (open)" 0

check "scope=destination: port $PB still connects for real, and needs its own 3 failures"
traced_curl "$RULES" "$PB"
assert_eq "curl to $PB exit status" 7 "$RC"
expect_connects "curl 1 to $PB" 1
curl_to "$RULES" "$PB"
assert_eq "'closed -> open' lines for $PB after 2 failures" 0 "$(transitions "127.0.0.1:$PB" closed open)"
curl_to "$RULES" "$PB"
assert_eq "'closed -> open' lines for $PB after 3 failures" 1 "$(transitions "127.0.0.1:$PB" closed open)"
traced_curl "$RULES" "$PB"
expect_connects "curl 4 to $PB" 0

done_ok
