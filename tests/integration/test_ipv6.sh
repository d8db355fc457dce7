# test_ipv6.sh - IPv6 destinations, and IPv4 rules against the IPv4-mapped
# IPv6 form (::ffff:127.0.0.1), which a dual-stack client uses for IPv4.
#
# The servers listen on :: with IPV6_V6ONLY off, so one port answers
# 127.0.0.1, ::1 and ::ffff:127.0.0.1 alike.
. "$(dirname "$0")/lib.sh"
need_ipv6
need_cmd curl
need_build

start_server a sink tcp46
A=$SERVER_PORT
start_server b sink tcp46
B=$SERVER_PORT
DESTS=("4:127.0.0.1:$A" "6:::1:$A" "6:::ffff:127.0.0.1:$A" "6:::1:$B" "6:::ffff:127.0.0.1:$B")

hits() { # TARGET, then per dest: hit or miss (in DESTS order)
	local target=$1 i=0 want
	shift
	check "target '$target'"
	probe "$target fault on=connect error=EHOSTUNREACH" "${DESTS[@]}"
	for want in "$@"; do
		case $want in
		hit) expect_probe "${DESTS[$i]}" EHOSTUNREACH ;;
		miss) expect_probe "${DESTS[$i]}" connected ;;
		esac
		i=$((i + 1))
	done
}

#    target               v4:A  v6:A  mapped:A  v6:B  mapped:B
hits "[::1]:$A"           miss  hit   miss      miss  miss
hits "::1"                miss  hit   miss      hit   miss
hits "::1/128"            miss  hit   miss      hit   miss
hits "127.0.0.1:$A"       hit   miss  hit       miss  miss
hits "127.0.0.1"          hit   miss  hit       miss  hit
hits "127.0.0.0/8:$A"     hit   miss  hit       miss  miss
hits "*:$A"               hit   hit   hit       miss  miss
hits "*"                  hit   hit   hit       hit   hit
hits "[::2]:$A"           miss  miss  miss      miss  miss
hits "::ffff:127.0.0.1"   hit   miss  hit       miss  hit
hits "[::ffff:127.0.0.1]:$A" hit miss hit       miss  miss
lo=$((A < B ? A : B)) hi=$((A > B ? A : B))
hits "[::1]:$lo-$hi"      miss  hit   miss      hit   miss

check "send over IPv6 fails with the injected ECONNRESET; the server receives nothing"
start_server six sink tcp6
SIX=$SERVER_PORT
out=$(FAULTLINE_RULES="[::1]:$SIX fault on=send error=ECONNRESET" FAULTLINE_LOG=debug shim "$PY" -c '
import socket, sys
s = socket.create_connection(("::1", int(sys.argv[1])))
try:
    s.send(b"six"); print("sent")
except ConnectionResetError:
    print("ECONNRESET")
s.close()' "$SIX" 2>&1)
assert_contains "python output" "$out" "ECONNRESET"
assert_contains "debug log names the IPv6 destination" "$out" "send [::1]:$SIX: error ECONNRESET"
wait_events six "closed 1 " 1
assert_contains "server's view" "$(events six)" "closed 1 0 "

check "a v4-mapped destination is logged in its IPv4 form"
out=$(FAULTLINE_RULES="127.0.0.1:$A fault on=connect error=EHOSTUNREACH" FAULTLINE_LOG=debug shim "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET6)
try:
    s.connect(("::ffff:127.0.0.1", int(sys.argv[1])))
except OSError as e:
    print("errno", e.errno)' "$A" 2>&1)
assert_contains "debug log" "$out" "connect 127.0.0.1:$A: error EHOSTUNREACH"

start_server http http tcp6
H=$SERVER_PORT
check "curl to [::1]: a connect delay of 500 ms still fetches the page"
t0=$(now_ms)
body=$(FAULTLINE_RULES="[::1]:$H fault on=connect delay_ms=500" shim curl -sS -g --max-time 20 "http://[::1]:$H/")
assert_eq "curl exit status" 0 "$?"
took=$(($(now_ms) - t0))
assert_contains "body" "$body" "hello from the faultline test server"
assert_ge "curl wall time (ms)" 500 "$took"
check "curl to [::1]: an injected refusal is curl's exit 7"
FAULTLINE_RULES="::1 fault on=connect error=ECONNREFUSED" shim curl -sS -g --max-time 20 "http://[::1]:$H/" 2>/dev/null
assert_eq "curl exit status" 7 "$?"

done_ok
