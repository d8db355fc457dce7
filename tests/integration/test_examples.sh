# test_examples.sh - every examples/*/run.sh (but demo, which `make demo`
# runs) does what its README says: it exits 0 against the real shim, and
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

# run_example NAME LOG [ENV=VALUE...]: runs the example, bounded; status in RC.
run_example() {
	local name=$1 log=$2
	shift 2
	env "$@" timeout 180 "$FL_TOP/examples/$name/run.sh" "$FL_BUILD" >"$log" 2>&1 </dev/null
	RC=$?
}

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
