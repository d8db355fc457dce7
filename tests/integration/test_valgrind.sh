#!/usr/bin/env bash
# test_valgrind.sh - memory: real clients under the shim and memcheck, and
# no growth per connection over 100,000 connections.
#
#   1. curl (a page with a connect delay, breaker and bulkhead; an injected
#      connect error; an injected recv error) and python3 (20 connections
#      with recv faults firing), each under valgrind --tool=memcheck
#      --error-exitcode=1 --errors-for-leak-kinds=definite
#      --trace-children=no, with the shim preloaded: no error, no definite
#      leak, and no leak record of any kind whose stack passes through
#      libfaultline.so (tests/integration/valgrind.supp holds the
#      suppressions for others' noise, each explained);
#   2. the C helpers that drive the shim hardest (2,000 connect/close with
#      faults; 4 threads sending with faults) under memcheck the same way;
#   3. helper_connloop: 100,000 connect/close to a loopback listener with
#      breaker, bulkhead and faults - the resident set after 100,000 is
#      within 1 MiB of what it was after 10,000.
. "$FL_TOP/tests/integration/lib.sh"
need_build helper_connloop helper_threads
need_cmd valgrind curl
# memcheck cannot run code built with AddressSanitizer or ThreadSanitizer
# (their shadow memory), and their allocators change the RSS figures.
if readelf -d "$SHIM" 2>/dev/null | grep -qE 'NEEDED.*lib(asan|tsan)'; then
	skip "the shim in $FL_BUILD is built with a sanitizer: valgrind cannot run it (tests/sanitize.sh covers it)"
fi

SUPP="$FL_TOP/tests/integration/valgrind.supp"
VG=(valgrind --tool=memcheck --error-exitcode=1 --leak-check=full --show-leak-kinds=all
	--errors-for-leak-kinds=definite --trace-children=no --num-callers=30 --suppressions="$SUPP")
N=0

# under_valgrind RULES EXPECTED_RC CMD...: CMD under memcheck with the shim.
under_valgrind() {
	local rules=$1 want=$2
	shift 2
	N=$((N + 1))
	local log="$FL_TMP/vg.$N.log"
	FAULTLINE_RULES=$rules LD_PRELOAD="$SHIM" timeout 300 "${VG[@]}" --log-file="$log" "$@" \
		>"$FL_TMP/vg.$N.out" 2>&1
	local rc=$?
	[ "$rc" = 124 ] && fail "timed out under valgrind: $*"
	grep -q 'ERROR SUMMARY' "$log" || fail "valgrind did not run the program ($*): $(cat "$log" "$FL_TMP/vg.$N.out")"
	grep -q "Command: $1" "$log" || fail "valgrind traced something else than $1: $(grep Command: "$log")"
	local summary
	summary=$(grep -E 'ERROR SUMMARY|definitely lost:|indirectly lost:|possibly lost:' "$log" | sed 's/^==[0-9]*== *//')
	printf '   %s\n' "$(printf '%s' "$summary" | tr '\n' ';')"
	[ "$rc" = 1 ] && [ "$want" != 1 ] && fail "memcheck reported errors for $*:
$(cat "$log")"
	assert_eq "exit status of $* under valgrind (output: $(head -c 300 "$FL_TMP/vg.$N.out"))" "$want" "$rc"
	assert_contains "memcheck error count" "$summary" "ERROR SUMMARY: 0 errors"
	# A loss record (any kind, even 'still reachable' is listed) whose stack
	# passes through the shim, other than the rule set kept for the
	# process's life, is the shim's.
	local ours
	ours=$("$PY" - "$log" <<-'EOF'
		import re, sys
		text = open(sys.argv[1]).read()
		records = re.split(r"\n==\d+== \n", text)
		for r in records:
		    if "loss record" not in r or "libfaultline" not in r:
		        continue
		    if "still reachable" in r:
		        continue
		    print(r)
	EOF
	)
	[ -z "$ours" ] || fail "leaks through libfaultline.so in $*:
$ours"
}

start_server web http tcp4
WEB=$SERVER_PORT
URL="http://127.0.0.1:$WEB/"

check "curl under memcheck with the shim: a page through breaker, bulkhead and an injected connect delay"
under_valgrind "127.0.0.1:$WEB breaker; 127.0.0.1:$WEB bulkhead max_concurrent_requests=4;
127.0.0.1:$WEB fault on=connect delay_ms=20" 0 /usr/bin/curl -sS -o /dev/null "$URL"
assert_ge "connect delays injected" 1 "$("$CLI" stats --json | "$PY" -c '
import json, sys
print(sum(d["ops"]["connect"]["delays_injected"] for d in json.load(sys.stdin)["destinations"]))')"

check "curl under memcheck: an injected connect error (curl exits 7)"
under_valgrind "127.0.0.1:$WEB fault on=connect error=ECONNREFUSED" 7 /usr/bin/curl -sS -o /dev/null "$URL"

check "curl under memcheck: an injected recv error (curl exits 56)"
under_valgrind "127.0.0.1:$WEB fault on=recv error=ECONNRESET" 56 /usr/bin/curl -sS -o /dev/null "$URL"

check "python3 under memcheck: 20 connections with recv faults firing"
# A domain of its own: a destination's breaker keeps the parameters it was
# created with, and the checks above made 127.0.0.1:$WEB's with the default
# thresholds (20 reset connections would open it by failure rate).
new_domain vg-python
TEST_DOMAINS+=("$DOMAIN") # removed by the EXIT trap, pass or fail
FAULTLINE_DOMAIN=$DOMAIN under_valgrind "127.0.0.1:$WEB breaker failure_threshold=1000 failure_rate_threshold=0; 127.0.0.1:$WEB fault on=recv error=ECONNRESET after=1" \
	0 "$PY" -c '
import socket, sys
port, reset = int(sys.argv[1]), 0
for i in range(20):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    try:
        while s.recv(4096):
            pass
    except ConnectionResetError:
        reset += 1
    s.close()
sys.exit(0 if reset == 20 else 3)  # after=1: only the very first recv passes' "$WEB"

CONN_RULES='127.0.0.1 breaker; 127.0.0.1 bulkhead max_concurrent_requests=10;
127.0.0.1 fault on=connect error=ECONNREFUSED every=100; 127.0.0.1 fault on=send error=EAGAIN probability=0.01'

check "helper_connloop under memcheck: 2,000 connect/close with faults"
under_valgrind "$CONN_RULES" 0 "$HELPERS/helper_connloop" 2000

start_server sink sink tcp4
check "helper_threads under memcheck: 4 threads sending with faults"
under_valgrind "127.0.0.1:$SERVER_PORT fault on=send error=EAGAIN probability=0.3;
127.0.0.1:$SERVER_PORT fault on=write error=EAGAIN every=4 times=100" 0 "$HELPERS/helper_threads" "$SERVER_PORT" 4 2000

check "100,000 connect/close under the shim: resident memory after 100,000 within 1 MiB of after 10,000"
out=$(FAULTLINE_RULES=$CONN_RULES LD_PRELOAD="$SHIM" timeout 240 "$HELPERS/helper_connloop" 100000 10000 2>&1) ||
	fail "helper_connloop failed: $out"
printf '   %s\n' "$out"
at_mark=$(printf '%s' "$out" | tr ' ' '\n' | sed -n 's/^rss_kib_at_mark=//p')
at_end=$(printf '%s' "$out" | tr ' ' '\n' | sed -n 's/^rss_kib_at_end=//p')
assert_eq "connections refused by the every=100 rule" 1000 "$(printf '%s' "$out" | tr ' ' '\n' | sed -n 's/^refused=//p')"
assert_le "RSS growth from 10,000 to 100,000 connections (KiB)" 1024 $((at_end - at_mark))
calls=$("$CLI" stats --json | "$PY" -c '
import json, sys
print(sum(d["ops"]["connect"]["calls"] for d in json.load(sys.stdin)["destinations"]))')
assert_ge "connect calls counted in the domain (all runs)" 100000 "$calls"

done_ok
