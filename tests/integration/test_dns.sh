# test_dns.sh - host names and DNS (SPEC 9) with real programs: curl,
# python3 (socket, urllib), wget, getent, node. Names come from /etc/hosts
# entries made in a private mount namespace (the file is bind-mounted over
# for this test only) or from the `resolve` kind itself; servers listen on
# loopback addresses only, nothing is ever asked of a real DNS server.
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
need_build helper_resolve
RESOLVE="$HELPERS/helper_resolve"
trap 'cleanup; remove_domains' EXIT

# /etc/hosts of this namespace: two addresses for api.test, one for one.test.
{
	cat /etc/hosts
	echo "127.0.0.2 api.test"
	echo "127.0.0.3 api.test"
	echo "127.0.0.1 one.test"
	for i in $(seq 0 299); do # more names than a process remembers (256)
		echo "127.1.$((i / 250)).$((i % 250 + 1)) n$i.many.test"
	done
} >"$FL_TMP/hosts"
mount --bind "$FL_TMP/hosts" /etc/hosts || skip "cannot bind-mount over /etc/hosts here"
assert_contains "getent ahosts api.test (no shim)" "$(getent ahosts api.test)" "127.0.0.3"

start_server http http tcp4
PORT=$SERVER_PORT
BODY="hello from the faultline test server"
# api.test's two addresses, each with a server on the same port
P2=$(free_port)
start_bg web2 "$PY" -m http.server "$P2" --bind 127.0.0.2
start_bg web3 "$PY" -m http.server "$P2" --bind 127.0.0.3
wait_port "$P2" 127.0.0.2
wait_port "$P2" 127.0.0.3

# connect_each NAME PORT: resolves NAME once in this process, then connects
# to each address it got; prints "ADDR ok" or "ADDR ERRNO-NAME" per address.
CONNECT_EACH='
import errno, socket, sys
name, port = sys.argv[1], int(sys.argv[2])
addrs = sorted({a[4][0] for a in socket.getaddrinfo(name, port, socket.AF_INET, socket.SOCK_STREAM)})
for a in addrs:
    s = socket.socket()
    try:
        s.connect((a, port)); print(a, "ok")
    except OSError as e:
        print(a, errno.errorcode.get(e.errno, e.errno))
    s.close()
'

check "a name rule faults connects to each address of the name, in the process that resolved it"
new_domain each
out=$(under "api.test:$P2 fault on=connect error=ECONNREFUSED" "$PY" -c "$CONNECT_EACH" api.test "$P2")
assert_eq "each address refused" "127.0.0.2 ECONNREFUSED
127.0.0.3 ECONNREFUSED" "$out"
out=$(under "api.test:$P2 fault on=connect error=ECONNREFUSED" "$PY" -c "$CONNECT_EACH" api.test "$((P2 == 65535 ? 1 : P2 + 1))")
assert_not_contains "another port of the name is not covered" "$out" "ECONNREFUSED ECONNREFUSED"
out=$(under "api.test:$P2 fault on=connect error=ECONNREFUSED" "$PY" -c '
import socket, sys
s = socket.socket(); s.connect(("127.0.0.2", int(sys.argv[1]))); print("ok")' "$P2")
assert_eq "the same address, never resolved from the name here, is not the name's" "ok" "$out"

check "a process remembers 256 names: later ones are not the rule's (one warning), earlier ones still are"
new_domain many
cat >"$FL_TMP/many.py" <<'PYEOF'
import socket, sys
port = int(sys.argv[1])
addr = [socket.getaddrinfo("n%d.many.test" % i, port, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
        for i in range(300)]
for i in (0, 255, 256, 299):
    s = socket.socket()
    try:
        s.connect((addr[i], port))
    except OSError:
        pass
    s.close()
PYEOF
under "*.many.test:$P2 fault on=connect error=ECONNREFUSED" "$PY" "$FL_TMP/many.py" "$P2" 2>"$FL_TMP/many.err"
assert_eq "one warning" 1 "$(count_lines "$(cat "$FL_TMP/many.err")" "table of host names is full")"
FAULTLINE_DOMAIN=$DOMAIN
assert_eq "the 1st name's connect was the rule's" "connect:1e" "$(stats_field "n0.many.test:$P2" FAULTS)"
assert_eq "the 256th name's too" "connect:1e" "$(stats_field "n255.many.test:$P2" FAULTS)"
assert_eq "the 257th name's was not: no row" "" "$(stats_field "n256.many.test:$P2" FAULTS)"
assert_eq "nor the 300th's" "" "$(stats_field "n299.many.test:$P2" FAULTS)"
FAULTLINE_DOMAIN=${TEST_DOMAINS[0]}

check "curl tries both addresses of the name and both are refused; without the rule it gets a page"
new_domain curl
out=$(under "api.test fault on=connect error=ECONNREFUSED" curl -s -o /dev/null -w '%{exitcode} %{num_connects}' "http://api.test:$P2/")
assert_eq "curl exit status (7)" "7 0" "$out"
out=$(under "one.test:1 fault on=connect error=ECONNREFUSED" curl -s -o /dev/null -w '%{http_code}' "http://api.test:$P2/")
assert_eq "curl's HTTP status without a rule for the name" "200" "$out"

check "two addresses of one name share one breaker: stats shows api.test:PORT"
new_domain breaker
rules="api.test:$P2 breaker failure_threshold=2; api.test:$P2 fault on=connect error=ECONNREFUSED times=2"
out=$(under "$rules" "$PY" -c "$CONNECT_EACH" api.test "$P2")
assert_eq "both addresses fail once each" "127.0.0.2 ECONNREFUSED
127.0.0.3 ECONNREFUSED" "$out"
FAULTLINE_DOMAIN=$DOMAIN
assert_eq "breaker state of the name" "open" "$(stats_field "api.test:$P2" STATE)"
assert_eq "failures counted on the one entry" "2" "$(stats_field "api.test:$P2" FAILS)"
assert_eq "no row for an address" "" "$(stats_field "127.0.0.2:$P2" STATE)"
out=$(under "$rules" "$PY" -c "$CONNECT_EACH" api.test "$P2")
assert_eq "the open breaker rejects both addresses (the fault's 2 times are spent)" "127.0.0.2 ECONNREFUSED
127.0.0.3 ECONNREFUSED" "$out"
assert_eq "rejections on the name's breaker" "2" "$(stats_field "api.test:$P2" REJECTED)"
FAULTLINE_DOMAIN=${TEST_DOMAINS[0]}

check "EAI_AGAIN: curl exits 6, python raises gaierror, getent fails; a rule for another name changes nothing"
new_domain again
under "api.test fault on=resolve error=EAI_AGAIN" curl -s -o /dev/null "http://api.test:$P2/"
assert_eq "curl exit status (6 = couldn't resolve host)" 6 "$?"
out=$(under "*.test fault on=resolve error=EAI_AGAIN" "$PY" -c '
import socket
try:
    socket.getaddrinfo("api.test", 80); print("resolved")
except socket.gaierror as e:
    print("gaierror", e.errno == socket.EAI_AGAIN)' 2>&1)
assert_eq "python's exception (EAI_AGAIN)" "gaierror True" "$out"
under "api.test fault on=resolve error=EAI_NONAME" getent ahosts api.test >/dev/null
assert_eq "getent ahosts exit status (2 = not found)" 2 "$?"
out=$(under "other.test fault on=resolve error=EAI_AGAIN" curl -s -o /dev/null -w '%{http_code}' "http://api.test:$P2/")
assert_eq "curl's HTTP status" "200" "$out"
out=$(under "api.test fault on=resolve error=EAI_AGAIN times=1" "$PY" -c '
import socket
r = []
for i in range(3):
    try:
        socket.getaddrinfo("api.test", 80); r.append("ok")
    except socket.gaierror:
        r.append("err")
print(" ".join(r))')
assert_eq "times=1: only the first lookup fails" "err ok ok" "$out"

check "gethostbyname*: h_errno says TRY_AGAIN or HOST_NOT_FOUND (or NO_DATA); without a fault they resolve"
for call in ghbn ghbn2 ghbn_r ghbn2_r; do
	out=$(under "api.test fault on=resolve error=EAI_AGAIN" "$RESOLVE" "$call" api.test)
	assert_eq "$call with EAI_AGAIN (TRY_AGAIN = 2)" "h_errno 2" "$out"
	out=$(under "api.test fault on=resolve error=EAI_NONAME" "$RESOLVE" "$call" api.test)
	assert_eq "$call with EAI_NONAME (HOST_NOT_FOUND = 1)" "h_errno 1" "$out"
	out=$(under "api.test fault on=resolve error=EAI_NODATA" "$RESOLVE" "$call" api.test)
	assert_eq "$call with EAI_NODATA (NO_DATA = 4)" "h_errno 4" "$out"
	out=$(under "other.test fault on=resolve error=EAI_NONAME" "$RESOLVE" "$call" api.test)
	assert_eq "$call of a name no rule covers" "ok 127.0.0.2 127.0.0.3 name=api.test" "$out"
done
out=$(under "api.test fault on=resolve error=EAI_AGAIN" "$RESOLVE" gai API.Test.)
assert_eq "getaddrinfo of the name in capitals with the root dot (EAI_AGAIN = -3)" "gai -3" "$out"
out=$(under "db fault on=resolve error=EAI_AGAIN; x.test resolve address=127.0.0.1" "$RESOLVE" gai DB)
assert_eq "a name shorter than 4 characters" "gai -3" "$out"
under "api.test fault on=resolve error=EAI_NONAME" getent hosts api.test >/dev/null
assert_eq "getent hosts (gethostbyname2) exit status" 2 "$?"

check "a 2 s resolve delay shows in curl's name lookup time, and is counted as op resolve"
new_domain delay
t0=$(now_ms)
out=$(under "api.test fault on=resolve delay_ms=2000" curl -s -o /dev/null -w '%{time_namelookup} %{http_code}' "http://api.test:$P2/")
ms=$(($(now_ms) - t0))
assert_eq "curl still gets the page" "200" "${out#* }"
lookup_ms=$("$PY" -c 'import sys; print(int(float(sys.argv[1]) * 1000))' "${out% *}")
assert_ge "time_namelookup (ms)" 2000 "$lookup_ms"
assert_took "time_namelookup" 10000 "$lookup_ms"
assert_took "curl wall time" 15000 "$ms"
FAULTLINE_DOMAIN=$DOMAIN
assert_eq "stats --json ops.resolve" "(1, 1, 2000)" \
	"$(json_get '(d("api.test:'"$P2"'")["ops"]["resolve"]["calls"], d("api.test:'"$P2"'")["ops"]["resolve"]["delays_injected"], d("api.test:'"$P2"'")["ops"]["resolve"]["delay_ms_total"])')"
assert_contains "stats table" "$("$CLI" stats)" "resolve:1d"
assert_contains "prometheus" "$("$CLI" stats --prometheus)" "op=\"resolve\""
FAULTLINE_DOMAIN=${TEST_DOMAINS[0]}

check "override: stub.test (in no hosts file) resolves to the local server for curl, wget and urllib"
under "one.test:1 breaker" curl -s -o /dev/null "http://stub.test:$PORT/x"
assert_eq "curl without an override: exit 6" 6 "$?"
out=$(under "stub.test resolve address=127.0.0.1" curl -sS "http://stub.test:$PORT/x")
assert_eq "curl body" "$BODY" "$out"
if command -v wget >/dev/null; then
	out=$(under "stub.test resolve address=127.0.0.1" wget -q -O - "http://stub.test:$PORT/x")
	assert_eq "wget body" "$BODY" "$out"
fi
out=$(under "STUB.test. resolve address=127.0.0.1" "$PY" -c '
import sys, urllib.request
print(urllib.request.urlopen("http://stub.test:%s/x" % sys.argv[1], timeout=20).read().decode())' "$PORT")
assert_eq "urllib body (the rule written in capitals with the root dot)" "$BODY" "$out"

check "override honours the family the program asks for"
rules="stub.test resolve address=127.0.0.1,::1"
out=$(under "$rules" getent ahosts stub.test | awk '{print $1 " " $2}' | sort -u | tr '\n' ' ')
assert_eq "getent ahosts: both, every socket type" "127.0.0.1 DGRAM 127.0.0.1 RAW 127.0.0.1 STREAM ::1 DGRAM ::1 RAW ::1 STREAM " "$out"
out=$(under "$rules" getent ahostsv4 stub.test | awk '{print $1}' | sort -u | tr '\n' ' ')
assert_eq "getent ahostsv4" "127.0.0.1 " "$out"
out=$(under "$rules" "$PY" -c '
import socket
for fam in (socket.AF_INET, socket.AF_INET6):
    r = socket.getaddrinfo("stub.test", "8080", fam, socket.SOCK_STREAM, 0, socket.AI_CANONNAME)
    print(fam == socket.AF_INET6 and "v6" or "v4", [x[4][:2] for x in r], r[0][3])')
assert_eq "python: AF_INET, AF_INET6, with the port and the canonical name" "v4 [('127.0.0.1', 8080)] stub.test
v6 [('::1', 8080)] stub.test" "$out"
out=$(under "stub.test resolve address=127.0.0.1" "$PY" -c '
import socket
r = socket.getaddrinfo("stub.test", 80, socket.AF_INET6, socket.SOCK_STREAM, 0, socket.AI_V4MAPPED)
print(r[0][4][0])')
assert_eq "AF_INET6 with AI_V4MAPPED maps the IPv4 address" "::ffff:127.0.0.1" "$out"
out=$(under "stub.test resolve address=127.0.0.1" "$PY" -c '
import socket
try:
    socket.getaddrinfo("stub.test", 80, socket.AF_INET6); print("resolved")
except socket.gaierror as e:
    print("gaierror")')
assert_eq "AF_INET6 without an IPv6 address: an error" "gaierror" "$out"
out=$(under "$rules" getent hosts stub.test)
assert_contains "getent hosts (gethostbyname2 from static storage)" "$out" "stub.test"
out=$(under "$rules" "$PY" -c '
import socket
print(socket.gethostbyname_ex("stub.test"))')
assert_eq "python gethostbyname_ex (gethostbyname_r, IPv4 only)" "('stub.test', [], ['127.0.0.1'])" "$out"
for call in ghbn ghbn_r; do
	out=$(under "$rules" "$RESOLVE" "$call" stub.test)
	assert_eq "$call of an override: its IPv4 address" "ok 127.0.0.1 name=stub.test" "$out"
done
for call in ghbn2 ghbn2_r; do
	out=$(under "$rules" "$RESOLVE" "$call" stub.test 6)
	assert_eq "$call AF_INET6 of an override: its IPv6 address" "ok ::1 name=stub.test" "$out"
	out=$(under "stub.test resolve address=127.0.0.1" "$RESOLVE" "$call" stub.test 6)
	assert_eq "$call AF_INET6 of an override without one: NO_DATA" "h_errno 4" "$out"
done
out=$(under "$rules" "$RESOLVE" gai stub.test 6)
assert_eq "getaddrinfo AF_INET6, freed by glibc's freeaddrinfo" "ok ::1" "$out"
if command -v node >/dev/null; then
	# node takes a sanitizer runtime only when it is loaded first (make sanitize)
	out=$(FAULTLINE_RULES=$rules FAULTLINE_DOMAIN=$DOMAIN shim_runtime_first node -e '
require("dns").lookup("stub.test", {all: true}, (e, a) => console.log(e ? e.code : a.map(x => x.address).sort().join(" ")))')
	assert_eq "node dns.lookup" "127.0.0.1 ::1" "$out"
fi

check "an override's addresses are the name's: a name rule faults connects to them"
out=$(under "stub.test resolve address=127.0.0.1; stub.test fault on=connect error=ECONNREFUSED" \
	curl -s -o /dev/null -w '%{exitcode}' "http://stub.test:$PORT/x")
assert_eq "curl exit status" 7 "$out"

done_ok
