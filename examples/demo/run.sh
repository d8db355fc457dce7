#!/usr/bin/env bash
# examples/demo/run.sh BUILD_DIR - faultline in a minute, on loopback only.
#
# Starts a small web server on 127.0.0.1 (python3 -m http.server on a free
# port), then runs an ordinary, unmodified curl three times: as it is, with
# a 1.5 s delay injected into its connect, and with its connect refused. The
# server is stopped on the way out, whatever happens.
set -euo pipefail

build=$(cd "${1:-build}" && pwd)
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

say "What happened"
echo "  faultline preloads libfaultline.so into a program and watches its network"
echo "  calls. Rules pick destinations (here 127.0.0.1:$port) and what to do to"
echo "  which calls: delay them, or fail them with an errno. Everything else passes"
echo "  through untouched. Try:  $cli check --rules '$rules'"
echo
echo "Stopping the server."
