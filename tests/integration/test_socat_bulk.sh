# test_socat_bulk.sh - 20 MB through socat under a rule that matches the
# connection but never fires: every byte arrives, in order, unchanged, in
# both directions. (Every read and write on the socket goes through the
# shim's fault evaluation; none may disturb the data.)
. "$(dirname "$0")/lib.sh"
need_cmd socat sha256sum cmp
need_build

SIZE=20971520
head -c "$SIZE" /dev/urandom >"$FL_TMP/blob"
SUM=$(sha256sum "$FL_TMP/blob" | cut -d' ' -f1)

start_server sink sink tcp4
SINK=$SERVER_PORT
start_server source sendfile tcp4 --file "$FL_TMP/blob"
SOURCE=$SERVER_PORT

# The rule matches the destination and is evaluated on every I/O call, but
# lets the first billion calls pass.
never() { echo "127.0.0.1:$1 fault on=io error=ECONNRESET after=1000000000"; }

check "upload: 20 MB from socat arrive byte-identical (server's SHA-256)"
FAULTLINE_LOG=debug FAULTLINE_RULES="$(never "$SINK")" \
	shim timeout 120 socat -u "OPEN:$FL_TMP/blob" "TCP:127.0.0.1:$SINK" 2>"$FL_TMP/up.err"
assert_eq "socat exit status" 0 "$?"
wait_events sink "closed 1 " 1 60
assert_contains "server's view" "$(events sink)" "closed 1 $SIZE $SUM"
assert_not_contains "debug log (no fault fired)" "$(cat "$FL_TMP/up.err")" "127.0.0.1:$SINK: "

check "download: 20 MB to socat arrive byte-identical (cmp)"
FAULTLINE_LOG=debug FAULTLINE_RULES="$(never "$SOURCE")" \
	shim timeout 120 socat -u "TCP:127.0.0.1:$SOURCE" "CREATE:$FL_TMP/got" 2>"$FL_TMP/down.err"
assert_eq "socat exit status" 0 "$?"
cmp "$FL_TMP/blob" "$FL_TMP/got" || fail "downloaded bytes differ from the server's"
assert_not_contains "debug log (no fault fired)" "$(cat "$FL_TMP/down.err")" "127.0.0.1:$SOURCE: "

check "bidirectional: 20 MB through an echo server come back identical"
start_server echo echo tcp4
ECHO=$SERVER_PORT
FAULTLINE_RULES="$(never "$ECHO")" \
	shim timeout 120 socat -b 65536 -t 30 - "TCP:127.0.0.1:$ECHO" <"$FL_TMP/blob" >"$FL_TMP/echoed" 2>"$FL_TMP/echo.err"
rc=$?
[ "$rc" -eq 0 ] || fail "socat exit status $rc: $(cat "$FL_TMP/echo.err")"
cmp "$FL_TMP/blob" "$FL_TMP/echoed" || fail "echoed bytes differ"

check "the same rule, firing from the first call, does stop the upload: it matches this connection"
FAULTLINE_RULES="127.0.0.1:$SINK fault on=io error=ECONNRESET" \
	shim timeout 120 socat -u "OPEN:$FL_TMP/blob" "TCP:127.0.0.1:$SINK" 2>"$FL_TMP/up2.err"
assert_ne "socat exit status" 0 "$?"
wait_events sink "closed 2 " 1 60
assert_contains "server's view" "$(events sink)" "closed 2 0 "

done_ok
