#!/usr/bin/env bash
# examples/curl-retry/run.sh [BUILD_DIR] - does curl --retry really retry?
#
# A web server on 127.0.0.1 (python3 -m http.server, free port), and an
# unmodified curl whose first connection attempts are refused by faultline
# (ECONNREFUSED, counted with `after` and `times`). Three cases:
#   1. times=2, --retry 3:        two refusals, the third attempt succeeds;
#   2. after=1 times=2, two URLs: the first fetch passes, the second is
#                                 refused twice, then succeeds;
#   3. times=5, --retry 2:        curl gives up after three attempts.
# Each case is checked three ways: curl's exit status and output, the
# server's access log (what really reached it), and `faultline stats`.
# Exits 0 when all of that is as described, 1 otherwise, 77 when a tool is
# missing. Loopback only; the server and the domain are removed on exit.
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
"$cli" --version >/dev/null 2>&1 || { echo "curl-retry: no faultline at $cli (run make first, or pass the build directory)" >&2; exit 2; }
for tool in curl "$py"; do
	command -v "$tool" >/dev/null || { echo "curl-retry: $tool is missing (tools/deps.sh installs it)" >&2; exit 77; }
done

domain="ex-curl-retry-$$"
export FAULTLINE_DOMAIN=$domain # the CLI and the shim both read it
work=$(mktemp -d /tmp/faultline-curl-retry.XXXXXX)
server=""
cleanup() {
	if [ -n "$server" ]; then
		kill "$server" 2>/dev/null || true
		wait "$server" 2>/dev/null || true
	fi
	"$cli" clear --force --domain "$domain" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

failures=0
pass() { printf '  ok: %s\n' "$*"; }
bad() { printf '  FAILED: %s\n' "$*"; failures=$((failures + 1)); }
expect() { # WHAT EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then pass "$1: $3"; else bad "$1: expected $2, got $3"; fi
}

# --- a web server on a free loopback port, answering within 10 s ------------
port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port/"
mkdir "$work/www"
echo "hello from the server" >"$work/www/index.html"
"$py" -m http.server --bind 127.0.0.1 --directory "$work/www" "$port" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
	curl -s -o /dev/null "$url" && break
	sleep 0.1
done
curl -s -o /dev/null "$url" || { echo "curl-retry: the server did not answer within 10 s" >&2; exit 1; }

# requests_seen: GET lines in the server's access log so far.
requests_seen() { grep -c '"GET / ' "$work/server.log" || true; }

# stat OP FIELD: a per-op counter of our destination from `faultline stats --json`.
stat() {
	{ "$cli" stats --json 2>/dev/null || true; } | "$py" -c '
import json, sys
try:
    s = json.load(sys.stdin)
except ValueError:
    sys.exit(print("no statistics"))
d = [x for x in s["destinations"] if x["destination"] == sys.argv[1]]
print(d[0]["ops"][sys.argv[2]][sys.argv[3]] if d else "no such destination")' "127.0.0.1:$port" "$1" "$2"
}

# attempt CASE RULES CURL_ARGS...: curl under RULES; status in RC, stdout in
# $work/CASE.out, stderr shown (curl's own report of each failed attempt).
attempt() {
	local name=$1 rules=$2
	shift 2
	"$cli" reset --all >/dev/null 2>&1 || true # counters of the previous case
	before=$(requests_seen)
	echo "  \$ faultline run --rules '$rules' -- curl $*"
	set +e
	"$cli" run --rules "$rules" -- curl --no-progress-meter "$@" >"$work/$name.out" 2>"$work/$name.err"
	RC=$?
	set -e
	grep -E '^curl: |Will retry' "$work/$name.err" | sed 's/^/    /' || true
	reached=$(($(requests_seen) - before))
}

echo "A web server runs at $url."

echo
echo "1. The first two connection attempts are refused; curl retries up to 3 times."
attempt one "127.0.0.1:$port fault on=connect error=ECONNREFUSED times=2" \
	--retry 3 --retry-connrefused --retry-delay 1 "$url"
expect "curl's exit status" 0 "$RC"
expect "page received" "hello from the server" "$(cat "$work/one.out")"
expect "attempts (connect calls)" 3 "$(stat connect calls)"
expect "refusals injected" 2 "$(stat connect errors_injected)"
expect "requests that reached the server" 1 "$reached"

echo
echo "2. after=1: the first connection of the process passes, the next two are refused."
echo "   curl fetches the page twice (two URLs, a new connection each)."
attempt two "127.0.0.1:$port fault on=connect error=ECONNREFUSED after=1 times=2" \
	--retry 3 --retry-connrefused --retry-delay 1 "$url" "$url"
expect "curl's exit status" 0 "$RC"
expect "pages received" 2 "$(grep -c 'hello from the server' "$work/two.out")"
expect "attempts (connect calls)" 4 "$(stat connect calls)"
expect "refusals injected" 2 "$(stat connect errors_injected)"
expect "requests that reached the server" 2 "$reached"

echo
echo "3. Five refusals in a row, but curl retries only twice: it gives up."
attempt three "127.0.0.1:$port fault on=connect error=ECONNREFUSED times=5" \
	--retry 2 --retry-connrefused --retry-delay 1 "$url"
expect "curl's exit status (7: could not connect)" 7 "$RC"
expect "attempts (connect calls)" 3 "$(stat connect calls)"
expect "refusals injected" 3 "$(stat connect errors_injected)"
expect "requests that reached the server" 0 "$reached"

echo
echo "faultline stats after the last case:"
"$cli" stats 2>&1 | sed 's/^/  /' || true

echo
if [ "$failures" -ne 0 ]; then
	echo "curl-retry: $failures check(s) FAILED"
	exit 1
fi
echo "curl-retry: all checks passed"
