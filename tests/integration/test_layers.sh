# test_layers.sh - live layers (SPEC 7): `faultline apply / remove / heal /
# layers / play`, timed faults, `--for`, against real long-running programs:
# a python socket loop, a shell loop of curl, redis-cli and redis-benchmark
# against a local redis-server. The programs run with no rules of their own
# (`faultline run -- CMD`), their connections opened before the layer.
#
# "Within one call": the python loop applies and removes the layer itself
# (through the CLI, between two of its calls), so the very next call must
# already see the change - no timing window to hope for.
. "$(dirname "$0")/lib.sh"
need_build helper_layer_threads helper_seglayout
use_domain layers

start_server echo echo tcp4
ECHO=$SERVER_PORT
start_server web http tcp4
WEB=$SERVER_PORT

# --- a python loop: the fault begins and ends within one call ------------------

check "python loop (no rules, connection opened before): a layer's fault starts at the next call after apply, ends at the next call after remove"
OUT=$("$CLI" run -- "$PY" -c '
import errno, os, socket, subprocess, sys
cli, port = sys.argv[1], int(sys.argv[2])
env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
s = socket.create_connection(("127.0.0.1", port))
res = []
for i in range(30):
    if i == 10:
        subprocess.run([cli, "apply", "--name", "outage", "--rules",
                        "127.0.0.1:%d fault on=send error=ENOBUFS" % port], env=env, check=True,
                       stdout=subprocess.DEVNULL)
    if i == 20:
        subprocess.run([cli, "remove", "outage"], env=env, check=True, stdout=subprocess.DEVNULL)
    try:
        s.send(b"x"); s.recv(1); res.append(".")
    except OSError as e:
        res.append("E" if e.errno == errno.ENOBUFS else "?")
print("".join(res))' "$CLI" "$ECHO" 2>&1)
assert_eq "calls (. ok, E injected ENOBUFS)" "..........EEEEEEEEEE.........." "$OUT"

check "layers lists nothing once removed; --json is an empty array"
cli layers --json
assert_eq "layers --json" "[]" "$OUT"

# --- layers and layers --json ----------------------------------------------------

check "apply prints the layer; layers shows name, times and statements; --json has name/applied/expires/rules"
cli apply --name slow --for 60s --rules "127.0.0.1:$ECHO fault on=recv delay_ms=10; *:9 fault on=send error=EPIPE"
assert_eq "apply exit status ($ERR)" 0 "$RC"
assert_contains "apply output" "$OUT" "applied layer slow"
cli layers
assert_contains "layers" "$OUT" "slow"
assert_contains "layers" "$OUT" "127.0.0.1:$ECHO fault on=recv delay_ms=10"
assert_contains "layers" "$OUT" "in "
cli layers --json
"$PY" -c '
import json, sys, time
v = json.loads(sys.argv[1])
assert len(v) == 1, v
l = v[0]
assert l["name"] == "slow", l
assert abs(l["applied"] - time.time() * 1000) < 60000, l
assert 55000 <= l["expires"] - l["applied"] <= 60000, l
assert l["rules"] == ["127.0.0.1:'"$ECHO"' fault on=recv delay_ms=10", "*:9 fault on=send error=EPIPE"], l
' "$OUT" || fail "layers --json: $OUT"

check "apply without --name generates one and prints it; heal removes every layer"
cli apply --rules "*:9 fault on=send error=EPIPE"
assert_contains "apply output" "$OUT" "applied layer layer-"
cli heal
assert_eq "heal exit status ($ERR)" 0 "$RC"
assert_contains "heal output" "$OUT" "removed 2 layers"
cli layers
assert_eq "layers after heal" "no layers" "$OUT"

# --- bad input ----------------------------------------------------------------------

check "a layer with one bad statement is refused whole: exit 2, line:column and key, nothing applied"
cli apply --name bad --rules "127.0.0.1:$ECHO fault error=ENOBUFS; 127.0.0.1:$ECHO fault delay_ms=5 probabilty=0.5"
assert_eq "apply exit status" 2 "$RC"
assert_contains "message" "$ERR" "--rules:1:"
assert_contains "message" "$ERR" "probabilty"
cli layers --json
assert_eq "layers after a refused apply" "[]" "$OUT"

check "remove of a layer that does not exist: exit 1, says which"
cli remove nosuch
assert_eq "remove exit status" 1 "$RC"
assert_contains "message" "$ERR" "no layer 'nosuch'"

check "--for that is not a duration: exit 2"
cli apply --for 10h --rules "*:9 fault on=send error=EPIPE"
assert_eq "apply exit status" 2 "$RC"
assert_contains "message" "$ERR" "--for"

check "a full layer table says so and how many layers exist (exit 1); nothing changes"
for i in $(seq 1 32); do
	"$CLI" apply --name "l$i" --rules "*:9 fault on=send error=EPIPE" >/dev/null || fail "apply l$i"
done
cli apply --name one-too-many --rules "*:9 fault on=send error=EPIPE"
assert_eq "apply exit status" 1 "$RC"
assert_contains "message" "$ERR" "layer table full: 32 layers exist"
check "replacing a layer of the same name still works when the table is full"
cli apply --name l5 --rules "*:9 fault on=send error=ECONNRESET"
assert_eq "apply exit status ($ERR)" 0 "$RC"
cli layers --json
"$PY" -c '
import json, sys
v = json.loads(sys.argv[1])
assert len(v) == 32, len(v)
assert v[-1]["name"] == "l5" and v[-1]["rules"] == ["*:9 fault on=send error=ECONNRESET"], v[-1]
' "$OUT" || fail "layers after replace: $OUT"
"$CLI" heal >/dev/null

check "apply to a domain whose segment has an older layout version: refused, saying so"
LAYOUT="$FL_TMP/layout.txt"
"$HELPERS/helper_seglayout" >"$LAYOUT" || fail "helper_seglayout failed"
OLD="layers-old-$$"
CLI_DOMAINS+=("$OLD")
"$PY" "$FL_TOP/tests/integration/seg_forge.py" "$LAYOUT" header "/dev/shm/faultline.$(id -u).$OLD" 16 version=3 ||
	fail "seg_forge"
cli apply --domain "$OLD" --rules "*:9 fault on=send error=EPIPE"
assert_eq "apply exit status" 1 "$RC"
assert_contains "message" "$ERR" "layout version 3, this faultline reads version 4"

# --- breakers in layers -------------------------------------------------------------

check "a breaker in a layer applies to connections made after it (a process with no rules); its entry keeps its state when the layer goes"
CLOSED=$(free_port)
cli apply --name brk --rules "127.0.0.1:$CLOSED breaker failure_threshold=2 timeout_ms=600000"
connects() {
	"$CLI" run -- "$PY" -c '
import errno, socket, sys
for i in range(int(sys.argv[2])):
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", int(sys.argv[1]))); print("ok")
    except OSError as e:
        print(errno.errorcode[e.errno])
    s.close()' "$CLOSED" "$1"
}
connects 4 >/dev/null
brk() { "$CLI" stats --json | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
d = [x for x in s["destinations"] if x["destination"] == sys.argv[1]][0]
print(d["breaker"]["state"], d["breaker"]["rejected"], d["breaker"]["failure_threshold"])' "127.0.0.1:$CLOSED"; }
assert_eq "breaker state, rejected, threshold (from the layer)" "open 2 2" "$(brk)"
"$CLI" remove brk >/dev/null
connects 2 >/dev/null
assert_eq "after remove: state kept, new connects not rejected" "open 2 2" "$(brk)"

# --- curl in a shell loop ------------------------------------------------------------

check "curl in a shell loop: the connect fault of a layer hits the curls after apply and none after remove"
OUT=$("$CLI" run -- sh -c '
cli=$1 port=$2
for i in 1 2 3 4 5 6 7 8 9; do
	[ "$i" = 4 ] && env -u LD_PRELOAD "$cli" apply --name down --rules "127.0.0.1:$port fault on=connect error=ECONNREFUSED" >/dev/null
	[ "$i" = 7 ] && env -u LD_PRELOAD "$cli" remove down >/dev/null
	if curl -s -o /dev/null --max-time 5 "http://127.0.0.1:$port/"; then printf .; else printf "%s" "$?"; fi
done' sh "$CLI" "$WEB" 2>&1)
assert_eq "curls (. ok, 7 connection refused)" "...777..." "$OUT"

# --- redis ------------------------------------------------------------------------------

if command -v redis-server >/dev/null && command -v redis-cli >/dev/null && command -v redis-benchmark >/dev/null; then
	RPORT=$(free_port)
	start_bg redis redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no
	wait_port "$RPORT"

	check "redis-cli in a loop: a layer's recv error fails the commands after apply, none after remove"
	OUT=$("$CLI" run -- sh -c '
cli=$1 port=$2
for i in 1 2 3 4 5 6; do
	[ "$i" = 3 ] && env -u LD_PRELOAD "$cli" apply --name rfail --rules "127.0.0.1:$port fault on=read,recv error=ECONNRESET" >/dev/null
	[ "$i" = 5 ] && env -u LD_PRELOAD "$cli" remove rfail >/dev/null
	r=$(redis-cli -p "$port" ping 2>&1)
	[ "$r" = PONG ] && printf . || printf x
done' sh "$CLI" "$RPORT" 2>&1)
	assert_eq "redis-cli pings (. PONG, x failed)" "..xx.." "$OUT"

	check "redis-benchmark -l (one long run, its connections made before): injected delays begin with apply and stop with remove"
	start_bg bench "$CLI" run -- redis-benchmark -p "$RPORT" -c 2 -t ping -l -q
	wait_for "redis-benchmark to run" 10 sh -c "'$CLI' ps | grep -q redis-benchmark"
	sleep 0.3
	# delays: injected delays on send and write to redis, over the domain
	delays() {
		"$CLI" stats --json | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
print(sum(d["ops"][op]["delays_injected"] for d in s["destinations"] if d["destination"] == sys.argv[1]
          for op in ("send", "write")))' "127.0.0.1:$RPORT"
	}
	"$CLI" apply --name rslow --rules "127.0.0.1:$RPORT fault on=send,write delay_ms=1" >/dev/null
	for _ in $(seq 1 "$(scaled 200)"); do
		[ "$(delays)" -gt 10 ] && break
		sleep 0.05
	done
	"$CLI" remove rslow >/dev/null
	a=$(delays)
	sleep 0.5
	b=$(delays)
	assert_ge "delays injected while the layer was there" 10 "$a"
	assert_le "delays injected after remove (at most the calls in flight)" $((a + 2)) "$b"
fi

# --- timed faults --------------------------------------------------------------------

check "--for: the layer's fault ends by itself on time, with no CLI running, and the layer is gone"
OUT=$("$CLI" run -- "$PY" -c '
import errno, os, socket, subprocess, sys, time
cli, port = sys.argv[1], int(sys.argv[2])
env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
s = socket.create_connection(("127.0.0.1", port))
subprocess.run([cli, "apply", "--name", "brief", "--for", "700ms", "--rules",
                "127.0.0.1:%d fault on=send error=ENOBUFS" % port], env=env, check=True, stdout=subprocess.DEVNULL)
t0 = time.monotonic()
first_ok = None
while time.monotonic() - t0 < 20:
    try:
        s.send(b"x"); s.recv(1)
        first_ok = time.monotonic() - t0
        break
    except OSError as e:
        assert e.errno == errno.ENOBUFS, e
    time.sleep(0.01)
print(int(first_ok * 1000) if first_ok is not None else "never")' "$CLI" "$ECHO" 2>&1)
case $OUT in *[!0-9]* | "") fail "the fault never ended: $OUT" ;; esac
assert_ge "ms until the first call passed (lower bound: --for 700ms)" 600 "$OUT"
assert_took "the fault ended after --for 700ms" 3000 "$OUT"
cli layers --json
assert_eq "layers once expired" "[]" "$OUT"

check "the event log shows the layer applied, then expired (by the process that noticed), in order"
EV=$("$CLI" events --json 2>/dev/null | "$PY" -c '
import json, sys
print(" ".join(e["what"] for e in map(json.loads, sys.stdin) if e["kind"] == "layer" and e.get("layer") == "brief"))')
assert_eq "events of layer brief" "applied expired" "$EV"

check "start_ms / duration_ms in a layer: inactive first, then active, then over"
OUT=$("$CLI" run -- "$PY" -c '
import errno, os, socket, subprocess, sys, time
cli, port = sys.argv[1], int(sys.argv[2])
env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
s = socket.create_connection(("127.0.0.1", port))
subprocess.run([cli, "apply", "--name", "window", "--rules",
                "127.0.0.1:%d fault on=send error=ENOBUFS start_ms=400 duration_ms=600" % port],
               env=env, check=True, stdout=subprocess.DEVNULL)
t0 = time.monotonic()
ev = []
last = None
while time.monotonic() - t0 < 20 and len(ev) < 2:
    try:
        s.send(b"x"); s.recv(1); st = "ok"
    except OSError as e:
        assert e.errno == errno.ENOBUFS, e
        st = "err"
    if st != last and last is not None:
        ev.append((st, int((time.monotonic() - t0) * 1000)))
    last = st
    if last is None: last = st
    time.sleep(0.005)
print(" ".join("%s@%d" % e for e in ev))' "$CLI" "$ECHO" 2>&1)
set -- $OUT
case "$1 $2" in err@*" "ok@*) ;; *) fail "expected ok, then err, then ok: $OUT" ;; esac
on=${1#err@}
off=${2#ok@}
assert_ge "fault began (ms after apply; start_ms=400)" 350 "$on"
assert_ge "fault lasted (ms; duration_ms=600)" 550 $((off - on))
assert_took "fault began after start_ms=400" 2000 "$on"
"$CLI" heal >/dev/null

check "own rules with start_ms / duration_ms: timed from the process start"
OUT=$(FAULTLINE_RULES="127.0.0.1:$ECHO fault on=send error=ENOBUFS start_ms=300 duration_ms=500" "$CLI" run -- "$PY" -c '
import errno, socket, sys, time
t0 = time.monotonic()
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
errs = []
while time.monotonic() - t0 < 2.0:
    try:
        s.send(b"x"); s.recv(1)
    except OSError as e:
        errs.append(int((time.monotonic() - t0) * 1000))
    time.sleep(0.005)
print(len(errs) > 0 and "%d %d" % (errs[0], errs[-1]) or "none")' "$ECHO" 2>&1)
[ "$OUT" = none ] && fail "the timed own rule never fired"
set -- $OUT
assert_ge "last injected error before 2 s (duration_ms=500 ended it)" 300 "$2"
assert_took "the own timed fault was over" 1500 "$2"

# --- scenarios -----------------------------------------------------------------------

check "play: a scenario runs end to end, prints each step, and removes the layers it applied"
cat >"$FL_TMP/s.cfg" <<EOF
name = "echo brown-out";
steps = (
  { at = "0s"; apply = { name = "s-slow"; rules = "127.0.0.1:$ECHO fault on=recv delay_ms=5"; }; },
  { at = "200ms"; apply = { name = "s-flaky"; rules = "127.0.0.1:$ECHO fault on=send error=ENOBUFS probability=0.5"; }; },
  { at = 400; remove = ["s-slow"]; }
);
EOF
cli play "$FL_TMP/s.cfg"
assert_eq "play exit status ($ERR)" 0 "$RC"
assert_contains "play output" "$OUT" "apply s-slow: 127.0.0.1:$ECHO fault on=recv delay_ms=5"
assert_contains "play output" "$OUT" "remove s-slow"
assert_contains "play output" "$OUT" "removed 1 layer this scenario applied"
[ "$(echo "$OUT" | grep -n 's-flaky' | head -1 | cut -d: -f1)" -lt "$(echo "$OUT" | grep -n 'remove s-slow' | cut -d: -f1)" ] ||
	fail "steps out of order: $OUT"
cli layers --json
assert_eq "layers after play" "[]" "$OUT"

check "play: the whole file is checked first; every error with its line and key; nothing runs (exit 2)"
cat >"$FL_TMP/bad.cfg" <<EOF
steps = (
  { at = "0s"; apply = { name = "ok"; rules = "127.0.0.1:$ECHO fault error=ENOBUFS"; }; },
  { at = "1x"; trip = "127.0.0.1:1"; },
  { at = "2s"; apply = { name = "b"; rules = "127.0.0.1:$ECHO fault error=ENOBUFS tims=3"; }; },
  { at = "3s"; explode = "now"; }
);
EOF
cli play "$FL_TMP/bad.cfg"
assert_eq "play exit status" 2 "$RC"
assert_contains "error for at" "$ERR" "bad.cfg:3: at:"
assert_contains "error for rules" "$ERR" "tims"
assert_contains "error for the unknown key" "$ERR" "bad.cfg:5: explode"
assert_not_contains "nothing ran" "$OUT" "apply ok"
cli layers --json
assert_eq "layers after a refused scenario" "[]" "$OUT"

check "play: Ctrl-C (SIGINT) stops it and removes the layers it applied"
cat >"$FL_TMP/long.cfg" <<EOF
steps = (
  { at = "0s"; apply = { name = "long"; rules = "127.0.0.1:$ECHO fault on=send error=ENOBUFS"; }; },
  { at = "5m"; remove = "long"; }
);
EOF
"$CLI" play "$FL_TMP/long.cfg" >"$FL_TMP/play.out" 2>&1 &
PLAY=$!
BG_PIDS+=("$PLAY")
wait_for "the scenario's first step" 10 grep -q "apply long" "$FL_TMP/play.out"
wait_for "the layer" 10 sh -c "'$CLI' layers | grep -q long"
kill -INT "$PLAY"
wait "$PLAY"
RC=$?
assert_eq "play exit status after SIGINT" 130 "$RC"
assert_contains "play output" "$(cat "$FL_TMP/play.out")" "removed 1 layer this scenario applied"
cli layers --json
assert_eq "layers after Ctrl-C" "[]" "$OUT"

# --- top -------------------------------------------------------------------------------

if command -v tmux >/dev/null; then
	check "top shows the active layers above the table"
	"$CLI" apply --name shown --for 5m --rules "*:9 fault on=send error=EPIPE; *:10 fault on=send error=EPIPE" >/dev/null
	TMX=(tmux -L "fl-layers-$$" -f /dev/null)
	"${TMX[@]}" new-session -d -s t -x 120 -y 20 "'$CLI' top --domain '$DOMAIN'; sleep 600" || fail "tmux"
	top_shows() { "${TMX[@]}" capture-pane -p -t t | grep -qF "$1"; }
	wait_for "top to show the layer" 10 top_shows "layers (1): shown (2, expires in"
	"$CLI" heal >/dev/null
	top_lacks() { ! top_shows "$1"; }
	wait_for "top to drop the layer" 10 top_lacks "layers ("
	"${TMX[@]}" kill-server >/dev/null 2>&1
fi

# --- propagation --------------------------------------------------------------------

# The target is 1 ms (issue 12; measured in the notes / docs/performance.md);
# on a loaded shared machine a thread may wait for a CPU longer than that, so
# the bound here is 10 ms x the time scale: it fails on a thread that misses
# the change, not on a busy scheduler.
check "a change of layers reaches 8 threads of a running process (one call each ~50 us) promptly (target 1 ms)"
rm -f "$FL_TMP/threads.ready"
"$CLI" run -- "$HELPERS/helper_layer_threads" "$FL_TMP/threads.ready" 8 >"$FL_TMP/threads.out" 2>&1 &
HT=$!
BG_PIDS+=("$HT")
wait_for "helper_layer_threads" 10 test -s "$FL_TMP/threads.ready"
"$CLI" apply --name threads --rules "127.0.0.1:$(cat "$FL_TMP/threads.ready") fault on=send error=ENOBUFS" >/dev/null
wait "$HT" || fail "helper_layer_threads: $(cat "$FL_TMP/threads.out")"
max_us=$(sed -n 's/^max_us //p' "$FL_TMP/threads.out")
[ -n "$max_us" ] || fail "helper_layer_threads: $(cat "$FL_TMP/threads.out")"
echo "   slowest of 8 threads: $max_us us after the layer was published"
assert_took "the layer reached all 8 threads" 10 $(((max_us + 999) / 1000))
"$CLI" heal >/dev/null

done_ok
