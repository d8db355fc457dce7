#!/usr/bin/env bash
# test_internal_io.sh - the shim's own I/O never goes through its wrappers.
#
# The shim reads /proc/self/cmdline and /proc/PID/stat to register a
# process and to tell dead processes from live ones. Those reads get the
# lowest free descriptor number - which may be one the shim's table still
# holds for the program: a matched socket closed behind its back (here by
# the raw close system call). Through the exported read() the stale entry
# would inject the rule's fault into the shim's own read: the process is
# registered without a command (`ps` shows '?'), its start time is lost,
# and the destination counts reads the program never made.
. "$FL_TOP/tests/integration/lib.sh"
need_build helper_internal_io
[ -x "$CLI" ] || fail "no CLI at $CLI"
need_cmd timeout

start_server sink sink tcp4
PORT=$SERVER_PORT
RULES="127.0.0.1:$PORT fault on=read error=EIO"

check "a child forked while a stale watched entry sits on the lowest free number registers with its own command line"
FAULTLINE_RULES=$RULES LD_PRELOAD="$SHIM" timeout 90 "$HELPERS/helper_internal_io" "$PORT" "$FL_TMP/child" \
	>"$FL_TMP/helper.out" 2>&1 &
BG_PIDS+=("$!")
wait_for "the child to start" 20 test -s "$FL_TMP/child"
read -r CHILD STALE <"$FL_TMP/child"
assert_le "descriptor number of the stale entry (the lowest free one)" 9 "$STALE"
PS=$("$CLI" ps --json)
printf '%s\n' "$PS" | sed 's/^/   /'
CMD=$(printf '%s' "$PS" | "$PY" -c '
import json, sys
ps = json.load(sys.stdin)["processes"]
print([p["command"] for p in ps if p["pid"] == int(sys.argv[1])])' "$CHILD")
# The registry keeps the first 55 bytes of a command line (FL_SEG_CMD_MAX
# less its NUL), without trailing spaces: compare with the same prefix of
# this one, wherever the build directory is.
WANT=$(printf "%s" "$HELPERS/helper_internal_io $PORT $FL_TMP/child" | cut -c1-55 | sed 's/ *$//')
assert_eq "the child's command in ps" "['$WANT']" "$CMD"

check "the destination counts no read: the program made none, the shim's own reads are not the program's"
READS=$("$CLI" stats --json | "$PY" -c '
import json, sys
d = [x for x in json.load(sys.stdin)["destinations"] if x["destination"] == sys.argv[1]][0]
print(d["ops"]["read"]["calls"], d["ops"]["read"]["errors_injected"])' "127.0.0.1:$PORT")
assert_eq "read calls and injected errors of 127.0.0.1:$PORT" "0 0" "$READS"

kill "$CHILD"
done_ok
