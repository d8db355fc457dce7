#!/bin/bash
# test_supervise_depth.sh - the supervisor (SPEC 13) decides with rate
# limits (SPEC 11), the domain's layers (SPEC 7: their connect faults,
# breakers and bulkheads, read at each trapped connect) and writes the
# event log (breaker moves, rate-limit rejections, fault summaries, its
# attach and exit), for a Go client built here (tests/integration/go).
. "$(dirname "$0")/lib.sh"

need_cmd go
use_domain sv-depth

check "the kernel lets faultline install its seccomp listener here"
probe=$("$CLI" run --supervise --rules "127.0.0.1:1 breaker" -- true 2>&1)
case $probe in
*"cannot supervise"*) skip "no seccomp user notifications here: $probe" ;;
esac
export GOCACHE="$FL_TMP/gocache" GOPATH="$FL_TMP/gopath" GOFLAGS=-mod=mod GOPROXY=off GO111MODULE=auto
(cd "$FL_TOP/tests/integration/go" && go build -o "$FL_TMP/flgo" flgo.go) >"$FL_TMP/gobuild.log" 2>&1 ||
	skip "go build failed: $(tail -n 3 "$FL_TMP/gobuild.log")"
GO="$FL_TMP/flgo"

start_server srv sink tcp4
SRV=$SERVER_PORT
start_server srv2 sink tcp4 # an entry keeps its first rate_limit: another destination
SRV2=$SERVER_PORT

# evq PYTHON-EXPR: evaluated with `ev` = the events (JSON); prints it.
evq() {
	"$CLI" events --json 2>/dev/null | "$PY" -c '
import json, sys
ev = [json.loads(l) for l in sys.stdin if l.strip()]
print(eval(sys.argv[1]))' "$1"
}
stat_json() { # DEST PYTHON-EXPR over the destination `e`
	"$CLI" stats --json | "$PY" -c '
import json, sys
for e in json.load(sys.stdin)["destinations"]:
    if e["destination"] == sys.argv[1]:
        print(eval(sys.argv[2])); break
else:
    print("none")' "$1" "$2"
}

check "rate_limit (reject) applies to a supervised Go program: shared bucket, counted, logged"
OUT=$("$CLI" run --rules "127.0.0.1:$SRV rate_limit rate=2 burst=1" -- "$GO" loop "127.0.0.1:$SRV" 10)
refused=$(grep -c "connect: connection refused" <<<"$OUT")
assert_ge "dials refused by the limit (10 in ~0.3 s at 2/s, burst 1)" 7 "$refused"
assert_le "dials refused by the limit" 9 "$refused"
assert_eq "stats rate_limit admitted+rejected" "10 $refused" \
	"$(stat_json "127.0.0.1:$SRV" '"%d %d" % (e["rate_limit"]["admitted"] + e["rate_limit"]["rejected"], e["rate_limit"]["rejected"])')"
assert_contains "rate_limit event" "$(evq '[(e["what"], e["rate"]) for e in ev if e["kind"] == "rate_limit"]')" "('rejected', 2)"

check "rate_limit action=delay: the supervised dials are spread at the rate"
t0=$(now_ms)
OUT=$("$CLI" run --rules "127.0.0.1:$SRV2 rate_limit rate=5 burst=1 action=delay" -- "$GO" loop "127.0.0.1:$SRV2" 4)
took=$(($(now_ms) - t0))
assert_eq "every dial admitted" "done" "$OUT"
# 3 waits of 200 ms less the loop's own 20 ms pauses
assert_ge "4 dials at 5/s (ms)" 500 "$took"
assert_le "4 dials at 5/s (ms)" "$(scaled 4000)" "$took"

check "a layer's connect fault reaches a supervised program with no rules; heal ends it"
cli apply --name refuse --rules "127.0.0.1:$SRV fault on=connect error=ECONNREFUSED"
assert_eq "apply" 0 "$RC"
before=$(accepted srv)
OUT=$("$CLI" run --supervise -- "$GO" dial "127.0.0.1:$SRV" 2000)
assert_contains "refused by the layer" "$OUT" "connect: connection refused"
assert_no_connection srv "$before" "$SRV"
n=$(evq 'sum(e["count"] for e in ev if e["kind"] == "fault" and e["destination"].startswith("127.0.0.1:'$SRV' fault on=connect") and e["statement"] >= 1073741824)')
assert_eq "the layer statement's fault summary" 1 "$n"
"$CLI" heal >/dev/null
OUT=$("$CLI" run --supervise -- "$GO" dial "127.0.0.1:$SRV" 2000)
assert_contains "after heal" "$OUT" "ok "

check "a layer's timed connect fault (start_ms) is honoured by the supervisor"
cli apply --name later --rules "127.0.0.1:$SRV fault on=connect error=ECONNREFUSED start_ms=60000"
OUT=$("$CLI" run --supervise -- "$GO" dial "127.0.0.1:$SRV" 2000)
assert_contains "before start_ms" "$OUT" "ok "
"$CLI" heal >/dev/null

check "a layer's breaker opens for a supervised program (its own rules have none) and the move is logged"
DEAD=$(free_port)
cli apply --name brk --rules "127.0.0.1:$DEAD breaker failure_threshold=2 timeout_ms=60000"
OUT=$("$CLI" run --supervise --rules "127.0.0.1:1 fault on=connect error=EPERM" -- "$GO" loop "127.0.0.1:$DEAD" 4)
assert_eq "refused dials" 4 "$(grep -c "connection refused" <<<"$OUT")"
# (a non-blocking connect's failure reaches the breaker when the
# supervisor sees it: the next dial may already be admitted)
bs=$(stat_json "127.0.0.1:$DEAD" '"%s %d %d" % (e["breaker"]["state"], e["breaker"]["failures"] + e["breaker"]["rejected"], e["breaker"]["rejected"])')
assert_eq "breaker state, failures+rejected" "open 4" "${bs% *}"
assert_ge "rejected by the layer's breaker" 1 "${bs##* }"
assert_eq "breaker event" "['closed>open:failure_threshold']" \
	"$(evq '[e["from"] + ">" + e["to"] + ":" + e["reason"] for e in ev if e["kind"] == "breaker" and e["destination"] == "127.0.0.1:'$DEAD'"]')"
"$CLI" heal >/dev/null

check "own fault summaries and the supervisor's attach and exit are in the log"
OUT=$("$CLI" run --rules "127.0.0.1:$SRV fault on=connect error=ECONNREFUSED" -- "$GO" loop "127.0.0.1:$SRV" 3)
assert_eq "refused" 3 "$(grep -c "connection refused" <<<"$OUT")"
assert_eq "summary" "[(0, 3, 'ECONNREFUSED')]" \
	"$(evq '[(e["statement"], e["count"], e["error"]) for e in ev if e["kind"] == "fault" and e["destination"] == "127.0.0.1:'$SRV'"]')"
assert_contains "attached and exited" "$(evq 'sorted(set(e["what"] for e in ev if e["kind"] == "process" and "supervising" in e["command"]))')" "['attached', 'exited']"

done_ok
