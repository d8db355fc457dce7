#!/bin/bash
# tests/bench/layers.sh BUILD - the instruction figures of issue 12 (live
# layers), by the method of docs/performance.md: callgrind, run length N
# and 2N, (I(2N) - I(N)) / N of the client process, minus the same without
# the shim ("extra instructions"); ping-pong figures are per call (one
# round trip is a send and a recv).
#
#   write, pass-through           rules that match nothing here (joined)
#   send/recv, socket no rule     the same rules: the socket is followed for
#                                 layers, but nothing matches it
#   send/recv, joined, no rules   no rules at all, the domain exists
#   send/recv, matched + layer    bench's MATCHED rules, and one layer whose
#                                 statement matches the destination (on=connect)
#   send/recv, live from a layer  MATCHED rules; the live fault (after=10^9)
#                                 comes from a layer instead of the rules
#
# Prints a table; `make bench` runs it after the main report when valgrind
# is installed.
set -u
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
shim=$build/libfaultline.so
cli=$build/faultline
bin=$build/bench
mkdir -p "$bin"
command -v valgrind >/dev/null || { echo "layers bench: valgrind is not installed" >&2; exit 0; }
${CC:-cc} -std=gnu11 -O2 -g -D_GNU_SOURCE -I"$top/lib" -pthread -o "$bin/bench_io" "$here/bench_io.c" || exit 1

N_WRITE=${N_WRITE:-20000}
N_PP=${N_PP:-2000}
dom=bench-layers-$$
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; for d in "$dom"-pass "$dom"-bare "$dom"-layer "$dom"-live; do "$cli" clear --domain "$d" --force >/dev/null 2>&1; done' EXIT

PASS_RULES='127.0.0.2:1 breaker'
MATCHED_RULES='127.0.0.1 breaker failure_threshold=2000000000 failure_rate_threshold=0;
127.0.0.1 bulkhead max_concurrent_requests=1000 max_queue_size=0;
127.0.0.1 fault on=io error=ECONNRESET probability=0'

total() { # n workload env...
	local n=$1 w=$2 d
	shift 2
	d=$(mktemp -d "$tmp/cg.XXXX")
	env "$@" FAULTLINE_LOG=off valgrind --tool=callgrind --callgrind-out-file="$d/out.%p" \
		"$bin/bench_io" "$w" "$n" >"$d/stdout" 2>"$d/stderr" || { echo nan; return; }
	local pid
	pid=$(sed -n 's/^pid=//p' "$d/stdout" | head -n1)
	sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$d/out.$pid"
}

per_op() { # n workload env...
	local n=$1 w=$2 a b
	shift 2
	a=$(total "$n" "$w" "$@")
	b=$(total $((2 * n)) "$w" "$@")
	awk -v a="$a" -v b="$b" -v n="$n" 'BEGIN { printf "%.1f\n", (b - a) / n }'
}

extra() { awk -v x="$1" -v y="$2" -v d="$3" 'BEGIN { printf "%.1f\n", (x - y) / d }'; }

base_write=$(per_op "$N_WRITE" write)
base_pp=$(per_op "$N_PP" pingpong)

pass_write=$(per_op "$N_WRITE" write LD_PRELOAD="$shim" FAULTLINE_DOMAIN="$dom-pass" FAULTLINE_RULES="$PASS_RULES")
pass_pp=$(per_op "$N_PP" pingpong LD_PRELOAD="$shim" FAULTLINE_DOMAIN="$dom-pass" FAULTLINE_RULES="$PASS_RULES")

"$cli" run --domain "$dom-bare" -- true # creates the domain, as `faultline run` without rules does
bare_pp=$(per_op "$N_PP" pingpong LD_PRELOAD="$shim" FAULTLINE_DOMAIN="$dom-bare")

"$cli" apply --domain "$dom-layer" --name l --rules "127.0.0.1 fault on=connect error=ECONNREFUSED after=1000000000" >/dev/null
layer_pp=$(per_op "$N_PP" pingpong LD_PRELOAD="$shim" FAULTLINE_DOMAIN="$dom-layer" FAULTLINE_RULES="$MATCHED_RULES")

"$cli" apply --domain "$dom-live" --name l --rules "127.0.0.1 fault on=io error=ECONNRESET after=1000000000" >/dev/null
live_pp=$(per_op "$N_PP" pingpong LD_PRELOAD="$shim" FAULTLINE_DOMAIN="$dom-live" FAULTLINE_RULES="$MATCHED_RULES")

echo "| call | extra instructions per call | target |"
echo "| --- | --- | --- |"
echo "| write 1 B to /dev/null, pass-through (process joined) | $(extra "$pass_write" "$base_write" 1) | <= 10 |"
echo "| send/recv, socket without rule (process joined) | $(extra "$pass_pp" "$base_pp" 2) | <= 10 |"
echo "| send/recv, no rules, joined to a domain | $(extra "$bare_pp" "$base_pp" 2) | <= 15 |"
echo "| send/recv, matched, one layer applied | $(extra "$layer_pp" "$base_pp" 2) | <= 45 |"
echo "| send/recv, live fault from a layer (after=10^9) | $(extra "$live_pp" "$base_pp" 2) | - |"
echo "(N = $N_WRITE writes, $N_PP round trips; baseline without the shim: write $base_write, round trip $base_pp)"
