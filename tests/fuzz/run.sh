#!/usr/bin/env bash
# tests/fuzz/run.sh - `make fuzz`: builds the libFuzzer harnesses with
# clang (-fsanitize=fuzzer,address,undefined), replays the checked-in seed
# corpora, then fuzzes each harness for its share of FUZZ_SECONDS.
#
#   FUZZ_SECONDS=60 tests/fuzz/run.sh            all harnesses, 60 s in all
#   FUZZ_SECONDS=600 tests/fuzz/run.sh segment   one harness (fuzz_segment)
#
# Harnesses (tests/fuzz/fuzz_*.c):
#   fuzz_inline   fl_parse_inline + canonical round trip + matching a sockaddr
#   fuzz_config   fl_parse_config_string + file/inline equivalence
#   fuzz_segment  fl_seg_validate + fl_snapshot_take + every report on a
#                 corrupted segment image, and the shim's own operations on it
#
# Output goes to $FUZZ_BUILD (default build-fuzz/): the binaries, a working
# corpus per harness (what fuzzing found, kept between runs, never checked
# in) and crash-* / timeout-* / oom-* artifacts. Any artifact makes the run
# fail: turn it into a regression test in tests/unit/test_regress_fuzz.c
# (see there), fix the bug, and the replay step keeps it fixed.
#
# Exit: 0 nothing found; 1 a harness crashed, timed out or leaked; 2 setup.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
secs=${FUZZ_SECONDS:-60}
out=${FUZZ_BUILD:-build-fuzz}
all_harnesses=(inline config segment)
if [ $# -gt 0 ]; then harnesses=("$@"); else harnesses=("${all_harnesses[@]}"); fi

say() { printf 'fuzz: %s\n' "$*"; }
die() { printf 'fuzz: %s\n' "$*" >&2; exit 2; }

case $secs in '' | *[!0-9]*) die "FUZZ_SECONDS='$secs' is not a whole number of seconds" ;; esac

# --- a clang whose libFuzzer runtime is there ---------------------------------
fuzzer_works() { # CC
	local d
	d=$(mktemp -d) || return 1
	printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' >"$d/t.c"
	"$1" -fsanitize=fuzzer,address,undefined "$d/t.c" -o "$d/t" >/dev/null 2>&1
	local rc=$?
	rm -rf "$d"
	return $rc
}

find_clang() {
	local c
	for c in ${CLANG:-} clang clang-16 clang-15 clang-14; do
		command -v "$c" >/dev/null 2>&1 && fuzzer_works "$c" && { echo "$c"; return 0; }
	done
	return 1
}

CC=$(find_clang)
if [ -z "$CC" ]; then
	# Debian: clang, plus libclang-rt-NN-dev for the fuzzer and sanitizer runtimes.
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		say "installing clang and its runtime libraries (libFuzzer)"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >/dev/null 2>&1 || true
		apt-get install -y -qq --no-install-recommends clang libconfig-dev pkg-config >/dev/null 2>&1
		ver=$(clang --version 2>/dev/null | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -n1)
		[ -n "$ver" ] && apt-get install -y -qq --no-install-recommends "libclang-rt-$ver-dev" >/dev/null 2>&1
		CC=$(find_clang)
	fi
	[ -n "$CC" ] || die "no clang with libFuzzer (install clang and libclang-rt-NN-dev, e.g. apt-get install clang libclang-rt-14-dev)"
fi
say "compiler: $CC ($($CC --version | head -n1))"

# --- build --------------------------------------------------------------------
# lib/ through the Makefile (its own flags, -Werror included), instrumented for
# coverage (fuzzer-no-link) and the sanitizers; the harnesses link libFuzzer's main.
mkdir -p "$out" && printf '*\n' >"$out/.gitignore" # never source: keep git from adding it
san='-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer'
make --no-print-directory -s BUILD="$out" CC="$CC" OPT=-O1 \
	SANFLAGS="-fsanitize=fuzzer-no-link $san" "$out/libflcore.a" >"$out/build.log" 2>&1 ||
	{ cat "$out/build.log"; die "building lib/ for fuzzing failed"; }
rm -f "$out/build.log"
mkdir -p "$out/fuzz"
libs=$(pkg-config --libs libconfig 2>/dev/null || echo -lconfig)
for h in "${harnesses[@]}"; do
	src="tests/fuzz/fuzz_$h.c"
	[ -f "$src" ] || die "no harness $src (have: ${all_harnesses[*]})"
	# shellcheck disable=SC2086 # $san and $libs are flag lists
	"$CC" -std=gnu11 -g -O1 -Wall -Wextra -Werror -D_GNU_SOURCE -Ilib -fsanitize=fuzzer $san \
		"$src" "$out/libflcore.a" $libs -lm -o "$out/fuzz/fuzz_$h" || die "building $src failed"
done

# --- replay, then fuzz ----------------------------------------------------------
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$top/tests/fuzz/lsan.supp:print_suppressions=0}
each=$((secs / ${#harnesses[@]}))
[ "$each" -ge 1 ] || each=1
failed=0
summary=()
for h in "${harnesses[@]}"; do
	bin="$out/fuzz/fuzz_$h"
	seeds="tests/fuzz/corpus/fuzz_$h"
	work="$out/fuzz/corpus-$h"
	arts="$out/fuzz/artifacts-$h"
	mkdir -p "$work" "$arts"
	opts=(-timeout=10 -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 -artifact_prefix="$arts/")
	[ "$h" = segment ] || opts+=(-dict=tests/fuzz/rules.dict)

	say "$h: replaying $(find "$seeds" -type f | wc -l) seeds"
	if ! "$bin" "${opts[@]}" -runs=0 "$seeds" >"$out/fuzz/$h.replay.log" 2>&1; then
		tail -n 40 "$out/fuzz/$h.replay.log"
		say "$h: a checked-in seed fails (log: $out/fuzz/$h.replay.log)"
		failed=1
		continue
	fi

	# Artifacts of earlier runs stay (until someone turns them into
	# regression tests and removes them); only new ones fail this run.
	before=$(find "$arts" -maxdepth 1 -type f | wc -l)
	[ "$before" -gt 0 ] && say "$h: $before artifact(s) of earlier runs in $arts (not counted)"
	say "$h: fuzzing for ${each}s"
	"$bin" "${opts[@]}" -max_total_time="$each" "$work" "$seeds" >"$out/fuzz/$h.log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/fuzz/$h.log" | tail -n1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/fuzz/$h.log" | tail -n1)
	cov=$(grep -o 'cov: [0-9]*' "$out/fuzz/$h.log" | tail -n1)
	found=$(($(find "$arts" -maxdepth 1 -type f | wc -l) - before))
	summary+=("$(printf '%-8s %4ss %10s execs %7s/s  %-10s corpus %5s  artifacts %s' "$h" "$each" "${execs:-?}" \
		"${rate:-?}" "${cov:-cov: ?}" "$(find "$work" -type f | wc -l)" "$found")")
	if [ "$rc" -ne 0 ] || [ "$found" -gt 0 ]; then
		failed=1
		grep -E 'ERROR|SUMMARY|fuzz check failed|runtime error|Test unit written' "$out/fuzz/$h.log" | head -n 20
		say "$h: FOUND A PROBLEM (exit $rc); artifacts in $arts, log $out/fuzz/$h.log"
		say "     reproduce: $bin <artifact>"
	fi
done
echo
printf 'fuzz: %s\n' "${summary[@]}"
[ "$failed" -eq 0 ] && say "no crash, hang or sanitizer report" || say "FAILED"
exit "$failed"
