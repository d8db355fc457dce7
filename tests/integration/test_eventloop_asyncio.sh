# test_eventloop_asyncio.sh - python asyncio, 50 connections in one event
# loop, one of them to a destination whose recv is delayed 3 s (issue 17,
# SPEC 12).
#
# asyncio reads a stream when epoll says it is readable, with recv() on a
# non-blocking socket. SPEC 12: a recv delay there returns EAGAIN and hides
# readability until the delay has passed, so the loop keeps serving the
# other connections: the 49 undelayed exchanges finish at once, before the
# delayed one, without waiting for it. A shim that sleeps inside recv()
# stops the whole loop for 3 s.
#
# Two echo servers (server.py --mode echo): the delayed connection goes to
# port SLOW (the rule names that port only), the 49 others to port FAST.
# The delayed connection starts first, and the 49 half a second later: the
# pause only orders things so that on a stalling shim the stall comes
# first; with readiness virtualised the outcome does not depend on it. Each
# exchange records its own finish time (time.monotonic in the client).
. "$(dirname "$0")/lib.sh"
need_build
DELAY=3000

start_server fast echo tcp4
FAST=$SERVER_PORT
start_server slow echo tcp4
SLOW=$SERVER_PORT

check "asyncio: 1 connection with a $DELAY ms recv delay and 49 without, in one loop"
FAULTLINE_RULES="127.0.0.1:$SLOW fault on=recv delay_ms=$DELAY" shim "$PY" - "$FAST" "$SLOW" \
	>"$FL_TMP/asyncio.out" 2>&1 <<'EOF'
import asyncio, sys, time

FAST, SLOW = int(sys.argv[1]), int(sys.argv[2])

async def exchange(port, n):
    """connect, send a line, read its echo; (start, sent, finish) in monotonic s"""
    start = time.monotonic()
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(b"line %d\n" % n)
    await w.drain()
    sent = time.monotonic()
    got = await r.readline()
    finish = time.monotonic()
    if got != b"line %d\n" % n:
        raise RuntimeError("connection %d: echo %r" % (n, got))
    w.close()
    await w.wait_closed()
    return start, sent, finish

async def main():
    slow = asyncio.ensure_future(exchange(SLOW, 0))
    await asyncio.sleep(0.5)
    fast = [asyncio.ensure_future(exchange(FAST, n)) for n in range(1, 50)]
    done = await asyncio.wait_for(asyncio.gather(slow, *fast), 60)
    s_start, s_sent, s_finish = done[0]
    f_start = min(x[0] for x in done[1:])
    f_finish = max(x[2] for x in done[1:])
    # all times in ms: the 49 from their first start to their last finish;
    # the delayed one from its send to its echo; "before": how long before
    # the delayed one finished the last of the 49 did (negative: after)
    print("fast_ms %d" % ((f_finish - f_start) * 1000))
    print("slow_ms %d" % ((s_finish - s_sent) * 1000))
    print("fast_before_slow_ms %d" % ((s_finish - f_finish) * 1000))
    print("finished_after_slow %d" % sum(1 for x in done[1:] if x[2] >= s_finish))

asyncio.run(main())
EOF
RC=$?
OUT=$(cat "$FL_TMP/asyncio.out")
printf '%s\n' "$OUT" | sed 's/^/   /'
assert_eq "asyncio client exit status; it said: $OUT" 0 "$RC"
val() { printf '%s\n' "$OUT" | sed -n "s/^$1 //p"; }
after=$(val finished_after_slow)
[ "$after" = 0 ] ||
	fail "$after of the 49 undelayed connections finished after the delayed one (the last $((-$(val fast_before_slow_ms))) ms after it; the 49 took $(val fast_ms) ms): they waited for its $DELAY ms recv delay (the shim stalled the event loop inside recv() instead of returning EAGAIN, SPEC 12)"

check "the 49 finish in well under $DELAY ms, and the delayed one takes at least $DELAY ms"
assert_took "the 49 undelayed exchanges, first start to last finish" 1000 "$(val fast_ms)"
[ "$(val fast_ms)" -lt "$DELAY" ] ||
	fail "the 49 undelayed exchanges took $(val fast_ms) ms, not less than the $DELAY ms delay of the other connection"
assert_ge "the delayed exchange, send to echo (ms)" "$DELAY" "$(val slow_ms)"
assert_took "the delayed exchange, send to echo" $((DELAY + 3000)) "$(val slow_ms)"
n=$(json_get "d('127.0.0.1:$SLOW')['ops']['recv']['delays_injected']")
assert_ge "recv delays injected on the delayed destination (stats)" 1 "$n"

done_ok
