#!/usr/bin/env bash
# examples/demo/run.sh [BUILD_DIR] - faultline in a minute, on loopback only.
#
# Starts a small web server on 127.0.0.1 (python3 -m http.server on a free
# port), then runs an ordinary, unmodified curl: as it is, with a 1.5 s
# delay injected into its connect, with its connect refused, and finally in
# a shell loop of separate curl processes against a port where nothing
# listens, which trips one circuit breaker that all of them share; then
# `faultline stats` shows it. The server is stopped on the way out.
set -euo pipefail

# The build: BUILD_DIR if given (relative to where you are), else the
# repository's build/ (found from this script, so the demo runs from its
# own folder as well as from the repository root).
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" 2>/dev/null && pwd) || build=${1:-$here/../../build}
cli="$build/faultline"
py=/usr/bin/python3
if [ ! -x "$cli" ] || [ ! -f "$build/libfaultline.so" ]; then
	echo "demo: build first (make), or pass the build directory" >&2
	exit 2
fi
for tool in curl "$py"; do
	command -v "$tool" >/dev/null || { echo "demo: $tool is missing (tools/deps.sh installs it)" >&2; exit 2; }
done

work=$(mktemp -d /tmp/faultline-demo.XXXXXX)
# The shim's shared state for this demo only, removed at the end.
export FAULTLINE_DOMAIN="demo-$$"
server=""
cleanup() {
	if [ -n "$server" ]; then
		kill "$server" 2>/dev/null || true
		wait "$server" 2>/dev/null || true
	fi
	rm -rf "$work"
	rm -f "/dev/shm/faultline.$(id -u).$FAULTLINE_DOMAIN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free port: bind port 0, read it back.
port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port/"
echo "Hello from the faultline demo server." >"$work/index.html"
"$py" -m http.server --bind 127.0.0.1 --directory "$work" "$port" >"$work/server.log" 2>&1 &
server=$!

# Wait until it answers: at most 10 s, checking every 0.1 s.
for _ in $(seq 1 100); do
	curl -s -o /dev/null "$url" && break
	kill -0 "$server" 2>/dev/null || { echo "demo: the server did not start:" >&2; cat "$work/server.log" >&2; exit 1; }
	sleep 0.1
done
curl -s -o /dev/null "$url" || { echo "demo: the server did not answer within 10 s" >&2; exit 1; }

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold="" plain=""; fi
say() { printf '\n%s%s%s\n' "$bold" "$*" "$plain"; }
show() { printf '  $ %s\n' "$*"; }

say "A local web server is running at $url"

say "1. curl as it is: no faults."
show "curl -s $url"
start=$(date +%s%N)
body=$(curl -s "$url")
ms=$((($(date +%s%N) - start) / 1000000))
echo "  -> \"$body\" in $ms ms"

rules="127.0.0.1:$port fault on=connect delay_ms=1500"
say "2. The same curl under faultline, with a 1.5 second delay on connect."
show "faultline run --rules '$rules' -- curl -s $url"
start=$(date +%s%N)
body=$(FAULTLINE_LOG=debug "$cli" run --rules "$rules" -- curl -s "$url" 2>"$work/log")
ms=$((($(date +%s%N) - start) / 1000000))
echo "  -> \"$body\" in $ms ms"
grep ': delay ' "$work/log" | sed 's/^/  faultline logged: /' || true
echo "  The page still arrived, but connect() slept 1.5 s first: curl itself"
echo "  was not changed, faultline delayed the call inside it."

rules="127.0.0.1:$port fault on=connect error=ECONNREFUSED"
say "3. Now the connection is refused (ECONNREFUSED), without touching the network."
show "faultline run --rules '$rules' -- curl -sS $url"
set +e
"$cli" run --rules "$rules" -- curl -sS "$url" 2>"$work/err"
rc=$?
set -e
sed 's/^/  /' "$work/err"
echo "  -> curl exited with status $rc (7 means: could not connect)."
echo "  The server is still up; faultline made connect() fail before any packet"
echo "  was sent, exactly as a refused connection looks to the program."

closed=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
rules="127.0.0.1:$closed breaker failure_threshold=3 timeout_ms=30000"
say "4. A circuit breaker shared by separate processes: 6 curls, one after another, to a port where nothing listens."
show "for i in 1 2 3 4 5 6; do faultline run --rules '$rules' -- curl -s http://127.0.0.1:$closed/; done"
for i in 1 2 3 4 5 6; do
	set +e
	FAULTLINE_LOG=info "$cli" run --rules "$rules" -- curl -s "http://127.0.0.1:$closed/" 2>"$work/log"
	rc=$?
	set -e
	change=$(grep -o 'breaker .*' "$work/log" || true)
	echo "  curl $i: exit $rc${change:+   (faultline: $change)}"
done
echo "  Curls 1-3 really tried and were refused; that opened the breaker, so"
echo "  curls 4-6 failed at once, without a connect() system call."
show "faultline stats"
"$cli" stats | sed 's/^/  /'

say "What happened"
echo "  faultline preloads libfaultline.so into a program and watches its network"
echo "  calls. Rules pick destinations (here 127.0.0.1:$port) and what to do to"
echo "  which calls: delay them, fail them with an errno, or put a circuit breaker"
echo "  or a bulkhead in front of them, with state shared by every process of the"
echo "  domain. Everything else passes through untouched."
echo "  Try:  $cli check --rules '$rules'"
echo
echo "Stopping the server."
