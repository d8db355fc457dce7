# test_examples.sh - every examples/*/run.sh (but demo, which `make demo`
# runs; here only run with no argument from its own folder and from the
# root) does what its README says: it exits 0 against the real shim, and
# it can fail - with the shim told to do nothing (FAULTLINE_DISABLE=1) it
# must exit 1. Each must leave no domain behind in /dev/shm.
#
# An example exits 77 when a tool it drives is missing (redis-server, ...);
# it is then reported as skipped here, and the test skips if all did.
. "$(dirname "$0")/lib.sh"
need_build
[ -x "$CLI" ] || fail "no CLI at $CLI (run make)"

UID_=$(id -u)
EXAMPLES=()
for dir in "$FL_TOP"/examples/*/; do
	name=$(basename "$dir")
	[ "$name" = demo ] && continue
	EXAMPLES+=("$name")
done

check "there are at least three examples, each with a README.md and an executable run.sh"
assert_ge "examples besides demo" 3 "${#EXAMPLES[@]}"
for name in "${EXAMPLES[@]}"; do
	[ -s "$FL_TOP/examples/$name/README.md" ] || fail "examples/$name has no README.md"
	[ -x "$FL_TOP/examples/$name/run.sh" ] || fail "examples/$name/run.sh is missing or not executable"
done

# Domains an example left in /dev/shm (they are named ex-NAME-PID).
leftover_domains() {
	ls /dev/shm 2>/dev/null | grep -E "^faultline\.$UID_\.ex-$1-[0-9]+\$" | sort || true
}

# run_example NAME LOG [ENV=VALUE...]: runs the example from its own folder
# (as a reader of its README would), bounded; status in RC.
run_example() {
	local name=$1 log=$2
	shift 2
	(cd "$FL_TOP/examples/$name" && env "$@" timeout 180 ./run.sh "$FL_BUILD") >"$log" 2>&1 </dev/null
	RC=$?
}

# issue 10 item 23: `cd examples/demo && ./run.sh` failed with "cd: build:
# No such file or directory" (its default build directory was relative to
# where it ran). With no argument, an example uses the repository's build/:
# checked from its own folder and from the root when that is the build
# under test.
check "examples/demo/run.sh with no argument runs from its own folder and from the repository root"
if [ "$(cd "$FL_BUILD" && pwd -P)" = "$(cd "$FL_TOP/build" 2>/dev/null && pwd -P)" ]; then
	for from in "$FL_TOP/examples/demo" "$FL_TOP"; do
		rel=./run.sh
		[ "$from" = "$FL_TOP" ] && rel=examples/demo/run.sh
		(cd "$from" && timeout 180 "$rel") >"$FL_TMP/demo.log" 2>&1 </dev/null
		RC=$?
		assert_eq "exit status of '$rel' run in $from; its output: $(tail -n 20 "$FL_TMP/demo.log")" 0 "$RC"
		assert_contains "its summary" "$(cat "$FL_TMP/demo.log")" "What happened"
		assert_eq "domains the demo left behind" "" "$(ls /dev/shm 2>/dev/null | grep -E "^faultline\.$UID_\.demo-[0-9]+\$" || true)"
	done
else
	printf '   not checked: the build under test (%s) is not the repository build/ the demo defaults to\n' "$FL_BUILD"
fi

ran=0
for name in "${EXAMPLES[@]}"; do
	check "examples/$name/run.sh passes, and removes its domain"
	before=$(leftover_domains "$name")
	run_example "$name" "$FL_TMP/$name.log"
	if [ "$RC" -eq 77 ]; then
		printf '   skipped: %s\n' "$(tail -n1 "$FL_TMP/$name.log")"
		continue
	fi
	[ "$RC" -eq 0 ] || fail "examples/$name/run.sh exited $RC; its output:
$(tail -n 60 "$FL_TMP/$name.log")"
	assert_contains "the last line of examples/$name/run.sh" "$(tail -n1 "$FL_TMP/$name.log")" "all checks passed"
	assert_eq "domains examples/$name left behind" "$before" "$(leftover_domains "$name")"
	ran=$((ran + 1))

	check "examples/$name/run.sh fails when the shim does nothing (FAULTLINE_DISABLE=1)"
	run_example "$name" "$FL_TMP/$name.disabled.log" FAULTLINE_DISABLE=1
	assert_eq "exit status of examples/$name/run.sh without faults" 1 "$RC"
	assert_contains "its output" "$(cat "$FL_TMP/$name.disabled.log")" "FAILED"
	assert_eq "domains examples/$name left behind" "$before" "$(leftover_domains "$name")"
done

[ "$ran" -gt 0 ] || skip "every example was skipped (a tool is missing: tools/deps.sh installs them)"
done_ok
