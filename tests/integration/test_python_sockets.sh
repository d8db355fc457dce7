# test_python_sockets.sh - python3 with blocking sockets under the shim:
# socket.send/recv, os.write/os.read on a socket, dup, fork, the counting
# keys (after, every, times), probability, rule order, delays.
#
# The server (server.py) is the witness: it logs every connection and the
# bytes it received, so "nothing was sent" is the peer's view, not ours.
. "$(dirname "$0")/lib.sh"
need_build

# py RULES SCRIPT ARGS...: runs a python snippet under the shim; its
# stdout+stderr in $OUT, exit status in $RC.
py() {
	local rules=$1 script=$2
	shift 2
	OUT=$(FAULTLINE_RULES="$rules" shim "$PY" -c "$script" "$@" 2>&1)
	RC=$?
}

sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

start_server sink sink tcp4
SINK=$SERVER_PORT
start_server greet greet tcp4 --greet "hello
"
GREET=$SERVER_PORT

# --- send / os.write -----------------------------------------------------------

check "socket.send fails with the injected ENOMEM and the server receives none of it; os.write still works"
py "127.0.0.1:$SINK fault on=send error=ENOMEM" '
import errno, os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
for what, call in (("send", lambda: s.send(b"via-send")), ("sendall", lambda: s.sendall(b"x" * 100000))):
    try:
        call(); print(what, "sent")
    except OSError as e:
        print(what, errno.errorcode[e.errno])
print("os.write", os.write(s.fileno(), b"via-write"))
s.close()' "$SINK"
assert_eq "python exit status" 0 "$RC"
assert_contains "python output" "$OUT" "send ENOMEM"
assert_contains "python output" "$OUT" "sendall ENOMEM"
assert_contains "python output" "$OUT" "os.write 9"
wait_events sink "closed 1 " 1
assert_contains "server's view" "$(events sink)" "closed 1 9 $(sha via-write)"

check "os.write fails with the injected ENOMEM; socket.send still works"
py "127.0.0.1:$SINK fault on=write error=ENOMEM" '
import errno, os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
try:
    os.write(s.fileno(), b"via-write"); print("os.write sent")
except OSError as e:
    print("os.write", errno.errorcode[e.errno])
print("send", s.send(b"via-send"))
s.close()' "$SINK"
assert_contains "python output" "$OUT" "os.write ENOMEM"
assert_contains "python output" "$OUT" "send 8"
wait_events sink "closed 2 " 1
assert_contains "server's view" "$(events sink)" "closed 2 8 $(sha via-send)"

# --- recv / os.read ------------------------------------------------------------

check "socket.recv fails with ENOMEM and consumes nothing: os.read then gets the greeting"
py "127.0.0.1:$GREET fault on=recv error=ENOMEM" '
import errno, os, select, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
select.select([s], [], [], 5)
try:
    print("recv got", s.recv(100))
except OSError as e:
    print("recv", errno.errorcode[e.errno])
print("os.read got", os.read(s.fileno(), 100))
s.close()' "$GREET"
assert_contains "python output" "$OUT" "recv ENOMEM"
assert_contains "python output" "$OUT" "os.read got b'hello\\n'"

check "os.read fails once (times=1) with ENOMEM, then reads the untouched greeting"
py "127.0.0.1:$GREET fault on=read error=ENOMEM times=1" '
import errno, os, select, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
select.select([s], [], [], 5)
for i in range(2):
    try:
        print("os.read", i, os.read(s.fileno(), 100))
    except OSError as e:
        print("os.read", i, errno.errorcode[e.errno])
s.close()' "$GREET"
assert_contains "python output" "$OUT" "os.read 0 ENOMEM"
assert_contains "python output" "$OUT" "os.read 1 b'hello\\n'"

check "recv delay: socket.recv sleeps at least 300 ms although data is ready, then returns it"
py "127.0.0.1:$GREET fault on=recv delay_ms=300" '
import errno, select, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
select.select([s], [], [], 5)
t = time.monotonic(); data = s.recv(100); took = time.monotonic() - t
print("recv", data, "ms", int(took * 1000))
s.close()' "$GREET"
assert_contains "python output" "$OUT" "recv b'hello\\n'"
ms=$(printf '%s\n' "$OUT" | sed -n 's/.* ms \([0-9]*\)$/\1/p')
assert_ge "recv time (ms)" 300 "${ms:-0}"
assert_le "recv time (ms)" 10000 "${ms:-0}"

# --- dup, fork -----------------------------------------------------------------

check "dup: socket.dup, os.dup, os.dup2 copies are faulted; they outlive the original; a reused number is not"
py "127.0.0.1:$SINK fault on=send error=ENOMEM" '
import errno, os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
def probe(sock):
    try:
        sock.send(b"p"); return "sent"
    except OSError as e:
        return errno.errorcode[e.errno]
d = s.dup()
e = socket.socket(fileno=os.dup(s.fileno()))
f = socket.socket(fileno=os.dup2(s.fileno(), 150))
print("socket.dup", probe(d)); print("os.dup", probe(e)); print("os.dup2", probe(f))
number = s.fileno(); s.close()
print("dup after close of original", probe(d))
d.close(); e.close(); f.close()
u = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
print("reused number", u.fileno() in (number, 150) or "other", probe(u))
u.close()' "$SINK" "$GREET"
assert_contains "python output" "$OUT" "socket.dup ENOMEM"
assert_contains "python output" "$OUT" "os.dup ENOMEM"
assert_contains "python output" "$OUT" "os.dup2 ENOMEM"
assert_contains "python output" "$OUT" "dup after close of original ENOMEM"
assert_contains "python output" "$OUT" "reused number True sent"

check "fork: the child inherits the watched socket; after/times count per process (each starts at zero)"
py "127.0.0.1:$SINK fault on=send error=ENOMEM after=2 times=1" '
import errno, os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
def pattern(n):
    out = ""
    for i in range(n):
        try:
            s.send(b"p"); out += "o"
        except OSError as e:
            out += "X"
    return out
print("parent before fork", pattern(3), flush=True)
pid = os.fork()
if pid == 0:
    print("child", pattern(4), flush=True)
    os._exit(0)
os.waitpid(pid, 0)
print("parent after fork", pattern(2))
s.close()' "$SINK"
assert_contains "python output" "$OUT" "parent before fork ooX"
assert_contains "python output" "$OUT" "child ooXo"
assert_contains "python output" "$OUT" "parent after fork oo"

# --- counting, probability, order ---------------------------------------------

check "after=3 every=2 times=2: the 4th and 6th sends fail, and only the others reach the server"
py "127.0.0.1:$SINK fault on=send error=ENOMEM after=3 every=2 times=2" '
import errno, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
out = ""
for letter in "abcdefghij":
    try:
        s.send(letter.encode()); out += "o"
    except OSError as e:
        out += "X"
print("pattern", out)
s.close()' "$SINK"
assert_contains "python output" "$OUT" "pattern oooXoXoooo"
# (what one connection delivered: " BYTES SHA" at the end of its "closed" line)
wait_events sink " 8 $(sha abceghij)" 1

check "probability=1 fires on every call, probability=0 on none"
script='
import errno, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
fired = 0
for i in range(50):
    try:
        s.send(b"p")
    except OSError as e:
        fired += 1
print("fired", fired)
s.close()'
py "127.0.0.1:$SINK fault on=send error=ENOMEM probability=1" "$script" "$SINK"
assert_contains "python output (probability=1)" "$OUT" "fired 50"
py "127.0.0.1:$SINK fault on=send error=ENOMEM probability=0" "$script" "$SINK"
assert_contains "python output (probability=0)" "$OUT" "fired 0"
FAULTLINE_SEED=1 py "127.0.0.1:$SINK fault on=send error=ENOMEM probability=0.5" "$script" "$SINK"
fired=$(printf '%s\n' "$OUT" | sed -n 's/^fired //p')
assert_ge "faults fired at probability=0.5 of 50" 10 "${fired:-0}"
assert_le "faults fired at probability=0.5 of 50" 40 "${fired:-0}"

check "several matching faults: evaluated in order, the first that fires wins"
py "127.0.0.1:$SINK fault on=send error=ENOMEM after=1; 127.0.0.1:$SINK fault on=send error=ENOBUFS" '
import errno, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
for i in range(2):
    try:
        s.send(b"p"); print(i, "sent")
    except OSError as e:
        print(i, "errno", e.errno)
s.close()' "$SINK"
assert_contains "first send: first rule waits (after=1), second rule fires" "$OUT" "0 errno 105"
assert_contains "second send: first rule fires" "$OUT" "1 errno 12"

# --- delays, connect, non-matching ---------------------------------------------

check "send delay: each send sleeps at least 400 ms (without burning CPU), then the data arrives"
py "127.0.0.1:$SINK fault on=send delay_ms=400" '
import errno, resource, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
cpu = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
t, c = time.monotonic(), cpu()
s.send(b"delayed")
print("ms", int((time.monotonic() - t) * 1000), "cpu_ms", int((cpu() - c) * 1000))
s.close()' "$SINK"
ms=$(printf '%s\n' "$OUT" | sed -n 's/^ms \([0-9]*\) .*/\1/p')
cpu=$(printf '%s\n' "$OUT" | sed -n 's/.* cpu_ms \([0-9]*\)$/\1/p')
assert_ge "send time (ms)" 400 "${ms:-0}"
assert_le "send time (ms)" 10000 "${ms:-0}"
assert_le "CPU time while sleeping (ms)" 200 "${cpu:-99999}"
wait_events sink " 7 $(sha delayed)" 1

check "jitter: delay_ms=200 jitter_ms=100 gives each send 100..300 ms (upper bound generous)"
py "127.0.0.1:$SINK fault on=send delay_ms=200 jitter_ms=100" '
import errno, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
times = []
for i in range(5):
    t = time.monotonic(); s.send(b"p"); times.append(int((time.monotonic() - t) * 1000))
print("min", min(times), "max", max(times))
s.close()' "$SINK"
lo=$(printf '%s\n' "$OUT" | sed -n 's/^min \([0-9]*\) .*/\1/p')
hi=$(printf '%s\n' "$OUT" | sed -n 's/.* max \([0-9]*\)$/\1/p')
assert_ge "shortest jittered send (ms)" 100 "${lo:-0}"
assert_le "longest jittered send (ms)" 5000 "${hi:-99999}"

check "blocking connect: ConnectionRefusedError from the rule, and the server never sees a connection"
before=$(accepted sink)
py "127.0.0.1:$SINK fault on=connect error=ECONNREFUSED" '
import errno, socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5); print("connected")
except ConnectionRefusedError:
    print("refused")' "$SINK"
assert_contains "python output" "$OUT" "refused"
assert_no_connection sink "$before" "$SINK"

check "UDP: a connected datagram socket is watched (nothing arrives); unconnected sendto passes"
py "127.0.0.1 fault on=send error=ECONNREFUSED" '
import errno, socket
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.bind(("127.0.0.1", 0))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.connect(r.getsockname())
try:
    u.send(b"connected"); print("connected send: sent")
except ConnectionRefusedError:
    print("connected send: ECONNREFUSED")
v = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
v.sendto(b"unconnected", r.getsockname())
r.settimeout(5)
print("receiver got", r.recv(100))'
assert_contains "python output" "$OUT" "connected send: ECONNREFUSED"
assert_contains "python output (only the unconnected datagram arrived)" "$OUT" "receiver got b'unconnected'"

check "a destination no rule matches is untouched (rule for another port)"
py "127.0.0.1:$SINK fault on=all error=ECONNREFUSED" '
import errno, os, select, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
select.select([s], [], [], 5)
print("got", s.recv(100)); print("sent", s.send(b"x"))
s.close()' "$GREET"
assert_contains "python output" "$OUT" "got b'hello\\n'"
assert_contains "python output" "$OUT" "sent 1"

done_ok
