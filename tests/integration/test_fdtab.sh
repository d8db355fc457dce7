# test_fdtab.sh - the shim's descriptor table follows the kernel's
# (helper_fdtab.c): dup, dup2, dup3, fcntl(F_DUPFD, F_DUPFD_CLOEXEC), close,
# close_range, closefrom, fclose, fork and exec, below and above descriptor
# 1024.
#
# "Watched" is observed, not asked: under `on=send error=ECONNRESET` a
# watched descriptor's send fails with ECONNRESET; a reused number that
# still carried the old connection would fail the same way.
. "$(dirname "$0")/lib.sh"
need_build helper_fdtab

check "dup*, fcntl(F_DUPFD*), close, close_range, fclose, fork and exec keep the table right"
port=$(free_port)
FAULTLINE_RULES="127.0.0.1:$port fault on=send error=ECONNRESET" \
	shim "$HELPERS/helper_fdtab" table "$port" || fail "descriptor table (see the FAIL lines above)"

check "closefrom forgets; close_range forgets before the real call, so a number reused meanwhile keeps its entry"
port=$(free_port)
FAULTLINE_RULES="127.0.0.1:$port fault on=send error=ECONNRESET" \
	shim "$HELPERS/helper_fdtab" closing "$port" || fail "closefrom / close_range (see the FAIL lines above)"

check "the helper can fail: without the shim nothing is watched"
port=$(free_port)
out=$("$HELPERS/helper_fdtab" table "$port" 2>&1) && fail "helper_fdtab passed without the shim:
$out"
assert_contains "helper output without the shim" "$out" "FAIL connect-makes-watched"

check "FAULTLINE_DISABLE=1: nothing is watched, even with a rule"
port=$(free_port)
out=$(FAULTLINE_DISABLE=1 FAULTLINE_RULES="127.0.0.1:$port fault on=send error=ECONNRESET" \
	shim "$HELPERS/helper_fdtab" table "$port" 2>&1) && fail "FAULTLINE_DISABLE=1 still injected:
$out"
assert_contains "helper output with FAULTLINE_DISABLE=1" "$out" "FAIL connect-makes-watched"

done_ok
