# test_connfaults.sh - connection faults beyond errno (SPEC 10) on real
# programs: max_bytes (python framing), eof, hang_ms (curl --max-time,
# python socket timeouts, SO_RCVTIMEO, an event loop that must not spin),
# close_after_bytes (curl, a server that sees the reset), corrupt
# (sha256sum), and a slow close.
. "$(dirname "$0")/lib.sh"
need_cmd curl sha256sum
need_build

CX="$FL_TOP/tests/integration/cx_server.py"
cx_server() { # NAME MODE ARGS...: sets CX_PORT
	local name=$1
	shift
	start_bg "$name" "$PY" -u "$CX" --ready "$FL_TMP/$name.ready" --events "$FL_TMP/$name.events" --mode "$@"
	wait_for "server $name" 10 test -s "$FL_TMP/$name.ready"
	CX_PORT=$(cat "$FL_TMP/$name.ready")
}
cx_events() { cat "$FL_TMP/$1.events" 2>/dev/null || true; }
json_conn() { # DEST OP KEY: a counter of stats --json "connection"
	"$CLI" stats --json | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
for e in d["destinations"]:
    if e["destination"] == sys.argv[1]:
        print(e["connection"][sys.argv[2]][sys.argv[3]]); break
else:
    print(0)' "$1" "$2" "$3"
}

cx_server frames frames --count 50 --size 300
FRAMES=$CX_PORT

# Reads length-prefixed messages as a correct client must: loop until each
# header and each body is whole.
cat >"$FL_TMP/good.py" <<'PY'
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
def exact(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise SystemExit("eof after %d of %d bytes" % (len(b), n))
        b += c
    return b
for i in range(50):
    (n,) = struct.unpack(">I", exact(4))
    body = exact(n)
    unit = ("msg-%d-" % i).encode()
    if body != (unit * (n // len(unit) + 1))[:n]:
        raise SystemExit("message %d is wrong" % i)
print("whole 50")
PY
# Assumes one recv is one message: the bug max_bytes finds.
cat >"$FL_TMP/naive.py" <<'PY'
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
data = s.recv(65536)
if len(data) < 4 or len(data) < 4 + struct.unpack(">I", data[:4])[0]:
    raise SystemExit("torn message: %d bytes" % len(data))
print("naive ok")
PY

check "max_bytes=1: a client that loops gets every message whole"
out=$(FAULTLINE_RULES="127.0.0.1:$FRAMES fault on=recv max_bytes=1" shim timeout 60 "$PY" "$FL_TMP/good.py" "$FRAMES" 2>&1)
assert_eq "framed client" "whole 50" "$out"
short=$(json_conn "127.0.0.1:$FRAMES" recv short_io)
assert_ge "short reads counted (stats --json connection.recv.short_io)" 15000 "$short"

check "max_bytes=1: a client that takes one recv for one message fails"
# (first without the fault: the naive client passes, so the fault is what bites)
wait_for "naive client passing without faults" 10 "$PY" "$FL_TMP/naive.py" "$FRAMES"
out=$(FAULTLINE_RULES="127.0.0.1:$FRAMES fault on=recv max_bytes=1" shim timeout 60 "$PY" "$FL_TMP/naive.py" "$FRAMES" 2>&1)
assert_contains "naive client" "$out" "torn message: 1 bytes"

check "eof=true: recv answers 0 at once (the peer closed), nothing consumed"
out=$(FAULTLINE_RULES="127.0.0.1:$FRAMES fault on=recv eof=true times=1" shim timeout 60 "$PY" -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
first = s.recv(100)
second = s.recv(4)
print(len(first), second[:4] == b"\x00\x00\x01\x2c")' "$FRAMES" 2>&1)
assert_eq "first recv empty, then the stream from its first byte" "0 True" "$out"
assert_eq "eofs counted" 1 "$(json_conn "127.0.0.1:$FRAMES" recv eofs)"

head -c 1000000 /dev/urandom >"$FL_TMP/blob"
SUM=$(sha256sum <"$FL_TMP/blob" | cut -d' ' -f1)
cx_server file file --file "$FL_TMP/blob"
FILE=$CX_PORT

check "hang_ms=0 on recv: curl --max-time 2 gives up after 2 s (exit 28), no spinning"
t0=$(now_ms)
FAULTLINE_RULES="127.0.0.1:$FILE fault on=recv hang_ms=0" shim curl -sS --max-time 2 -o "$FL_TMP/hang.out" \
	"http://127.0.0.1:$FILE/blob" 2>"$FL_TMP/hang.err"
rc=$?
took=$(($(now_ms) - t0))
assert_eq "curl exit status (operation timed out)" 28 "$rc"
assert_ge "curl waited its --max-time" 1900 "$took"
assert_took "curl under a blackhole" 6000 "$took"
calls=$("$CLI" stats --json | "$PY" -c '
import json, sys
for e in json.load(sys.stdin)["destinations"]:
    if e["destination"] == sys.argv[1]: print(e["ops"]["recv"]["calls"])' "127.0.0.1:$FILE")
assert_le "recv calls in 2 s (an event loop woken for nothing would make thousands)" 5 "$calls"

check "hang_ms on a python socket with a timeout: socket.timeout when it is due"
out=$(FAULTLINE_RULES="127.0.0.1:$FRAMES fault on=recv hang_ms=0" shim timeout 30 "$PY" -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(1.0)
t = time.monotonic()
try:
    s.recv(10)
    print("got data")
except socket.timeout:
    print("timeout %.1f" % (time.monotonic() - t))' "$FRAMES" 2>&1)
assert_contains "python" "$out" "timeout 1."

check "hang_ms on a blocking socket honours SO_RCVTIMEO (EAGAIN), and hang_ms=300 ends by itself"
out=$(FAULTLINE_RULES="127.0.0.1:$FRAMES fault on=recv hang_ms=0 times=1; 127.0.0.1:$FRAMES fault on=recv hang_ms=300" \
	shim timeout 30 "$PY" -c '
import errno, socket, struct, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 1, 0))
for _ in range(2):
    t = time.monotonic()
    try:
        s.recv(10)
        print("data")
    except OSError as e:
        print(errno.errorcode[e.errno], round(time.monotonic() - t, 1))' "$FRAMES" 2>&1)
assert_contains "first recv: SO_RCVTIMEO (1 s)" "$out" "EAGAIN 1.0"
assert_contains "second recv: hang_ms=300" "$out" "EAGAIN 0.3"

check "close_after_bytes: curl's transfer ends part-way with a reset, the server sees it"
FAULTLINE_RULES="127.0.0.1:$FILE fault on=recv close_after_bytes=100000" shim curl -sS --max-time 30 \
	-o "$FL_TMP/part" "http://127.0.0.1:$FILE/blob" 2>"$FL_TMP/part.err"
rc=$?
# SPEC 10: further calls fail with ECONNRESET, which curl reports as a
# receive failure (56); a transfer cut by the peer's close would be 18.
assert_eq "curl exit status (Recv failure: Connection reset by peer)" 56 "$rc"
size=$(stat -c %s "$FL_TMP/part")
assert_ge "bytes kept (the part before the cut)" 99000 "$size"
assert_le "bytes kept" 100000 "$size"
wait_for "the server to log the reset" 20 grep -q '^reset ' "$FL_TMP/file.events"
assert_eq "resets counted" 1 "$(json_conn "127.0.0.1:$FILE" recv resets)"

check "corrupt=0.01 changes the downloaded file's SHA-256; max_bytes leaves it identical"
FAULTLINE_RULES="127.0.0.1:$FILE fault on=recv max_bytes=700" shim curl -sS --max-time 60 -o "$FL_TMP/cut" \
	"http://127.0.0.1:$FILE/blob"
assert_eq "sha256 under max_bytes" "$SUM" "$(sha256sum <"$FL_TMP/cut" | cut -d' ' -f1)"
# The corrupted download is a raw stream (socat from a server that sends
# the file and closes): over HTTP, a flipped byte in the response header
# makes curl refuse the response instead of saving a corrupted body.
start_server raw sendfile tcp4 --file "$FL_TMP/blob"
RAW=$SERVER_PORT
FAULTLINE_RULES="127.0.0.1:$RAW fault on=recv,read corrupt=0.01" shim timeout 60 socat -u \
	"TCP:127.0.0.1:$RAW" "OPEN:$FL_TMP/bad,creat,trunc"
assert_eq "socat exit status (corruption is silent)" 0 "$?"
assert_eq "bytes received" 1000000 "$(wc -c <"$FL_TMP/bad")"
assert_ne "sha256 under corrupt" "$SUM" "$(sha256sum <"$FL_TMP/bad" | cut -d' ' -f1)"
flips=$(($(json_conn "127.0.0.1:$RAW" recv corrupted_bytes) + $(json_conn "127.0.0.1:$RAW" read corrupted_bytes)))
assert_ge "corrupted bytes counted (~1% of 1 MB)" 5000 "$flips"
assert_le "corrupted bytes counted" 15000 "$flips"

check "on=close delay_ms=400: close of a blocking socket takes 400 ms"
out=$(FAULTLINE_RULES="127.0.0.1:$FRAMES fault on=close delay_ms=400" shim timeout 30 "$PY" -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
t = time.monotonic()
s.close()
print(round(time.monotonic() - t, 1))' "$FRAMES" 2>&1)
assert_eq "close took" "0.4" "$out"

done_ok
