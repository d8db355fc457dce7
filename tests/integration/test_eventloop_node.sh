# test_eventloop_node.sh - node (libuv: non-blocking sockets, epoll) under
# injected delays (issue 17, SPEC 12).
#
# 1. net.connect with a 1 s timeout against a 4 s connect delay: SPEC 12
#    makes connect() return EINPROGRESS at once and the socket writable
#    only after the delay, so node's 'timeout' event fires after about 1 s
#    and the connection never completes. A shim that sleeps inside
#    connect() freezes node's loop for 4 s: the timer fires late, if at
#    all before the connect.
# 2. 10 connections to echo servers in one node process, one of them with
#    a 3 s delay on its reads (libuv reads a TCP stream with read(2), hence
#    on=read): the 9 others finish before it, without waiting for it. The
#    delayed one starts first and the 9 half a second later (only so that
#    on a stalling shim the stall comes first; the verdict does not depend
#    on it).
. "$(dirname "$0")/lib.sh"
need_build
NODE=$(command -v node || command -v nodejs) ||
	skip "'node' is not installed (tools/deps.sh installs nodejs)"

start_server http http tcp4
HTTP=$SERVER_PORT
start_server fast echo tcp4
FAST=$SERVER_PORT
start_server slow echo tcp4
SLOW=$SERVER_PORT

# --- 1. connect timeout -------------------------------------------------------------

DELAY=4000
check "node net.connect({timeout: 1000}) under a $DELAY ms connect delay: 'timeout' after about 1 s, no connect"
OUT=$(FAULTLINE_RULES="127.0.0.1:$HTTP fault on=connect delay_ms=$DELAY" shim_runtime_first "$NODE" -e '
const net = require("net");
const t0 = process.hrtime.bigint();
const ms = () => Number((process.hrtime.bigint() - t0) / 1000000n);
const events = [];
const s = net.connect({host: "127.0.0.1", port: +process.argv[1], timeout: 1000});
s.on("connect", () => events.push("connect@" + ms()));
s.on("timeout", () => { events.push("timeout@" + ms()); s.destroy(); });
s.on("error", e => events.push("error:" + e.code + "@" + ms()));
s.on("close", () => { console.log("events " + events.join(" ")); });
setTimeout(() => { console.log("events " + events.join(" ") + " (still open at 20 s)"); process.exit(1); }, 20000).unref();
' "$HTTP" 2>&1)
printf '   %s\n' "$OUT"
first=$(printf '%s\n' "$OUT" | sed -n 's/^events \([^ ]*\).*/\1/p')
[ -n "$first" ] || fail "node printed no events: $OUT"
case $first in
timeout@*) ;;
*) fail "node's first socket event was '$first', not the 1 s 'timeout': the connect completed after the $DELAY ms delay before node's timer could fire (the shim slept inside connect() of a non-blocking socket instead of returning EINPROGRESS, SPEC 12); all events: $OUT" ;;
esac
ms=${first#timeout@}
[ "$ms" -lt "$DELAY" ] ||
	fail "node's 1 s timeout fired only after $ms ms, not before the $DELAY ms connect delay ended: node's loop was frozen inside connect() (SPEC 12)"
assert_ge "time to node's 'timeout' (ms): it cannot fire earlier" 900 "$ms"
assert_took "time to node's 'timeout'" 2500 "$ms"
assert_not_contains "node's events (the connect never completed)" "$OUT" "connect@"

# --- 2. one delayed connection among ten --------------------------------------------

DELAY=3000
check "node: 10 echo exchanges, one with a $DELAY ms read delay: the 9 others finish before it"
OUT=$(FAULTLINE_RULES="127.0.0.1:$SLOW fault on=read delay_ms=$DELAY" shim_runtime_first "$NODE" -e '
const net = require("net");
const [fast, slow] = [+process.argv[1], +process.argv[2]];
const now = () => Number(process.hrtime.bigint() / 1000000n);
function exchange(port, n) {
	return new Promise((resolve, reject) => {
		const start = now();
		let sent = 0, got = "";
		const s = net.connect({host: "127.0.0.1", port}, () => { s.write("line " + n + "\n"); sent = now(); });
		s.on("data", d => {
			got += d;
			if (got.endsWith("\n")) {
				const finish = now();
				s.destroy();
				if (got !== "line " + n + "\n") reject(new Error("connection " + n + ": echo " + JSON.stringify(got)));
				else resolve({start, sent, finish});
			}
		});
		s.on("error", reject);
	});
}
setTimeout(() => { console.log("not done after 60 s"); process.exit(1); }, 60000).unref();
(async () => {
	const slowOne = exchange(slow, 0);
	await new Promise(r => setTimeout(r, 500));
	const fastOnes = [];
	for (let n = 1; n < 10; n++) fastOnes.push(exchange(fast, n));
	const [s, ...f] = await Promise.all([slowOne, ...fastOnes]);
	const fStart = Math.min(...f.map(x => x.start)), fFinish = Math.max(...f.map(x => x.finish));
	console.log("fast_ms " + (fFinish - fStart));
	console.log("slow_ms " + (s.finish - s.sent));
	console.log("fast_before_slow_ms " + (s.finish - fFinish));
	console.log("finished_after_slow " + f.filter(x => x.finish >= s.finish).length);
})().catch(e => { console.log("error " + e.message); process.exit(1); });
' "$FAST" "$SLOW" 2>&1)
RC=$?
printf '%s\n' "$OUT" | sed 's/^/   /'
assert_eq "node client exit status; it said: $OUT" 0 "$RC"
val() { printf '%s\n' "$OUT" | sed -n "s/^$1 //p"; }
after=$(val finished_after_slow)
[ "$after" = 0 ] ||
	fail "$after of the 9 undelayed connections finished after the delayed one (the last $((-$(val fast_before_slow_ms))) ms after it): they waited for its $DELAY ms read delay (the shim stalled node's loop inside read() instead of returning EAGAIN, SPEC 12)"
assert_took "the 9 undelayed exchanges, first start to last finish" 1000 "$(val fast_ms)"
[ "$(val fast_ms)" -lt "$DELAY" ] ||
	fail "the 9 undelayed exchanges took $(val fast_ms) ms, not less than the $DELAY ms delay of the other connection"
assert_ge "the delayed exchange, send to echo (ms)" "$DELAY" "$(val slow_ms)"
assert_took "the delayed exchange, send to echo" $((DELAY + 3000)) "$(val slow_ms)"
n=$(json_get "d('127.0.0.1:$SLOW')['ops']['read']['delays_injected']")
assert_ge "read delays injected on the delayed destination (stats)" 1 "$n"

done_ok
