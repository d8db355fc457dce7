# test_trust_outcomes.sh - one connection attempt is one call with one
# outcome, whatever the program does with it (issue 10, items 9, 14, 17,
# 25, 26, 27): real clients (curl, wget, python) and helper_outcomes.c
# against loopback servers, and against a blackholed port - a listening
# socket whose accept queue is full, so the kernel drops further SYNs, as
# a host that drops them would.
#
# Witnesses: `faultline stats --json` (breaker calls and failures, bulkhead
# slots), the programs' own results, and the peer's event log.
. "$(dirname "$0")/lib.sh"
need_cmd curl ss
need_build helper_outcomes
trap 'cleanup; remove_domains' EXIT

H="$HELPERS/helper_outcomes"

# stat DEST EXPR: EXPR (Python, over the destination object `d`) in $DOMAIN.
stat() {
	"$CLI" stats --json --domain "$DOMAIN" | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
found = [x for x in s["destinations"] if x["destination"] == sys.argv[1]]
d = found[0] if found else None
print(eval(sys.argv[2]))' "$1" "$2"
}

# --- a blackholed port ----------------------------------------------------------

rm -f "$FL_TMP/bh.port"
start_bg blackhole "$PY" -c '
import os, socket, sys, time
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(0)
port = l.getsockname()[1]
fill = []
for _ in range(4):  # more than the queue holds: the rest stay in SYN_SENT
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex(("127.0.0.1", port))
    fill.append(s)
time.sleep(0.3)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(port))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(300)' "$FL_TMP/bh.port"
wait_for "the blackholed port" 10 test -s "$FL_TMP/bh.port"
BH=$(cat "$FL_TMP/bh.port")

check "the blackholed port drops SYNs: its accept queue is full (ss Recv-Q at the limit) and curl times out"
line=$(ss -ltnH "sport = :$BH")
read -r _ q lim _ <<<"$line"
assert_ge "accept queue length (Recv-Q) over its limit $lim" "$lim" "$q"
curl -sS --connect-timeout 1 "http://127.0.0.1:$BH/" >/dev/null 2>&1
assert_eq "curl exit status without the shim (28 = timeout)" 28 "$?"

# --- 25: a connect the program gives up on is a failure -------------------------

new_domain timeouts
check "three curl connect timeouts (curl closes the pending socket) open a failure_threshold=3 breaker: calls 3, failures 3"
for _ in 1 2 3; do
	under "127.0.0.1:$BH breaker failure_threshold=3 timeout_ms=60000" \
		curl -sS --connect-timeout 1 "http://127.0.0.1:$BH/" >/dev/null 2>&1
	assert_eq "curl exit status (28 = timeout)" 28 "$?"
done
assert_eq "breaker calls" 3 "$(stat "127.0.0.1:$BH" 'd["breaker"]["calls"]')"
assert_eq "breaker failures" 3 "$(stat "127.0.0.1:$BH" 'd["breaker"]["failures"]')"
assert_eq "breaker state" open "$(stat "127.0.0.1:$BH" 'd["breaker"]["state"]')"

new_domain forkclose
check "a forked child closing its copy of a pending connect counts nothing: the parent's attempt counts once"
out=$(under "127.0.0.1:$BH breaker failure_threshold=100" "$H" forkclose "$BH" 2>&1)
assert_contains "helper" "$out" "closed"
assert_eq "breaker calls" 1 "$(stat "127.0.0.1:$BH" 'd["breaker"]["calls"]')"
assert_eq "breaker failures" 1 "$(stat "127.0.0.1:$BH" 'd["breaker"]["failures"]')"

# --- 26: siglongjmp out of a blocking connect ------------------------------------

new_domain longjmp
RULES="127.0.0.1:$BH bulkhead max_concurrent_requests=1 max_queue_size=0; 127.0.0.1:$BH breaker failure_threshold=100"
check "alarm + siglongjmp out of a blocking connect, three times in one process under a bulkhead of 1: each retry is admitted"
out=$(under "$RULES" "$H" longjmp "$BH" 3 2>&1)
assert_eq "attempts" "attempt 1: timeout
attempt 2: timeout
attempt 3: timeout" "$out"
assert_eq "bulkhead slots held afterwards" 0 "$(stat "127.0.0.1:$BH" 'd["bulkhead"]["active"]')"
assert_eq "breaker calls (each abandoned attempt is a failure)" 3 "$(stat "127.0.0.1:$BH" 'd["breaker"]["failures"]')"

if command -v wget >/dev/null 2>&1; then
	new_domain wget
	check "wget --connect-timeout=1 --tries=3 (alarm + siglongjmp) under a bulkhead of 1: every try connects for real and times out"
	under "$RULES" wget -O /dev/null --tries=3 --waitretry=0 --connect-timeout=1 "http://127.0.0.1:$BH/" >"$FL_TMP/wget.log" 2>&1
	assert_eq "wget's tries that timed out" 3 "$(count_lines "$(cat "$FL_TMP/wget.log")" "Connection timed out")"
	assert_eq "wget's tries refused by the bulkhead" 0 "$(count_lines "$(cat "$FL_TMP/wget.log")" "refused")"
	assert_eq "bulkhead rejections" 0 "$(stat "127.0.0.1:$BH" 'd["bulkhead"]["rejected"]')"
	assert_eq "breaker failures" 3 "$(stat "127.0.0.1:$BH" 'd["breaker"]["failures"]')"
else
	echo "   (wget is not installed: the helper's alarm + siglongjmp stands for it)"
fi

# --- 9: re-connect of a connected socket ------------------------------------------

start_server sink sink tcp4
SINK=$SERVER_PORT
new_domain reconnect
RULES="127.0.0.1:$SINK bulkhead max_concurrent_requests=2 max_queue_size=0; 127.0.0.1:$SINK breaker failure_threshold=100"
check "connect() again on connected sockets (non-blocking, blocking) gets the kernel's EISCONN and takes no slot or call"
rm -f "$FL_TMP/go"
start_bg reconnect "$CLI" run --rules "$RULES" --domain "$DOMAIN" -- "$H" reconnect "$SINK" "$FL_TMP/go"
RPID=$!
wait_for "the helper to hold its connections" 10 grep -q held "$FL_TMP/reconnect.log"
assert_contains "helper" "$(cat "$FL_TMP/reconnect.log")" "ok nonblocking_reconnect"
assert_contains "helper" "$(cat "$FL_TMP/reconnect.log")" "ok blocking_reconnect"
assert_eq "breaker calls" 2 "$(stat "127.0.0.1:$SINK" 'd["breaker"]["calls"]')"
assert_eq "bulkhead slots held" 2 "$(stat "127.0.0.1:$SINK" 'd["bulkhead"]["active"]')"
assert_eq "bulkhead rejections" 0 "$(stat "127.0.0.1:$SINK" 'd["bulkhead"]["rejected"]')"
touch "$FL_TMP/go"
wait "$RPID"
assert_eq "helper exit status" 0 "$?"

new_domain udp
check "a UDP socket connected twice to the same destination under a bulkhead of 1 (with a queue): the second connect returns 0 at once"
out=$(under "127.0.0.1:9 bulkhead max_concurrent_requests=1 max_queue_size=4 queue_timeout_ms=3000" "$H" udp 9 2>&1)
assert_contains "helper" "$out" "ok udp_reconnect"

# --- 27: an injected connection-breaking errno breaks the connection -------------------

new_domain reset
check "python: an injected ECONNRESET on send ends the connection: recv returns b'' at once, send fails with EPIPE, the peer sees EOF"
before=$(accepted sink)
out=$(under "127.0.0.1:$SINK fault on=send error=ECONNRESET after=1 times=1; 127.0.0.1:$SINK breaker failure_threshold=100" \
	"$PY" -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"hello")
try:
    s.send(b"more")
    print("send: passed")
except ConnectionResetError:
    print("send: ECONNRESET")
t0 = time.monotonic()
try:
    data = s.recv(100)
    print("recv:", repr(data), "fast" if time.monotonic() - t0 < 5 else "slow")
except socket.timeout:
    print("recv: timed out")
try:
    s.send(b"again")
    print("send again: passed")
except BrokenPipeError:
    print("send again: EPIPE")
s.close()' "$SINK" 2>&1)
assert_eq "client" "send: ECONNRESET
recv: b'' fast
send again: EPIPE" "$out"
wait_events sink "closed $((before + 1)) 5 " 1
check "a connection that succeeded and then was reset is one call, failed (not two calls)"
assert_eq "breaker calls" 1 "$(stat "127.0.0.1:$SINK" 'd["breaker"]["calls"]')"
assert_eq "breaker failures" 1 "$(stat "127.0.0.1:$SINK" 'd["breaker"]["failures"]')"


# --- 17: forked siblings draw their own faults ---------------------------------------

rm -f "$FL_TMP/udp.port"
start_bg udpsink "$PY" -c '
import os, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.settimeout(300)
while True:
    s.recv(100)' "$FL_TMP/udp.port"
wait_for "the UDP sink" 10 test -s "$FL_TMP/udp.port"
UP=$(cat "$FL_TMP/udp.port")
FRULES="127.0.0.1:$UP fault on=send error=EAGAIN probability=0.5"

new_domain forks
check "six forked workers at probability=0.5 with no seed do not all fail the same sends"
out=$(under "$FRULES" "$H" forks "$UP" 6 64 2>&1)
assert_eq "workers reporting" 6 "$(count_lines "$out" "worker ")"
distinct=$(printf '%s\n' "$out" | awk '/^worker /{print $3}' | sort -u | wc -l)
assert_ge "distinct pass/fail patterns of 6 workers" 2 "$distinct"

check "with FAULTLINE_SEED fixed, two runs give every worker the same pattern as before, and siblings still differ"
run1=$(FAULTLINE_SEED=1234 under "$FRULES" "$H" forks "$UP" 6 64 2>&1 | sort)
run2=$(FAULTLINE_SEED=1234 under "$FRULES" "$H" forks "$UP" 6 64 2>&1 | sort)
assert_eq "patterns of run 2" "$run1" "$run2"
distinct=$(printf '%s\n' "$run1" | awk '/^worker /{print $3}' | sort -u | wc -l)
assert_ge "distinct patterns under the seed" 2 "$distinct"

done_ok
