# test_names.sh - host names where SPEC 9 meets SPEC 7 and 11: a breaker's
# `fallback=NAME:PORT`, and layers (`faultline apply`) whose statements name
# hosts, with real programs (python3 sockets, curl). Names come from an
# /etc/hosts made in a private mount namespace (as test_dns.sh) or from the
# `resolve` kind; every server listens on loopback; no real DNS is asked.
if [ -z "${FL_DNS_NS:-}" ]; then
	for how in -m -rm; do
		if unshare "$how" true 2>/dev/null; then
			FL_DNS_NS=$how exec unshare "$how" bash "$0" "$@"
		fi
	done
fi
. "$(dirname "$0")/lib.sh"
[ -n "${FL_DNS_NS:-}" ] || skip "no private mount namespace (unshare -m or -rm): /etc/hosts cannot be set for the test"
need_cmd curl getent
use_domain names

{
	cat /etc/hosts
	echo "127.0.0.2 api.test"
	echo "127.0.0.3 api.test"
	echo "127.0.0.1 backup.test"
} >"$FL_TMP/hosts"
mount --bind "$FL_TMP/hosts" /etc/hosts || skip "cannot bind-mount over /etc/hosts here"
assert_contains "getent ahosts backup.test (no shim)" "$(getent ahosts backup.test)" "127.0.0.1"

start_server standby http tcp4
STANDBY=$SERVER_PORT
PRIMARY=$(free_port)

# client.py MODE PORT N: N HTTP requests to 127.0.0.1:PORT, one connection
# each; prints ok or err:ERRNO per request.
cat >"$FL_TMP/client.py" <<'PY'
import asyncio, socket, sys
mode, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
REQ = b"GET / HTTP/1.0\r\nHost: x\r\n\r\n"
def blocking():
    s = socket.socket()
    s.settimeout(10)
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(REQ)
        data = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            data += b
        return "ok" if data.startswith(b"HTTP/") else "short"
    except OSError as e:
        return "err:%d" % e.errno
    finally:
        s.close()
async def nonblocking():
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    except OSError as e:
        return "err:%d" % e.errno
    w.write(REQ)
    data = await asyncio.wait_for(r.read(), 5)
    w.close()
    return "ok" if data.startswith(b"HTTP/") else "short"
print(" ".join(blocking() if mode == "blocking" else asyncio.run(nonblocking()) for _ in range(n)))
PY

# --- fallback=NAME:PORT ---------------------------------------------------------

check "fallback=NAME:PORT from /etc/hosts: a python client whose primary is down fails over to the name's server"
use_domain names-fb-hosts
export FAULTLINE_RULES="127.0.0.1:$PRIMARY breaker failure_threshold=2 timeout_ms=60000 fallback=backup.test:$STANDBY"
before=$(accepted standby)
OUT=$(shim "$PY" "$FL_TMP/client.py" blocking "$PRIMARY" 5)
assert_eq "two refusals open the breaker, then the standby (found by name) serves" "err:111 err:111 ok ok ok" "$OUT"
OUT=$(shim "$PY" "$FL_TMP/client.py" asyncio "$PRIMARY" 2)
assert_eq "non-blocking connects fail over too" "ok ok" "$OUT"
assert_eq "fallbacks counted" 5 "$(json_get "d('127.0.0.1:$PRIMARY')['breaker']['fallbacks']")"
assert_eq "the standby served them" 5 "$(($(accepted standby) - before))"
cli check --rules "$FAULTLINE_RULES"
assert_contains "check prints the name back" "$OUT" "fallback=backup.test:$STANDBY"
cli set "127.0.0.1:$PRIMARY" "fallback=backup.test:$STANDBY"
assert_eq "set with a name: exit" 2 "$RC"
assert_contains "set with a name" "$ERR" "set takes an address"
cli set "127.0.0.1:$PRIMARY" "fallback=127.0.0.1:$STANDBY"
assert_eq "set with an address: exit ($ERR)" 0 "$RC"

check "fallback=NAME:PORT through a resolve override (a name /etc/hosts does not know)"
use_domain names-fb-override
export FAULTLINE_RULES="127.0.0.1:$PRIMARY breaker failure_threshold=1 timeout_ms=60000 fallback=stub.internal:$STANDBY;
stub.internal resolve address=127.0.0.1"
OUT=$(shim "$PY" "$FL_TMP/client.py" blocking "$PRIMARY" 3)
assert_eq "one refusal, then the override's address serves" "err:111 ok ok" "$OUT"
assert_eq "fallbacks" 2 "$(json_get "d('127.0.0.1:$PRIMARY')['breaker']['fallbacks']")"

check "the fallback connect matches the name's own statements (a breaker on NAME:PORT counts it)"
use_domain names-fb-named
export FAULTLINE_RULES="127.0.0.1:$PRIMARY breaker failure_threshold=1 timeout_ms=60000 fallback=backup.test:$STANDBY;
backup.test:$STANDBY breaker"
OUT=$(shim "$PY" "$FL_TMP/client.py" blocking "$PRIMARY" 3)
assert_eq "requests" "err:111 ok ok" "$OUT"
assert_eq "the standby's row is the name's, with the 2 calls" 2 "$(json_get "d('backup.test:$STANDBY')['breaker']['calls']")"

check "a fallback name that does not resolve: connects are refused as without a fallback, with a warning"
use_domain names-fb-none
export FAULTLINE_RULES="127.0.0.1:$PRIMARY breaker failure_threshold=1 timeout_ms=60000 fallback=nowhere.invalid:$STANDBY"
OUT=$(shim "$PY" "$FL_TMP/client.py" blocking "$PRIMARY" 3 2>"$FL_TMP/none.err")
assert_eq "refused, then rejected by the open breaker" "err:111 err:111 err:111" "$OUT"
assert_contains "warning" "$(cat "$FL_TMP/none.err")" "fallback nowhere.invalid:$STANDBY does not resolve"
assert_eq "no fallbacks" 0 "$(json_get "d('127.0.0.1:$PRIMARY')['breaker']['fallbacks']")"
unset FAULTLINE_RULES

check "bad input: a fallback equal to its own name and port; a wildcard; set and layers refuse names"
cli check --rules "api.test:80 breaker fallback=API.test.:80"
assert_eq "exit" 2 "$RC"
assert_contains "own destination" "$ERR" "--rules:1:1: fallback api.test:80 is the statement's own destination"
cli check --rules "api.test:80 breaker fallback=*.test:80"
assert_eq "exit" 2 "$RC"
assert_contains "wildcard" "$ERR" "must be one host name and one port"
cli apply --name fbname --rules "127.0.0.1:$PRIMARY breaker fallback=backup.test:$STANDBY"
assert_eq "apply exit" 2 "$RC"
assert_contains "apply" "$ERR" "a layer's fallback must be an address"

# --- layers on names ------------------------------------------------------------

check "a layer on api.test:PORT applied while a python loop runs (no rules of its own) faults the name's addresses, and only those"
use_domain names-layer
P2=$(free_port)
start_bg web2 "$PY" -m http.server "$P2" --bind 127.0.0.2
start_bg web3 "$PY" -m http.server "$P2" --bind 127.0.0.3
wait_port "$P2" 127.0.0.2
wait_port "$P2" 127.0.0.3
OUT=$("$CLI" run -- "$PY" -c '
import errno, os, socket, subprocess, sys
cli, port, other = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
addrs = sorted({a[4][0] for a in socket.getaddrinfo("api.test", port, socket.AF_INET, socket.SOCK_STREAM)})
def attempt(addr, p):
    s = socket.socket()
    try:
        s.connect((addr, p)); return "."
    except OSError as e:
        return "E" if e.errno == errno.ECONNREFUSED else "?"
    finally:
        s.close()
res = []
for i in range(12):
    if i == 4:
        subprocess.run([cli, "apply", "--name", "dnsout", "--rules",
                        "api.test:%d fault on=connect error=ECONNREFUSED" % port], env=env, check=True,
                       stdout=subprocess.DEVNULL)
    if i == 8:
        subprocess.run([cli, "remove", "dnsout"], env=env, check=True, stdout=subprocess.DEVNULL)
    res.append("".join(attempt(a, port) for a in addrs) + attempt("127.0.0.1", other))
print(" ".join(res))' "$CLI" "$P2" "$STANDBY" 2>&1)
assert_eq "per step: 127.0.0.2, 127.0.0.3, then an address no name gave" \
	"... ... ... ... EE. EE. EE. EE. ... ... ... ..." "$OUT"

check "a layer on a name reaches a process with rules of its own too, and its breaker keys the name"
use_domain names-layer-own
cli apply --name brk --rules "api.test:$P2 fault on=connect error=ECONNREFUSED times=1; api.test:$P2 breaker failure_threshold=1 timeout_ms=60000"
assert_eq "apply exit ($ERR)" 0 "$RC"
OUT=$(FAULTLINE_RULES="127.0.0.9:1 fault on=connect error=EPERM" shim "$PY" -c '
import errno, socket, sys
port = int(sys.argv[1])
out = []
for a in ("127.0.0.2", "127.0.0.3"):
    s = socket.socket()
    try:
        s.connect((a, port)); out.append("ok")
    except OSError as e:
        out.append(errno.errorcode.get(e.errno, str(e.errno)))
    s.close()
socket.getaddrinfo("api.test", port, socket.AF_INET)
for a in ("127.0.0.2", "127.0.0.3"):
    s = socket.socket()
    try:
        s.connect((a, port)); out.append("ok")
    except OSError as e:
        out.append(errno.errorcode.get(e.errno, str(e.errno)))
    s.close()
print(" ".join(out))' "$P2")
assert_eq "before resolving: addresses only (ok ok); after: one injected refusal opens the name's breaker, both addresses rejected" \
	"ok ok ECONNREFUSED ECONNREFUSED" "$OUT"
assert_eq "stats row of the name" open "$(stats_field "api.test:$P2" STATE)"
cli heal

check "curl, each a new process resolving through /etc/hosts: a layer on the name makes it fail, removing it heals"
use_domain names-curl
OUT=$("$CLI" run -- bash -c '
url=$1; cli=$2
r=""
for i in 1 2 3 4 5 6; do
	[ "$i" = 3 ] && "$cli" apply --name out --rules "api.test fault on=connect error=ECONNREFUSED" >/dev/null
	[ "$i" = 5 ] && "$cli" remove out >/dev/null
	curl -s -o /dev/null --max-time 10 "$url"
	r="$r$?"
done
echo "$r"' _ "http://api.test:$P2/" "$CLI")
assert_eq "curl exit codes (0 ok, 7 refused)" "007700" "$OUT"

check "on=resolve in a layer is refused with the reason"
cli apply --name dns --rules "api.test fault on=resolve error=EAI_AGAIN"
assert_eq "exit" 2 "$RC"
assert_contains "message" "$ERR" "faults on=resolve cannot be kept in a layer"
cli layers --json
assert_eq "nothing applied" "[]" "$OUT"

done_ok
