#!/usr/bin/env bash
# examples/redis-bulkhead/run.sh [BUILD_DIR] - at most N connections to Redis,
# shared by every client process.
#
# Starts its own redis-server on a free loopback port, then ten redis-cli
# processes at once, each holding its connection for three seconds (BLPOP on
# an empty list), all under one bulkhead:
#
#     127.0.0.1:PORT bulkhead max_concurrent_requests=3 max_queue_size=0
#
# Checked: three clients get in, the other seven are refused at once
# (ECONNREFUSED, without reaching Redis); Redis itself never sees more than
# three of them; `faultline stats --json` shows peak_active <= 3 and
# rejected > 0; the slots come back when the clients exit, and the slot of
# a client killed with SIGKILL is taken back too.
# Exits 0 when all of that holds, 1 otherwise, 77 when redis is missing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
# faultline: BUILD_DIR/faultline, else the repository's build/, else the
# one on PATH (an installed copy finds its shim itself).
if [ $# -gt 0 ]; then
	cli="$(cd "$1" && pwd)/faultline"
elif [ -x "$here/../../build/faultline" ]; then
	cli="$(cd "$here/../../build" && pwd)/faultline"
else
	cli=$(command -v faultline || echo "$here/../../build/faultline")
fi
"$cli" --version >/dev/null 2>&1 || { echo "redis-bulkhead: no faultline at $cli (run make first, or pass the build directory)" >&2; exit 2; }
for tool in redis-server redis-cli "$py"; do
	command -v "$tool" >/dev/null || { echo "redis-bulkhead: $tool is missing (tools/deps.sh installs redis-server and redis-tools)" >&2; exit 77; }
done

limit=3    # max_concurrent_requests
clients=10 # started at once
domain="ex-redis-bulkhead-$$"
export FAULTLINE_DOMAIN=$domain
work=$(mktemp -d /tmp/faultline-redis-bulkhead.XXXXXX)
pids=()
redis=""
cleanup() {
	local p
	for p in "${pids[@]}" $redis; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}" $redis; do wait "$p" 2>/dev/null || true; done
	"$cli" clear --force --domain "$domain" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

failures=0
pass() { printf '  ok: %s\n' "$*"; }
bad() { printf '  FAILED: %s\n' "$*"; failures=$((failures + 1)); }
check() { # WHAT CONDITION...
	local what=$1
	shift
	if "$@"; then pass "$what"; else bad "$what"; fi
}

# --- redis-server on a free loopback port, answering within 10 s ------------
port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
	--daemonize no >"$work/redis.log" 2>&1 &
redis=$!
for _ in $(seq 1 100); do
	[ "$(redis-cli -p "$port" PING 2>/dev/null)" = PONG ] && break
	sleep 0.1
done
[ "$(redis-cli -p "$port" PING 2>/dev/null)" = PONG ] || { echo "redis-bulkhead: redis-server did not answer within 10 s:" >&2; cat "$work/redis.log" >&2; exit 1; }

rules="127.0.0.1:$port bulkhead max_concurrent_requests=$limit max_queue_size=0"

# bulkhead FIELD: a field of the bulkhead of 127.0.0.1:PORT in `stats --json`.
bulkhead() {
	{ "$cli" stats --json 2>/dev/null || true; } | "$py" -c '
import json, sys
try:
    s = json.load(sys.stdin)
except ValueError:
    sys.exit(print(-1))
d = [x for x in s["destinations"] if x["destination"] == sys.argv[1]]
print(d[0]["bulkhead"][sys.argv[2]] if d and d[0]["bulkhead"] else -1)' "127.0.0.1:$port" "$1"
}

# Clients Redis has right now, not counting the redis-cli that asks.
redis_clients() {
	local n
	n=$(redis-cli -p "$port" INFO clients | tr -d '\r' | sed -n 's/^connected_clients://p')
	echo $((n - 1))
}

# client NAME SECONDS: one redis-cli under the bulkhead, holding its
# connection SECONDS (BLPOP on a list nobody fills), in the background.
client() {
	"$cli" run --rules "$rules" -- redis-cli -p "$port" BLPOP example:empty "$2" >"$work/$1.out" 2>&1 &
	pids+=("$!")
}

echo "redis-server runs on 127.0.0.1:$port. Rule:"
echo "  $rules"

echo
echo "1. $clients redis-cli processes at once, each holding its connection for 3 s."
for i in $(seq 1 "$clients"); do client "c$i" 3; done
# While they hold: what Redis sees, and what faultline sees.
sleep 0.7
held=$(redis_clients)
echo "  Redis reports $held client connection(s) while they run; faultline stats:"
"$cli" stats 2>&1 | sed 's/^/    /' || true
for p in "${pids[@]}"; do wait "$p" || true; done
pids=()
admitted=0 refused=0
for i in $(seq 1 "$clients"); do
	if grep -q 'Could not connect' "$work/c$i.out"; then refused=$((refused + 1)); else admitted=$((admitted + 1)); fi
done
echo "  $admitted client(s) got in and waited 3 s; $refused were refused at once:"
{ grep -h 'Could not connect' "$work"/c*.out || true; } | sort | uniq -c | sed 's/^ */    /'
peak=$(bulkhead peak_active)
rejected=$(bulkhead rejected)
check "Redis saw at most $limit of them at a time ($held)" [ "$held" -ge 0 -a "$held" -le "$limit" ]
check "the bulkhead's peak_active is at most $limit ($peak)" [ "$peak" -ge 1 -a "$peak" -le "$limit" ]
check "the bulkhead rejected some attempts (rejected=$rejected)" [ "$rejected" -gt 0 ]
check "some clients got in, the others were refused ($admitted in, $refused refused)" \
	[ "$admitted" -ge 1 -a "$admitted" -le "$limit" -a "$refused" -ge $((clients - limit)) ]
check "every slot came back when the clients exited (active=$(bulkhead active))" [ "$(bulkhead active)" -eq 0 ]

echo
echo "2. A client killed with SIGKILL cannot give its slot back itself."
"$cli" reset "127.0.0.1:$port" >/dev/null 2>&1 || true # the peak of part 1 is over
for i in $(seq 1 "$limit"); do client "h$i" 30; done
for _ in $(seq 1 100); do
	[ "$(bulkhead active)" -eq "$limit" ] && break
	sleep 0.1
done
check "$limit clients hold every slot (active=$(bulkhead active))" [ "$(bulkhead active)" -eq "$limit" ]
set +e
"$cli" run --rules "$rules" -- redis-cli -p "$port" PING >"$work/extra1.out" 2>&1
set -e
check "one more client is refused: $(cat "$work/extra1.out")" grep -q 'Could not connect' "$work/extra1.out"
victim=${pids[0]}
kill -KILL "$victim"
wait "$victim" 2>/dev/null || true
echo "  killed client pid $victim with SIGKILL; the next connection attempt reaps its slot:"
set +e
"$cli" run --rules "$rules" -- redis-cli -p "$port" PING >"$work/extra2.out" 2>&1
set -e
check "a new client gets in: $(cat "$work/extra2.out")" [ "$(cat "$work/extra2.out")" = PONG ]
"$cli" stats 2>&1 | sed 's/^/    /' || true

echo
if [ "$failures" -ne 0 ]; then
	echo "redis-bulkhead: $failures check(s) FAILED"
	exit 1
fi
echo "redis-bulkhead: all checks passed"
