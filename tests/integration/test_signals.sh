#!/usr/bin/env bash
# test_signals.sh - the shim inside signal handlers: send() and write() on a
# watched socket from SIGALRM (setitimer, 200 us) and SIGUSR1 (pthread_kill
# in a tight loop) handlers, thousands of times a second, while the
# interrupted main thread loops through connect/send/recv/write/read/close
# on watched sockets with faults firing (helper_signals.c says how).
#
# Passes when: no deadlock (the helper's watchdog and a timeout bound it),
# errno is what the real call left at every call in the handlers and in the
# interrupted code, no unexpected error, the program exits 0, and the
# domain's counters equal exactly what the program counted itself.
. "$FL_TOP/tests/integration/lib.sh"
need_build helper_signals
need_cmd timeout

SECS=${SIGNAL_SECONDS:-4}
RULES='127.0.0.1 breaker failure_threshold=1000000 failure_rate_threshold=0;
127.0.0.1 bulkhead max_concurrent_requests=1000 max_queue_size=0;
127.0.0.1 fault on=send,write error=ENOBUFS probability=0.2;
127.0.0.1 fault on=recv,read error=ENOMEM probability=0.2;
127.0.0.1 fault on=connect delay_ms=2 probability=0.5'

summary_field() { # NAME: from the helper's summary line
	printf '%s\n' "$OUT" | tr ' ' '\n' | sed -n "s/^$1=//p" | tail -n1
}

run_helper() { # SECONDS [ENV...]
	local secs=$1
	shift
	env FAULTLINE_RULES="$RULES" HELPER_INJECTED=ENOBUFS,ENOMEM "$@" LD_PRELOAD="$SHIM" \
		timeout $((secs + 30)) "$HELPERS/helper_signals" "$secs" >"$FL_TMP/helper.out" 2>"$FL_TMP/helper.err"
	RC=$?
	OUT=$(cat "$FL_TMP/helper.out")
	ERR=$(cat "$FL_TMP/helper.err")
	printf '   %s\n' "$OUT"
}

check "signal handlers at >= 5 kHz call send/write through the shim for ${SECS}s while main loops in shim calls: no deadlock, exit 0"
run_helper "$SECS"
[ "$RC" = 124 ] && fail "the program hung (killed by timeout after $((SECS + 30))s); output: $OUT $ERR"
[ "$RC" = 3 ] && fail "deadlock: $OUT"
assert_eq "helper exit status (stderr: $ERR)" 0 "$RC"
assert_not_contains "stderr" "$ERR" "Segmentation"

check "errno: every successful call, in handlers and in the interrupted code, left errno untouched"
assert_eq "errno violations" 0 "$(summary_field errno_violations)"
assert_eq "unexpected errors" 0 "$(summary_field unexpected)"

runs=$(summary_field handler_runs)
rate=$((runs / SECS))
check "the handlers really ran often: $runs runs in ${SECS}s ($rate per second)"
# Pending signals of one kind coalesce, and CI machines are loaded: the
# floor is half the timer's rate. The figure is printed above.
# ThreadSanitizer delivers signals only at its own safe points (and runs
# everything several times slower), so under it the floor is a sanity one.
floor=2500
if readelf -d "$SHIM" 2>/dev/null | grep -q 'NEEDED.*libtsan'; then
	floor=25
	printf '   (ThreadSanitizer build: it defers signals to safe points; floor %d per second)\n' "$floor"
fi
assert_ge "signal handler runs per second" "$floor" "$rate"
assert_ge "faults injected inside handlers" 1 "$(summary_field handler_injected)"

check "the domain's counters equal what the program counted itself, exactly"
json=$("$CLI" stats --json) || fail "faultline stats --json failed"
totals=$(printf '%s' "$json" | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
dests = s["destinations"]
assert len(dests) == 1, [d["destination"] for d in dests]
d = dests[0]
ops = d["ops"]
print(ops["connect"]["calls"], ops["send"]["calls"], ops["write"]["calls"], ops["recv"]["calls"],
      ops["read"]["calls"], sum(o["errors_injected"] for o in ops.values()), d["bulkhead"]["active"],
      ops["connect"]["delays_injected"])') || fail "cannot read stats: $json"
read -r connect_calls send_calls write_calls recv_calls read_calls injected active delays <<<"$totals"
rounds=$(summary_field rounds)
hcalls=$(summary_field handler_calls)
assert_eq "connect calls" "$(summary_field connects)" "$connect_calls"
assert_eq "send calls (main rounds + one per handler run)" $((rounds + hcalls / 2)) "$send_calls"
assert_eq "write calls (main rounds + one per handler run)" $((rounds + hcalls / 2)) "$write_calls"
assert_eq "recv calls" "$rounds" "$recv_calls"
assert_eq "read calls" "$rounds" "$read_calls"
assert_eq "errors injected (main + handlers)" $(($(summary_field main_injected) + $(summary_field handler_injected))) "$injected"
assert_ge "connect delays injected (sleeps the signals interrupted)" 1 "$delays"
assert_eq "bulkhead slots still held after exit" 0 "$active"

check "the same with FAULTLINE_LOG=debug to a file: every injected fault logged from inside handlers too, lines intact"
"$CLI" clear --domain "$FAULTLINE_DOMAIN" --force >/dev/null 2>&1
run_helper 1 FAULTLINE_LOG=debug FAULTLINE_LOG_FILE="$FL_TMP/debug.log"
[ "$RC" = 124 ] && fail "the program hung with debug logging"
assert_eq "helper exit status with debug logging (stderr: $ERR)" 0 "$RC"
assert_eq "errno violations with debug logging" 0 "$(summary_field errno_violations)"
lines=$(wc -l <"$FL_TMP/debug.log")
bad=$(grep -cv '^faultline\[[0-9]*\]: ' "$FL_TMP/debug.log" || true)
printf '   %d log lines\n' "$lines"
assert_ge "log lines" $(($(summary_field main_injected) + $(summary_field handler_injected))) "$lines"
assert_eq "log lines not starting with 'faultline[PID]: ' (torn or interleaved)" 0 "$bad"

done_ok
