#!/usr/bin/env bash
# test_cli_trust.sh - the CLI must not be the fault either:
#
#   1. `faultline stats` after a reap (a holder killed with SIGKILL, whose
#      slot the CLI gives back) leaks nothing under memcheck: each reaping
#      round of stats/--watch/top used to leak its first snapshot;
#   2. `faultline check > /dev/full`: exit 1 with a message, as stats does;
#   3. a domain squatted by another user's file (or a file of the wrong
#      mode): the CLI and the shim name the file, its owner's uid (the CLI
#      also the user name) and the command that removes it.
. "$(dirname "$0")/lib.sh"
need_build

# --- 2. a failed write of check's output ----------------------------------------

check "faultline check > /dev/full: exit 1, 'cannot write the output'"
[ -w /dev/full ] || skip "no /dev/full on this machine"
"$CLI" check --rules '127.0.0.1 fault on=connect error=ECONNREFUSED' >/dev/full 2>"$FL_TMP/full.err"
RC=$?
assert_eq "exit status; it said: $(cat "$FL_TMP/full.err")" 1 "$RC"
assert_contains "the message" "$(cat "$FL_TMP/full.err")" "faultline: cannot write the output: No space left on device"
"$CLI" check --config /dev/null >/dev/full 2>/dev/null
assert_eq "a refused config is still a configuration error" 2 "$?"

# --- 3. squatted domains ---------------------------------------------------------

check "a segment of the wrong mode: stats and the shim say which file and how to remove it"
use_domain it-squat
"$CLI" run --rules '127.0.0.1:9 breaker' --domain "$DOMAIN" -- /bin/true || fail "could not create domain $DOMAIN"
SEG="/dev/shm/faultline.$(id -u).$DOMAIN"
chmod 0644 "$SEG"
cli stats --domain "$DOMAIN"
assert_eq "stats exit status" 1 "$RC"
assert_contains "stats' message" "$ERR" "$SEG: refused: mode 0644, expected 0600"
assert_contains "stats' message" "$ERR" "remove it with: rm $SEG"
FAULTLINE_RULES='127.0.0.1:9 breaker' LD_PRELOAD="$SHIM" /bin/true 2>"$FL_TMP/shim.err"
assert_eq "exit status under the shim" 2 "$?"
assert_contains "the shim's message" "$(cat "$FL_TMP/shim.err")" "remove it with: rm $SEG"
chmod 0600 "$SEG"

if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	check "a segment owned by another user: the file, the owner's uid and name, and 'rm' as that user or root"
	NOBODY=$(id -u nobody)
	chown nobody "$SEG"
	cli stats --domain "$DOMAIN"
	assert_eq "stats exit status" 1 "$RC"
	assert_contains "stats' message" "$ERR" \
		"$SEG: refused: owned by uid $NOBODY, not by you (uid 0); remove it with: rm $SEG (as uid $NOBODY or root), or use another domain"
	assert_contains "stats names the owner" "$ERR" "(uid $NOBODY is user nobody)"
	FAULTLINE_RULES='127.0.0.1:9 breaker' LD_PRELOAD="$SHIM" /bin/true 2>"$FL_TMP/shim.err"
	assert_eq "exit status under the shim" 2 "$?"
	assert_contains "the shim's message" "$(cat "$FL_TMP/shim.err")" \
		"owned by uid $NOBODY, not by you (uid 0); remove it with: rm $SEG (as uid $NOBODY or root)"
	rm -f "$SEG"
fi

# --- 1. no leak when stats reaps ------------------------------------------------

need_cmd valgrind
if readelf -d "$CLI" 2>/dev/null | grep -qE 'NEEDED.*lib(asan|tsan)'; then
	skip "the CLI in $FL_BUILD is built with a sanitizer: valgrind cannot run it (tests/sanitize.sh covers it)"
fi
check "stats after a reap (a SIGKILLed holder's slot given back): no definite leak under memcheck"
new_domain cli-leak
trap 'cleanup; clear_domains; remove_domains' EXIT
start_conc leak
PORT=$CONC_PORT
RULES="127.0.0.1:$PORT bulkhead max_concurrent_requests=2 max_queue_size=0"
bh_hold holder "$PORT"
kill -9 "$HOLDER_PID"
bh_finish "$HOLDER_PID" "killed holder" 5 2>/dev/null
timeout 120 valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
	--log-file="$FL_TMP/vg.log" "$CLI" stats --domain "$DOMAIN" >"$FL_TMP/vg.out" 2>&1
RC=$?
assert_ne "valgrind timed out" 124 "$RC"
grep -q 'ERROR SUMMARY' "$FL_TMP/vg.log" || fail "valgrind did not run: $(cat "$FL_TMP/vg.log" "$FL_TMP/vg.out")"
assert_eq "stats exit status under memcheck (99: errors or definite leaks): $(grep -E 'definitely lost|ERROR SUMMARY' "$FL_TMP/vg.log")" 0 "$RC"
assert_contains "the reap happened: the held slot is back" "$(cat "$FL_TMP/vg.out")" "127.0.0.1:$PORT"
assert_contains "no definite leak" "$(cat "$FL_TMP/vg.log")" "ERROR SUMMARY: 0 errors"

done_ok
