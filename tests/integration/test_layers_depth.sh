# test_layers_depth.sh - layers carry what an experiment needs (SPEC 7, 10):
# connection-fault keys (eof), `shape`, `on=close` slow closes and timed
# connection faults, applied live to a python program with no rules of its
# own whose connection was opened before the layer; every action shows in
# `faultline events` with the layer statement's text as its destination.
# Kinds a layer cannot keep (rate_limit, resolve) are refused with a
# message naming what a layer takes.
. "$(dirname "$0")/lib.sh"
use_domain layers-depth

start_server echo echo tcp4
ECHO=$SERVER_PORT
CX="$FL_TOP/tests/integration/cx_server.py"
start_bg frames "$PY" -u "$CX" --ready "$FL_TMP/frames.ready" --events "$FL_TMP/frames.events" \
	--mode frames --count 400 --size 996
wait_for "frames server" 10 test -s "$FL_TMP/frames.ready"
FRAMES=$(cat "$FL_TMP/frames.ready")
LAYER_IDX=1073741824 # FL_LAYER_IDX: statement numbers of layer slots start here

# evq PYTHON-EXPR: the events (JSON) as `ev`, a list; prints the expression.
evq() {
	"$CLI" events --json 2>/dev/null | "$PY" -c '
import json, sys
ev = [json.loads(l) for l in sys.stdin if l.strip()]
print(eval(sys.argv[1]))' "$1"
}

check "eof=true in a layer (a connection-fault key) applies to an open connection at the next call, and ends at remove"
OUT=$("$CLI" run -- "$PY" -c '
import os, socket, subprocess, sys
cli, port = sys.argv[1], int(sys.argv[2])
env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
s = socket.create_connection(("127.0.0.1", port))
res = ""
for i in range(12):
    if i == 4:
        subprocess.run([cli, "apply", "--name", "eof", "--rules",
                        "127.0.0.1:%d fault on=recv eof=true" % port], env=env, check=True,
                       stdout=subprocess.DEVNULL)
    if i == 8:
        subprocess.run([cli, "remove", "eof"], env=env, check=True, stdout=subprocess.DEVNULL)
    s.sendall(b"x")
    res += "." if s.recv(1) == b"x" else "E"
print(res)' "$CLI" "$ECHO")
# the byte of an eof-ed call is still queued: the first recv after remove reads it
assert_eq "recv per call (E = eof)" "....EEEE...." "$OUT"
ev=$(evq '[(e["what"], e["count"], e["statement"] >= '$LAYER_IDX', e["destination"]) for e in ev if e["kind"] == "connection"]')
assert_contains "an eof summary for the layer statement" "$ev" "('eof', 4, True, '127.0.0.1:$ECHO fault on=recv eof=true')"

check "shape in a layer slows an open connection at once (fl_cx_setup on rematch): 350 KB at 100 KB/s"
OUT=$("$CLI" run -- "$PY" -c '
import os, socket, subprocess, sys, time
cli, port = sys.argv[1], int(sys.argv[2])
env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
s = socket.create_connection(("127.0.0.1", port))
def read(n):
    got = 0
    while got < n:
        c = s.recv(min(65536, n - got))
        if not c:
            break
        got += len(c)
    return got
t0 = time.monotonic(); a = read(50000); fast = time.monotonic() - t0
subprocess.run([cli, "apply", "--name", "slow", "--rules", "127.0.0.1:%d shape rate_kbps=100 on=recv" % port],
               env=env, check=True, stdout=subprocess.DEVNULL)
t0 = time.monotonic(); b = read(350000); slow = time.monotonic() - t0
print(a, b, int(fast * 1000), int(slow * 1000))' "$CLI" "$FRAMES")
read -r a b fast slow <<<"$OUT"
assert_eq "bytes read before and after" "50000 350000" "$a $b"
assert_le "before the layer: not shaped (ms)" "$(scaled 1000)" "$fast"
# (350 - 64 KB burst) / 100 KB/s = 2.86 s
assert_ge "after the layer: shaped (ms)" 2700 "$slow"
assert_le "after the layer: not much slower than the rate (ms)" "$(scaled 6000)" "$slow"
ev=$(evq 'sum(e["count"] for e in ev if e["kind"] == "connection" and e["what"] == "shaped" and e["statement"] >= '$LAYER_IDX')')
assert_ge "shaping waits summarised" 1 "$ev"
"$CLI" heal >/dev/null

check "on=close delay_ms in a layer: a blocking close of an open connection takes the delay"
OUT=$("$CLI" run -- "$PY" -c '
import os, socket, subprocess, sys, time
cli, port = sys.argv[1], int(sys.argv[2])
env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
a = socket.create_connection(("127.0.0.1", port))
b = socket.create_connection(("127.0.0.1", port))
t0 = time.monotonic(); a.close(); before = time.monotonic() - t0
subprocess.run([cli, "apply", "--name", "slowclose", "--rules", "127.0.0.1:%d fault on=close delay_ms=400" % port],
               env=env, check=True, stdout=subprocess.DEVNULL)
t0 = time.monotonic(); b.close(); after = time.monotonic() - t0
print(int(before * 1000), int(after * 1000))' "$CLI" "$ECHO")
read -r before after <<<"$OUT"
assert_le "close before the layer (ms)" 200 "$before"
assert_ge "close under the layer (ms)" 390 "$after"
assert_le "close under the layer (ms)" "$(scaled 2000)" "$after"
ev=$(evq '[(e["what"], e["count"], e["ms"], e["ops"]) for e in ev if e["kind"] == "connection" and e["what"] == "close_delay"]')
assert_eq "close_delay summary" "[('close_delay', 1, 400, 'close')]" "$ev"
"$CLI" heal >/dev/null

check "a timed connection fault in a layer (eof with start_ms/duration_ms): off, on, off again"
OUT=$("$CLI" run -- "$PY" -c '
import os, socket, subprocess, sys, time
cli, port = sys.argv[1], int(sys.argv[2])
env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
s = socket.create_connection(("127.0.0.1", port))
subprocess.run([cli, "apply", "--name", "timed", "--rules",
                "127.0.0.1:%d fault on=recv eof=true start_ms=600 duration_ms=800" % port],
               env=env, check=True, stdout=subprocess.DEVNULL)
t0 = time.monotonic(); res = []
while time.monotonic() - t0 < 2.2 and len(res) < 400:
    s.sendall(b"x")
    res.append((time.monotonic() - t0, s.recv(1) == b""))
    time.sleep(0.02)
eofs = [t for t, e in res if e]
print(len(eofs), int(min(eofs) * 1000) if eofs else -1, int(max(eofs) * 1000) if eofs else -1, int(res[-1][0] * 1000), res[-1][1])' "$CLI" "$ECHO")
read -r n first last end lastcall <<<"$OUT"
assert_ge "calls that got eof" 5 "$n"
assert_ge "first eof after start_ms (ms since apply returned, >= 600 - CLI time)" 400 "$first"
assert_le "last eof before start_ms + duration_ms (ms)" 1450 "$last"
assert_eq "the last call (after the window) is not eof" False "$lastcall"
"$CLI" heal >/dev/null

check "a layer's fault statement is summarised with the layer statement's text (cut to 47 bytes) and number"
FP=$(free_port)
cli apply --name refuse --rules "127.0.0.1:$FP fault on=connect error=ECONNREFUSED"
OUT=$("$CLI" run -- "$PY" -c '
import socket, sys
n = 0
for i in range(20):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1]))).close()
    except ConnectionRefusedError:
        n += 1
print(n)' "$FP")
assert_eq "refused by the layer" 20 "$OUT"
ev=$(evq 'sum(e["count"] for e in ev if e["kind"] == "fault" and e["destination"].startswith("127.0.0.1:'$FP' fault on=connect error=") and e["statement"] >= '$LAYER_IDX')')
assert_eq "injections summarised for the layer statement" 20 "$ev"
"$CLI" heal >/dev/null

check "rate_limit and resolve statements are refused in a layer, naming what a layer takes"
cli apply --name rl --rules "127.0.0.1:$ECHO rate_limit rate=5"
assert_eq "rate_limit: exit status" 2 "$RC"
assert_contains "rate_limit: message" "$ERR" "a rate_limit statement cannot be kept in a layer (a layer takes fault, shape, breaker and bulkhead statements)"
cli apply --name rs --rules "api.example.test fault on=resolve error=EAI_AGAIN"
assert_eq "on=resolve: exit status" 2 "$RC"
assert_contains "on=resolve: message" "$ERR" "faults on=resolve cannot be kept in a layer"
cli layers
assert_eq "nothing applied" "" "$(grep -E '^(rl|rs) ' <<<"$OUT")"

done_ok
