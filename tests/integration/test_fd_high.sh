# test_fd_high.sh - descriptors above 100,000 (helper_fdtab.c `high`).
#
# The helper raises RLIMIT_NOFILE's soft limit (and, as root, the hard
# limit) to reach descriptor 100,001; then dup2, fcntl(F_DUPFD), dup3,
# close, close_range and exec must keep the table right up there too.
# Only when the hard limit is too low (and cannot be raised) is the test
# skipped; it then still runs the same checks just below that limit, so
# the table's high pages are exercised anyway.
. "$(dirname "$0")/lib.sh"
need_build helper_fdtab

RULE="fault on=send error=ECONNRESET"

check "dup2/fcntl/dup3 to 100001+, close and close_range there, exec with fd 100051"
port=$(free_port)
FAULTLINE_RULES="127.0.0.1:$port $RULE" shim "$HELPERS/helper_fdtab" high "$port" 100001
rc=$?
if [ "$rc" -eq 77 ]; then
	hard=$(ulimit -Hn)
	[ "$hard" = unlimited ] && fail "the helper could not reach fd 100001 under an unlimited hard limit"
	below=$((hard - 300))
	[ "$below" -gt 1100 ] || skip "RLIMIT_NOFILE hard limit $hard is below 100,201 and too low to test high descriptors at all"
	check "fallback: the same checks at fd $below, just below the hard limit ($hard)"
	port=$(free_port)
	FAULTLINE_RULES="127.0.0.1:$port $RULE" shim "$HELPERS/helper_fdtab" high "$port" "$below" ||
		fail "descriptors around $below (see the FAIL lines above)"
	skip "RLIMIT_NOFILE hard limit is $hard (below 100,201, cannot be raised): checked fd $below instead of 100001"
fi
[ "$rc" -eq 0 ] || fail "descriptors above 100,000 (see the FAIL lines above)"

done_ok
