# test_log.sh - FAULTLINE_LOG levels and FAULTLINE_LOG_FILE.
#
# debug logs every injected fault as
#   faultline[PID]: OP DEST: error ERRNO      or      ...: delay N ms
# lower levels do not; FAULTLINE_LOG_FILE receives the lines (appended)
# instead of standard error.
. "$(dirname "$0")/lib.sh"
need_build

start_server sink sink tcp4
SINK=$SERVER_PORT
DEST="127.0.0.1:$SINK"

# sends N: a python client that prints its pid, then sends N bytes one by one.
SENDS='
import os, socket, sys
print("pid", os.getpid(), flush=True)
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
for i in range(int(sys.argv[2])):
    try:
        s.send(b"p")
    except OSError:
        pass
s.close()'

# run_sends RULES N [ENV...]: stdout in $OUT, stderr in $ERR.
run_sends() {
	local rules=$1 n=$2
	shift 2
	env "$@" FAULTLINE_RULES="$rules" LD_PRELOAD="$SHIM" "$PY" -c "$SENDS" "$SINK" "$n" \
		>"$FL_TMP/out" 2>"$FL_TMP/err"
	OUT=$(cat "$FL_TMP/out")
	ERR=$(cat "$FL_TMP/err")
}

THREE="$DEST fault on=send error=ECONNRESET times=3"

check "debug: one line per injected error, naming pid, op, destination and errno"
run_sends "$THREE" 5 FAULTLINE_LOG=debug
pid=${OUT#pid }
assert_eq "injection lines" 3 "$(count_lines "$ERR" "faultline[$pid]: send $DEST: error ECONNRESET")"

check "debug: one line per injected delay, with its length"
run_sends "$DEST fault on=send delay_ms=30 times=2" 5 FAULTLINE_LOG=debug
pid=${OUT#pid }
assert_eq "delay lines" 2 "$(count_lines "$ERR" "faultline[$pid]: send $DEST: delay 30 ms")"

check "debug: a connect fault is logged as connect"
run_sends "$DEST fault on=connect delay_ms=10" 1 FAULTLINE_LOG=debug
assert_contains "debug log" "$ERR" "connect $DEST: delay 10 ms"

for level in error info off; do
	check "FAULTLINE_LOG=$level: injections are not logged"
	run_sends "$THREE" 5 FAULTLINE_LOG=$level
	assert_eq "injection lines at $level" 0 "$(count_lines "$ERR" "error ECONNRESET")"
done

check "default level (error): injections are not logged, and nothing else is said"
run_sends "$THREE" 5
assert_eq "stderr" "" "$ERR"

check "FAULTLINE_LOG=off: nothing at all on stderr"
run_sends "$THREE" 5 FAULTLINE_LOG=off
assert_eq "stderr" "" "$ERR"

check "FAULTLINE_LOG_FILE: lines go to the file, appended to what was there; stderr stays clean"
LOG="$FL_TMP/faults.log"
echo "a line from before" >"$LOG"
run_sends "$THREE" 5 FAULTLINE_LOG=debug FAULTLINE_LOG_FILE="$LOG"
assert_eq "stderr" "" "$ERR"
run_sends "$THREE" 5 FAULTLINE_LOG=debug FAULTLINE_LOG_FILE="$LOG"
assert_eq "first line (kept)" "a line from before" "$(head -n1 "$LOG")"
assert_eq "injection lines after two runs" 6 "$(grep -c "send $DEST: error ECONNRESET" "$LOG")"

check "FAULTLINE_LOG_FILE is created when missing"
run_sends "$THREE" 5 FAULTLINE_LOG=debug FAULTLINE_LOG_FILE="$FL_TMP/new.log"
assert_eq "injection lines" 3 "$(grep -c "error ECONNRESET" "$FL_TMP/new.log")"

check "parent and forked child both log, each with its own pid"
rm -f "$FL_TMP/fork.log"
FAULTLINE_LOG=debug FAULTLINE_LOG_FILE="$FL_TMP/fork.log" FAULTLINE_RULES="$DEST fault on=send error=ECONNRESET" \
	LD_PRELOAD="$SHIM" "$PY" -c '
import os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
pid = os.fork()
try:
    s.send(b"p")
except OSError:
    pass
if pid == 0:
    print("child", os.getpid(), flush=True); os._exit(0)
os.waitpid(pid, 0)
print("parent", os.getpid())' "$SINK" >"$FL_TMP/out"
for who in parent child; do
	p=$(sed -n "s/^$who //p" "$FL_TMP/out")
	assert_eq "lines from the $who" 1 "$(grep -c "^faultline\[$p\]: send $DEST: error ECONNRESET$" "$FL_TMP/fork.log")"
done

check "four threads logging 400 faults: every line whole (one write per line)"
rm -f "$FL_TMP/threads.log"
FAULTLINE_LOG=debug FAULTLINE_LOG_FILE="$FL_TMP/threads.log" FAULTLINE_RULES="$DEST fault on=send error=ECONNRESET" \
	LD_PRELOAD="$SHIM" "$PY" -c '
import socket, sys, threading
def work():
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    for i in range(100):
        try:
            s.send(b"p")
        except OSError:
            pass
    s.close()
ts = [threading.Thread(target=work) for _ in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]' "$SINK"
assert_eq "injection lines" 400 \
	"$(grep -cE "^faultline\[[0-9]+\]: send $DEST: error ECONNRESET$" "$FL_TMP/threads.log")"
assert_eq "lines not starting with faultline[PID]: " 0 \
	"$(grep -cvE "^faultline\[[0-9]+\]: " "$FL_TMP/threads.log")"
assert_eq "lines holding two log lines" 0 "$(grep -c "faultline\[.*faultline\[" "$FL_TMP/threads.log")"

check "FAULTLINE_LOG with an unknown level: exit 2 before main, naming the variable"
out=$(FAULTLINE_LOG=verbose FAULTLINE_RULES="$THREE" LD_PRELOAD="$SHIM" /bin/echo main ran 2>"$FL_TMP/err")
assert_eq "exit status" 2 "$?"
assert_eq "program output" "" "$out"
assert_contains "stderr" "$(cat "$FL_TMP/err")" "FAULTLINE_LOG"

done_ok
