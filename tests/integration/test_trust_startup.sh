#!/usr/bin/env bash
# test_trust_startup.sh - the shim's start-up facing a hostile environment.
#
#   1. a setuid program (secure-execution mode, AT_SECURE) with the shim in
#      /etc/ld.so.preload: an unprivileged user's FAULTLINE_LOG_FILE,
#      FAULTLINE_CONFIG (with a newline) and FAULTLINE_RULES/DOMAIN create
#      no file and no segment, and the program runs with every call passed
#      through. /etc/ld.so.preload is only ever changed inside a private
#      mount namespace made here (unshare -m, an overlay on /etc), so no
#      other process on the machine sees it. Needs root (to make the
#      setuid-root copy and the namespace); skipped otherwise, with why.
#   2. messages quoting a user's string escape its control bytes: a
#      FAULTLINE_CONFIG path with a newline gives one line in the log file.
#   3. a FAULTLINE_CONFIG that is a FIFO without a writer (or a directory)
#      is refused at once with exit 2 and a message naming it, as
#      `faultline check --config` does.
. "$(dirname "$0")/lib.sh"
need_build helper_startup

# --- 2. escaping ---------------------------------------------------------------

check "a FAULTLINE_CONFIG path with a newline gives one escaped line, not a forged second line"
LOG="$FL_TMP/escape.log"
timeout 10 env FAULTLINE_CONFIG=$'/nonexistent/x.cfg\nfaultline: forged line' FAULTLINE_LOG_FILE="$LOG" \
	LD_PRELOAD="$SHIM" true 2>"$FL_TMP/escape.err"
RC=$?
assert_eq "exit status for an unreadable config" 2 "$RC"
assert_eq "lines in the log file: $(cat "$LOG")" 1 "$(wc -l <"$LOG")"
assert_contains "the log line" "$(cat "$LOG")" '/nonexistent/x.cfg\nfaultline: forged line: cannot read'
assert_eq "lines on standard error: $(cat "$FL_TMP/escape.err")" 1 "$(wc -l <"$FL_TMP/escape.err")"

check "the CLI escapes the same way: one line for a config path with an escape byte and a newline"
"$CLI" check --config $'/nonexistent/\e[31mred\ny.cfg' >/dev/null 2>"$FL_TMP/cli.err"
assert_eq "lines from faultline check: $(cat "$FL_TMP/cli.err")" 1 "$(wc -l <"$FL_TMP/cli.err")"
assert_contains "faultline check's message" "$(cat "$FL_TMP/cli.err")" '/nonexistent/\x1b[31mred\ny.cfg: cannot read'

# --- 3. a config that would block ----------------------------------------------

check "FAULTLINE_CONFIG=<FIFO with no writer>: exit 2 at once, naming the FIFO"
mkfifo "$FL_TMP/rules.fifo"
T0=$(now_ms)
# timeout outside the preload: a shim that hangs on the FIFO must not hang timeout too.
timeout 10 env FAULTLINE_CONFIG="$FL_TMP/rules.fifo" LD_PRELOAD="$SHIM" true 2>"$FL_TMP/fifo.err"
RC=$?
ELAPSED=$(($(now_ms) - T0))
assert_ne "exit status (124: it hung on the FIFO until timeout killed it)" 124 "$RC"
assert_eq "exit status; it said: $(cat "$FL_TMP/fifo.err")" 2 "$RC"
assert_contains "the message" "$(cat "$FL_TMP/fifo.err")" "$FL_TMP/rules.fifo: refused: a FIFO, not a regular file"
assert_le "time to refuse (ms)" 5000 "$ELAPSED"

check "faultline check --config <FIFO> and --config <directory> refuse the same way"
timeout 10 "$CLI" check --config "$FL_TMP/rules.fifo" >/dev/null 2>"$FL_TMP/fifo.err"
RC=$?
assert_eq "faultline check exit status; it said: $(cat "$FL_TMP/fifo.err")" 2 "$RC"
assert_contains "faultline check's message" "$(cat "$FL_TMP/fifo.err")" "$FL_TMP/rules.fifo: refused: a FIFO, not a regular file"
timeout 10 "$CLI" check --config "$FL_TMP" >/dev/null 2>"$FL_TMP/dir.err"
assert_eq "faultline check exit status for a directory" 2 "$?"
assert_contains "faultline check's message" "$(cat "$FL_TMP/dir.err")" "$FL_TMP: refused: a directory, not a regular file"

# --- 1. secure-execution mode ---------------------------------------------------

[ "$(id -u)" = 0 ] || skip "the setuid checks need root (a setuid-root copy and a private mount namespace); the other checks passed"
need_cmd unshare setpriv mount
if readelf -d "$SHIM" 2>/dev/null | grep -qE 'NEEDED.*lib(asan|tsan|ubsan)'; then
	skip "the shim in $FL_BUILD is built with a sanitizer, which refuses secure-execution mode; the other checks passed"
fi
grep -q '^NoNewPrivs:[[:space:]]*1' /proc/self/status &&
	skip "no_new_privs is set on this process: setuid bits are ignored, secure-execution mode cannot be reached"

# What the namespace needs, in a directory the unprivileged user can pass
# through (0711) but not list; the setuid copy is removed at exit.
NS="$FL_TMP/ns"
mkdir -p "$NS/upper" "$NS/work" "$NS/pub"
chmod 0711 "$FL_TMP" "$NS"
chmod 1777 "$NS/pub"
install -m 0755 "$SHIM" "$NS/libfaultline.so"
install -m 0755 "$HELPERS/helper_startup" "$NS/launcher"
install -m 4755 -o root "$HELPERS/helper_startup" "$NS/suid-helper"
printf '%s\n' "$NS/libfaultline.so" >"$NS/upper/ld.so.preload"
trap 'rm -f "$NS/suid-helper"; cleanup' EXIT

NOBODY=$(id -u nobody 2>/dev/null || echo 65534)
SECURE_DOMAIN="it-trust-secure-$$"

# in_namespace OUT ENV...: the setuid copy run by the unprivileged user, with
# the shim preloaded through /etc/ld.so.preload of a private namespace and
# exactly ENV as its environment. Output in OUT.out/OUT.err, status in RC.
in_namespace() {
	local out=$1
	shift
	# shellcheck disable=SC2016 # expanded by the inner shell
	timeout 30 unshare -m --propagation private -- sh -c '
		ns=$1; uid=$2; shift 2
		if [ -e /etc/ld.so.preload ]; then
			mount --bind "$ns/upper/ld.so.preload" /etc/ld.so.preload || exit 90
		else
			mount -t overlay overlay -o "lowerdir=/etc,upperdir=$ns/upper,workdir=$ns/work" /etc || exit 90
		fi
		exec setpriv --reuid="$uid" --regid="$uid" --clear-groups -- "$ns/launcher" exec "$ns/suid-helper" "$@"
	' sh "$NS" "$NOBODY" "$@" >"$FL_TMP/$out.out" 2>"$FL_TMP/$out.err"
	RC=$?
	[ "$RC" = 90 ] && skip "cannot put a file at /etc/ld.so.preload in a private mount namespace: $(cat "$FL_TMP/$out.err")"
	[ "$RC" = 124 ] && fail "the setuid program did not finish within 30 s: $(cat "$FL_TMP/$out.out" "$FL_TMP/$out.err")"
}

segments() {
	find /dev/shm -maxdepth 1 -name "faultline.*.$SECURE_DOMAIN" 2>/dev/null
}

check "setuid program, hostile FAULTLINE_LOG_FILE and newline-laden FAULTLINE_CONFIG: no file created, program runs"
in_namespace secure1 \
	"FAULTLINE_LOG_FILE=$NS/pub/created-as-root.log" \
	$'FAULTLINE_CONFIG=/nonexistent\nroot::0:0::/root:/bin/sh' \
	"FAULTLINE_LOG=debug" "PATH=/usr/bin:/bin"
OUT=$(cat "$FL_TMP/secure1.out")
ERR=$(cat "$FL_TMP/secure1.err")
case $OUT in
*"secure=0"*) skip "the setuid copy did not run in secure-execution mode (setuid bits ignored here?): $OUT" ;;
esac
[ -e "$NS/pub/created-as-root.log" ] &&
	fail "the shim created $NS/pub/created-as-root.log as root: $(ls -l "$NS/pub/created-as-root.log"; cat "$NS/pub/created-as-root.log")"
assert_contains "the program's own report (stderr: $ERR)" "$OUT" "ruid=$NOBODY euid=0 secure=1"
assert_eq "exit status of the setuid program; stdout: $OUT; stderr: $ERR" 0 "$RC"
assert_contains "its calls" "$OUT" "connect ok"
assert_le "lines on standard error: $ERR" 1 "$(printf '%s' "$ERR" | grep -c '')"
assert_not_contains "standard error quotes nothing of the environment" "$ERR" "root::0"
assert_contains "the one line says why no rules apply" "$ERR" "secure-execution mode"

check "setuid program with FAULTLINE_RULES refusing every connect: no segment, the connect passes through"
in_namespace secure2 \
	"FAULTLINE_RULES=127.0.0.1 fault on=connect error=ECONNREFUSED" \
	"FAULTLINE_DOMAIN=$SECURE_DOMAIN" "PATH=/usr/bin:/bin"
OUT=$(cat "$FL_TMP/secure2.out")
ERR=$(cat "$FL_TMP/secure2.err")
SEGS=$(segments)
rm -f $SEGS
assert_eq "segments of domain $SECURE_DOMAIN created by the setuid program" "" "$SEGS"
assert_contains "the program's own report (stderr: $ERR)" "$OUT" "secure=1"
assert_eq "exit status; stdout: $OUT; stderr: $ERR" 0 "$RC"
assert_contains "its connect (a rule would refuse it)" "$OUT" "connect ok"
assert_contains "its read and write" "$OUT" "io ok"

check "setuid program with no FAULTLINE_ variable: not a word on standard error"
in_namespace secure3 "PATH=/usr/bin:/bin"
assert_eq "exit status" 0 "$RC"
assert_eq "standard error" "" "$(cat "$FL_TMP/secure3.err")"

done_ok
