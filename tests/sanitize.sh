#!/usr/bin/env bash
# tests/sanitize.sh - `make sanitize`: the shim, the CLI, the unit suites and
# the integration helpers built with sanitizers, and the suites run on them.
#
#   tests/sanitize.sh [asan|tsan|all]          (default all)
#
# asan  AddressSanitizer + UndefinedBehaviorSanitizer, into build-asan/:
#       every unit suite, then every integration test (tests/run.sh
#       build-asan integration). Programs that are not instrumented (python3,
#       curl, socat, sh) get the instrumented shim by LD_PRELOAD as always;
#       the shim pulls libasan in as its dependency, after libc, so ASan is
#       told not to insist on coming first (verify_asan_link_order=0) and, in
#       those programs, checks the shim's stack and global accesses and its
#       undefined behaviour, while heap blocks come from libc's malloc. In
#       the C helpers and the CLI, which are instrumented themselves, ASan's
#       allocator is the one in use and checks everything, leaks included.
# tsan  ThreadSanitizer, into build-tsan/: every unit suite, and the
#       integration tests whose programs under the shim are all
#       TSan-instrumented C helpers (TSAN_TESTS below): threads hammering
#       one destination, signal handlers inside shim calls, fork with
#       threads inside shim calls, descriptor-table churn. A TSan shim
#       preloaded into an uninstrumented program sees only half of every
#       race, so those tests are not run under TSan.
#
# Any sanitizer report fails the run: reports are written to files
# (log_path) as well as to the program's standard error, so a report from a
# process whose output a test discards is still seen. Exit 0 only when both
# suites pass and no report was written.
#
# Environment: SAN_JOBS (make -j), SAN_ASAN_BUILD, SAN_TSAN_BUILD (build
# directories), SAN_INTEGRATION=0 to run the unit suites only.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
which=${1:-all}
jobs=${SAN_JOBS:-$(nproc 2>/dev/null || echo 2)}
abs() { case $1 in /*) echo "$1" ;; *) echo "$top/$1" ;; esac; }
asan_dir=$(abs "${SAN_ASAN_BUILD:-build-asan}")
tsan_dir=$(abs "${SAN_TSAN_BUILD:-build-tsan}")
integration=${SAN_INTEGRATION:-1}
# The integration tests TSan runs (see above).
TSAN_TESTS=(test_threads test_signals test_fdtab test_calls)
LSAN_SUPP="$top/tests/fuzz/lsan.supp" # libconfig's own leak on syntax errors (explained there)

say() { printf 'sanitize: %s\n' "$*"; }
case $which in asan | tsan | all) ;; *) say "usage: tests/sanitize.sh [asan|tsan|all]"; exit 2 ;; esac

targets() { # BUILD: every binary the suites need
	local t
	echo all
	echo "$1/tests/unit_tests" # every unit suite (tests/unit/runner.c)
	for t in tests/integration/*.c; do
		t=${t#tests/integration/}
		echo "$1/tests/${t%.c}"
	done
}

# GCC's -Wmaybe-uninitialized is known to misfire under sanitizer
# instrumentation (its flow analysis sees the instrumented code); the
# ordinary build keeps it, with -Werror.
QUIET_WARN='-Wno-maybe-uninitialized'

build() { # BUILD SANFLAGS
	say "building into $1 with $2"
	# A build directory is never source: keep git from ever adding it, even
	# where the top .gitignore does not name it.
	mkdir -p "$1" && printf '*\n' >"$1/.gitignore"
	# shellcheck disable=SC2046 # one target per word
	if ! make --no-print-directory -s -j"$jobs" BUILD="$1" SANFLAGS="$2" OPT=-O1 $(targets "$1") \
		>"$1/build.log" 2>&1; then
		cat "$1/build.log"
		say "build into $1 failed"
		return 1
	fi
	rm -f "$1/build.log"
}

# reports DIR: prints every sanitizer report written there; false if any.
reports() {
	local f found=0
	for f in "$1"/*; do
		[ -s "$f" ] || continue
		found=1
		echo "---- $f"
		head -n 80 "$f"
	done
	[ "$found" = 0 ]
}

status=0
summary=()

run_asan() {
	local flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all $QUIET_WARN"
	build "$asan_dir" "$flags" || return 1
	# A test that runs make itself (test_install.sh) must not rebuild this
	# directory without the sanitizer: the Makefile takes these from the
	# environment.
	export SANFLAGS="$flags" OPT=-O1
	local logs="$asan_dir/sanitizer-reports"
	rm -rf "$logs"
	mkdir -p "$logs"
	# Leaks are looked for in the unit suites (instrumented programs, ASan's
	# allocator). Not in the integration run: in python3 or curl the shim's
	# heap comes from libc, LeakSanitizer cannot work under strace (which
	# some tests use) nor in the child of a multithreaded fork; memcheck
	# (test_valgrind.sh) covers leaks there.
	local common="halt_on_error=1:verify_asan_link_order=0:detect_stack_use_after_return=1:strict_string_checks=1:log_path=$logs/asan:log_exe_name=1"
	export ASAN_OPTIONS="detect_leaks=1:$common"
	export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan:log_exe_name=1"
	export LSAN_OPTIONS="suppressions=$LSAN_SUPP:print_suppressions=0"
	local rc=0 t0 out
	t0=$(date +%s)
	say "asan: unit suites"
	tests/run.sh "$asan_dir" unit | tee "$asan_dir/unit.log" || rc=1
	if [ "$integration" = 1 ]; then
		export ASAN_OPTIONS="detect_leaks=0:$common"
		say "asan: integration tests"
		tests/run.sh "$asan_dir" integration | tee "$asan_dir/integration.log" || rc=1
	fi
	unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS SANFLAGS OPT
	if ! out=$(reports "$logs"); then
		printf '%s\n' "$out"
		say "asan: sanitizer reports were written (above; all in $logs)"
		rc=1
	fi
	summary+=("asan+ubsan: $(tail -n1 "$asan_dir/unit.log") (unit); $(
		[ "$integration" = 1 ] && tail -n1 "$asan_dir/integration.log" || echo skipped) (integration); $(
		find "$logs" -type f | wc -l) report files; $(($(date +%s) - t0))s")
	return $rc
}

# ThreadSanitizer does not model fences, and GCC says so for each
# __atomic_thread_fence (-Wtsan). The seqlock and ring readers that use
# them load every shared word atomically, so TSan still sees no plain
# access racing; what it cannot check is the ordering the fence gives.
run_tsan() {
	local flags="-fsanitize=thread -fno-omit-frame-pointer $QUIET_WARN -Wno-tsan"
	build "$tsan_dir" "$flags" || return 1
	export SANFLAGS="$flags" OPT=-O1
	local logs="$tsan_dir/sanitizer-reports"
	rm -rf "$logs"
	mkdir -p "$logs"
	export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:log_path=$logs/tsan:log_exe_name=1"
	local rc=0 t0 out passed=0 failed=0 t tmp
	t0=$(date +%s)
	say "tsan: unit suites"
	tests/run.sh "$tsan_dir" unit | tee "$tsan_dir/unit.log" || rc=1
	if [ "$integration" = 1 ]; then
		say "tsan: integration tests with instrumented helpers: ${TSAN_TESTS[*]}"
		for t in "${TSAN_TESTS[@]}"; do
			[ -f "tests/integration/$t.sh" ] || continue
			tmp=$(mktemp -d /tmp/fl-tsan.XXXXXX)
			if env FL_BUILD="$tsan_dir" FL_TMP="$tmp" FL_TOP="$top" timeout 600 bash "tests/integration/$t.sh" \
				>"$tmp.log" 2>&1; then
				passed=$((passed + 1))
				printf 'PASS  integration/%s\n' "$t"
			else
				failed=$((failed + 1))
				rc=1
				printf 'FAIL  integration/%s\n' "$t"
				sed 's/^/      | /' "$tmp.log" | tail -n 40
			fi
			rm -rf "$tmp" "$tmp.log"
		done
		echo "$passed passed, $failed failed"
	fi
	unset TSAN_OPTIONS SANFLAGS OPT
	if ! out=$(reports "$logs"); then
		printf '%s\n' "$out"
		say "tsan: sanitizer reports were written (above; all in $logs)"
		rc=1
	fi
	summary+=("tsan: $(tail -n1 "$tsan_dir/unit.log") (unit); $passed passed, $failed failed (integration: ${TSAN_TESTS[*]}); $(
		find "$logs" -type f | wc -l) report files; $(($(date +%s) - t0))s")
	return $rc
}

if [ "$which" = all ] || [ "$which" = asan ]; then
	run_asan || status=1
fi
if [ "$which" = all ] || [ "$which" = tsan ]; then
	run_tsan || status=1
fi
echo
printf 'sanitize: %s\n' "${summary[@]}"
[ "$status" = 0 ] && say "no sanitizer report, every suite passed" || say "FAILED"
exit "$status"
