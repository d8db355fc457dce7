# test_bulkhead_crash.sh - how long a bulkhead slot lives: a slot is one
# open connection, given back when the last descriptor referring to it is
# closed, or when its process exits or dies, even by SIGKILL (reclaimed at
# the next acquisition attempt, or by a queued waiter within one second).
#
# Real python3 clients (bh_client.py) hold slots of a bulkhead of limit 1
# against conc_server.py; the test kills them, lets them exit without
# closing, or forks them, and then asks whether a new client gets in.
# A probe client with max_queue_size=0 never waits: it either gets the
# slot at once or fails at once with ECONNREFUSED, so it shows whether
# the slot is taken *now*.
#
# Times are measured from the event under test (the kill, the holder's
# last words) to the client's own clock reading after connect, never from a
# python3 start-up; upper bounds are stretched by the time scale (lib.sh).
#
# Every case has its own domain, removed at exit.
. "$(dirname "$0")/lib.sh"
need_build

# Forked children that wait for a file must not outlive a failed run.
release_all() {
	local d
	for d in "$FL_TMP"/fork-*; do
		[ -d "$d" ] && touch "$d/parent-close" "$d/child-close" "$d/child-go" "$d/done"
	done
	touch "$FL_TMP"/*.release 2>/dev/null
	return 0
}
trap 'release_all; cleanup; remove_domains' EXIT

# probe_gets_in WHAT: a client with no queue gets the slot at once.
probe_gets_in() {
	bh_run probe "$PORT" --hold-ms 0
	assert_eq "$1: probe client exit status; it said: $OUT" 0 "$RC"
}

# probe_refused WHAT: the slot is taken: a client with no queue fails at once.
probe_refused() {
	bh_run probe "$PORT" --hold-ms 0
	assert_eq "$1: probe client exit status (the slot should be taken); it said: $OUT" 1 "$RC"
	assert_contains "$1: probe client's error" "$OUT" "err errno=ECONNREFUSED "
}

# case_setup NAME QUEUE: a fresh domain, server and rule (limit 1).
case_setup() {
	new_domain "crash-$1"
	start_conc "$1"
	PORT=$CONC_PORT
	RULES="127.0.0.1:$PORT bulkhead max_concurrent_requests=1 max_queue_size=$2 queue_timeout_ms=15000"
}

# --- SIGKILL ----------------------------------------------------------------------

case_setup kill-next 0
check "SIGKILL: the slot of a killed holder is reclaimed by the next acquisition attempt"
bh_hold holder "$PORT"
probe_refused "while the holder lives"
kill -9 "$HOLDER_PID"
KILLED=$(now_ms)
bh_finish "$HOLDER_PID" "killed holder" 5 2>/dev/null # (no "Killed" notice)
assert_eq "holder's exit status (SIGKILL)" 137 "$RC"
probe_gets_in "after the kill"
# The probe has no queue: getting in at all shows the reclaim; its connect
# call (timed by the probe itself, after its python3 start-up) is prompt.
assert_took "the probe's connect call" 1000 $(($(field "$OUT" connected) - $(field "$OUT" start)))

check "SIGKILL: the reclaimed slot is a single slot: a second probe while the first holds is refused"
bh_hold holder2 "$PORT"
probe_refused "while the new holder lives"
bh_release holder2
bh_finish "$HOLDER_PID" "holder2"
probe_gets_in "after holder2 closed"

case_setup kill-waiter 5
check "SIGKILL: a client queued behind the killed holder gets the slot within about one second"
bh_hold holder "$PORT"
bh_start waiter "$PORT"
W=$BH_PID
bh_waiting "$W"
kill -9 "$HOLDER_PID"
KILLED=$(now_ms)
bh_finish "$W" "waiter" 10
assert_eq "waiter exit status; it said: $(cat "$FL_TMP/waiter.log")" 0 "$RC"
line=$(bh_result waiter)
assert_took "from the kill to the waiter's connection" 1500 $(($(field "$line" connected) - KILLED))
bh_finish "$HOLDER_PID" "killed holder" 5 2>/dev/null # (no "Killed" notice)

case_setup zombie 0
check "SIGKILL: the slot of a killed holder its parent has not reaped yet (a zombie) is reclaimed too"
# The parent here is a python3 script that kills its child and, like a busy
# supervisor, does not wait() for it before starting the next client.
OUT=$("$PY" - "$CLI" "$RULES" "$DOMAIN" "$PY" "$BH_CLIENT" "$PORT" "$FL_TMP/zombie.ready" <<-'EOF' 2>&1
	import os, subprocess, sys, time
	cli, rules, domain, py, client, port, ready = sys.argv[1:]
	if os.path.exists(ready):
	    os.unlink(ready)
	run = [cli, "run", "--rules", rules, "--domain", domain, "--", py, "-u", client, port]
	holder = subprocess.Popen(run + ["--ready", ready, "--hold-until", ready + ".never",
	                                 "--max-hold-ms", "30000"], stdout=subprocess.DEVNULL)
	deadline = time.monotonic() + 10
	while not os.path.exists(ready) and time.monotonic() < deadline:
	    time.sleep(0.02)
	if not os.path.exists(ready):
	    print("holder never connected"); holder.kill(); holder.wait(); sys.exit(1)
	os.kill(holder.pid, 9)
	deadline = time.monotonic() + 5
	state = "?"
	while time.monotonic() < deadline:
	    with open("/proc/%d/stat" % holder.pid) as f:
	        state = f.read().rsplit(")", 1)[1].split()[0]
	    if state == "Z":
	        break
	    time.sleep(0.01)
	print("holder state", state)
	probe = subprocess.run(run + ["--hold-ms", "0"], capture_output=True, text=True, timeout=20)
	print(probe.stdout.strip(), probe.stderr.strip())
	with open("/proc/%d/stat" % holder.pid) as f:
	    print("holder state after probe", f.read().rsplit(")", 1)[1].split()[0])
	holder.wait()
	probe2 = subprocess.run(run + ["--hold-ms", "0"], capture_output=True, text=True, timeout=20)
	print("after reaping:", probe2.stdout.strip(), probe2.stderr.strip())
	EOF
)
assert_contains "the killed holder is a zombie while the probe runs" "$OUT" "holder state Z"
line=$(printf '%s\n' "$OUT" | grep -E '^(ok|err) ' | head -n1)
assert_contains "probe while the killed holder is an unreaped zombie; all output:
$OUT
" "$line" "ok "

# --- exit without close ------------------------------------------------------------

for how in exit _exit; do
	case_setup "$how-next" 0
	check "$how: a holder that ends with $how() without closing frees its slot for the next client"
	bh_start "holder-$how" "$PORT" --ready "$FL_TMP/holder-$how.ready" --end "$how"
	bh_finish "$BH_PID" "holder ($how)" 10
	assert_eq "holder exit status" 0 "$RC"
	assert_contains "holder connected" "$(bh_result "holder-$how")" "ok "
	probe_gets_in "after the holder's $how"
done

# The holder leaves right after the waiter starts waiting. A waiter wakes on
# its own only once a second (to reap the dead), so a normal exit must wake
# it well before that: 600 ms. After _exit nobody wakes it: within ~1 s.
for how in exit _exit; do
	case_setup "$how-waiter" 5
	if [ "$how" = exit ]; then
		limit=600
		check "exit: a queued client gets in as soon as the holder exits normally without closing"
	else
		limit=1500
		check "_exit: a queued client gets in within about one second of the holder's _exit() without closing"
	fi
	rm -f "$FL_TMP/holder.ready" "$FL_TMP/holder.release"
	bh_start holder "$PORT" --ready "$FL_TMP/holder.ready" --hold-until "$FL_TMP/holder.release" --end "$how"
	H=$BH_PID
	wait_for "holder to connect" 10 test -e "$FL_TMP/holder.ready"
	bh_start waiter "$PORT"
	W=$BH_PID
	bh_waiting "$W"
	bh_release holder
	bh_finish "$H" "holder" 10
	assert_eq "holder exit status" 0 "$RC"
	bh_finish "$W" "waiter" 10
	assert_eq "waiter exit status; it said: $(cat "$FL_TMP/waiter.log")" 0 "$RC"
	h=$(bh_result holder)
	w=$(bh_result waiter)
	assert_took "from the holder's $how to the waiter's connection" "$limit" \
		$(($(field "$w" connected) - $(field "$h" closing)))
done

# --- fork ------------------------------------------------------------------------------

# fork_client NAME PARENT_STEPS CHILD_STEPS: bh_client.py --fork (see there);
# its coordination files are in $FORK_DIR.
fork_client() {
	FORK_DIR="$FL_TMP/fork-$1"
	mkdir -p "$FORK_DIR"
	bh_start "fork-$1" "$PORT" --fork "$FORK_DIR" --parent "$2" --child "$3" --max-hold-ms 20000
	FORK_PID=$BH_PID
}

mark() { # NAME: tell the forked client to go on
	touch "$FORK_DIR/$1"
}

until_marked() { # NAME
	wait_for "the forked client to mark '$1'; it said: $(cat "$FL_TMP/fork-$FORK_NAME.log" 2>/dev/null)" 20 \
		test -e "$FORK_DIR/$1"
}

case_setup fork-child-closes 0
FORK_NAME=child-closes
check "fork: the child closes its copy; the parent still holds the slot"
fork_client child-closes "wait:parent-close,close,mark:parent-closed,wait:done,mark:child-go,reap" \
	"close,mark:child-closed,wait:child-go"
until_marked child-closed
probe_refused "child closed, parent holds"
check "fork: when the parent closes its copy too, the slot is free"
mark parent-close
until_marked parent-closed
probe_gets_in "both closed"
mark "done"
bh_finish "$FORK_PID" "forked client"
assert_eq "forked client exit status; it said: $(cat "$FL_TMP/fork-child-closes.log")" 0 "$RC"

case_setup fork-parent-closes 0
FORK_NAME=parent-closes
check "fork: the parent closes its copy (once the child runs); the child still holds the slot"
fork_client parent-closes "wait:child-started,close,mark:parent-closed,wait:done,mark:child-go,reap" \
	"mark:child-started,wait:child-close,close,mark:child-closed,wait:child-go"
until_marked parent-closed
probe_refused "parent closed, child holds"
check "fork: when the child closes its copy too, the slot is free"
mark child-close
until_marked child-closed
probe_gets_in "both closed"
mark "done"
bh_finish "$FORK_PID" "forked client"
assert_eq "forked client exit status; it said: $(cat "$FL_TMP/fork-parent-closes.log")" 0 "$RC"

for how in _exit exit; do
	case_setup "fork-child-$how" 0
	FORK_NAME="child-$how"
	check "fork: the child ends with $how() without closing its copy; the parent still holds the slot"
	fork_client "child-$how" "reap,mark:child-gone,wait:parent-close,close,mark:parent-closed,wait:done" "$how"
	until_marked child-gone
	probe_refused "child gone, parent holds"
	check "fork: child gone by $how(), then the parent closes: the slot is free"
	mark parent-close
	until_marked parent-closed
	probe_gets_in "child ended by $how(), parent closed"
	mark "done"
	bh_finish "$FORK_PID" "forked client"
	assert_eq "forked client exit status; it said: $(cat "$FL_TMP/fork-child-$how.log")" 0 "$RC"
done

case_setup fork-parent-exits 0
FORK_NAME=parent-exits
check "fork: the parent exits without closing (as a daemon's parent does); the child still holds the slot"
fork_client parent-exits "mark:parent-gone,exit" "wait:child-close,close,mark:child-closed,wait:child-go"
bh_finish "$FORK_PID" "forked client's parent"
assert_eq "parent exit status" 0 "$RC"
until_marked parent-gone
probe_refused "parent exited, child holds"
check "fork: when the child closes too, the slot is free"
mark child-close
until_marked child-closed
probe_gets_in "child closed"
mark child-go

# The classic pattern of a forking program: the parent closes its copy at
# once, while the child may not even have run yet.
case_setup fork-parent-closes-at-once 0
FORK_NAME=parent-closes-at-once
check "fork: the parent closes its copy right after fork(); the child still holds the slot"
fork_client parent-closes-at-once "close,mark:parent-closed,wait:done,mark:child-go,reap" \
	"mark:child-started,wait:child-close,close,mark:child-closed,wait:child-go"
until_marked parent-closed
until_marked child-started
probe_refused "parent closed at once, child holds"
check "fork: when the child closes its copy too, the slot is free"
mark child-close
until_marked child-closed
probe_gets_in "both closed"
mark "done"
bh_finish "$FORK_PID" "forked client"
assert_eq "forked client exit status; it said: $(cat "$FL_TMP/fork-parent-closes-at-once.log")" 0 "$RC"

done_ok
