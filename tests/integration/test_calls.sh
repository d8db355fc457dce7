# test_calls.sh - every intercepted call, one by one (helper_io.c).
#
# For each `on=` family, the calls of that family fail with the injected
# errno and move no byte (the helper's own accepted socket is the witness),
# while the calls of the other families work. The errnos are transient
# ones: a connection-breaking errno (ECONNRESET, EPIPE, ETIMEDOUT) ends the
# connection for every later call (SPEC 5; test_trust_outcomes.sh). Then: errno is what the real
# call left, and connect (blocking and non-blocking) fails at once with the
# injected errno without a connection reaching the listener.
. "$(dirname "$0")/lib.sh"
need_build helper_io

io() { # on= value, the families helper_io must see fail, errno
	local port
	port=$(free_port)
	FAULTLINE_RULES="127.0.0.1:$port fault on=$1 error=$3" shim "$HELPERS/helper_io" io "$port" "$3" "$2" ||
		fail "on=$1 error=$3 (see the FAIL lines above)"
}

check "on=send: send, sendto, sendmsg, sendmmsg fail with ENOBUFS and send nothing; the rest work"
io send send ENOBUFS
check "on=recv: recv, recvfrom, recvmsg, recvmmsg, __recv_chk, __recvfrom_chk fail and consume nothing"
io recv recv ENOMEM
check "on=write: write, writev fail with ENOBUFS and send nothing"
io write write ENOBUFS
check "on=read: read, readv, __read_chk fail with EIO and consume nothing"
io read read EIO
check "on=io: all four families fail"
io io send,recv,write,read ENOMEM
check "on=all: all four families fail (connect is tested below)"
port=$(free_port)
# on=all also covers connect: the helper's own connect must pass, so the
# rule lets the first call (that connect) through.
FAULTLINE_RULES="127.0.0.1:$port fault on=all error=ENOMEM after=1" \
	shim "$HELPERS/helper_io" io "$port" ENOMEM send,recv,write,read || fail "on=all"
check "on=send,recv (a list): exactly those two families fail"
io send,recv send,recv ENOMEM
check "a matched socket whose rule never fires: every call passes through intact"
port=$(free_port)
FAULTLINE_RULES="127.0.0.1:$port fault on=io error=ECONNRESET after=1000000" \
	shim "$HELPERS/helper_io" io "$port" ECONNRESET none || fail "never-firing rule"

check "the helper can fail: without the shim the on=send expectations are not met"
port=$(free_port)
out=$("$HELPERS/helper_io" io "$port" ECONNRESET send 2>&1) && fail "helper_io passed without the shim:
$out"
assert_contains "helper output without the shim" "$out" "FAIL send-injected"

check "errno: successful (delayed) calls leave errno alone; failing calls leave the real errno"
port=$(free_port)
FAULTLINE_RULES="127.0.0.1:$port fault on=all delay_ms=20" \
	shim "$HELPERS/helper_io" errno "$port" 20 || fail "errno preservation"

check "connect: blocking and non-blocking connect fail at once with ECONNREFUSED, nothing reaches the listener"
port=$(free_port)
other=$(free_port)
FAULTLINE_RULES="127.0.0.1:$port fault on=connect error=ECONNREFUSED" \
	shim "$HELPERS/helper_io" connect "$port" ECONNREFUSED "$other" || fail "connect ECONNREFUSED"
check "connect: an injected ENETUNREACH is returned as is (not EINPROGRESS)"
port=$(free_port)
other=$(free_port)
FAULTLINE_RULES="127.0.0.1:$port fault on=connect error=ENETUNREACH" \
	shim "$HELPERS/helper_io" connect "$port" ENETUNREACH "$other" || fail "connect ENETUNREACH"

check "connect: an injected connect error makes no connect system call (strace)"
if strace_works; then
	port=$(free_port)
	other=$(free_port)
	FAULTLINE_RULES="127.0.0.1:$port fault on=connect error=ECONNREFUSED" \
		strace -f -o "$FL_TMP/connect.strace" -e trace=connect \
		env LD_PRELOAD="$SHIM" "$HELPERS/helper_io" connect "$port" ECONNREFUSED "$other" >/dev/null ||
		fail "connect under strace"
	trace=$(cat "$FL_TMP/connect.strace")
	assert_not_contains "connect calls to the matched port" "$trace" "htons($port)"
	assert_contains "connect calls to the unmatched port" "$trace" "htons($other)"
else
	echo "   (strace cannot trace here; the listener check above stands alone)"
fi

check "connect delay: a non-blocking connect returns EINPROGRESS, becomes writable after at least delay_ms, then completes"
port=$(free_port)
FAULTLINE_RULES="127.0.0.1:$port fault on=connect delay_ms=400" \
	shim "$HELPERS/helper_io" connect-delay "$port" 400 || fail "connect delay"

check "delay and error together: the call sleeps, then fails"
port=$(free_port)
other=$(free_port)
t0=$(now_ms)
FAULTLINE_RULES="127.0.0.1:$port fault on=connect error=ECONNREFUSED delay_ms=300" \
	shim "$HELPERS/helper_io" connect "$port" ECONNREFUSED "$other" >"$FL_TMP/both.out" 2>&1
took=$(($(now_ms) - t0))
assert_contains "helper output" "$(cat "$FL_TMP/both.out")" "ok blocking-connect-injected"
# Two connects, each delayed 300 ms.
assert_ge "time for two delayed connects (ms)" 600 "$took"
assert_took "time for two delayed connects" 20000 "$took"

done_ok
