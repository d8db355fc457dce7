#!/usr/bin/env bash
# test_trust_slots.sh - shared state follows what the program really holds
# (issue 10): bulkhead slots through fork races and exec, inherited sockets
# after exec, and overflow in a full domain.
#
#   1. fork while another thread closes: 300 forks during a connect/close
#      loop leave no slot held (helper_slots forkrace);
#   2. one connection on two descriptors across exec stays one connection
#      (helper_slots twofds);
#   3. exec into a program without the shim, or without rules: the
#      close-on-exec socket's slot is given back at exec;
#   4. an inetd-style server under the shim hands accepted sockets to cat:
#      they are not adopted as outgoing connections (cat echoes, and no
#      client port becomes a destination);
#   5. a full domain: overflow destinations share the rule's entry across
#      processes (breaker opens, stats shows it, trip reaches it).
. "$FL_TOP/tests/integration/lib.sh"
need_build helper_slots
[ -x "$CLI" ] || fail "no CLI at $CLI"
need_cmd timeout

# stat_of DEST EXPR: EXPR (Python, over the destination object `d`, None if
# absent, and the whole report `s`) from `faultline stats --json`.
stat_of() {
	"$CLI" stats --json | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
found = [x for x in s["destinations"] if x["destination"] == sys.argv[1]]
d = found[0] if found else None
print(eval(sys.argv[2]))' "$1" "$2"
}

# wait_stat WHAT SECONDS DEST EXPR WANT: polls until EXPR prints WANT.
wait_stat() {
	local what=$1 secs=$2 dest=$3 expr=$4 want=$5 got="" _
	for _ in $(seq 1 $((secs * 20))); do
		got=$(stat_of "$dest" "$expr" 2>&1)
		[ "$got" = "$want" ] && return 0
		sleep 0.05
	done
	fail "$what: expected $want, got '$got' after ${secs}s"
}

# --- 1. fork while another thread closes -----------------------------------------
check "300 forks while threads connect and close through a bulkhead of 50 (and an atfork handler closes one inside every tenth fork): no slot stays held"
port=$(free_port)
FAULTLINE_RULES="127.0.0.1:$port bulkhead max_concurrent_requests=50 max_queue_size=0" \
	shim timeout 120 "$HELPERS/helper_slots" forkrace "$port" 300 || fail "helper_slots forkrace failed"
# Every process has exited (normal exit gives its shares back at once).
active=$(stat_of "127.0.0.1:$port" 'd["bulkhead"]["active"] if d else "absent"')
assert_eq "active slots once no process is attached" 0 "$active"

# --- 2. one connection on two descriptors across exec ----------------------------
check "a connection on fds 6 and 7 across exec: closing 6 keeps the slot, closing 7 frees it"
port=$(free_port)
out=$(FAULTLINE_RULES="127.0.0.1:$port bulkhead max_concurrent_requests=1 max_queue_size=0" \
	shim timeout 60 "$HELPERS/helper_slots" twofds "$port" 2>&1) || fail "helper_slots twofds:
$out"
printf '%s\n' "$out" | sed 's/^/   /'

# --- 3. exec into a program without the shim, or without rules --------------------
start_server sink sink tcp4
port=$SERVER_PORT
cloexec_exec() { # WHAT noshim|norules CMD...: the helper holds a close-on-exec slot, then execs CMD
	local what=$1
	shift
	rm -f "$FL_TMP/cloexec.log"
	FAULTLINE_RULES="127.0.0.1:$port bulkhead max_concurrent_requests=1 max_queue_size=0" \
		LD_PRELOAD="$SHIM" "$HELPERS/helper_slots" cloexec "$port" "$@" >"$FL_TMP/cloexec.log" 2>&1 &
	local pid=$!
	BG_PIDS+=("$pid")
	wait_for "the helper to hold its slot" 10 grep -q holding "$FL_TMP/cloexec.log"
	wait_for "the helper to exec sleep" 10 test "$(cat "/proc/$pid/comm" 2>/dev/null)" = sleep
	wait_stat "$what: active slots after exec" 3 "127.0.0.1:$port" 'd["bulkhead"]["active"]' 0
	kill -0 "$pid" 2>/dev/null || fail "$what: the exec'd program is gone already: the check proves nothing"
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
}
check "exec into a program without the shim gives back the close-on-exec socket's slot at once"
cloexec_exec "without the shim" noshim sleep 30
check "exec into a program with the shim and no rules gives it back too"
cloexec_exec "with no rules" norules sleep 30

# --- 4. accepted sockets are not adopted after exec ---------------------------------
check "an inetd-style server under the shim hands accepted sockets to cat: they are not watched"
export FAULTLINE_DOMAIN="it-trust-inetd-$$"
TEST_DOMAINS+=("$FAULTLINE_DOMAIN")
port=$(free_port)
# inetd's way: fork, the accepted socket on 0 and 1, exec cat.
start_bg inetd env FAULTLINE_RULES="127.0.0.1 fault on=read error=EIO" LD_PRELOAD="$SHIM" "$PY" -c '
import os, socket, sys
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", int(sys.argv[1])))
l.listen(16)
while True:
    c, _ = l.accept()
    if os.fork() == 0:
        os.dup2(c.fileno(), 0)
        os.dup2(c.fileno(), 1)
        os.execvp("cat", ["cat"])
    c.close()
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                break
        except ChildProcessError:
            break' "$port"
wait_port "$port"
client_ports=()
for i in 1 2 3; do
	echo_out=$("$PY" -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
print(s.getsockname()[1])
s.sendall(b"ping %s\n" % sys.argv[2].encode())
s.shutdown(socket.SHUT_WR)
data = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    data += b
print(data.decode().strip())' "$port" "$i" 2>&1)
	client_ports+=("$(printf '%s\n' "$echo_out" | head -n1)")
	assert_eq "echo $i through the server and cat" "ping $i" "$(printf '%s\n' "$echo_out" | tail -n1)"
done
dests=$(stat_of none '" ".join(x["destination"] for x in s["destinations"])')
for p in "${client_ports[@]}"; do
	assert_not_contains "destinations in stats (a client's port must not appear)" "$dests" "127.0.0.1:$p"
done

# --- 5. a full domain shares the rule's entry --------------------------------------
check "capacity 4, more destinations than fit: 6 failures across 3 processes open the shared threshold-3 breaker"
export FAULTLINE_DOMAIN="it-trust-cap-$$"
TEST_DOMAINS+=("$FAULTLINE_DOMAIN")
rules="127.0.0.1 breaker failure_threshold=3 timeout_ms=600000"
closed_ports=()
for _ in 1 2 3 4 5 6 7 8 9; do
	closed_ports+=("$(free_port)")
done
refuse() { # PORT...: connects to each (nobody listens) under the rule
	FAULTLINE_CAPACITY=4 FAULTLINE_RULES=$rules shim "$PY" -c '
import socket, sys
for p in sys.argv[1:]:
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", int(p)))
    except OSError:
        pass
    s.close()' "$@"
}
refuse "${closed_ports[0]}" "${closed_ports[1]}" "${closed_ports[2]}" # fills the destination places
for k in 0 1 2; do # three processes, two overflow destinations each
	refuse "${closed_ports[$((3 + 2 * k))]}" "${closed_ports[$((4 + 2 * k))]}"
done
rule_row=$(stat_of 127.0.0.1 '(d["kind"], d["breaker"]["state"], d["breaker"]["failures"], d["overflow"]) if d else None')
assert_eq "the rule's row in stats (kind, state, failures, overflow)" "('rule', 'open', 3, 6)" "$rule_row"
"$CLI" reset 127.0.0.1 >/dev/null || fail "faultline reset 127.0.0.1 did not reach the rule entry"
"$CLI" trip 127.0.0.1 >/dev/null || fail "faultline trip 127.0.0.1 did not reach the rule entry"
state=$(stat_of 127.0.0.1 'd["breaker"]["state"]')
assert_eq "the rule entry's breaker after trip" forced_open "$state"

done_ok
