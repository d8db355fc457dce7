#!/usr/bin/env bash
# tests/bench/run.sh BUILD - faultline's benchmarks, side by side with the
# alternatives, in one run (`make bench`).
#
# Builds the C programs of tests/bench/ into BUILD/bench/, then:
#   1. wall time: the workloads of bench_io (write to /dev/null, 1-byte
#      ping-pong, 64 KiB bulk, connect+close, refused connect) under every
#      setup (no shim, shim pass-through, shim matched - with a fault left
#      out as never firing, and with a live one - libfiu, strace),
#      interleaved: each repeat runs every setup once, in a rotating order,
#      so drift and other load fall on all of them alike; medians and IQR;
#   2. instructions: callgrind, run length N and 2N, (I(2N) - I(N)) / N, so
#      start-up cancels out; the client process only;
#   3. the targets of issue 5: open breaker, connect path, delays, scale
#      (10,000 rules, 10,000 destinations, 1-8 threads), memory;
#   4. where the matched path and the connect path spend (callgrind_annotate);
# and writes BUILD/bench/results.md, results.png (gnuplot) and raw/.
#
# Environment: BENCH_REPEATS (wall-time repeats, default 11), BENCH_QUICK=1
# (a smoke run: few repeats, short loops), BENCH_NO_INSTALL=1 (never run
# apt-get). Missing tools are installed when running as root; otherwise
# their column or section is skipped with a note. Loopback only; every loop
# is bounded. About 3.5 minutes on 2 cores.
set -u
export LC_ALL=C

build=$(cd "${1:-build}" && pwd)
top=$(cd "$(dirname "$0")/../.." && pwd)
here=$top/tests/bench
out=$build/bench
raw=$out/raw
shim=$build/libfaultline.so
cli=$build/faultline
uid=$(id -u)
dom=bench-$$
notes=()

note() {
	notes+=("$*")
	echo "bench: note: $*" >&2
}

say() {
	printf 'bench: %s\n' "$*" >&2
}

[ -f "$shim" ] && [ -x "$cli" ] || {
	echo "bench: $shim or $cli missing: run make first" >&2
	exit 2
}
rm -rf "$raw"
mkdir -p "$out" "$raw"

# ---------------------------------------------------------------- tools

# Debian package that brings each command (gnuplot-nox: gnuplot without X).
declare -A package_of=([valgrind]=valgrind [callgrind_annotate]=valgrind [strace]=strace
	[fiu-run]=fiu-utils [gnuplot]=gnuplot-nox)

have() { command -v "$1" >/dev/null 2>&1; }

install_missing() {
	local missing=() t
	for t in "${!package_of[@]}"; do
		have "$t" || missing+=("${package_of[$t]}")
	done
	[ ${#missing[@]} -eq 0 ] && return
	mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
	if [ "${BENCH_NO_INSTALL:-0}" = 1 ] || [ "$(id -u)" != 0 ] || ! have apt-get; then
		note "not installing ${missing[*]} (not root, no apt-get, or BENCH_NO_INSTALL=1)"
		return
	fi
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q "${missing[@]}" >"$raw/apt.log" 2>&1 ||
		{ apt-get update -q >>"$raw/apt.log" 2>&1 && apt-get install -y -q "${missing[@]}" >>"$raw/apt.log" 2>&1; } ||
		note "apt-get install ${missing[*]} failed (see raw/apt.log)"
}
install_missing

fiu_dir=
for d in /usr/lib/fiu /usr/lib/*/fiu /usr/local/lib/fiu; do
	[ -f "$d/fiu_posix_preload.so" ] && [ -f "$d/fiu_run_preload.so" ] && fiu_dir=$d && break
done
HAVE_FIU=0 HAVE_STRACE=0 HAVE_VALGRIND=0 HAVE_GNUPLOT=0
[ -n "$fiu_dir" ] && HAVE_FIU=1 || note "libfiu (fiu-utils) not found: its column is skipped"
have strace && HAVE_STRACE=1 || note "strace not found: its column is skipped"
have valgrind && have callgrind_annotate && HAVE_VALGRIND=1 ||
	note "valgrind not found: no instruction counts"
have gnuplot && HAVE_GNUPLOT=1 || note "gnuplot not found: no chart"

# ---------------------------------------------------------------- programs

bin=$out
CC=${CC:-cc}
for p in bench_io bench_delay bench_threads bench_dests bench_mem bench_ready; do
	$CC -std=gnu11 -O2 -g -D_GNU_SOURCE -Wall -Wextra -Werror -I"$top/lib" -pthread \
		-o "$bin/$p" "$here/$p.c" || {
		echo "bench: cannot compile $p" >&2
		exit 1
	}
done

# ---------------------------------------------------------------- sizes

if [ "${BENCH_QUICK:-0}" = 1 ]; then
	REPEATS=${BENCH_REPEATS:-3}
	declare -A WALL_N=([write]=20000 [pingpong]=2000 [bulk]=200 [connect]=500 [refused]=1000)
	declare -A CG_N=([write]=5000 [pingpong]=500 [bulk]=50 [connect]=100 [refused]=200)
	THREAD_MS=150 THREAD_REPEATS=1 DELAY_CALLS=25 DELAY_RUNS=2 DESTS=2000
else
	REPEATS=${BENCH_REPEATS:-11}
	# write stays under 65,535 calls: strace's inject when= cannot count further.
	declare -A WALL_N=([write]=50000 [pingpong]=20000 [bulk]=2000 [connect]=3000 [refused]=5000)
	declare -A CG_N=([write]=20000 [pingpong]=2000 [bulk]=200 [connect]=500 [refused]=1000)
	THREAD_MS=400 THREAD_REPEATS=3 DELAY_CALLS=100 DELAY_RUNS=4 DESTS=10000
fi
WORKLOADS=(write pingpong bulk connect refused)
declare -A WORKLOAD_TEXT=([write]="write() 1 B to /dev/null" [pingpong]="1-byte ping-pong (round trip)"
	[bulk]="64 KiB bulk send (per 64 KiB)" [connect]="connect+close" [refused]="refused connect"
	[openbrk]="refused connect, breaker open")

# ---------------------------------------------------------------- setups

# Pass-through: the shim is active (a rule exists) but matches nothing here.
PASS_RULES='127.0.0.2:1 breaker'
# Matched: a breaker that never opens, a bulkhead that never fills and a
# fault that never fires, on every loopback 127.0.0.1 destination.
MATCHED_RULES='127.0.0.1 breaker failure_threshold=2000000000 failure_rate_threshold=0;
127.0.0.1 bulkhead max_concurrent_requests=1000 max_queue_size=0;
127.0.0.1 fault on=io error=ECONNRESET probability=0'
# The same with a fault that is live - it could fire, after 10^9 calls - so
# every send/recv evaluates it (the shim leaves probability=0 faults out of
# a connection's list altogether).
LIVE_RULES='127.0.0.1 breaker failure_threshold=2000000000 failure_rate_threshold=0;
127.0.0.1 bulkhead max_concurrent_requests=1000 max_queue_size=0;
127.0.0.1 fault on=io error=ECONNRESET after=1000000000'
# The same, with a breaker that opens at the first failure and stays open.
OPEN_RULES='127.0.0.1 breaker failure_threshold=1 timeout_ms=2000000000;
127.0.0.1 bulkhead max_concurrent_requests=1000 max_queue_size=0;
127.0.0.1 fault on=io error=ECONNRESET probability=0'
# libfiu: the failpoints of the calls the workloads make, enabled with a
# probability so small that they do not fire (what fiu-run -x -c sets).
FIU_ENABLE=$(printf 'enable_random name=%s,probability=0.000000001\n' \
	posix/io/rw/write posix/io/net/send posix/io/net/recv posix/io/net/connect)

# Wall-time runs of bench_io are pinned to one CPU, peer and tracer
# included: a 1-byte ping-pong between two CPUs of a VM waits on
# cross-CPU wake-ups that vary several-fold from run to run; on one CPU it
# is two context switches per round trip, steady to a few percent.
# BENCH_CPU=none runs unpinned.
PIN=()
BENCH_CPU=${BENCH_CPU:-$(($(nproc) - 1))}
if [ "$BENCH_CPU" != none ]; then
	if have taskset; then PIN=(taskset -c "$BENCH_CPU"); else note "taskset not found: runs are not pinned"; fi
fi

SETUPS=(none pass matched live)
[ $HAVE_FIU = 1 ] && SETUPS+=(fiu)
[ $HAVE_STRACE = 1 ] && SETUPS+=(strace)
declare -A SETUP_TEXT=([none]="no shim" [pass]="shim, pass-through" [matched]="shim, matched"
	[live]="shim, matched, live fault"
	[fiu]="libfiu posix preload" [strace]="strace inject" [open]="shim, breaker open")

# setup_cmd SETUP: the command prefix of a setup, in the array CMD.
setup_cmd() {
	case $1 in
	none) CMD=(env) ;;
	pass) CMD=(env LD_PRELOAD="$shim" FAULTLINE_DOMAIN="$dom-pass" FAULTLINE_RULES="$PASS_RULES" FAULTLINE_LOG=off) ;;
	matched) CMD=(env LD_PRELOAD="$shim" FAULTLINE_DOMAIN="$dom-matched" FAULTLINE_RULES="$MATCHED_RULES" FAULTLINE_LOG=off) ;;
	live) CMD=(env LD_PRELOAD="$shim" FAULTLINE_DOMAIN="$dom-live" FAULTLINE_RULES="$LIVE_RULES" FAULTLINE_LOG=off) ;;
	open) CMD=(env LD_PRELOAD="$shim" FAULTLINE_DOMAIN="$dom-open" FAULTLINE_RULES="$OPEN_RULES" FAULTLINE_LOG=off) ;;
	fiu) CMD=(env FIU_ENABLE="$FIU_ENABLE" FIU_CTRL_FIFO= LD_PRELOAD="$fiu_dir/fiu_run_preload.so $fiu_dir/fiu_posix_preload.so") ;;
	strace) CMD=(strace -f -qq -o /dev/null -e inject=write:error=EIO:when=65535 env) ;;
	*) echo "bench: unknown setup $1" >&2; exit 2 ;;
	esac
}

# value KEY FILE: the value of key=value in a program's output.
value() {
	sed -n "s/^$1=//p" "$2" | head -n1
}

# summarize FILE: "median p25 p75 min max n" of the numbers in FILE (the
# last field of each line).
summarize() {
	awk '{ print $NF }' "$1" 2>/dev/null | sort -g | awk '
		function q(p,   h, i) { h = (NR - 1) * p + 1; i = int(h); return i >= NR ? v[NR] : v[i] + (h - i) * (v[i + 1] - v[i]) }
		{ v[NR] = $1 }
		END { if (NR == 0) { print "nan nan nan nan nan 0"; exit }
		      printf "%.6g %.6g %.6g %.6g %.6g %d\n", q(0.5), q(0.25), q(0.75), v[1], v[NR], NR }'
}

# paired_ratio FILE BASE: "median p25 p75" of FILE's value / BASE's value
# over the repeats both have ("REPEAT VALUE" lines): runs next to each other
# share the machine's load of the moment, so their ratio drifts less than
# either value.
paired_ratio() {
	awk 'NR == FNR { base[$1] = $2; next } ($1 in base) && base[$1] > 0 { print $2 / base[$1] }' "$2" "$1" >"$raw/ratio.tmp"
	summarize "$raw/ratio.tmp" | cut -d' ' -f1-3
}

# paired_diff FILE BASE: "median p25 p75" of FILE's value - BASE's value,
# repeat by repeat.
paired_diff() {
	awk 'NR == FNR { base[$1] = $2; next } ($1 in base) { print $2 - base[$1] }' "$2" "$1" >"$raw/diff.tmp"
	summarize "$raw/diff.tmp" | cut -d' ' -f1-3
}

median_of() {
	summarize "$1" | cut -d' ' -f1
}

# calc EXPR: floating-point arithmetic.
calc() {
	awk "BEGIN { x = $1; printf \"%.6g\n\", x }"
}

clear_domains() {
	local d
	for d in /dev/shm/faultline."$uid"."$dom"-*; do
		[ -e "$d" ] || continue
		"$cli" clear --force --domain "${d#/dev/shm/faultline."$uid".}" >/dev/null 2>&1 || rm -f "$d"
	done
}
trap clear_domains EXIT

# ---------------------------------------------------------------- 1. wall time

# One run of WORKLOAD under SETUP; appends "REPEAT ns/op" to
# raw/wall.WORKLOAD.SETUP (REPEAT -1: a warm-up, not kept).
wall_run() {
	local w=$1 s=$2 rep=$3 log=$raw/last.out
	local n=${WALL_N[$w]}
	setup_cmd "$s"
	if ! "${PIN[@]}" "${CMD[@]}" "$bin/bench_io" "$w" "$n" >"$log" 2>"$raw/last.err"; then
		note "run failed: $w under $s: $(tail -n1 "$raw/last.err")"
		return
	fi
	[ "$rep" -ge 0 ] || return 0
	echo "$rep $(value ns_per_op "$log")" >>"$raw/wall.$w.$s"
	echo "$rep $(value cpu_ns_per_op "$log")" >>"$raw/cpu.$w.$s"
}

wall_setups_of() { # the setups each workload runs under
	if [ "$1" = refused ]; then
		echo "${SETUPS[@]}" open
	else
		echo "${SETUPS[@]}"
	fi
}

# The two targets stated in wall time (ping-pong within 3%, connect within
# 2 µs) get twice the repeats: their runs are short, and a shared machine's
# bursts of load then fall on fewer of the pairs that the medians use.
declare -A REPEATS_OF
for w in "${WORKLOADS[@]}"; do REPEATS_OF[$w]=$REPEATS; done
REPEATS_OF[pingpong]=$((2 * REPEATS + 1)) REPEATS_OF[connect]=$((2 * REPEATS + 1))
MAX_REPEATS=$((2 * REPEATS + 1))

say "wall time: ${#WORKLOADS[@]} workloads x ${#SETUPS[@]} setups x $REPEATS interleaved repeats ($MAX_REPEATS for pingpong and connect)"
for w in "${WORKLOADS[@]}"; do # warm-up: page cache, domains created
	for s in $(wall_setups_of "$w"); do wall_run "$w" "$s" -1; done
done
for ((r = 0; r < MAX_REPEATS; r++)); do
	for w in "${WORKLOADS[@]}"; do
		[ "$r" -lt "${REPEATS_OF[$w]}" ] || continue
		read -r -a order <<<"$(wall_setups_of "$w")"
		k=${#order[@]}
		for ((i = 0; i < k; i++)); do # rotate the order every repeat
			wall_run "$w" "${order[$(((i + r) % k))]}" "$r"
		done
	done
	say "  repeat $((r + 1))/$MAX_REPEATS done"
done

# ---------------------------------------------------------------- 2. instructions

# Total instructions of the client process of one callgrind run.
cg_total() { # setup workload n [program args...]
	local s=$1 w=$2 n=$3 dir=$raw/cg.$1.$2.$3
	shift 3
	mkdir -p "$dir"
	setup_cmd "$s"
	"${CMD[@]}" valgrind --tool=callgrind --callgrind-out-file="$dir/out.%p" \
		"$bin/bench_io" "$w" "$n" >"$dir/stdout" 2>"$dir/stderr" || {
		note "callgrind run failed: $w under $s"
		echo nan
		return
	}
	local pid
	pid=$(value pid "$dir/stdout")
	sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$dir/out.$pid"
}

# (I(2N) - I(N)) / N for WORKLOAD under SETUP.
cg_per_op() {
	local s=$1 w=$2 n=${CG_N[$2]} a b
	a=$(cg_total "$s" "$w" "$n")
	b=$(cg_total "$s" "$w" $((2 * n)))
	calc "($b - $a) / $n"
}

declare -A INSTR
if [ $HAVE_VALGRIND = 1 ]; then
	say "instructions: callgrind, N and 2N"
	for w in "${WORKLOADS[@]}"; do
		for s in none pass matched live fiu open; do
			[ "$s" = fiu ] && [ $HAVE_FIU = 0 ] && continue
			[ "$s" = open ] && [ "$w" != refused ] && continue
			INSTR[$w.$s]=$(cg_per_op "$s" "$w")
		done
	done
fi

# Readiness with nothing pending (issue 17): poll / epoll_wait on a readable
# pipe, timeout 0, no shim vs the shim active (matched rules, nothing
# pending), by the same (I(2N) - I(N)) / N.
cg_ready_total() { # setup call n
	local dir=$raw/cg.ready.$1.$2.$3
	mkdir -p "$dir"
	setup_cmd "$1"
	"${CMD[@]}" valgrind --tool=callgrind --callgrind-out-file="$dir/out.%p" \
		"$bin/bench_ready" "$2" "$3" >"$dir/stdout" 2>"$dir/stderr" || {
		note "callgrind run failed: bench_ready $2 under $1"
		echo nan
		return
	}
	sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$dir/out.$(value pid "$dir/stdout")"
}

declare -A READY_INSTR
if [ $HAVE_VALGRIND = 1 ]; then
	say "instructions: readiness calls with nothing pending"
	ready_n=20000
	[ "${BENCH_QUICK:-0}" = 1 ] && ready_n=5000
	for c in poll epoll; do
		for s in none matched; do
			a=$(cg_ready_total "$s" "$c" "$ready_n")
			b=$(cg_ready_total "$s" "$c" $((2 * ready_n)))
			READY_INSTR[$c.$s]=$(calc "($b - $a) / $ready_n")
		done
	done
fi

# ---------------------------------------------------------------- 3. targets

# Open breaker: system calls per rejected connect, by the same difference.
syscalls_per_op() { # setup workload n
	local s=$1 w=$2 n=$3 a b
	setup_cmd "$s"
	strace -f -c -o "$raw/strace-c.$s.$n" "${CMD[@]}" "$bin/bench_io" "$w" "$n" >/dev/null 2>&1
	a=$(awk '$NF == "total" { print $4 }' "$raw/strace-c.$s.$n")
	strace -f -c -o "$raw/strace-c.$s.$((2 * n))" "${CMD[@]}" "$bin/bench_io" "$w" $((2 * n)) >/dev/null 2>&1
	b=$(awk '$NF == "total" { print $4 }' "$raw/strace-c.$s.$((2 * n))")
	calc "($b - $a) / $n"
}
if [ $HAVE_STRACE = 1 ]; then
	say "open breaker: system calls per rejected connect"
	SYSCALLS_OPEN=$(syscalls_per_op open refused 1000)
	SYSCALLS_REFUSED=$(syscalls_per_op none refused 1000)
else
	SYSCALLS_OPEN=nan SYSCALLS_REFUSED=nan
fi

# Scale: 1 rule versus 10,000 rules (libconfig file: the environment cannot
# hold 10,000 statements), the matching one last or absent.
write_config() { # file count match(yes|no)
	local f=$1 count=$2 match=$3 i
	{
		echo "destinations = ("
		for ((i = 1; i < count; i++)); do
			printf '  { match = "127.0.0.2:%d"; circuit_breaker = { failure_threshold = 5; }; },\n' $((10000 + i))
		done
		if [ "$match" = yes ]; then
			echo '  { match = "127.0.0.1"; circuit_breaker = { failure_threshold = 2000000000; failure_rate_threshold = 0.0; };'
			echo '    bulkhead = { max_concurrent_requests = 1000; max_queue_size = 0; }; }'
		else
			echo '  { match = "127.0.0.2:9"; circuit_breaker = { failure_threshold = 5; }; }'
		fi
		echo ");"
	} >"$f"
}
RULE_COUNT=10000
[ "${BENCH_QUICK:-0}" = 1 ] && RULE_COUNT=2000
write_config "$raw/rules-1-match.cfg" 1 yes
write_config "$raw/rules-1-none.cfg" 1 no
write_config "$raw/rules-many-last.cfg" $RULE_COUNT yes
write_config "$raw/rules-many-none.cfg" $RULE_COUNT no
config_cmd() { # config-file-stem
	CMD=(env LD_PRELOAD="$shim" FAULTLINE_DOMAIN="$dom-cfg-$1" FAULTLINE_CONFIG="$raw/rules-$1.cfg" FAULTLINE_LOG=off)
}
declare -A SCALE_INSTR SCALE_NS
say "scale: connect with 1 and $RULE_COUNT rules"
# A connect scans the rules: with 10,000 of them, keep the loops short.
SCALE_WALL_N=$((WALL_N[connect] / 3)) SCALE_CG_N=$((CG_N[connect] / 10))
for c in 1-match 1-none many-last many-none; do
	config_cmd "$c"
	for ((r = 0; r < 5; r++)); do
		"${PIN[@]}" "${CMD[@]}" "$bin/bench_io" connect "$SCALE_WALL_N" >"$raw/last.out" 2>"$raw/last.err" &&
			value ns_per_op "$raw/last.out" >>"$raw/scale.$c"
	done
	SCALE_NS[$c]=$(median_of "$raw/scale.$c")
	if [ $HAVE_VALGRIND = 1 ]; then
		n=$SCALE_CG_N
		for m in $n $((2 * n)); do
			d=$raw/cg.cfg-$c.$m
			mkdir -p "$d"
			"${CMD[@]}" valgrind --tool=callgrind --callgrind-out-file="$d/out.%p" \
				"$bin/bench_io" connect "$m" >"$d/stdout" 2>"$d/stderr"
			sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$d/out.$(value pid "$d/stdout")" >"$d/total"
		done
		SCALE_INSTR[$c]=$(calc "($(cat "$raw/cg.cfg-$c.$((2 * n))/total") - $(cat "$raw/cg.cfg-$c.$n/total")) / $n")
	fi
done
# Start-up with many rules: parsing happens once, before main.
declare -A STARTUP_MS
for c in none 1-match many-last; do
	if [ "$c" = none ]; then CMD=(env); else config_cmd "$c"; fi
	t0=$(date +%s%N)
	for ((r = 0; r < 5; r++)); do "${CMD[@]}" "$bin/bench_mem" >"$raw/mem.cfg-$c" 2>&1; done
	STARTUP_MS[${c%%-*}]=$(calc "($(date +%s%N) - $t0) / 5 / 1000000")
done

say "scale: $DESTS destinations in one domain (FAULTLINE_CAPACITY=16384)"
# Port 1 on 127.1.x.y: nothing listens there, every connect is refused at once.
env LD_PRELOAD="$shim" FAULTLINE_DOMAIN="$dom-dests" FAULTLINE_CAPACITY=16384 FAULTLINE_LOG=off \
	FAULTLINE_RULES='127.0.0.0/8 breaker; 127.0.0.0/8 bulkhead' \
	"$bin/bench_dests" "$DESTS" 1 >"$raw/dests.shim" 2>&1
"$bin/bench_dests" "$DESTS" 1 >"$raw/dests.none" 2>&1
DESTS_STATS=$("$cli" stats --json --domain "$dom-dests" 2>/dev/null | grep -o '"destination": *"' | wc -l)

say "scale: throughput per thread, 1 to 8 threads"
THREADS=(1 2 4 8)
for ((r = 0; r < THREAD_REPEATS; r++)); do
	for t in "${THREADS[@]}"; do
		for mode in one distinct; do
			for s in none matched live; do
				setup_cmd "$s"
				"${CMD[@]}" "$bin/bench_threads" "$t" "$mode" "$THREAD_MS" >"$raw/last.out" 2>"$raw/last.err" || {
					note "bench_threads $t $mode under $s failed: $(tail -n1 "$raw/last.err")"
					continue
				}
				value per_thread_median_per_s "$raw/last.out" >>"$raw/threads.$t.$mode.$s"
				value total_per_s "$raw/last.out" >>"$raw/threads-total.$t.$mode.$s"
			done
		done
	done
done

# Runs of the shim's delay alternate with runs where the program sleeps
# 10 ms itself, so both see the same load; their samples are pooled.
say "delays: $((DELAY_CALLS * DELAY_RUNS)) sends delayed 10 ms, and as many plain 10 ms sleeps"
for ((r = 0; r < DELAY_RUNS; r++)); do
	env LD_PRELOAD="$shim" FAULTLINE_DOMAIN="$dom-delay" FAULTLINE_LOG=off \
		FAULTLINE_RULES='127.0.0.1 fault on=send delay_ms=10' \
		"$bin/bench_delay" "$DELAY_CALLS" >"$raw/delay.shim.$r" 2>&1
	"$bin/bench_delay" "$DELAY_CALLS" 10 >"$raw/delay.sleep.$r" 2>&1
done
"$bin/bench_delay" "$DELAY_CALLS" >"$raw/delay.none" 2>&1

# pool_delay KIND: the pooled samples' median, p99 (nearest rank), max,
# and CPU per call and CPU/wall over every run.
pool_delay() {
	local k=$1 f
	for f in "$raw"/delay."$k".*; do value samples_us "$f" | tr ',' '\n'; done | sort -g >"$raw/delay.$k.samples"
	awk -v n="$(wc -l <"$raw/delay.$k.samples")" '
		function rank(p,   r) { r = int(p / 100 * n + 0.999999); return r < 1 ? 1 : (r > n ? n : r) }
		{ v[NR] = $1 }
		END { printf "median_us=%s\np99_us=%s\nmax_us=%s\ncalls=%d\n", v[rank(50)], v[rank(99)], v[n], n }' \
		"$raw/delay.$k.samples" >"$raw/delay.$k"
	awk -F= '$1 == "cpu_ms" { cpu += $2 } $1 == "wall_ms" { wall += $2 } $1 == "calls" { calls += $2 }
		END { printf "cpu_us_per_call=%.2f\ncpu_share=%.5f\n", cpu * 1000 / calls, cpu / wall }' \
		"$raw"/delay."$k".[0-9]* >>"$raw/delay.$k"
}
pool_delay shim
pool_delay sleep

say "memory"
MEM_RUNS=5
for ((r = 0; r < MEM_RUNS; r++)); do
	"$bin/bench_mem" >"$raw/mem.none.$r" 2>&1
	setup_cmd matched
	"${CMD[@]}" "$bin/bench_mem" >"$raw/mem.matched.$r" 2>&1
	for s in none matched; do
		value VmHWM_kib "$raw/mem.$s.$r" >>"$raw/mem.hwm.$s"
		value VmRSS_kib "$raw/mem.$s.$r" >>"$raw/mem.rss.$s"
		value rollup_Pss_kib "$raw/mem.$s.$r" >>"$raw/mem.pss.$s"
		echo $(($(value rollup_Private_Clean_kib "$raw/mem.$s.$r") + $(value rollup_Private_Dirty_kib "$raw/mem.$s.$r"))) \
			>>"$raw/mem.private.$s"
	done
done
SEG_FILE=/dev/shm/faultline.$uid.$dom-matched
SEG_BYTES=$(stat -c %s "$SEG_FILE" 2>/dev/null || echo nan)
SEG_CAP=$(sed -n 's/.*"capacity": *\([0-9]*\).*/\1/p' < <("$cli" stats --json --domain "$dom-matched" 2>/dev/null) | head -n1)

# ---------------------------------------------------------------- 4. where it goes

# Self cost per operation of the functions in the loop (callgrind_annotate),
# the loop alone (--toggle-collect), divided by the number of operations.
annotate() { # setup function workload n label
	local s=$1 fn=$2 w=$3 n=$4 label=$5 f=$raw/annotate.$5
	setup_cmd "$s"
	"${CMD[@]}" valgrind --tool=callgrind --collect-atstart=no --toggle-collect="$fn" \
		--callgrind-out-file="$f.out.%p" "$bin/bench_io" "$w" "$n" >"$f.stdout" 2>"$f.stderr" || return
	local pid
	pid=$(value pid "$f.stdout")
	callgrind_annotate --auto=no --inclusive=no --threshold=100 "$f.out.$pid" >"$f.txt" 2>/dev/null
	callgrind_annotate --auto=no --inclusive=yes --threshold=100 "$f.out.$pid" >"$f.incl.txt" 2>/dev/null
	# "Ir (pct) file:function [object]" -> "per-op function(file) object";
	# a function shown without an object is code inlined from that file.
	sed -E 's/\( *[0-9.]+%\)//' "$f.txt" | awk -v n="$n" '
		/file:function/ { header = 1; next }
		!header || /^-+$/ { next }
		NF == 0 { exit } # the end of the function list
		$1 ~ /^[0-9,]+$/ {
			ir = $1; gsub(",", "", ir)
			file = $2; sub(/:.*/, "", file); sub(/.*\//, "", file)
			fn = $2; sub(/^[^:]*:/, "", fn)
			obj = $3; gsub(/[][]/, "", obj); sub(/.*\//, "", obj)
			if (obj == "") obj = "(inlined)"
			if (ir / n >= 0.5) printf "%.1f %s %s %s\n", ir / n, fn, file, obj
		}' >"$f.top"
}
if [ $HAVE_VALGRIND = 1 ]; then
	say "where it goes: callgrind_annotate of the matched ping-pong and connect loops"
	annotate matched loop_pingpong pingpong "${CG_N[pingpong]}" matched-pingpong
	annotate live loop_pingpong pingpong "${CG_N[pingpong]}" live-pingpong
	annotate none loop_pingpong pingpong "${CG_N[pingpong]}" none-pingpong
	annotate matched loop_connect connect "${CG_N[connect]}" matched-connect
	annotate none loop_connect connect "${CG_N[connect]}" none-connect
	annotate open loop_refused refused "${CG_N[refused]}" open-refused
fi

# Supervised static and Go programs (docs/performance.md, "Supervised
# programs"): wall clock, kept as printed in raw/supervise.txt.
say "supervised programs: tests/bench/supervise.sh"
R=3 bash "$here/supervise.sh" "$build" >"$raw/supervise.txt" 2>&1 || say "supervise.sh: skipped (no go or no static libc)"

# ---------------------------------------------------------------- report

. "$here/report.sh"

# ---------------------------------------------------------------- budgets (issues 12-18)

# Every per-call instruction budget of issues 12-18 (layers, names,
# shaping, resilience) in one table: docs/performance.md, "After issues
# 12-18". It covers layers.sh's rows too (layers.sh still runs alone).
if [ $HAVE_VALGRIND = 1 ]; then
	say "budgets: instructions per call against the budgets of issues 12-18"
	"$here/budgets.sh" "$build" | tee "$out/budgets.md"
fi
