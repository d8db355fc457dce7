# test_names_ring.sh - how a process with no statement on names keeps what
# it resolves for layers (SPEC 7 + 9) since lookups go into a ring of raw
# results (shim/resolve.c "The ring"): it is fed into the name map only when
# a layer statement on a name asks, from many threads at once, through
# getaddrinfo and gethostbyname, and holds the last 256 lookups, a lookup
# that repeats the one before not counting. Names come from an /etc/hosts
# made in a private mount namespace (as test_names.sh); the program listens
# on loopback itself; no real DNS is asked.
if [ -z "${FL_DNS_NS:-}" ]; then
	for how in -m -rm; do
		if unshare "$how" true 2>/dev/null; then
			FL_DNS_NS=$how exec unshare "$how" bash "$0" "$@"
		fi
	done
fi
. "$(dirname "$0")/lib.sh"
[ -n "${FL_DNS_NS:-}" ] || skip "no private mount namespace (unshare -m or -rm): /etc/hosts cannot be set for the test"
need_cmd getent

{
	cat /etc/hosts
	echo "127.0.0.2 api.test"
	echo "127.0.0.3 api.test"
	echo "127.0.0.4 one.test"
	echo "127.0.0.5 twa.test twb.test tail.test-a tail.test-b"
	for i in $(seq 0 299); do
		echo "127.0.0.5 n$i.ring.test"
	done
} >"$FL_TMP/hosts"
mount --bind "$FL_TMP/hosts" /etc/hosts || skip "cannot bind-mount over /etc/hosts here"
assert_contains "getent ahosts n299.ring.test (no shim)" "$(getent ahosts n299.ring.test)" "127.0.0.5"

# ring.py MODE CLI: listens on 127.0.0.2-5 (one port), resolves as MODE
# says, applies a layer refusing connects to a name (the CLI without the
# shim), and prints one character per connect: E refused, . connected.
cat >"$FL_TMP/ring.py" <<'PY'
import errno, os, socket, subprocess, sys, threading, time
mode, cli = sys.argv[1], sys.argv[2]
env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
lsn = []
for a in ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"):
    s = socket.socket()
    s.bind((a, lsn[0].getsockname()[1] if lsn else 0))
    s.listen(1024)
    lsn.append(s)
port = lsn[0].getsockname()[1]
def gai(name):
    socket.getaddrinfo(name, port, socket.AF_INET, socket.SOCK_STREAM)
def attempt(addr):
    s = socket.socket()
    try:
        s.connect((addr, port)); return "."
    except OSError as e:
        return "E" if e.errno == errno.ECONNREFUSED else "?"
    finally:
        s.close()
def layer(cmd, target=None):
    args = [cli, cmd, "ring"] if cmd == "remove" else [cli, "apply", "--name", "ring", "--rules",
            "%s:%d fault on=connect error=ECONNREFUSED" % (target, port)]
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL)
def api_one():
    return attempt("127.0.0.2") + attempt("127.0.0.3") + attempt("127.0.0.4")
out = []
if mode == "threads":
    gai("api.test")
    stop = threading.Event()
    rounds = [0] * 8
    def work(k):
        while not stop.is_set() and rounds[k] < 5000:
            gai("n%d.ring.test" % k)
            gai("api.test")
            rounds[k] += 1
    ts = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in ts:
        t.start()
    deadline = time.time() + 30
    while min(rounds) < 20 and time.time() < deadline:
        time.sleep(0.01)
    layer("apply", "api.test")
    for i in range(20):
        out.append(api_one())
    stop.set()
    for t in ts:
        t.join()
    out.append("busy" if min(rounds) >= 20 else "idle")
elif mode == "repeat":
    gai("api.test")
    for i in range(1000):
        gai("one.test")
    layer("apply", "api.test")
    out.append(api_one())
elif mode == "hostent":
    import ctypes # libc's gethostbyname itself (python's socket functions use getaddrinfo first)
    libc = ctypes.CDLL(None)
    libc.gethostbyname.restype = ctypes.c_void_p
    if not libc.gethostbyname(b"api.test"):
        out.append("unresolved")
    layer("apply", "api.test")
    out.append(api_one())
elif mode == "bound":
    gai("api.test")
    for i in range(300):
        gai("n%d.ring.test" % i)
    layer("apply", "api.test")
    out.append(api_one())
    layer("remove")
    layer("apply", "n299.ring.test")
    out.append(attempt("127.0.0.5"))
elif mode == "twins":
    # same address, same length, the names differ in their last 8 bytes
    # only: the second is not a repeat of the first
    for a, b in (("twa.test", "twb.test"), ("tail.test-a", "tail.test-b")):
        gai(a)
        gai(b)
        layer("apply", b)
        out.append(attempt("127.0.0.5"))
        layer("remove")
print(" ".join(out))
PY

check "8 threads resolving while a layer on api.test:PORT is applied and connects ask the map: every connect to the name's addresses is refused, none to another name's"
use_domain ring-threads
OUT=$("$CLI" run -- "$PY" "$FL_TMP/ring.py" threads "$CLI" 2>&1)
EXPECT=$(printf 'EE. %.0s' $(seq 20))busy
assert_eq "20 rounds of 127.0.0.2, 127.0.0.3, 127.0.0.4 (one.test), then the threads were busy" "$EXPECT" "$OUT"

check "a name resolved once, then another name 1000 times: the repeats take one place in the ring, the layer still reaches the first name"
use_domain ring-repeat
OUT=$("$CLI" run -- "$PY" "$FL_TMP/ring.py" repeat "$CLI" 2>&1)
assert_eq "127.0.0.2, 127.0.0.3, 127.0.0.4" "EE." "$OUT"

check "gethostbyname (called through ctypes) feeds the ring too"
use_domain ring-hostent
OUT=$("$CLI" run -- "$PY" "$FL_TMP/ring.py" hostent "$CLI" 2>&1)
assert_eq "127.0.0.2, 127.0.0.3, 127.0.0.4" "EE." "$OUT"

check "the ring holds the last 256 lookups: a name resolved before 300 other names is not reached (documented), the last one is"
use_domain ring-bound
OUT=$("$CLI" run -- "$PY" "$FL_TMP/ring.py" bound "$CLI" 2>&1)
assert_eq "api.test's addresses and one.test's; then n299's address" "... E" "$OUT"

check "two names of one length and one address, differing only near the end, one after the other: the second is kept too (not taken for a repeat)"
use_domain ring-twins
OUT=$("$CLI" run -- "$PY" "$FL_TMP/ring.py" twins "$CLI" 2>&1)
assert_eq "127.0.0.5 after twa.test, twb.test; after tail.test-a, tail.test-b" "E E" "$OUT"

done_ok
