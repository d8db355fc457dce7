#!/usr/bin/env bash
# tests/run.sh BUILD [unit|integration] - runs the suites and prints one
# closing line "N passed, N failed, N skipped".
#
# unit:        every check suite of build/tests/unit_tests (tests/unit/
#              runner.c), each run alone, so each is a line here and counts
#              once; CK_FORK=yes so a crash in one test is a failure, not the
#              end of the run
# integration: every tests/integration/test_*.sh, each in its own temporary
#              directory, with FL_BUILD (absolute build dir) and FL_TMP set.
#              A script exits 0 to pass, 77 to skip (saying why), else fails.
#              FL_TIME_SCALE, when set, stretches their time bounds (see
#              tests/integration/lib.sh).
set -u
build=$(cd "${1:-build}" && pwd)
which=${2:-all}
top=$(cd "$(dirname "$0")/.." && pwd)
passed=0 failed=0 skipped=0 failures=()

run_one() { # name, command...
	local name=$1 log rc start
	shift
	log=$(mktemp)
	start=$(date +%s.%N)
	"$@" >"$log" 2>&1
	rc=$?
	local secs
	secs=$(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || echo 0)")
	case $rc in
	0) passed=$((passed + 1)); printf 'PASS  %-44s %6ss\n' "$name" "$secs" ;;
	77) skipped=$((skipped + 1)); printf 'SKIP  %-44s %s\n' "$name" "$(tail -n1 "$log")" ;;
	*) failed=$((failed + 1)); failures+=("$name")
	   printf 'FAIL  %-44s (exit %d)\n' "$name" "$rc"; sed 's/^/      | /' "$log" | tail -n 60 ;;
	esac
	rm -f "$log"
}

if [ "$which" = all ] || [ "$which" = unit ]; then
	units=0
	runner="$build/tests/unit_tests"
	if [ -x "$runner" ]; then
		suites=$("$runner" --list) || { suites=""; failed=$((failed + 1)); failures+=("unit/--list")
			printf 'FAIL  %-44s %s\n' "unit/--list" "$runner --list failed"; }
		for s in $suites; do
			units=$((units + 1))
			run_one "unit/test_$s" env CK_FORK=yes CK_DEFAULT_TIMEOUT=60 "$runner" "$s"
		done
	fi
	# make check builds no suite without the check library (see Makefile).
	if [ "$units" = 0 ]; then
		skipped=$((skipped + 1))
		printf 'SKIP  %-44s %s\n' "unit/*" "no suite built: the check library is missing (tools/deps.sh: check, libsubunit-dev)"
	fi
fi
if [ "$which" = all ] || [ "$which" = integration ]; then
	for t in "$top"/tests/integration/test_*.sh; do
		[ -f "$t" ] || continue
		tmp=$(mktemp -d /tmp/fl-test.XXXXXX)
		run_one "integration/$(basename "$t" .sh)" \
			env FL_BUILD="$build" FL_TMP="$tmp" FL_TOP="$top" timeout 300 bash "$t"
		rm -rf "$tmp"
	done
fi
echo
[ ${#failures[@]} -eq 0 ] || printf 'failed: %s\n' "${failures[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
