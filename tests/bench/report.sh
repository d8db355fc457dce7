# tests/bench/report.sh - sourced by run.sh once every measurement is in
# raw/: writes results.md (and prints it), the data files and results.png.
# Reads run.sh's variables; every verdict is computed here, from raw/.

# fmt_ns NS: a duration for people.
fmt_ns() {
	awk -v x="$1" 'BEGIN {
		if (x == "" || x == "nan") { print "n/a"; exit }
		if (x < 1000) printf "%.0f ns", x
		else if (x < 1e6) printf "%.2f µs", x / 1e3
		else printf "%.2f ms", x / 1e6 }'
}

# fmt NUMBER [DECIMALS]
fmt() {
	awk -v x="$1" -v d="${2:-1}" 'BEGIN { if (x == "" || x == "nan") print "n/a"; else printf "%.*f", d, x }'
}

# timing_verdict CONDITION BASELINE_CONDITION: as verdict, but a miss that
# the baseline (a plain sleep, same runs) misses as well is the machine's.
timing_verdict() {
	local v
	v=$(verdict "$1")
	if [ "$v" = "**missed**" ] && [ "$(verdict "$2")" = "**missed**" ]; then
		echo "not measurable here: a plain sleep misses too"
	else
		echo "$v"
	fi
}

# verdict CONDITION: "met" or "**missed**" (an awk expression of numbers);
# "not measured" when a number is missing (a tool was not there).
verdict() {
	local cond=$1 tok
	for tok in $(grep -oE '[A-Za-z_][A-Za-z_0-9]*|-?[0-9.]+(e[-+]?[0-9]+)?' <<<"$cond"); do
		[[ $tok =~ ^[A-Za-z_] ]] && { echo "not measured"; return; }
	done
	awk "BEGIN { exit !($cond) }" 2>/dev/null
	case $? in
	0) echo met ;;
	1) echo "**missed**" ;;
	*) echo "not measured" ;;
	esac
}

isnum() {
	[[ $1 =~ ^-?[0-9.]+(e[-+]?[0-9]+)?$ ]]
}

md=$out/results.md
declare -A CHART_LABEL=([write]="write 1 B, /dev/null" [pingpong]="ping-pong 1 B (round trip)"
	[bulk]="bulk, per 64 KiB" [connect]="connect+close" [refused]="refused connect")
ratio_dat=$out/ratio.dat
instr_dat=$out/instr.dat

nproc_=$(nproc)
cpu_=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
kernel_=$(uname -r)
glibc_=$(ldd --version 2>/dev/null | head -n1 | awk '{ print $NF }')
rev_=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)
when_=$(date -u '+%Y-%m-%d %H:%M UTC')

declare -A MED
for w in "${WORKLOADS[@]}"; do
	for s in "${SETUPS[@]}" open; do
		[ -f "$raw/wall.$w.$s" ] && MED[$w.$s]=$(median_of "$raw/wall.$w.$s")
	done
done

{
	echo "# faultline benchmarks"
	echo
	echo "$when_, commit $rev_; $nproc_ CPUs ($cpu_), Linux $kernel_, glibc $glibc_."
	if [ ${#PIN[@]} -gt 0 ]; then
		echo "bench_io runs pinned to CPU $BENCH_CPU (\`${PIN[*]}\`), their peer and tracer included."
	else
		echo "bench_io runs not pinned to a CPU."
	fi
	echo "Wall time: median of $REPEATS interleaved runs ($MAX_REPEATS for ping-pong and connect+close;"
	echo "IQR = 25th..75th percentile); CPU/op:"
	echo "median process CPU time (user + system) of the client per operation;"
	echo "\"vs no shim\" is the median of the per-repeat ratios to the no-shim run of the same repeat."
	echo "Instructions: callgrind, user space, client process, (I(2N) - I(N)) / N."
	echo
	echo "## Side by side"
	echo
	echo "| workload | setup | median | IQR | vs no shim (IQR) | CPU/op | instr/op | extra instr/op |"
	echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
	for w in "${WORKLOADS[@]}"; do
		for s in $(wall_setups_of "$w"); do
			f=$raw/wall.$w.$s
			[ -s "$f" ] || continue
			read -r med p25 p75 _ _ n <<<"$(summarize "$f")"
			read -r ratio r25 r75 <<<"$(paired_ratio "$f" "$raw/wall.$w.none")"
			ins=${INSTR[$w.$s]:-nan}
			extra=nan
			isnum "$ins" && isnum "${INSTR[$w.none]:-x}" && extra=$(calc "$ins - ${INSTR[$w.none]}")
			if [ "$s" = strace ]; then ins_t="(in the kernel)" extra_t="-"; else ins_t=$(fmt "$ins") extra_t=$(fmt "$extra"); fi
			[ "$s" = none ] && extra_t="-"
			name=${WORKLOAD_TEXT[$w]}
			[ "$s" = open ] && name=${WORKLOAD_TEXT[openbrk]}
			printf '| %s | %s | %s | %s..%s | %s | %s | %s | %s |\n' "$name" "${SETUP_TEXT[$s]}" \
				"$(fmt_ns "$med")" "$(fmt_ns "$p25")" "$(fmt_ns "$p75")" \
				"$(fmt "$ratio" 3)x ($(fmt "$r25" 3)..$(fmt "$r75" 3))" \
				"$(fmt_ns "$(median_of "$raw/cpu.$w.$s")")" "$ins_t" "$extra_t"
		done
	done
	echo
	echo "Setups: *pass-through* = shim loaded with a rule that matches nothing here;"
	echo "*matched* = \`127.0.0.1\` breaker (never opens) + bulkhead (never full) +"
	echo "\`fault on=io error=ECONNRESET probability=0\` (which the shim leaves out of the"
	echo "connection, as it can never fire); *live fault*: the same with \`after=1000000000\`"
	echo "instead, evaluated on every call; *libfiu* = fiu_posix_preload.so"
	echo "with write/send/recv/connect failpoints enabled at probability 1e-9;"
	echo "*strace* = \`strace -f -e inject=write:error=EIO:when=65535\` (strace's"
	echo "largest \`when\`; the write workload stays below it). A ping-pong round trip is"
	echo "one send and one recv: per call, halve its instructions."
} >"$md"

# ---------------------------------------------------------------- targets

per_call() { # workload setup: extra instructions per call (ping-pong: 2 calls)
	local w=$1 s=$2 div=1
	[ "$w" = pingpong ] && div=2
	isnum "${INSTR[$w.$s]:-x}" && isnum "${INSTR[$w.none]:-x}" || { echo nan; return; }
	calc "(${INSTR[$w.$s]} - ${INSTR[$w.none]}) / $div"
}
PT_WRITE=$(per_call write pass)
PT_SOCK=$(per_call pingpong pass)
MT_CALL=$(per_call pingpong matched)
LIVE_CALL=$(per_call pingpong live)
read -r PP_LIVE_RATIO _ _ <<<"$(paired_ratio "$raw/wall.pingpong.live" "$raw/wall.pingpong.none")"
read -r PP_RATIO PP_R25 PP_R75 <<<"$(paired_ratio "$raw/wall.pingpong.matched" "$raw/wall.pingpong.none")"
read -r OPEN_RATIO _ _ <<<"$(paired_ratio "$raw/wall.refused.open" "$raw/wall.refused.none")"
read -r CONN_ADDED_NS CONN_D25 CONN_D75 <<<"$(paired_diff "$raw/wall.connect.matched" "$raw/wall.connect.none")"
read -r CONN_CPU_NS _ _ <<<"$(paired_diff "$raw/cpu.connect.matched" "$raw/cpu.connect.none")"
CONN_INSTR=$(per_call connect matched)
OPEN_INSTR=$(per_call refused open)
REFUSED_INSTR=${INSTR[refused.none]:-nan}

d_med=$(value median_us "$raw/delay.shim")
d_p99=$(value p99_us "$raw/delay.shim")
d_max=$(value max_us "$raw/delay.shim")
d_cpu=$(value cpu_us_per_call "$raw/delay.shim")
d_share=$(value cpu_share "$raw/delay.shim")
d_cpu_none=$(value cpu_us_per_call "$raw/delay.none")
d_cpu_sleep=$(value cpu_us_per_call "$raw/delay.sleep")
d_med_sleep=$(value median_us "$raw/delay.sleep")
d_p99_sleep=$(value p99_us "$raw/delay.sleep")

scale_extra() { # config stem -> shim-added instructions per connect+close
	isnum "${SCALE_INSTR[$1]:-x}" && isnum "${INSTR[connect.none]:-x}" || { echo nan; return; }
	calc "${SCALE_INSTR[$1]} - ${INSTR[connect.none]}"
}
SX_1M=$(scale_extra 1-match) SX_1N=$(scale_extra 1-none)
SX_MM=$(scale_extra many-last) SX_MN=$(scale_extra many-none)
SCALE_RATIO_MATCH=$(calc "${SCALE_INSTR[many-last]:-0} / ${SCALE_INSTR[1-match]:-1}")
SCALE_RATIO_NONE=$(calc "${SCALE_INSTR[many-none]:-0} / ${SCALE_INSTR[1-none]:-1}")

ds_used=$(value entries_used "$raw/dests.shim")
ds_over=$(value overflow "$raw/dests.shim")
ds_ns=$(value ns_per_connect "$raw/dests.shim")
ds_first=$(value first_ns_per_connect "$raw/dests.shim")
ds_last=$(value last_ns_per_connect "$raw/dests.shim")
ds_ns_none=$(value ns_per_connect "$raw/dests.none")
ds_bytes=$(value segment_bytes "$raw/dests.shim")

HWM_NONE=$(median_of "$raw/mem.hwm.none") HWM_SHIM=$(median_of "$raw/mem.hwm.matched")
RSS_NONE=$(median_of "$raw/mem.rss.none") RSS_SHIM=$(median_of "$raw/mem.rss.matched")
HWM_ADDED=$(calc "$HWM_SHIM - $HWM_NONE")
RSS_ADDED=$(calc "$RSS_SHIM - $RSS_NONE")
PSS_ADDED=$(calc "$(median_of "$raw/mem.pss.matched") - $(median_of "$raw/mem.pss.none")")
PRIV_ADDED=$(calc "$(median_of "$raw/mem.private.matched") - $(median_of "$raw/mem.private.none")")
mem_part() { # key file
	value "$1" "$2"
}
MANY_HWM=$(value VmHWM_kib "$raw/mem.cfg-many-last")

{
	echo
	echo "## Targets (issue 5)"
	echo
	echo "| target | measured | verdict |"
	echo "| --- | --- | --- |"
	echo "| pass-through, non-socket: <= 10 extra instr/call | write(): $(fmt "$PT_WRITE") | $(verdict "$PT_WRITE <= 10") |"
	echo "| pass-through, unmatched socket: <= 10 extra instr/call | send/recv: $(fmt "$PT_SOCK") | $(verdict "$PT_SOCK <= 10") |"
	echo "| matched send/recv, fault probability=0: <= 60 extra instr/call | $(fmt "$MT_CALL") | $(verdict "$MT_CALL <= 60") |"
	echo "| matched send/recv, live fault after=10^9: <= 60 extra instr/call | $(fmt "$LIVE_CALL") | $(verdict "$LIVE_CALL <= 60") |"
	echo "| matched 1-byte ping-pong: within 3% of no shim | $(fmt "$PP_RATIO" 3)x, IQR $(fmt "$PP_R25" 3)..$(fmt "$PP_R75" 3) ($(fmt_ns "${MED[pingpong.matched]:-nan}") vs $(fmt_ns "${MED[pingpong.none]:-nan}")); live fault: $(fmt "$PP_LIVE_RATIO" 3)x | $(verdict "$PP_RATIO <= 1.03 && $PP_LIVE_RATIO <= 1.03") |"
	echo "| open breaker: rejected connect <= 1/5 of a refused one | $(fmt "$OPEN_RATIO" 3)x ($(fmt_ns "${MED[refused.open]:-nan}") vs $(fmt_ns "${MED[refused.none]:-nan}")); $(fmt "$OPEN_INSTR" 0) extra instr | $(verdict "$OPEN_RATIO <= 0.2") |"
	echo "| open breaker: no system call | $(fmt "$SYSCALLS_OPEN" 3) syscalls per rejected connect (a refused one: $(fmt "$SYSCALLS_REFUSED" 3)) | $(verdict "$SYSCALLS_OPEN < 0.01") |"
	READY_POLL=$(calc "${READY_INSTR[poll.matched]:-nan} - ${READY_INSTR[poll.none]:-nan}")
	READY_EPOLL=$(calc "${READY_INSTR[epoll.matched]:-nan} - ${READY_INSTR[epoll.none]:-nan}")
	echo "| readiness, nothing pending: <= 15 extra instr/call (issue 17) | poll: $(fmt "$READY_POLL" 1) ($(fmt "${READY_INSTR[poll.none]:-nan}" 1) -> $(fmt "${READY_INSTR[poll.matched]:-nan}" 1)); epoll_wait: $(fmt "$READY_EPOLL" 1) ($(fmt "${READY_INSTR[epoll.none]:-nan}" 1) -> $(fmt "${READY_INSTR[epoll.matched]:-nan}" 1)) | $(verdict "$READY_POLL <= 15 && $READY_EPOLL <= 15") |"
	echo "| connect+close with breaker+bulkhead: <= 2 µs added | $(fmt "$CONN_ADDED_NS" 0) ns added (IQR $(fmt "$CONN_D25" 0)..$(fmt "$CONN_D75" 0) ns, paired by repeat), CPU $(fmt "$CONN_CPU_NS" 0) ns; $(fmt "$CONN_INSTR" 0) extra instr per connect+close | $(verdict "$CONN_ADDED_NS <= 2000") |"
	echo "| delay 10 ms: median <= 10.3 ms | $(fmt "$(calc "$d_med / 1000")" 3) ms (plain sleep: $(fmt "$(calc "$d_med_sleep / 1000")" 3) ms) | $(timing_verdict "$d_med <= 10300" "$d_med_sleep <= 10300") |"
	echo "| delay 10 ms: p99 <= 11 ms | $(fmt "$(calc "$d_p99 / 1000")" 3) ms (max $(fmt "$(calc "$d_max / 1000")" 3) ms); a plain 10 ms sleep in the same runs: p99 $(fmt "$(calc "$d_p99_sleep / 1000")" 3) ms | $(timing_verdict "$d_p99 <= 11000" "$d_p99_sleep <= 11000") |"
	echo "| delay: no CPU burnt while waiting (busy-waiting would be ~100% CPU/wall; met below 5%) | CPU/wall $(fmt "$(calc "$d_share * 100")" 2)%: $(fmt "$d_cpu" 1) µs CPU per delayed call (the program sleeping 10 ms itself: $(fmt "$d_cpu_sleep" 1) µs; send alone: $(fmt "$d_cpu_none" 1) µs) | $(verdict "$d_share < 0.05") |"
	echo "| $RULE_COUNT rules, match last: <= 2x one rule | $(fmt "$SCALE_RATIO_MATCH" 2)x instr per connect+close ($(fmt "${SCALE_INSTR[many-last]:-nan}" 0) vs $(fmt "${SCALE_INSTR[1-match]:-nan}" 0)); shim part $(fmt "$SX_MM" 0) vs $(fmt "$SX_1M" 0) | $(verdict "$SCALE_RATIO_MATCH <= 2") |"
	echo "| $RULE_COUNT rules, none matches: <= 2x one rule | $(fmt "$SCALE_RATIO_NONE" 2)x instr per connect+close ($(fmt "${SCALE_INSTR[many-none]:-nan}" 0) vs $(fmt "${SCALE_INSTR[1-none]:-nan}" 0)); shim part $(fmt "$SX_MN" 0) vs $(fmt "$SX_1N" 0) | $(verdict "$SCALE_RATIO_NONE <= 2") |"
	echo "| a domain holds $DESTS destinations (capacity 16384) | entries_used $ds_used, overflow $ds_over, stats --json lists $DESTS_STATS | $(verdict "${ds_used:-0} >= $DESTS && ${ds_over:-1} == 0") |"
	echo "| shim adds <= 1 MiB RSS | VmHWM +$(fmt "$HWM_ADDED" 0) KiB ($HWM_NONE -> $HWM_SHIM), VmRSS +$(fmt "$RSS_ADDED" 0) KiB; of which private +$(fmt "$PRIV_ADDED" 0) KiB, PSS +$(fmt "$PSS_ADDED" 0) KiB | $(verdict "$HWM_ADDED <= 1024") |"
	echo "| segment for 4,096 destinations <= 4 MiB | $SEG_BYTES bytes ($(fmt "$(calc "$SEG_BYTES / 1048576")" 2) MiB, capacity ${SEG_CAP:-?}) | $(verdict "$SEG_BYTES <= 4194304") |"
	echo
	echo "## Scale"
	echo
	echo "Connect+close with a libconfig rule file (FAULTLINE_CONFIG):"
	echo
	echo "| rules | matching rule | wall per connect+close | instr per connect+close |"
	echo "| ---: | --- | ---: | ---: |"
	echo "| 0 (no shim) | - | $(fmt_ns "${MED[connect.none]:-nan}") | $(fmt "${INSTR[connect.none]:-nan}" 0) |"
	echo "| 1 | yes | $(fmt_ns "${SCALE_NS[1-match]}") | $(fmt "${SCALE_INSTR[1-match]:-nan}" 0) |"
	echo "| 1 | no | $(fmt_ns "${SCALE_NS[1-none]}") | $(fmt "${SCALE_INSTR[1-none]:-nan}" 0) |"
	echo "| $RULE_COUNT | last | $(fmt_ns "${SCALE_NS[many-last]}") | $(fmt "${SCALE_INSTR[many-last]:-nan}" 0) |"
	echo "| $RULE_COUNT | none | $(fmt_ns "${SCALE_NS[many-none]}") | $(fmt "${SCALE_INSTR[many-none]:-nan}" 0) |"
	echo
	echo "Start-up (a small program, mean of 5 runs, includes exec): no shim $(fmt "${STARTUP_MS[none]}" 1) ms,"
	echo "1 rule $(fmt "${STARTUP_MS[1]}" 1) ms, $RULE_COUNT rules $(fmt "${STARTUP_MS[many]}" 1) ms;"
	echo "VmHWM with $RULE_COUNT rules: ${MANY_HWM:-?} KiB."
	echo
	echo "$DESTS distinct destinations (127.1.x.y:1, refused) in one domain: $(fmt_ns "$ds_ns") per"
	echo "connect ($(fmt_ns "$ds_first") for the first thousand, $(fmt_ns "$ds_last") for the last; no shim"
	echo "$(fmt_ns "$ds_ns_none")); segment $ds_bytes bytes."
	echo
	echo "Send/recv throughput per thread (iterations/s of send C, recv A, send A, recv C; C"
	echo "is the watched socket; median thread, median of $THREAD_REPEATS runs of $THREAD_MS ms):"
	echo
	echo "| threads | destinations | no shim | matched | live fault | matched / no shim | live / no shim | total, no shim | total, live |"
	echo "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	for t in "${THREADS[@]}"; do
		for mode in one distinct; do
			a=$(median_of "$raw/threads.$t.$mode.none")
			b=$(median_of "$raw/threads.$t.$mode.matched")
			c=$(median_of "$raw/threads.$t.$mode.live")
			ta=$(median_of "$raw/threads-total.$t.$mode.none")
			tc=$(median_of "$raw/threads-total.$t.$mode.live")
			printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$t" "$mode" "$(fmt "$a" 0)" "$(fmt "$b" 0)" \
				"$(fmt "$c" 0)" "$(fmt "$(calc "$b / $a")" 3)" "$(fmt "$(calc "$c / $a")" 3)" "$(fmt "$ta" 0)" "$(fmt "$tc" 0)"
		done
	done
	echo
	echo "Delays (\`127.0.0.1 fault on=send delay_ms=10\`, $(value calls "$raw/delay.shim") calls in $DELAY_RUNS runs): median"
	echo "$(fmt "$d_med" 1) µs, p99 $(fmt "$d_p99" 1) µs, max $(fmt "$d_max" 1) µs; process CPU"
	echo "$(fmt "$d_cpu" 1) µs per call. The program sleeping 10 ms itself before each send, no shim:"
	echo "median $(fmt "$d_med_sleep" 1) µs, p99 $(fmt "$d_p99_sleep" 1) µs, $(fmt "$d_cpu_sleep" 1) µs CPU per call."
	echo
	echo "Memory (bench_mem, median of $MEM_RUNS): VmHWM $HWM_NONE KiB without the shim,"
	echo "$HWM_SHIM KiB with it (RssAnon $(value RssAnon_kib "$raw/mem.none.0") -> $(value RssAnon_kib "$raw/mem.matched.0"),"
	echo "RssFile $(value RssFile_kib "$raw/mem.none.0") -> $(value RssFile_kib "$raw/mem.matched.0"),"
	echo "RssShmem $(value RssShmem_kib "$raw/mem.none.0") -> $(value RssShmem_kib "$raw/mem.matched.0") KiB)."
	echo "Resident KiB by mapping (/proc/self/smaps), where the two differ:"
	echo
	echo "| mapping | no shim | shim | added |"
	echo "| --- | ---: | ---: | ---: |"
	awk '$1 == "map_kib" { name = $2; sub(/^faultline\.[0-9]+\..*/, "faultline segment (/dev/shm)", name)
	                        if (FILENAME ~ /none/) a[name] += $3; else b[name] += $3; seen[name] = 1 }
	     END { for (n in seen) if (a[n] != b[n]) printf "%d | %s | %d | %d | %+d |\n", b[n] - a[n], n, a[n], b[n], b[n] - a[n] }' \
		"$raw/mem.none.0" "$raw/mem.matched.0" | sort -rn | cut -d' ' -f2-
} >>"$md"

# ---------------------------------------------------------------- where it goes

top_table() { # label title
	local f=$raw/annotate.$1.top
	[ -s "$f" ] || return
	echo
	echo "$2"
	echo
	echo "| instr/op | function | source file | object |"
	echo "| ---: | --- | --- | --- |"
	head -n "${3:-16}" "$f" | awk '{ printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4 }'
}
{
	echo
	echo "## Where the instructions go (callgrind_annotate, self cost per operation)"
	top_table matched-pingpong "Matched ping-pong, per round trip (one send + one recv), shim included:"
	top_table live-pingpong "Matched ping-pong with a live fault (after=10^9), per round trip:"
	top_table matched-connect "Matched connect+close, per iteration:"
	top_table open-refused "Connect rejected by an open breaker, per call:"
	echo
	echo "Full listings: raw/annotate.*.txt (self) and *.incl.txt (inclusive)."
	if [ ${#notes[@]} -gt 0 ]; then
		echo
		echo "## Notes"
		echo
		printf -- '- %s\n' "${notes[@]}"
	fi
} >>"$md"

# ---------------------------------------------------------------- chart

{
	printf '"workload"'
	for s in "${SETUPS[@]}"; do [ "$s" = none ] || printf ' "%s"' "${SETUP_TEXT[$s]}"; done
	echo
	for w in "${WORKLOADS[@]}"; do
		printf '"%s"' "${CHART_LABEL[$w]}"
		for s in "${SETUPS[@]}"; do
			[ "$s" = none ] && continue
			r=nan
			[ -s "$raw/wall.$w.$s" ] && r=$(paired_ratio "$raw/wall.$w.$s" "$raw/wall.$w.none" | cut -d' ' -f1)
			printf ' %s' "$r"
		done
		echo
	done
} >"$ratio_dat"
{
	INSTR_SETUPS=()
	for s in "${SETUPS[@]}"; do [ "$s" = none ] || [ "$s" = strace ] || INSTR_SETUPS+=("$s"); done
	printf '"workload"'
	for s in "${INSTR_SETUPS[@]}"; do printf ' "%s"' "${SETUP_TEXT[$s]}"; done
	echo
	for w in "${WORKLOADS[@]}"; do
		printf '"%s"' "${CHART_LABEL[$w]}"
		for s in "${INSTR_SETUPS[@]}"; do
			e=nan
			isnum "${INSTR[$w.$s]:-x}" && isnum "${INSTR[$w.none]:-x}" && e=$(calc "${INSTR[$w.$s]} - ${INSTR[$w.none]}")
			# a log scale cannot show 0 or less: floor at 0.5
			isnum "$e" && e=$(awk -v x="$e" 'BEGIN { print (x < 0.5 ? 0.5 : x) }')
			printf ' %s' "$e"
		done
		echo
	done
} >"$instr_dat"
if [ $HAVE_GNUPLOT = 1 ]; then
	gnuplot -e "ratio_file='$ratio_dat'; instr_file='$instr_dat'; out_file='$out/results.png'; ncols=$((${#SETUPS[@]} - 1)); icols=${#INSTR_SETUPS[@]}" \
		"$here/plot.gp" 2>"$raw/gnuplot.err" || echo "bench: gnuplot failed (see raw/gnuplot.err)" >&2
fi

cat "$md"
echo
if [ $HAVE_GNUPLOT = 1 ] && [ -s "$out/results.png" ]; then
	echo "bench: wrote $md and $out/results.png" >&2
else
	echo "bench: wrote $md (no chart)" >&2
fi
