# test_cli_stats.sh - `faultline stats` (table, --json, --prometheus,
# --watch), `ps` and `domains`, against the exact counts real programs
# (curl, python) leave in the domain's shared memory.
. "$(dirname "$0")/lib.sh"
need_cmd curl
need_build
use_domain it-stats
T0=$(now_ms)

CLOSED=$(free_port)
# The rolling window (default 10 s) is 10 minutes here: the failure rate is
# read long after the failures on a loaded machine, and must still count them.
RULES_CLOSED="127.0.0.1:$CLOSED breaker failure_threshold=5 timeout_ms=30000 rolling_window_ms=600000"
closed_curl() { # curl to the closed port under the breaker rule; RC
	FAULTLINE_RULES="$RULES_CLOSED" shim curl -sS --max-time 10 "http://127.0.0.1:$CLOSED/" >/dev/null 2>&1
	RC=$?
}

check "a domain nobody created: exit 1, 'domain ... does not exist'"
cli stats --domain "it-none-$$"
assert_eq "exit status" 1 "$RC"
assert_eq "stderr" "faultline: domain 'it-none-$$' does not exist" "$ERR"
assert_eq "stdout" "" "$OUT"

check "3 curl connects to a closed port, failure_threshold=5: calls 3, failures 3, closed"
for i in 1 2 3; do
	closed_curl
	assert_eq "curl $i exit status (7 = couldn't connect)" 7 "$RC"
done
assert_eq "STATE" closed "$(stats_field "127.0.0.1:$CLOSED" STATE)"
assert_eq "CALLS" 3 "$(stats_field "127.0.0.1:$CLOSED" CALLS)"
assert_eq "FAILS" 3 "$(stats_field "127.0.0.1:$CLOSED" FAILS)"
assert_eq "FAIL%" 100.0 "$(stats_field "127.0.0.1:$CLOSED" FAIL%)"
assert_eq "REJECTED" 0 "$(stats_field "127.0.0.1:$CLOSED" REJECTED)"
assert_eq "KIND" dest "$(stats_field "127.0.0.1:$CLOSED" KIND)"
assert_eq "BULKHEAD (none)" - "$(stats_field "127.0.0.1:$CLOSED" BULKHEAD)"

check "2 more: failures reach 5, the breaker is open"
closed_curl
closed_curl
assert_eq "STATE" open "$(stats_field "127.0.0.1:$CLOSED" STATE)"
assert_eq "CALLS" 5 "$(stats_field "127.0.0.1:$CLOSED" CALLS)"

check "the next curl is rejected by the open breaker: rejected 1, calls stay 5"
closed_curl
assert_eq "curl exit status" 7 "$RC"
assert_eq "REJECTED" 1 "$(stats_field "127.0.0.1:$CLOSED" REJECTED)"
assert_eq "CALLS" 5 "$(stats_field "127.0.0.1:$CLOSED" CALLS)"

check "the table's columns line up: every cell of a column ends (or starts) where its header does"
table=$("$CLI" stats)
"$PY" - "$table" <<-'EOF' || fail "misaligned table:
$table"
	import sys
	lines = sys.argv[1].split("\n")
	head = lines[0]
	right = ["CALLS", "FAILS", "FAIL%", "REJECTED", "BULKHEAD", "BH.REJ"]
	for name in right:
	    end = head.index(name) + len(name)
	    for line in lines[1:]:
	        assert line[end - 1] != " " and (end == len(line) or line[end] == " "), (name, line)
	for name in ["KIND", "STATE", "FAULTS"]:
	    start = head.index(name)
	    for line in lines[1:]:
	        assert line[start - 1] == " " and line[start] != " ", (name, line)
EOF

start_server http http tcp4
PORT=$SERVER_PORT
RULES_HTTP="127.0.0.1:$PORT bulkhead max_concurrent_requests=4; 127.0.0.1:$PORT fault on=recv delay_ms=50 times=1"
check "2 curls through a bulkhead with a recv delay: the page, and exact op counters"
for i in 1 2; do
	out=$(FAULTLINE_RULES="$RULES_HTTP" shim curl -sS --max-time 10 "http://127.0.0.1:$PORT/x") ||
		fail "curl $i under the bulkhead failed"
	assert_contains "body" "$out" "hello"
done
assert_eq "BULKHEAD active/queued/limit" 0/0/4 "$(stats_field "127.0.0.1:$PORT" BULKHEAD)"
assert_eq "STATE (no breaker)" - "$(stats_field "127.0.0.1:$PORT" STATE)"
assert_eq "CALLS (connect calls, no breaker)" 2 "$(stats_field "127.0.0.1:$PORT" CALLS)"
assert_eq "FAULTS" recv:2d "$(stats_field "127.0.0.1:$PORT" FAULTS)"

check "--json: one valid object with SPEC's fields and the same counts"
"$CLI" stats --json | "$PY" -c 'import json,sys; json.load(sys.stdin)' || fail "stats --json is not valid JSON"
assert_eq "domain" "$DOMAIN" "$(json_get 's["domain"]')"
assert_eq "destinations" 2 "$(json_get 'len(s["destinations"])')"
assert_eq "created is Unix ms, of this test" True \
	"$(json_get "$T0 - 2000 <= s['created'] <= $(now_ms) + 2000")"
B="d('127.0.0.1:$CLOSED')['breaker']"
assert_eq "breaker.state" open "$(json_get "$B['state']")"
assert_eq "breaker calls/failures/rejected/transitions" "(5, 5, 1, 1)" \
	"$(json_get "($B['calls'], $B['failures'], $B['rejected'], $B['transitions'])")"
assert_eq "breaker.failure_rate (rolling window)" 100.0 "$(json_get "$B['failure_rate']")"
assert_eq "breaker.since is Unix ms, of this test" True \
	"$(json_get "$T0 - 2000 <= $B['since'] <= $(now_ms) + 2000")"
assert_eq "every breaker key of SPEC" "[]" "$(json_get "[k for k in '''state since calls failures rejected
	consecutive_failures consecutive_successes failure_rate transitions failure_threshold success_threshold
	timeout_ms half_open_max_requests failure_rate_threshold min_requests_for_rate rolling_window_ms
	reject_errno scope enabled'''.split() if k not in $B]")"
assert_eq "breaker keys as configured" "(5, 2, 30000, 1, 50.0, 20, 600000, 'ECONNREFUSED', 'destination', True)" \
	"$(json_get "($B['failure_threshold'], $B['success_threshold'], $B['timeout_ms'], $B['half_open_max_requests'],
	$B['failure_rate_threshold'], $B['min_requests_for_rate'], $B['rolling_window_ms'], $B['reject_errno'],
	$B['scope'], $B['enabled'])")"
# The segment keeps the statement with only its non-default keys.
assert_eq "rule" "127.0.0.1:$CLOSED breaker timeout_ms=30000 rolling_window_ms=600000" "$(json_get "d('127.0.0.1:$CLOSED')['rule']")"
assert_eq "bulkhead of a breaker-only destination" None "$(json_get "d('127.0.0.1:$CLOSED')['bulkhead']")"
assert_eq "ops.connect of the closed port (6 connects, 1 rejected)" \
	"{'calls': 6, 'errors_injected': 0, 'delays_injected': 0, 'delay_ms_total': 0}" \
	"$(json_get "d('127.0.0.1:$CLOSED')['ops']['connect']")"
H="d('127.0.0.1:$PORT')"
assert_eq "breaker of a bulkhead-only destination" None "$(json_get "$H['breaker']")"
assert_eq "bulkhead counters" "(0, 0, 4, 0, 0, 1)" "$(json_get "tuple($H['bulkhead'][k] for k in
	('active', 'queued', 'limit', 'rejected', 'timeouts', 'peak_active'))")"
assert_eq "every bulkhead key of SPEC" "(4, 10, 5000, 'ECONNREFUSED', 'destination', True)" \
	"$(json_get "tuple($H['bulkhead'][k] for k in ('max_concurrent_requests', 'max_queue_size',
	'queue_timeout_ms', 'reject_errno', 'scope', 'enabled'))")"
assert_eq "ops.recv delays" "(2, 0, 100)" "$(json_get "tuple($H['ops']['recv'][k] for k in
	('delays_injected', 'errors_injected', 'delay_ms_total'))")"
assert_eq "ops has every op" "['connect', 'send', 'recv', 'write', 'read', 'resolve']" "$(json_get "list($H['ops'])")"
assert_eq "ops.connect.calls" 2 "$(json_get "$H['ops']['connect']['calls']")"

check "--prometheus: every line is a HELP, a TYPE or a sample of the exposition format"
"$CLI" stats --prometheus >"$FL_TMP/prom" || fail "stats --prometheus failed"
bad=$(grep -Ev '^(# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (gauge|counter)|[a-zA-Z_:][a-zA-Z0-9_:]*\{[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*")*\} [0-9]+(\.[0-9]+)?)$' "$FL_TMP/prom")
assert_eq "lines not in the exposition format" "" "$bad"
for m in breaker_state:gauge breaker_calls_total:counter breaker_failures_total:counter \
	breaker_rejected_total:counter breaker_transitions_total:counter bulkhead_active:gauge \
	bulkhead_queued:gauge bulkhead_limit:gauge bulkhead_rejected_total:counter \
	bulkhead_timeouts_total:counter faults_injected_total:counter delay_seconds_total:counter \
	calls_total:counter; do
	grep -q "^# HELP faultline_${m%%:*} " "$FL_TMP/prom" || fail "no # HELP for faultline_${m%%:*}"
	grep -qx "# TYPE faultline_${m%%:*} ${m#*:}" "$FL_TMP/prom" || fail "no # TYPE faultline_${m%%:*} ${m#*:}"
done
prom=$(cat "$FL_TMP/prom")
for sample in "faultline_breaker_state{destination=\"127.0.0.1:$CLOSED\"} 1" \
	"faultline_breaker_calls_total{destination=\"127.0.0.1:$CLOSED\"} 5" \
	"faultline_breaker_rejected_total{destination=\"127.0.0.1:$CLOSED\"} 1" \
	"faultline_bulkhead_limit{destination=\"127.0.0.1:$PORT\"} 4" \
	"faultline_calls_total{destination=\"127.0.0.1:$PORT\",op=\"connect\"} 2" \
	"faultline_faults_injected_total{destination=\"127.0.0.1:$PORT\",op=\"recv\",kind=\"delay\"} 2" \
	"faultline_faults_injected_total{destination=\"127.0.0.1:$PORT\",op=\"recv\",kind=\"error\"} 0" \
	"faultline_delay_seconds_total{destination=\"127.0.0.1:$PORT\",op=\"recv\"} 0.100"; do
	printf '%s\n' "$prom" | grep -qxF -- "$sample" || fail "no line '$sample' in:
$prom"
done
assert_eq "series of a destination with no bulkhead" 0 "$(count_lines "$prom" "bulkhead_active{destination=\"127.0.0.1:$CLOSED\"}")"

check "options before or after the command mean the same"
export -n FAULTLINE_DOMAIN
assert_eq "stats --domain D == --domain D stats" "$("$CLI" stats --domain "$DOMAIN")" "$("$CLI" --domain "$DOMAIN" stats)"
export FAULTLINE_DOMAIN

check "usage errors exit 2"
cli stats --json --prometheus
assert_eq "--json --prometheus" 2 "$RC"
cli stats --domain 'no/such'
assert_eq "a bad domain name" 2 "$RC"
cli stats --watch 0
assert_eq "--watch 0" 2 "$RC"
cli stats --watch soon
assert_eq "--watch soon" 2 "$RC"
cli stats extra
assert_eq "an operand" 2 "$RC"

check "--watch 0.2 into a pipe: a new table every 0.2 s until killed"
# Timed from the first table to the fifth (4 intervals), not from the start:
# no sooner than 0.8 s, and not much later (stretched on a loaded machine).
tables_ge() { [ "$(grep -c '^DESTINATION' "$FL_TMP/watch.log")" -ge "$1" ]; }
t0=$(now_ms)
start_bg watch "$CLI" stats --watch 0.2
WATCH=${BG_PIDS[-1]}
wait_for "the first table" 10 tables_ge 1
first=$(now_ms)
wait_for "the fifth table" 10 tables_ge 5
fifth=$(now_ms)
kill "$WATCH" # (SIGTERM: a background job of a script ignores SIGINT)
bh_finish "$WATCH" "stats --watch after SIGTERM" 10
assert_ge "from the start to the fifth table (ms)" 800 $((fifth - t0))
assert_took "from the first table to the fifth" 1400 $((fifth - first))
assert_not_contains "no screen clearing into a pipe" "$(cat "$FL_TMP/watch.log")" $'\033'

check "--watch --json: each round is a valid object"
timeout -s INT "$(scaled 0.5)" "$CLI" stats --json --watch 0.1 >"$FL_TMP/watch.json" 2>&1
"$PY" - "$FL_TMP/watch.json" <<-'EOF' || fail "rounds of stats --json --watch are not JSON objects"
	import json, sys
	text, dec, n = open(sys.argv[1]).read(), json.JSONDecoder(), 0
	i = 0
	while text[i:].strip():
	    obj, i = dec.raw_decode(text, i + len(text[i:]) - len(text[i:].lstrip()))
	    assert obj["destinations"]
	    n += 1
	assert n >= 2, n
EOF

check "ps: a live python under the shim is listed with pid, command, since, alive"
mkfifo "$FL_TMP/hold"
start_bg holder env FAULTLINE_RULES="$RULES_HTTP" LD_PRELOAD="$SHIM" "$PY" -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
print("connected", flush=True)
open(sys.argv[2]).read()' "$PORT" "$FL_TMP/hold"
HOLDER=${BG_PIDS[-1]}
wait_for "the holder to connect" 10 grep -q connected "$FL_TMP/holder.log"
ps_out=$("$CLI" ps) || fail "ps failed"
row=$(printf '%s\n' "$ps_out" | awk -v pid="$HOLDER" '$1 == pid')
[ -n "$row" ] || fail "pid $HOLDER not in ps:
$ps_out"
assert_contains "ps header" "$ps_out" "PID  SINCE"
assert_contains "ps row: alive" "$row" " yes "
assert_contains "ps row: command" "$row" "$PY -c"
assert_eq "ps --json: alive, since of this test" True "$("$CLI" ps --json | "$PY" -c '
import json, sys
p = [x for x in json.load(sys.stdin)["processes"] if x["pid"] == int(sys.argv[1])][0]
print(p["alive"] and int(sys.argv[2]) - 2000 <= p["since"] <= int(sys.argv[3]))' "$HOLDER" "$T0" "$(now_ms)")"
assert_eq "the holder's bulkhead slot" 1/0/4 "$(stats_field "127.0.0.1:$PORT" BULKHEAD)"

check "domains: this domain, its destinations and its live process"
dom=$("$CLI" domains | awk -v d="$DOMAIN" '$1 == d')
[ -n "$dom" ] || fail "domain $DOMAIN not listed by faultline domains"
assert_contains "destinations used/capacity" "$dom" " 2/4096 "
assert_eq "domains --json: used, capacity, processes" "(2, 4096, 1)" "$("$CLI" domains --json | "$PY" -c '
import json, sys
d = [x for x in json.load(sys.stdin)["domains"] if x["domain"] == sys.argv[1]][0]
print((d["used"], d["capacity"], d["processes"]))' "$DOMAIN")"

check "ps after SIGKILL: shown dead once, then reaped (its bulkhead slot given back)"
kill -9 "$HOLDER"
wait "$HOLDER" 2>/dev/null
row=$("$CLI" ps | awk -v pid="$HOLDER" '$1 == pid')
assert_contains "ps row of the killed process" "$row" " dead "
assert_eq "ps again: the dead process is gone" "" "$("$CLI" ps | awk -v pid="$HOLDER" '$1 == pid')"
assert_eq "the dead holder's slot" 0/0/4 "$(stats_field "127.0.0.1:$PORT" BULKHEAD)"

done_ok
