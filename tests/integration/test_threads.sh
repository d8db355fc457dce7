#!/usr/bin/env bash
# test_threads.sh - exact statistics under threads: 8 threads (and then 3
# such processes at once) hammer one destination with probabilistic and
# counted faults; every thread counts its own calls and the injected errors
# it saw, and the sums must equal the domain's counters exactly - by the
# CLI (`faultline stats --json`) and by an independent reader of the
# segment file (seg_forge.py, from lib/segment.h's layout).
#
# Rules: send fails with EAGAIN with probability 0.3; write fails with
# EAGAIN on every 4th call, at most 5000 times per process (`times` counts
# per process: across 8 threads it must stop at exactly 5000).
. "$FL_TOP/tests/integration/lib.sh"
need_build helper_threads helper_seglayout
[ -x "$CLI" ] || fail "no CLI at $CLI"

THREADS=${THREAD_COUNT:-8}
ITERS=${THREAD_ITERATIONS:-20000}
TIMES=5000
LAYOUT="$FL_TMP/layout.txt"
"$HELPERS/helper_seglayout" >"$LAYOUT" || fail "helper_seglayout failed"

start_server sink sink tcp4
PORT=$SERVER_PORT
DEST="127.0.0.1:$PORT"
RULES="$DEST fault on=send error=EAGAIN probability=0.3;
$DEST fault on=write error=EAGAIN every=4 times=$TIMES;
$DEST breaker failure_threshold=1000000;
$DEST bulkhead max_concurrent_requests=256 max_queue_size=0"

field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1; }

# totals DOMAIN: "connect_calls send_calls send_err write_calls write_err active breaker_calls" from the CLI
totals() {
	"$CLI" stats --json --domain "$1" | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
d = [x for x in s["destinations"] if x["destination"] == sys.argv[1]]
assert len(d) == 1, s
d = d[0]
o = d["ops"]
print(o["connect"]["calls"], o["send"]["calls"], o["send"]["errors_injected"], o["write"]["calls"],
      o["write"]["errors_injected"], d["bulkhead"]["active"], d["breaker"]["calls"])' "$DEST"
}

# raw DOMAIN: the same counters read straight from the file
raw() {
	"$PY" "$FL_TOP/tests/integration/seg_forge.py" "$LAYOUT" stats "/dev/shm/faultline.$(id -u).$1" |
		grep "^$DEST " | "$PY" -c '
import sys
f = dict(x.split("=") for x in sys.stdin.read().split()[1:])
print(f["connect.calls"], f["send.calls"], f["send.errors_injected"], f["write.calls"],
      f["write.errors_injected"], f["bulkhead.active"])'
}

run_procs() { # N: N helper processes at once in domain $D; sums in SUM_*
	local n=$1 i pids=()
	for i in $(seq 1 "$n"); do
		FAULTLINE_DOMAIN=$D FAULTLINE_RULES=$RULES LD_PRELOAD="$SHIM" \
			timeout 120 "$HELPERS/helper_threads" "$PORT" "$THREADS" "$ITERS" >"$FL_TMP/p$i.out" 2>&1 &
		pids+=("$!")
	done
	SUM_connects=0 SUM_send_calls=0 SUM_send_injected=0 SUM_write_calls=0 SUM_write_injected=0
	for i in $(seq 1 "$n"); do
		wait "${pids[$((i - 1))]}"
		local rc=$? out
		out=$(cat "$FL_TMP/p$i.out")
		printf '   process %d: %s\n' "$i" "$out"
		assert_eq "helper $i exit status ($out)" 0 "$rc"
		local k
		for k in connects send_calls send_injected write_calls write_injected; do
			eval "SUM_$k=\$((SUM_$k + $(field "$out" "$k")))"
		done
	done
}

compare() { # PROCESSES
	local n=$1 cli file
	cli=$(totals "$D") || fail "faultline stats --json --domain $D failed"
	read -r c_connect c_send c_send_err c_write c_write_err c_active c_breaker <<<"$cli"
	assert_eq "connect calls" "$SUM_connects" "$c_connect"
	assert_eq "breaker calls (one per connection attempt)" "$SUM_connects" "$c_breaker"
	assert_eq "send calls" "$SUM_send_calls" "$c_send"
	assert_eq "send errors injected" "$SUM_send_injected" "$c_send_err"
	assert_eq "write calls" "$SUM_write_calls" "$c_write"
	assert_eq "write errors injected" "$SUM_write_injected" "$c_write_err"
	assert_eq "write errors injected: times=$TIMES per process, $n process(es)" $((TIMES * n)) "$c_write_err"
	assert_eq "bulkhead slots held after every process exited" 0 "$c_active"
	file=$(raw "$D") || fail "reading the segment file failed"
	assert_eq "the segment file, read without the CLI, says the same" \
		"$c_connect $c_send $c_send_err $c_write $c_write_err $c_active" "$file"
	# 0.3 of the sends, give or take 1.5% (over 160,000 calls that is > 40 sigma).
	local permille=$((c_send_err * 1000 / c_send))
	printf '   sends injected: %d of %d (%d per mille)\n' "$c_send_err" "$c_send" "$permille"
	assert_ge "send fault rate (per mille)" 285 "$permille"
	assert_le "send fault rate (per mille)" 315 "$permille"
}

new_domain one

TEST_DOMAINS+=("$DOMAIN") # removed by the EXIT trap, pass or fail
D=$DOMAIN
check "$THREADS threads x $ITERS rounds in one process: the counters equal what the threads counted"
run_procs 1
compare 1

new_domain three

TEST_DOMAINS+=("$DOMAIN") # removed by the EXIT trap, pass or fail
D=$DOMAIN
check "3 processes x $THREADS threads at once on one destination: the counters are the exact sums"
run_procs 3
compare 3

remove_domains
done_ok
