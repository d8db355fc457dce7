#!/usr/bin/env bash
# examples/python-breaker/run.sh [BUILD_DIR] - a Python client's circuit
# breaker opens while its server is down and closes when it is back.
#
# client.py (plain urllib, no faultline in it) fetches a page from a local
# web server five times a second, under
#
#     127.0.0.1:PORT breaker failure_threshold=3 success_threshold=2
#                    timeout_ms=2000 reject_errno=EHOSTUNREACH
#
# The script stops the server, waits for the breaker to open, starts the
# server again, and waits for the breaker to close: closed -> open ->
# half_open -> closed. Shown from the client's side (its own output) and
# from faultline's (`faultline stats`, and the shim's log of transitions).
# Exits 0 when all of that happened, 1 otherwise, 77 when a tool is missing.
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
"$cli" --version >/dev/null 2>&1 || { echo "python-breaker: no faultline at $cli (run make first, or pass the build directory)" >&2; exit 2; }
[ -x "$py" ] || { echo "python-breaker: $py is missing (tools/deps.sh installs python3)" >&2; exit 77; }

domain="ex-python-breaker-$$"
export FAULTLINE_DOMAIN=$domain
work=$(mktemp -d /tmp/faultline-python-breaker.XXXXXX)
server="" client=""
cleanup() {
	local p
	for p in $client $server; do kill "$p" 2>/dev/null || true; done
	for p in $client $server; do wait "$p" 2>/dev/null || true; done
	"$cli" clear --force --domain "$domain" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

failures=0
pass() { printf '  ok: %s\n' "$*"; }
bad() { printf '  FAILED: %s\n' "$*"; failures=$((failures + 1)); }

port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port/"
mkdir "$work/www"
echo "hello" >"$work/www/index.html"

# The server: started, and stopped, by this script.
start_server() {
	"$py" -m http.server --bind 127.0.0.1 --directory "$work/www" "$port" >>"$work/server.log" 2>&1 &
	server=$!
	for _ in $(seq 1 100); do
		"$py" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$port" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "python-breaker: the server did not start within 10 s" >&2
	exit 1
}
stop_server() {
	kill "$server"
	wait "$server" 2>/dev/null || true
	server=""
}

# state: the breaker's state in `faultline stats --json` ("none" before it exists).
state() {
	{ "$cli" stats --json 2>/dev/null || true; } | "$py" -c '
import json, sys
try:
    s = json.load(sys.stdin)
except ValueError:
    sys.exit(print("none"))
d = [x for x in s["destinations"] if x["destination"] == sys.argv[1] and x["breaker"]]
print(d[0]["breaker"][sys.argv[2]] if d else "none")' "127.0.0.1:$port" "${1:-state}"
}

# wait_until WHAT SECONDS CMD...: polls CMD every 0.1 s; false after SECONDS.
wait_until() {
	local what=$1 secs=$2 _
	shift 2
	for _ in $(seq 1 $((secs * 10))); do
		"$@" && return 0
		sleep 0.1
	done
	bad "timed out after ${secs}s waiting for $what"
	return 1
}
state_is() { [ "$(state)" = "$1" ]; }
client_saw() { [ "$(grep -c -- "$1" "$work/client.log" 2>/dev/null)" -ge "$2" ]; }
# mark TEXT: a line in the client's log, so its output reads as a story.
mark() { echo "------ $* ------" >>"$work/client.log"; echo "$*"; }

rules="127.0.0.1:$port breaker failure_threshold=3 success_threshold=2 timeout_ms=2000 reject_errno=EHOSTUNREACH"
echo "Rule: $rules"
echo

start_server
mark "server up on 127.0.0.1:$port"
# The client under faultline; the shim logs breaker transitions (info) to a file.
FAULTLINE_LOG=info FAULTLINE_LOG_FILE="$work/faultline.log" \
	"$cli" run --rules "$rules" -- "$py" -u "$here/client.py" "$url" 0.2 "$work/stop" 60 >>"$work/client.log" 2>&1 &
client=$!

ok=true
wait_until "the client's first two answers" 10 client_saw ': ok 200' 2 || ok=false
$ok && { mark "server stopped"; stop_server; }
$ok && { wait_until "the breaker to open" 10 state_is open || ok=false; }
if $ok; then
	echo "The breaker is open:"
	"$cli" stats | sed 's/^/  /'
	# The client keeps trying; each attempt now fails inside the process.
	wait_until "two fast failures" 10 client_saw 'rejected by the breaker' 2 || ok=false
fi
$ok && { start_server; mark "server up again"; }
$ok && { wait_until "the breaker to close again" 15 state_is closed || ok=false; }
if $ok; then
	echo "The breaker is closed again:"
	"$cli" stats | sed 's/^/  /'
	n=$(grep -c ': ok 200' "$work/client.log")
	wait_until "two answers after recovery" 10 client_saw ': ok 200' $((n + 2)) || true
fi
touch "$work/stop"
for _ in $(seq 1 50); do kill -0 "$client" 2>/dev/null || break; sleep 0.1; done
kill "$client" 2>/dev/null || true
wait "$client" 2>/dev/null || true
client=""

echo
echo "What the client saw:"
sed 's/^/  /' "$work/client.log"
echo
echo "What the shim logged (FAULTLINE_LOG=info):"
grep 'breaker ' "$work/faultline.log" 2>/dev/null | sed 's/^/  /' || true
echo

# The story, in order: answers, real refusals, fast failures, answers again.
order=$(sed -n 's/.*: \(ok\) 200$/\1/p; s/.*: \(refused\) by the server.*/\1/p; s/.*: \(rejected\) by the breaker.*/\1/p' "$work/client.log" | uniq | tr '\n' ' ')
case $order in
"ok refused rejected "*"ok ") pass "the client saw: answers, real refusals, fast failures, answers ($order)" ;;
*) bad "the client's results were not answers, refusals, fast failures, answers: '$order'" ;;
esac
refused=$(grep -c 'refused by the server' "$work/client.log" || true)
if [ "$refused" -ge 3 ]; then pass "$refused real refusals (failure_threshold=3 opened it)"; else bad "only $refused real refusals"; fi
for t in "closed -> open" "open -> half_open" "half_open -> closed"; do
	if grep -q "breaker 127.0.0.1:$port: $t" "$work/faultline.log" 2>/dev/null; then
		pass "the shim logged $t"
	else
		bad "the shim did not log $t"
	fi
done
final=$(state) rejected=$(state rejected) transitions=$(state transitions)
if [ "$final" = closed ]; then pass "final state: closed"; else bad "final state: $final"; fi
if [ "${rejected:-0}" -gt 0 ] 2>/dev/null; then pass "rejected=$rejected attempts never reached the network"; else bad "rejected=$rejected"; fi
if [ "${transitions:-0}" -ge 3 ] 2>/dev/null; then pass "transitions=$transitions"; else bad "transitions=$transitions"; fi

echo
if [ "$failures" -ne 0 ]; then
	echo "python-breaker: $failures check(s) FAILED"
	exit 1
fi
echo "python-breaker: all checks passed"
