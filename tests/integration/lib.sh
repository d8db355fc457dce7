# tests/integration/lib.sh - what every integration test shares. Sourced.
#
# tests/run.sh runs each test_*.sh with FL_BUILD (absolute build directory),
# FL_TMP (a fresh directory, removed afterwards) and FL_TOP (the repository).
# A test exits 0 to pass, 77 to skip (its last line says why), anything
# else to fail. Each check prints what it is about to show, so a failure
# reads as "which behaviour broke", not "line 212".
#
# Servers a test needs are started with start_bg and stopped by the EXIT
# trap installed here; readiness is always polled with a bounded loop.

set -u

: "${FL_BUILD:?run through tests/run.sh (FL_BUILD is not set)}"
: "${FL_TMP:?run through tests/run.sh (FL_TMP is not set)}"
: "${FL_TOP:?run through tests/run.sh (FL_TOP is not set)}"

PY=/usr/bin/python3 # never the PATH python3: it may be a pyenv shim script
SHIM="$FL_BUILD/libfaultline.so"
CLI="$FL_BUILD/faultline"
HELPERS="$FL_BUILD/tests"
SERVER="$FL_TOP/tests/integration/server.py"
CHECKS=0

# Nothing from the caller's environment may steer the shim but what a test
# sets itself.
unset FAULTLINE_RULES FAULTLINE_CONFIG FAULTLINE_DOMAIN FAULTLINE_SEED FAULTLINE_LOG \
	FAULTLINE_LOG_FILE FAULTLINE_ON_ERROR FAULTLINE_DISABLE FAULTLINE_CAPACITY FAULTLINE_LIB \
	LD_PRELOAD

# Each test joins a domain (the shim's shared state) of its own, removed when
# the test ends: tests cannot see each other's state or leave segments in
# /dev/shm. A test that uses more domains adds them to TEST_DOMAINS.
FAULTLINE_DOMAIN="it-$(basename "$0" .sh)-$$"
export FAULTLINE_DOMAIN
TEST_DOMAINS=("$FAULTLINE_DOMAIN")

# --- reporting ---------------------------------------------------------------

# check NAME: announces the behaviour the next assertions pin.
check() {
	CHECKS=$((CHECKS + 1))
	printf -- '-- %s\n' "$*"
}

fail() {
	printf 'FAIL: %s\n' "$*"
	exit 1
}

skip() {
	printf 'SKIP: %s\n' "$*"
	exit 77
}

# done_ok: the closing line of a test that passed.
done_ok() {
	printf 'ok: %d checks passed\n' "$CHECKS"
	exit 0
}

assert_eq() { # what expected actual
	[ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
}

assert_ne() { # what unexpected actual
	[ "$2" != "$3" ] || fail "$1: did not expect '$3'"
}

assert_contains() { # what haystack needle
	case $2 in
	*"$3"*) ;;
	*) fail "$1: expected to find '$3' in:
$2" ;;
	esac
}

assert_not_contains() { # what haystack needle
	case $2 in
	*"$3"*) fail "$1: did not expect '$3' in:
$2" ;;
	esac
}

assert_ge() { # what minimum actual (integers)
	[ "$3" -ge "$2" ] || fail "$1: expected at least $2, got $3"
}

assert_le() { # what maximum actual (integers)
	[ "$3" -le "$2" ] || fail "$1: expected at most $2, got $3"
}

# count_lines TEXT NEEDLE: how many lines of TEXT contain NEEDLE.
count_lines() {
	printf '%s\n' "$1" | grep -cF -- "$2" || true
}

# --- prerequisites -----------------------------------------------------------

need_cmd() { # command... : skips the test when one is missing
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "'$c' is not installed (tools/deps.sh installs it)"
	done
}

need_build() { # what the test runs: the shim, the CLI, and helpers by name
	[ -f "$SHIM" ] || fail "no shim at $SHIM (run make)"
	local h
	for h in "$@"; do
		[ -x "$HELPERS/$h" ] || fail "no helper $HELPERS/$h (make check builds it)"
	done
}

need_ipv6() {
	"$PY" - <<-'EOF' >/dev/null 2>&1 || skip "no IPv6 loopback (::1) on this machine"
		import socket
		s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
		s.bind(("::1", 0))
	EOF
}

[ -x "$PY" ] || skip "$PY is not installed (tools/deps.sh installs python3)"

# --- time --------------------------------------------------------------------
#
# A timing bound is a lower bound (a delay cannot end early, on any machine)
# plus a generous upper bound measured from the event under test (the kill,
# the holder's close), never from a process start: starting python3 under a
# loaded machine can take seconds. Upper bounds and waiting limits are
# multiplied by the time scale:
#
#   FL_TIME_SCALE=N   (N >= 1, may have decimals) as given, e.g. on a slow
#                     emulator; otherwise
#   from the load     at the moment of the check: the larger of the 1-minute
#                     load average and the tasks runnable right now, per CPU,
#                     rounded up, between 1 and 20. An idle machine keeps
#                     scale 1, so the bounds stay tight where they can be.
#
# Lower bounds are never scaled.

now_ms() {
	local t
	t=$(date +%s%N)
	echo $((t / 1000000))
}

# time_scale: the factor for upper time bounds now (see above).
time_scale() {
	if [ -n "${FL_TIME_SCALE:-}" ]; then
		printf '%s\n' "$FL_TIME_SCALE"
		return
	fi
	# /proc/loadavg: "1.63 0.58 0.22 3/107 17527": field 4 is runnable/total
	# tasks, counting the awk reading it.
	awk -v n="$(nproc 2>/dev/null || echo 1)" '{
		split($4, r, "/"); l = $1; if (r[1] - 1 > l) l = r[1] - 1
		s = l / n; if (s > int(s)) s = int(s) + 1
		if (s < 1) s = 1; if (s > 20) s = 20
		print s }' /proc/loadavg 2>/dev/null || echo 1
}

# scaled N [SCALE]: N (milliseconds, seconds, a count) times the time scale,
# an integer (rounded up).
scaled() {
	awk -v n="$1" -v s="${2:-$(time_scale)}" 'BEGIN { v = n * s; print (v > int(v)) ? int(v) + 1 : int(v) }'
}

# assert_took WHAT LIMIT_MS ELAPSED_MS: an upper time bound, stretched by
# the time scale. Prints the measurement, so a log shows how close it came.
assert_took() {
	local s lim
	s=$(time_scale)
	lim=$(scaled "$2" "$s")
	printf '   %s: %s ms (limit %s ms x time scale %s)\n' "$1" "$3" "$2" "$s"
	[ "$3" -le "$lim" ] ||
		fail "$1: $3 ms, over the limit of $lim ms ($2 ms x time scale $s; FL_TIME_SCALE sets the scale)"
}

# --- processes ---------------------------------------------------------------

BG_PIDS=()

cleanup() {
	local pid
	for pid in "${BG_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${BG_PIDS[@]}"; do
		# Bounded: a server that ignores SIGTERM gets SIGKILL after ~2 s.
		local _
		for _ in $(seq 1 40); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	BG_PIDS=()
	local d
	for d in "${TEST_DOMAINS[@]}"; do
		rm -f "/dev/shm/faultline.$(id -u).$d"
	done
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# start_bg NAME CMD...: runs CMD in the background, output in $FL_TMP/NAME.log.
start_bg() {
	local name=$1
	shift
	"$@" >"$FL_TMP/$name.log" 2>&1 </dev/null &
	BG_PIDS+=("$!")
}

# wait_for WHAT SECONDS CMD...: polls CMD every 50 ms until it succeeds, at
# most SECONDS x the time scale (so do the other wait_* and bh_finish).
wait_for() {
	local what=$1 secs=$2 _
	shift 2
	for _ in $(seq 1 "$(scaled $((secs * 20)))"); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	fail "timed out after ${secs}s x time scale waiting for $what"
}

# free_port: a TCP port on 127.0.0.1 that nobody listens on right now.
free_port() {
	"$PY" -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

port_open() { # HOST PORT
	"$PY" -c '
import socket, sys
socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()' "$1" "$2"
}

# wait_port PORT [HOST] [SECONDS]
wait_port() {
	wait_for "port ${2:-127.0.0.1}:$1" "${3:-10}" port_open "${2:-127.0.0.1}" "$1"
}

# start_server NAME MODE LISTEN [EXTRA...]: starts tests/integration/server.py
# and sets SERVER_PORT (for TCP) once it listens. Its per-connection log is
# $FL_TMP/NAME.events (see server.py).
start_server() {
	local name=$1 mode=$2 listen=$3
	shift 3
	rm -f "$FL_TMP/$name.ready"
	start_bg "$name" "$PY" -u "$SERVER" --mode "$mode" --listen "$listen" \
		--ready "$FL_TMP/$name.ready" --events "$FL_TMP/$name.events" "$@"
	wait_for "server $name to listen" 10 test -s "$FL_TMP/$name.ready"
	# shellcheck disable=SC2034 # read by the tests
	SERVER_PORT=$(cat "$FL_TMP/$name.ready")
}

# events NAME: the server's event log so far.
events() {
	cat "$FL_TMP/$1.events" 2>/dev/null || true
}

# wait_events NAME NEEDLE COUNT [SECONDS]: until NEEDLE appears COUNT times.
wait_events() {
	local name=$1 needle=$2 count=$3 secs=${4:-10} _
	for _ in $(seq 1 "$(scaled $((secs * 20)))"); do
		[ "$(count_lines "$(events "$name")" "$needle")" -ge "$count" ] && return 0
		sleep 0.05
	done
	fail "timed out waiting for $count x '$needle' from server $name; events:
$(events "$name")"
}

# accepted NAME: how many connections server NAME has accepted so far.
accepted() {
	count_lines "$(events "$1")" "accept "
}

# assert_no_connection NAME BEFORE ADDRESS: server NAME accepted no
# connection since it had accepted BEFORE. ADDRESS is PORT (127.0.0.1) or
# unix:PATH. Proved without sleeping: a control connection (made here,
# without the shim) is accepted after any earlier one, because the server
# accepts one at a time; once the server logged the control connection,
# every earlier connection is in the log too.
assert_no_connection() {
	local name=$1 before=$2 address=$3 token="c$RANDOM$RANDOM"
	"$PY" -c '
import socket, sys
address, token = sys.argv[1], sys.argv[2]
if address.startswith("unix:"):
    s = socket.socket(socket.AF_UNIX); s.connect(address[5:])
else:
    s = socket.create_connection(("127.0.0.1", int(address)), timeout=10)
s.sendall(b"CONTROL " + token.encode() + b"\r\n\r\n")
s.shutdown(socket.SHUT_WR)
s.settimeout(10)
while s.recv(4096):
    pass
s.close()' "$address" "$token" || fail "control connection to $address failed"
	wait_events "$name" " $token" 1
	assert_eq "connections server $name accepted (the control one only)" $((before + 1)) "$(accepted "$name")"
}

# --- the shim ----------------------------------------------------------------

# shim CMD...: runs CMD with the shim preloaded (environment as set by the caller).
shim() {
	LD_PRELOAD="$SHIM" "$@"
}

# shim_runtime_first CMD...: like shim, for hosts that cannot take a
# sanitizer runtime loaded late, as the shim's dependency (node crashes at
# start-up with an AddressSanitizer SEGV at pc 0 even with FAULTLINE_DISABLE=1):
# with a sanitizer build of the shim, its runtime is preloaded first. The
# same as shim otherwise.
shim_runtime_first() {
	local rt
	rt=$(ldd "$SHIM" 2>/dev/null | sed -n 's/^[[:space:]]*lib[at]san\.so[^ ]* => \([^ ]*\) .*/\1/p' | head -n1)
	LD_PRELOAD="${rt:+$rt }$SHIM" "$@"
}

# strace_works: whether this machine lets us trace (containers may forbid ptrace).
strace_works() {
	command -v strace >/dev/null 2>&1 && strace -f -o /dev/null true >/dev/null 2>&1
}

# probe RULES DEST...: under RULES (typically `TARGET fault on=connect
# error=EHOSTUNREACH`), connects to each DEST and prints "DEST RESULT" per
# line: "connected", or the errno name. DEST is 4:HOST:PORT (IPv4),
# 6:HOST:PORT (IPv6, HOST may be ::ffff:127.0.0.1) or u:PATH (Unix;
# u:@NAME for an abstract socket).
# The probe is one process; the results land in $PROBE.
probe() {
	local rules=$1
	shift
	PROBE=$(FAULTLINE_RULES="$rules" shim "$PY" -c '
import errno, socket, sys
for d in sys.argv[1:]:
    kind, rest = d.split(":", 1)
    if kind == "u":
        addr = "\0" + rest[1:] if rest.startswith("@") else rest
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        host, port = rest.rsplit(":", 1)
        fam = socket.AF_INET if kind == "4" else socket.AF_INET6
        s, addr = socket.socket(fam, socket.SOCK_STREAM), (host, int(port))
    s.settimeout(5)
    try:
        s.connect(addr)
        r = "connected"
    except OSError as e:
        r = errno.errorcode.get(e.errno, str(e.errno))
    s.close()
    print(d, r)' "$@" 2>&1) || fail "probe under '$rules' failed: $PROBE"
}

# expect_probe DEST RESULT: what the last probe saw for DEST.
expect_probe() {
	printf '%s\n' "$PROBE" | grep -q -F -x -- "$1 $2" ||
		fail "under the last rule, $1 should be '$2'; the probe saw:
$PROBE"
}

# --- breaker and bulkhead tests ------------------------------------------------
# (test_breaker.sh, test_bulkhead.sh, test_bulkhead_crash.sh)

BH_CLIENT="$FL_TOP/tests/integration/bh_client.py"
CONC_SERVER="$FL_TOP/tests/integration/conc_server.py"
FL_DOMAINS=()

# new_domain NAME: a fresh domain for one test case, in $DOMAIN; its
# segment is removed by remove_domains (call it from the test's EXIT trap,
# after cleanup has stopped the processes attached to it).
new_domain() {
	DOMAIN="it-$1-$$"
	rm -f "/dev/shm/faultline.$(id -u).$DOMAIN"
	FL_DOMAINS+=("$DOMAIN")
}

remove_domains() {
	local d
	for d in "${FL_DOMAINS[@]}"; do
		rm -f "/dev/shm/faultline.$(id -u).$d"
	done
}

# under RULES CMD...: runs CMD through `faultline run` in $DOMAIN.
under() {
	local rules=$1
	shift
	"$CLI" run --rules "$rules" --domain "$DOMAIN" -- "$@"
}

# start_conc NAME: starts conc_server.py; sets CONC_PORT once it listens.
# Its counters: conc_stat NAME current|max|accepted.
start_conc() {
	local name=$1
	rm -f "$FL_TMP/$name.ready" "$FL_TMP/$name.stats"
	start_bg "$name" "$PY" -u "$CONC_SERVER" --ready "$FL_TMP/$name.ready" --stats "$FL_TMP/$name.stats"
	wait_for "server $name to listen" 10 test -s "$FL_TMP/$name.ready"
	CONC_PORT=$(cat "$FL_TMP/$name.ready")
}

conc_stat() { # NAME KEY
	sed -n "s/.*\\b$2=\\([0-9]*\\).*/\\1/p" "$FL_TMP/$1.stats" 2>/dev/null | head -n1
}

# wait_conc NAME KEY VALUE [SECONDS]: until the server's KEY equals VALUE.
wait_conc() {
	local name=$1 key=$2 want=$3 secs=${4:-10} i
	for i in $(seq 1 "$(scaled $((secs * 20)))"); do
		[ "$(conc_stat "$name" "$key")" = "$want" ] && return 0
		sleep 0.05
	done
	fail "timed out after ${secs}s x time scale waiting for server $name: $key=$want (now: $(cat "$FL_TMP/$name.stats" 2>/dev/null))"
}

# field LINE KEY: the value of KEY=VALUE in a bh_client.py result line.
field() {
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1
}

# blocked_in_futex PID: whether the process's main thread sleeps in futex
# (a bulkhead waiter sleeps in futex_waitv - 449 everywhere - on the shared
# segment, or in FUTEX_WAIT on kernels without it: lib/wait.h).
blocked_in_futex() {
	local nr now
	case $(uname -m) in
	x86_64) nr=202 ;;
	aarch64 | riscv64) nr=98 ;;
	i?86) nr=240 ;;
	*) return 1 ;;
	esac
	now=$(cut -d' ' -f1 "/proc/$1/syscall" 2>/dev/null)
	[ "$now" = "$nr" ] || [ "$now" = 449 ]
}

# bh_start NAME ARGS...: bh_client.py under the shim ($RULES, $DOMAIN) in
# the background; its pid in BH_PID, its result lines in $FL_TMP/NAME.log.
bh_start() {
	local name=$1
	shift
	start_bg "$name" "$CLI" run --rules "$RULES" --domain "$DOMAIN" -- "$PY" -u "$BH_CLIENT" "$@"
	BH_PID=$!
}

# bh_run NAME ARGS...: the same in the foreground; output in OUT, status in RC.
bh_run() {
	local name=$1
	shift
	"$CLI" run --rules "$RULES" --domain "$DOMAIN" -- "$PY" -u "$BH_CLIENT" "$@" >"$FL_TMP/$name.log" 2>&1
	RC=$?
	OUT=$(cat "$FL_TMP/$name.log")
}

# bh_finish PID WHAT [SECONDS]: waits (bounded) for a background process
# started by this shell; its exit status in RC.
bh_finish() {
	local pid=$1 what=$2 secs=${3:-20} i
	for i in $(seq 1 "$(scaled $((secs * 20)))"); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$pid" 2>/dev/null && fail "$what still running after ${secs}s x time scale"
	wait "$pid"
	RC=$?
}

bh_result() { # NAME: the result line(s) of a client
	grep -E '^(ok|err) ' "$FL_TMP/$1.log" 2>/dev/null
}

# bh_hold NAME PORT: a client that connects and holds its connection until
# bh_release NAME; its pid in HOLDER_PID.
bh_hold() {
	rm -f "$FL_TMP/$1.ready" "$FL_TMP/$1.release"
	bh_start "$1" "$2" --ready "$FL_TMP/$1.ready" --hold-until "$FL_TMP/$1.release" --max-hold-ms 60000
	HOLDER_PID=$BH_PID
	wait_for "$1 to connect" 10 test -e "$FL_TMP/$1.ready"
}

bh_release() { # NAME
	touch "$FL_TMP/$1.release"
}

# bh_waiting PID: until the client sleeps in the bulkhead's queue (bounded).
bh_waiting() {
	wait_for "client $1 to wait in the bulkhead queue" 10 blocked_in_futex "$1"
}

# --- the CLI's view of a domain (test_cli_*.sh, test_top.sh) ----------------

CLI_DOMAINS=()

# clear_domains: `faultline clear --force` of every domain use_domain made.
clear_domains() {
	local d
	for d in "${CLI_DOMAINS[@]}"; do
		"$CLI" clear --domain "$d" --force >/dev/null 2>&1 || true
	done
}

# use_domain PREFIX: a fresh domain PREFIX-PID in $DOMAIN and the exported
# FAULTLINE_DOMAIN (the shim and the CLI both read it), removed with
# `faultline clear --force` when the test exits, after its processes.
use_domain() {
	DOMAIN="$1-$$"
	export FAULTLINE_DOMAIN=$DOMAIN
	"$CLI" clear --domain "$DOMAIN" --force >/dev/null 2>&1 || true
	CLI_DOMAINS+=("$DOMAIN")
	trap 'cleanup; clear_domains' EXIT
}

# cli ARGS...: runs the CLI; OUT, ERR (its output) and RC (exit status).
cli() {
	"$CLI" "$@" >"$FL_TMP/cli.out" 2>"$FL_TMP/cli.err"
	RC=$?
	OUT=$(cat "$FL_TMP/cli.out")
	ERR=$(cat "$FL_TMP/cli.err")
}

# stats_field DEST FIELD: one cell of DEST's row in `faultline stats`, by
# column name (DESTINATION KIND STATE CALLS FAILS FAIL% REJECTED BULKHEAD
# BH.REJ FAULTS); empty when there is no such row.
stats_field() {
	"$CLI" stats | awk -v dest="$1" -v field="$2" '
		NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
		$1 == dest { print $(col[field]); exit }'
}

# json_get EXPR: evaluates the Python expression EXPR over `faultline stats
# --json` (as `s`; `d(name)` is the destination object of that name) and
# prints the result (True/False/None as Python writes them).
json_get() {
	"$CLI" stats --json | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
def d(name):
    found = [x for x in s["destinations"] if x["destination"] == name]
    if not found:
        sys.exit("no destination %r in: %s" % (name, [x["destination"] for x in s["destinations"]]))
    return found[0]
print(eval(sys.argv[1]))' "$1"
}
