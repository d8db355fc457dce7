# test_unix.sh - Unix-domain stream sockets: `unix:/path` rules with python,
# curl --unix-socket and socat; paths that do not match pass untouched.
. "$(dirname "$0")/lib.sh"
need_cmd curl socat sha256sum
need_build

sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

start_server sink sink "unix:$FL_TMP/sink.sock"
SINK=$FL_TMP/sink.sock
start_server greet greet "unix:$FL_TMP/greet.sock" --greet "hello
"
GREET=$FL_TMP/greet.sock
start_server http http "unix:$FL_TMP/http.sock"
HTTP=$FL_TMP/http.sock

check "send on a Unix socket fails with ENOMEM and the server receives none of it; os.write still works"
out=$(FAULTLINE_RULES="unix:$SINK fault on=send error=ENOMEM" FAULTLINE_LOG=debug shim "$PY" -c '
import errno, os, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
try:
    s.send(b"via-send"); print("send sent")
except OSError as e:
    print("send", errno.errorcode[e.errno])
print("os.write", os.write(s.fileno(), b"via-write"))
s.close()' "$SINK" 2>&1)
assert_contains "python output" "$out" "send ENOMEM"
assert_contains "python output" "$out" "os.write 9"
assert_contains "debug log names the path" "$out" "send unix:$SINK: error ENOMEM"
wait_events sink "closed 1 " 1
assert_contains "server's view" "$(events sink)" "closed 1 9 $(sha via-write)"

check "recv on a Unix socket fails and consumes nothing: os.read gets the greeting"
out=$(FAULTLINE_RULES="unix:$GREET fault on=recv error=ENOMEM" shim "$PY" -c '
import errno, os, select, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
select.select([s], [], [], 5)
try:
    print("recv got", s.recv(100))
except OSError as e:
    print("recv", errno.errorcode[e.errno])
print("os.read got", os.read(s.fileno(), 100))' "$GREET" 2>&1)
assert_contains "python output" "$out" "recv ENOMEM"
assert_contains "python output" "$out" "os.read got b'hello\\n'"

check "connect to a Unix path refused by a rule: the server never sees a connection"
before=$(accepted sink)
out=$(FAULTLINE_RULES="unix:$SINK fault on=connect error=ECONNREFUSED" shim "$PY" -c '
import errno, socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1]); print("connected")
except ConnectionRefusedError:
    print("refused")' "$SINK" 2>&1)
assert_contains "python output" "$out" "refused"
assert_no_connection sink "$before" "unix:$SINK"

check "a rule for another path, and '*', leave Unix sockets alone"
probe "unix:$FL_TMP/elsewhere.sock fault on=connect error=EHOSTUNREACH; * fault on=connect error=EHOSTUNREACH" "u:$SINK"
expect_probe "u:$SINK" connected

check "abstract Unix sockets: unix:@NAME matches that name only"
ABSTRACT="@fl-test-$$"
start_server abstract sink "unix:$ABSTRACT"
probe "unix:$ABSTRACT fault on=connect error=EHOSTUNREACH" "u:$ABSTRACT" "u:$SINK"
expect_probe "u:$ABSTRACT" EHOSTUNREACH
expect_probe "u:$SINK" connected
probe "unix:@fl-test-other fault on=connect error=EHOSTUNREACH" "u:$ABSTRACT"
expect_probe "u:$ABSTRACT" connected

check "curl --unix-socket: an injected refusal is exit 7; a 500 ms connect delay still fetches the page"
FAULTLINE_RULES="unix:$HTTP fault on=connect error=ECONNREFUSED" \
	shim curl -sS --max-time 20 --unix-socket "$HTTP" http://localhost/ >/dev/null 2>&1
assert_eq "curl exit status" 7 "$?"
t0=$(now_ms)
body=$(FAULTLINE_RULES="unix:$HTTP fault on=connect delay_ms=500" \
	shim curl -sS --max-time 20 --unix-socket "$HTTP" http://localhost/)
assert_eq "curl exit status" 0 "$?"
took=$(($(now_ms) - t0))
assert_contains "body" "$body" "hello from the faultline test server"
assert_ge "curl wall time (ms)" 500 "$took"

check "socat: 20 MB over a Unix socket under a never-firing rule arrive byte-identical"
head -c 20971520 /dev/urandom >"$FL_TMP/blob"
sum=$(sha256sum "$FL_TMP/blob" | cut -d' ' -f1)
FAULTLINE_RULES="unix:$SINK fault on=io error=ENOMEM after=1000000000" \
	shim timeout 120 socat -u "OPEN:$FL_TMP/blob" "UNIX-CONNECT:$SINK"
assert_eq "socat exit status" 0 "$?"
wait_events sink " 20971520 $sum" 1 60

done_ok
