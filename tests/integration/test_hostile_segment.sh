#!/usr/bin/env bash
# test_hostile_segment.sh - a domain's segment that is not what faultline
# wrote: wrong mode or owner, a symbolic link, another file type, wrong
# magic or version, truncated, random, empty forever, or with records whose
# indices and lengths point out of bounds.
#
# For each: the shim refuses it (FAULTLINE_ON_ERROR=exit: exit 2 before
# main with a message naming the problem; =passthrough: the program runs
# normally, without rules), the CLI refuses it (exit 1 with a message),
# nothing crashes (no exit status >= 128, no "Segmentation fault") or
# hangs, and nothing writes to the hostile file (nor to what a link points
# at). Records that are corrupt behind a valid header cannot be seen at
# attach time without reading every record; there the shim must stay
# correct and quick, and the CLI must refuse. Last, the other file the
# shim opens from outside, its log (FAULTLINE_LOG_FILE), as a FIFO that
# nobody reads: it must not hold the program up.
#
# Segments are forged by seg_forge.py from lib/segment.h's layout
# (helper_seglayout), at /dev/shm/faultline.<uid>.<domain>.
. "$FL_TOP/tests/integration/lib.sh"
need_build helper_seglayout
[ -x "$CLI" ] || fail "no CLI at $CLI"
need_cmd sha256sum timeout

U=$(id -u)
FORGE="$FL_TOP/tests/integration/seg_forge.py"
LAYOUT="$FL_TMP/layout.txt"
"$HELPERS/helper_seglayout" >"$LAYOUT" || fail "helper_seglayout failed"
forge() { "$PY" "$FORGE" "$LAYOUT" "$@" || fail "seg_forge.py $*"; }
seg_path() { echo "/dev/shm/faultline.$U.$1"; }

# The program under the shim: makes a listener, connects to it (a rule
# refuses every connect to 127.0.0.1), prints "connected" or the errno.
CLIENT='
import errno, socket, sys
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1)
c = socket.socket(); c.settimeout(5)
r = c.connect_ex(l.getsockname())
print("connected" if r == 0 else errno.errorcode.get(r, str(r)))
sys.exit(0 if r == 0 else 3)'
RULES='127.0.0.1 fault on=connect error=ECONNREFUSED;127.0.0.1 bulkhead max_concurrent_requests=4'

# run_shim DOMAIN [ON_ERROR]: the client under the shim, bounded; RC, OUT, ERR.
run_shim() {
	local mode=${2:-}
	env FAULTLINE_DOMAIN="$1" FAULTLINE_RULES="$RULES" ${mode:+FAULTLINE_ON_ERROR=$mode} LD_PRELOAD="$SHIM" \
		timeout 30 "$PY" -c "$CLIENT" >"$FL_TMP/shim.out" 2>"$FL_TMP/shim.err"
	RC=$?
	OUT=$(cat "$FL_TMP/shim.out")
	ERR=$(cat "$FL_TMP/shim.err")
}

no_crash() { # WHAT: the last command neither crashed nor hung
	[ "$RC" -lt 124 ] || fail "$1: exit status $RC (crash, signal or timeout); stderr:
$ERR"
	assert_not_contains "$1: stderr" "$ERR" "Segmentation fault"
	assert_not_contains "$1: stderr" "$ERR" "AddressSanitizer"
	assert_not_contains "$1: stderr" "$ERR" "runtime error"
}

cli_run() { # ARGS...: the CLI, bounded; RC, OUT, ERR
	timeout 30 "$CLI" "$@" >"$FL_TMP/cli.out" 2>"$FL_TMP/cli.err"
	RC=$?
	OUT=$(cat "$FL_TMP/cli.out")
	ERR=$(cat "$FL_TMP/cli.err")
}

# Only a regular file is read: a FIFO would block the reader.
digest() { if [ -f "$1" ] && [ ! -L "$1" ]; then sha256sum <"$1" | cut -d' ' -f1; else echo "-"; fi; }
fstat() { stat -c '%a %u %s %i' "$1"; }

fresh_domain() { # NAME: a new domain name in D, removed at exit
	D="hs-$1-$$"
	rm -f "$(seg_path "$D")"
	TEST_DOMAINS+=("$D")
}

# The checks every refused segment gets. NEEDLE is what the message must say.
refused_everywhere() { # WHAT NEEDLE [PATH_TO_WATCH]
	local what=$1 needle=$2 watch=${3:-$(seg_path "$D")} before after
	before="$(digest "$watch") $(fstat "$watch")"

	check "$what: the shim refuses it before main (exit 2, '$needle')"
	run_shim "$D"
	no_crash "shim on $what"
	assert_eq "shim exit status on $what (stdout: $OUT)" 2 "$RC"
	assert_contains "shim message on $what" "$ERR" "$needle"
	assert_eq "the program did not run" "" "$OUT"

	check "$what: with FAULTLINE_ON_ERROR=passthrough the program runs normally, without rules"
	run_shim "$D" passthrough
	no_crash "passthrough shim on $what"
	assert_eq "passthrough exit status on $what (stderr: $ERR)" 0 "$RC"
	assert_eq "passthrough program result" connected "$OUT"
	assert_contains "passthrough message on $what" "$ERR" "$needle"
	assert_contains "passthrough says it runs without rules" "$ERR" "passthrough"

	check "$what: every CLI command that reads the domain refuses it (exit 1, '$needle')"
	local args
	for args in "stats" "stats --json" "stats --prometheus" "ps" "trip 127.0.0.1:9" "reset --all" \
		"set 127.0.0.1:9 max_concurrent_requests=2" "events" "events --json"; do
		# shellcheck disable=SC2086 # args is a word list
		cli_run $args --domain "$D"
		no_crash "faultline $args on $what"
		assert_eq "faultline $args on $what: exit status (stdout: $OUT)" 1 "$RC"
		assert_contains "faultline $args on $what: message" "$ERR" "$needle"
	done
	cli_run domains
	no_crash "faultline domains with $what present"

	after="$(digest "$watch") $(fstat "$watch")"
	assert_eq "$what: content, mode, owner, size and inode untouched by the shim and the CLI" "$before" "$after"
}

# --- the file itself ------------------------------------------------------------

fresh_domain mode
forge header "$(seg_path "$D")" 16
chmod 0644 "$(seg_path "$D")"
refused_everywhere "a segment of mode 0644" "mode 0644"

if [ "$U" = 0 ] && id nobody >/dev/null 2>&1; then
	fresh_domain owner
	forge header "$(seg_path "$D")" 16
	chown nobody "$(seg_path "$D")"
	refused_everywhere "a segment owned by nobody" "owned by uid $(id -u nobody)"
	check "a segment owned by nobody: clear refuses to remove it"
	cli_run clear --domain "$D"
	no_crash "clear on a foreign segment"
	assert_eq "clear exit status" 1 "$RC"
	[ -e "$(seg_path "$D")" ] || fail "clear removed another user's segment"
else
	check "wrong owner: skipped (needs root and a 'nobody' user)"
fi

# A valid segment of another domain, created by the shim itself.
fresh_domain other
OTHER=$D
FAULTLINE_DOMAIN=$OTHER FAULTLINE_CAPACITY=16 FAULTLINE_RULES=$RULES LD_PRELOAD="$SHIM" "$PY" -c "$CLIENT" \
	>/dev/null 2>&1
[ -f "$(seg_path "$OTHER")" ] || fail "the shim did not create domain $OTHER"
cli_run stats --domain "$OTHER"
assert_eq "the other domain is a valid segment (stats exit status; $ERR)" 0 "$RC"

fresh_domain link-seg
ln -s "$(seg_path "$OTHER")" "$(seg_path "$D")"
refused_everywhere "a symbolic link to another domain's valid segment" "symbolic link" "$(seg_path "$OTHER")"
check "a symbolic link: clear refuses it and leaves the linked segment alone"
cli_run clear --domain "$D"
no_crash "clear on a symlink"
assert_eq "clear exit status" 1 "$RC"
[ -f "$(seg_path "$OTHER")" ] || fail "the linked segment was removed"

fresh_domain link-passwd
ln -s /etc/passwd "$(seg_path "$D")"
refused_everywhere "a symbolic link to /etc/passwd" "symbolic link" /etc/passwd

fresh_domain dir
mkdir "$(seg_path "$D")"
check "a directory in its place: the shim refuses it (exit 2)"
run_shim "$D"
no_crash "shim on a directory"
assert_eq "shim exit status on a directory" 2 "$RC"
assert_contains "shim message on a directory" "$ERR" "faultline"
cli_run stats --domain "$D"
no_crash "stats on a directory"
assert_eq "stats on a directory: exit status" 1 "$RC"
rmdir "$(seg_path "$D")"

fresh_domain fifo
mkfifo -m 0600 "$(seg_path "$D")"
refused_everywhere "a FIFO in its place" "not a regular file"

# --- the header -------------------------------------------------------------------

fresh_domain magic
forge header "$(seg_path "$D")" 16 magic=0x4141414141414141
refused_everywhere "a segment with the wrong magic" "bad magic"

fresh_domain version
forge header "$(seg_path "$D")" 16 version=$(($(sed -n 's/^FL_SEG_VERSION //p' "$LAYOUT") + 1))
refused_everywhere "a segment of another layout version" "version"
check "another layout version: clear removes it (the way out its message points to)"
cli_run clear --domain "$D"
no_crash "clear on another version"
assert_eq "clear exit status ($ERR)" 0 "$RC"
[ -e "$(seg_path "$D")" ] && fail "clear left the segment"

fresh_domain truncated
forge header "$(seg_path "$D")" 16
truncate -s 8192 "$(seg_path "$D")"
refused_everywhere "a segment truncated to 8192 bytes" "size"

fresh_domain tiny
printf 'FLTLINE1' >"$(seg_path "$D")"
chmod 0600 "$(seg_path "$D")"
refused_everywhere "an 8-byte segment" "too small"

fresh_domain capacity
forge header "$(seg_path "$D")" 16 capacity=0x7fffffff
refused_everywhere "a header claiming capacity 2^31-1" "capacity"

fresh_domain capacity0
forge header "$(seg_path "$D")" 16 capacity=0
refused_everywhere "a header claiming capacity 0" "capacity"

fresh_domain evring
forge header "$(seg_path "$D")" 16
forge evhdr "$(seg_path "$D")" capacity 0x7fffffff
refused_everywhere "an event ring header claiming 2^31-1 records" "event ring"

fresh_domain evrecord
forge header "$(seg_path "$D")" 16
forge event "$(seg_path "$D")" 1 0 127.0.0.1:9
forge event "$(seg_path "$D")" 99 0 127.0.0.1:9
check "an event record no writer writes (kind 99, whole, checksum right): events refuses it, exit 1"
cli_run events --domain "$D" --json
no_crash "events on a forged record"
assert_eq "events exit status (stdout: $OUT)" 1 "$RC"
assert_contains "events message" "$ERR" "corrupt segment: event 1: kind 99"
assert_contains "the record before it was printed" "$OUT" '"reason": "failure_threshold"'

fresh_domain random
FORGE_SEED=$$ forge random "$(seg_path "$D")" 16
refused_everywhere "random bytes of the right size" "bad magic"

fresh_domain empty
: >"$(seg_path "$D")"
chmod 0600 "$(seg_path "$D")"
check "a zero-length segment never filled: the shim gives up after a bounded wait"
start=$(now_ms)
run_shim "$D"
no_crash "shim on an empty segment"
assert_eq "shim exit status on an empty segment" 2 "$RC"
assert_contains "shim message on an empty segment" "$ERR" "empty"
assert_took "time the shim waited for the empty segment" 5000 $(($(now_ms) - start))
cli_run stats --domain "$D"
no_crash "stats on an empty segment"
assert_eq "stats on an empty segment: exit status" 1 "$RC"
assert_contains "stats on an empty segment: message" "$ERR" "empty"

# --- records behind a valid header ---------------------------------------------------
# A real segment made by the shim (an entry for 127.0.0.1:PORT with a bulkhead,
# this process registered and gone), then one field damaged.

base_segment() { # NAME: a fresh domain D holding what the shim writes
	fresh_domain "$1"
	FAULTLINE_DOMAIN=$D FAULTLINE_CAPACITY=16 FAULTLINE_RULES=$RULES LD_PRELOAD="$SHIM" "$PY" -c "$CLIENT" \
		>/dev/null 2>&1
	[ -f "$(seg_path "$D")" ] || fail "the shim did not create domain $D"
	cli_run stats --domain "$D"
	assert_eq "the base segment of $1 is valid (stats exit status; $ERR)" 0 "$RC"
}

corrupt_records() { # WHAT NEEDLE: the CLI refuses; the shim stays correct
	local what=$1 needle=$2 args
	check "$what: every CLI command that reads the domain refuses it (exit 1, '$needle')"
	for args in "stats" "stats --json" "stats --prometheus" "ps" "trip 127.0.0.1:9" "reset --all"; do
		# shellcheck disable=SC2086
		cli_run $args --domain "$D"
		no_crash "faultline $args on $what"
		assert_eq "faultline $args on $what: exit status (stdout: $OUT)" 1 "$RC"
		assert_contains "faultline $args on $what: message" "$ERR" "$needle"
	done
	check "$what: the shim neither crashes nor stalls (refuses with exit 2, or runs its rules)"
	local start
	start=$(now_ms)
	run_shim "$D"
	no_crash "shim on $what"
	case $RC in
	2) assert_contains "shim message on $what" "$ERR" "faultline" ;;
	3) assert_eq "the rule still applies" ECONNREFUSED "$OUT" ;;
	*) fail "shim on $what: exit status $RC, output '$OUT', stderr: $ERR" ;;
	esac
	assert_took "shim run time on $what" 3000 $(($(now_ms) - start))
}

base_segment status
forge poke "$(seg_path "$D")" entry ready status 7
corrupt_records "an entry with status 7" "status 7"

base_segment keylen
forge poke "$(seg_path "$D")" entry ready key.len 65535
corrupt_records "an entry with key length 65535" "length"

base_segment keykind
forge poke "$(seg_path "$D")" entry ready key.kind 9
corrupt_records "an entry with key kind 9" "kind 9"

base_segment breaker
forge poke "$(seg_path "$D")" entry ready has_bulkhead 7
corrupt_records "an entry whose bulkhead flag is 7" "flag 7"

base_segment ruletext
forge unterminate "$(seg_path "$D")" entry ready bulkhead_rule "$(sed -n 's/^FL_SEG_RULE_TEXT //p' "$LAYOUT")"
corrupt_records "an entry whose rule text has no terminating NUL" "not terminated"

base_segment used
"$PY" - "$LAYOUT" "$(seg_path "$D")" <<'EOF' || fail "poking entries_used"
import struct, sys
lay = dict(l.split() for l in open(sys.argv[1]))
with open(sys.argv[2], "r+b") as f:
    f.seek(int(lay["fl_seg_header.entries_used"]))
    f.write(struct.pack("<I", 0xffffffff))
EOF
corrupt_records "a header counting 2^32-1 entries in use" "in use"

base_segment holder-entry
forge poke "$(seg_path "$D")" holder 0 entry_plus1 0x7ffffff0
forge poke "$(seg_path "$D")" holder 0 live 1
corrupt_records "a holder whose entry index is 2^31-17" "holder 0"

base_segment holder-proc
forge poke "$(seg_path "$D")" holder 0 entry_plus1 1
forge poke "$(seg_path "$D")" holder 0 proc 0xfffffff0
forge poke "$(seg_path "$D")" holder 0 primary 0xfffffff0
forge poke "$(seg_path "$D")" holder 0 live 1
corrupt_records "a holder whose process index is 2^32-16" "holder 0"

base_segment proc-pid
forge poke "$(seg_path "$D")" proc 7 status 2
forge poke "$(seg_path "$D")" proc 7 pid 0x7fffffff
corrupt_records "a live process record with pid 2^31-1" "pid"

base_segment proc-status
forge poke "$(seg_path "$D")" proc 3 status 9
corrupt_records "a process record with status 9" "status 9"

# A table with no room at all: the destination falls back to its rule's
# entry, and when even that cannot be had, to a process-local stand-in.
fresh_domain full
check "a domain of capacity 1 and three destinations: the ones that find no room still work (no crash; under make sanitize, no report)"
FAULTLINE_DOMAIN=$D FAULTLINE_CAPACITY=1 FAULTLINE_RULES='127.0.0.1 fault on=connect error=ECONNREFUSED' \
	LD_PRELOAD="$SHIM" timeout 30 "$PY" -c '
import errno, socket
for port in (9, 10, 11):
    s = socket.socket()
    print(errno.errorcode.get(s.connect_ex(("127.0.0.1", port))))
    s.close()' >"$FL_TMP/shim.out" 2>"$FL_TMP/shim.err"
RC=$?
OUT=$(cat "$FL_TMP/shim.out" | tr '\n' ' ')
ERR=$(cat "$FL_TMP/shim.err")
no_crash "three destinations in a domain of capacity 1"
assert_eq "exit status (stderr: $ERR)" 0 "$RC"
assert_eq "every connect refused by the rule" "ECONNREFUSED ECONNREFUSED ECONNREFUSED " "$OUT"

# Entries left CLAIMED by creators that died half-way (or forged so): the
# shim waits a little for each, but a connect must not stall for long.
fresh_domain claimed
forge header "$(seg_path "$D")" 4096
forge fill "$(seg_path "$D")" entry status 1
check "4096 entries stuck in CLAIMED: a connect under the shim still completes within 2 s"
start=$(now_ms)
FAULTLINE_DOMAIN=$D FAULTLINE_RULES=$RULES LD_PRELOAD="$SHIM" timeout "$(scaled 6)" "$PY" -c "$CLIENT" \
	>"$FL_TMP/shim.out" 2>"$FL_TMP/shim.err"
RC=$?
OUT=$(cat "$FL_TMP/shim.out")
ERR=$(cat "$FL_TMP/shim.err")
took=$(($(now_ms) - start))
[ "$RC" = 124 ] && fail "a connect under the shim stalled for more than 6 s (x time scale) on a segment whose 4096 entries are all CLAIMED"
no_crash "shim on a segment of stuck entries"
printf '   (took %d ms, exit %d, %s)\n' "$took" "$RC" "$OUT"
assert_took "time for one connect with every entry stuck in CLAIMED" 2000 "$took"

# --- the other file the shim opens from outside: its log --------------------------------

check "FAULTLINE_LOG_FILE naming a FIFO that nobody reads: the program still starts and runs (no wait for a reader)"
mkfifo -m 0600 "$FL_TMP/log.fifo"
start=$(now_ms)
timeout "$(scaled 10)" env FAULTLINE_DOMAIN="hs-logfifo-$$" FAULTLINE_LOG=info FAULTLINE_LOG_FILE="$FL_TMP/log.fifo" \
	FAULTLINE_RULES="$RULES" LD_PRELOAD="$SHIM" "$PY" -c "$CLIENT" >"$FL_TMP/shim.out" 2>"$FL_TMP/shim.err"
RC=$?
TEST_DOMAINS+=("hs-logfifo-$$")
OUT=$(cat "$FL_TMP/shim.out")
ERR=$(cat "$FL_TMP/shim.err")
[ "$RC" = 124 ] && fail "the program hung for 10 s (x time scale): the shim blocks in open() on a log FIFO without a reader"
no_crash "shim logging to a FIFO without a reader"
assert_eq "exit status (the rule refuses the connect; stderr: $ERR)" 3 "$RC"
assert_took "run time with the log FIFO" 5000 $(($(now_ms) - start))

done_ok
