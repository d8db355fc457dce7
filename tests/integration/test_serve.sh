# test_serve.sh - `faultline serve` (SPEC section 8) with real clients:
# curl for every endpoint, every error status and every security rule,
# promtool on /metrics, 50 pollers against 8 processes of traffic under the
# shim, slow clients that must not stall others, SIGTERM/SIGINT, a taken
# port, and the dashboard in headless chromium (no console error, a CLI
# trip shown within 2 s, its reset button closes the breaker).
. "$(dirname "$0")/lib.sh"
need_cmd curl
need_build helper_connloop

# connect_ports PORT...: one refused connect per port, under the shim, in
# $FAULTLINE_DOMAIN with $RULES: destinations appear in the domain.
connect_ports() {
	FAULTLINE_RULES="$RULES" LD_PRELOAD="$SHIM" "$PY" - "$@" <<-'EOF'
		import socket, sys
		for p in sys.argv[1:]:
		    s = socket.socket()
		    try:
		        s.connect(("127.0.0.1", int(p)))
		    except OSError:
		        pass
		    s.close()
	EOF
}

# serve NAME ARGS...: starts `faultline serve ARGS` in the background and
# waits for its first line; its log is $FL_TMP/NAME.log, its pid SERVE_PID.
serve() {
	local name=$1
	shift
	start_bg "$name" "$CLI" serve "$@"
	SERVE_PID=${BG_PIDS[-1]}
	wait_for "serve $name to start" 10 grep -q "at http://" "$FL_TMP/$name.log"
}

# req METHOD PATH [CURL ARGS...]: CODE (status), BODY; to $BASE.
req() {
	local method=$1 path=$2
	shift 2
	BODY=$(curl -sS -g -X "$method" -o - -w '\n%{http_code}' --max-time 20 "$@" "$BASE$path")
	CODE=${BODY##*$'\n'}
	BODY=${BODY%$'\n'*}
	BODY=$(printf '%s' "$BODY") # without the trailing newline, as $(cmd) gives text
}

JSONCT=(-H 'Content-Type: application/json')

jq_py() { # EXPR: evaluates EXPR over the JSON in $BODY (as j)
	printf '%s' "$BODY" | "$PY" -c 'import json, sys; j = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

D1=127.0.0.1:29101 # breaker and bulkhead
D2=127.0.0.1:29102 # bulkhead only
RULES="$D1 breaker failure_threshold=50; 127.0.0.1:29101-29102 bulkhead max_concurrent_requests=4"
connect_ports 29101 29101 29101 29102

PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
serve srv --listen "127.0.0.1:$PORT"

check "GET /api/v1/stats is the stats --json object"
req GET /api/v1/stats
assert_eq "status" 200 "$CODE"
want=$("$CLI" stats --json | "$PY" -c 'import json,sys; j=json.load(sys.stdin); print((sorted((d["destination"], d["breaker"] and d["breaker"]["calls"], d["bulkhead"]["limit"]) for d in j["destinations"]), j["domain"]))')
assert_eq "destinations, calls, limits, domain" "$want" \
	"$(jq_py 'sorted((d["destination"], d["breaker"] and d["breaker"]["calls"], d["bulkhead"]["limit"]) for d in j["destinations"]), j["domain"]')"
assert_eq "D1 calls" 3 "$(jq_py "[d for d in j['destinations'] if d['destination'] == '$D1'][0]['breaker']['calls']")"

check "GET /metrics is stats --prometheus, and promtool accepts it"
req GET /metrics
assert_eq "status" 200 "$CODE"
assert_eq "same text as stats --prometheus" "$("$CLI" stats --prometheus)" "$BODY"
assert_contains "breaker state series" "$BODY" "faultline_breaker_state{destination=\"$D1\"} 0"
ct=$(curl -sS -o /dev/null -w '%{content_type}' "$BASE/metrics")
assert_eq "content type" "text/plain; version=0.0.4; charset=utf-8" "$ct"
if command -v promtool >/dev/null 2>&1; then
	out=$(printf '%s\n' "$BODY" | promtool check metrics 2>&1)
	assert_eq "promtool check metrics (exit 0, no complaint): $out" 0 "$?"
else
	echo "   (promtool is not installed: the prometheus package; skipped)"
fi

check "HEAD works as GET without a body"
code=$(curl -sS -I -o /dev/null -w '%{http_code}' "$BASE/api/v1/stats")
assert_eq "HEAD status" 200 "$code"

check "POST .../trip: forced_open, for the CLI too; the reply is the destination's stats object"
req POST "/api/v1/destinations/$D1/trip" "${JSONCT[@]}"
assert_eq "status" 200 "$CODE"
assert_eq "reply" "forced_open 1" "$(jq_py "j['destinations'][0]['breaker']['state'], len(j['destinations'])" | tr -d "(),'")"
assert_eq "CLI state" forced_open "$(stats_field "$D1" STATE)"

check "POST .../reset: closed, counters cleared"
req POST "/api/v1/destinations/$D1/reset" "${JSONCT[@]}"
assert_eq "status" 200 "$CODE"
assert_eq "CLI state, calls" "closed 0" "$(stats_field "$D1" STATE) $(stats_field "$D1" CALLS)"

check "a percent-encoded destination is the same destination"
req POST "/api/v1/destinations/127.0.0.1%3A29101/trip" "${JSONCT[@]}"
assert_eq "status" 200 "$CODE"
req POST "/api/v1/destinations/127.0.0.1%3A29101/reset" "${JSONCT[@]}"

check "PATCH: breaker and bulkhead keys live, as faultline set"
req PATCH "/api/v1/destinations/$D1" "${JSONCT[@]}" \
	-d '{"breaker": {"failure_threshold": 3, "failure_rate_threshold": 12.5, "enabled": true}, "bulkhead": {"max_concurrent_requests": 7}}'
assert_eq "status: $BODY" 200 "$CODE"
assert_eq "CLI figures" "[3, 12.5, 7]" "$(json_get "[d('$D1')['breaker']['failure_threshold'], d('$D1')['breaker']['failure_rate_threshold'], d('$D1')['bulkhead']['limit']]")"
req PATCH "/api/v1/destinations/$D2" "${JSONCT[@]}" -d '{"bulkhead": {"max_queue_size": "0"}}'
assert_eq "bulkhead-only destination, string value: status" 200 "$CODE"
assert_eq "CLI max_queue_size" 0 "$(json_get "d('$D2')['bulkhead']['max_queue_size']")"

check "400 names the bad key or value, as the CLI does; nothing is written"
req PATCH "/api/v1/destinations/$D1" "${JSONCT[@]}" -d '{"breaker": {"failure_threshold": 4, "failur_threshold": 3}}'
assert_eq "unknown key: status" 400 "$CODE"
assert_eq "unknown key: error" "unknown key 'failur_threshold' in breaker (did you mean 'failure_threshold'?)" "$(jq_py 'j["error"]')"
cli set "$D1" failur_threshold=3
assert_contains "the CLI's own message for the same key" "$ERR" "$(jq_py 'j["error"]')"
assert_eq "failure_threshold unchanged" 3 "$(json_get "d('$D1')['breaker']['failure_threshold']")"
req PATCH "/api/v1/destinations/$D1" "${JSONCT[@]}" -d '{"bulkhead": {"max_concurrent_requests": -1}}'
assert_eq "bad value: status" 400 "$CODE"
assert_contains "bad value: error" "$BODY" "max_concurrent_requests"
req PATCH "/api/v1/destinations/$D1" "${JSONCT[@]}" -d '{"breakers": {"x": 1}}'
assert_eq "unknown part: status" 400 "$CODE"
assert_contains "unknown part: error" "$BODY" "unknown key 'breakers'"
req PATCH "/api/v1/destinations/$D1" "${JSONCT[@]}" -d '{"breaker": {"failure_threshold": [1]}}'
assert_eq "array value: status" 400 "$CODE"
assert_contains "array value: error" "$BODY" "breaker.failure_threshold"
req PATCH "/api/v1/destinations/$D1" "${JSONCT[@]}" -d '{"breaker": '
assert_eq "not JSON: status" 400 "$CODE"
assert_contains "not JSON: error" "$BODY" "not JSON"
req PATCH "/api/v1/destinations/$D1" "${JSONCT[@]}" -d '{}'
assert_eq "empty object: status" 400 "$CODE"
req PATCH "/api/v1/destinations/$D2" "${JSONCT[@]}" -d '{"breaker": {"failure_threshold": 3}}'
assert_eq "breaker key on a bulkhead-only destination: status" 409 "$CODE"
assert_contains "error" "$BODY" "has no breaker"
# SPEC 11: trip also works where no breaker exists yet (the breaker is made, forced open)
req POST "/api/v1/destinations/$D2/trip" "${JSONCT[@]}"
assert_eq "trip without a breaker: status" 200 "$CODE"
STATE=$("$CLI" stats --json | "$PY" -c 'import json,sys; print([d for d in json.load(sys.stdin)["destinations"] if d["destination"] == sys.argv[1]][0]["breaker"]["state"])' "$D2")
assert_eq "its breaker after the trip" forced_open "$STATE"
"$CLI" reset "$D2" >/dev/null

check "404: unknown destination, unknown domain, a path outside the API"
# (trip of an unknown destination creates it since SPEC 11: reset does not)
req POST "/api/v1/destinations/127.0.0.1:1/reset" "${JSONCT[@]}"
assert_eq "unknown destination: status" 404 "$CODE"
assert_contains "error" "$BODY" "'127.0.0.1:1' not found"
req GET "/api/v1/stats?domain=it-serve-none-$$"
assert_eq "unknown domain: status" 404 "$CODE"
assert_contains "error" "$BODY" "does not exist"
req GET "/api/v1/stats?domain=a/b"
assert_eq "invalid domain name: status" 400 "$CODE"
for p in /index.html /api/v1 /api/v1/stats/x /etc/passwd /../../etc/passwd /metrics/ /api/v2/stats; do
	req GET "$p" --path-as-is
	assert_eq "GET $p" 404 "$CODE"
	assert_contains "GET $p: JSON error" "$BODY" '"error": '
done

check "?domain= serves another domain"
OTHER="it-serve-other-$$"
TEST_DOMAINS+=("$OTHER")
FAULTLINE_DOMAIN=$OTHER RULES="127.0.0.1:29103 breaker" connect_ports 29103
req GET "/api/v1/stats?domain=$OTHER"
assert_eq "status" 200 "$CODE"
assert_eq "its destinations" "$OTHER ['127.0.0.1:29103']" "$(jq_py 'j["domain"] + " " + str([d["destination"] for d in j["destinations"]])')"
req POST "/api/v1/destinations/127.0.0.1:29103/trip?domain=$OTHER" "${JSONCT[@]}"
assert_eq "trip there: status" 200 "$CODE"
assert_eq "tripped there" forced_open "$(FAULTLINE_DOMAIN=$OTHER stats_field 127.0.0.1:29103 STATE)"

check "405 with Allow, for a known path and a wrong method"
req DELETE /api/v1/stats "${JSONCT[@]}"
assert_eq "DELETE stats" 405 "$CODE"
allow=$(curl -sS -o /dev/null -D - -X PUT "$BASE/metrics" | tr -d '\r' | sed -n 's/^Allow: //p')
assert_eq "Allow header" "GET, HEAD" "$allow"
req GET "/api/v1/destinations/$D1/trip"
assert_eq "GET trip" 405 "$CODE"
req POST "/api/v1/destinations/$D1" "${JSONCT[@]}"
assert_eq "POST destination" 405 "$CODE"

check "415: changing requests need Content-Type: application/json"
req POST "/api/v1/destinations/$D1/trip"
assert_eq "no content type" 415 "$CODE"
req POST "/api/v1/destinations/$D1/trip" -H 'Content-Type: text/plain'
assert_eq "text/plain" 415 "$CODE"
req PATCH "/api/v1/destinations/$D1" -d 'breaker.failure_threshold=9'
assert_eq "a form (curl -d)" 415 "$CODE"
req POST "/api/v1/destinations/$D1/trip" -H 'Content-Type: application/json; charset=utf-8'
assert_eq "application/json with charset" 200 "$CODE"
req POST "/api/v1/destinations/$D1/reset" "${JSONCT[@]}"
assert_eq "closed again" closed "$(stats_field "$D1" STATE)"

check "413: a body over 1 MiB, announced or chunked; exactly 1 MiB is read"
head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$FL_TMP/big"
req PATCH "/api/v1/destinations/$D1" "${JSONCT[@]}" --data-binary "@$FL_TMP/big"
assert_eq "Content-Length over 1 MiB" 413 "$CODE"
req PATCH "/api/v1/destinations/$D1" "${JSONCT[@]}" -H 'Transfer-Encoding: chunked' --data-binary "@$FL_TMP/big"
assert_eq "chunked over 1 MiB" 413 "$CODE"
{
	printf '{"breaker": {"failure_threshold": 6}}'
	head -c $((1024 * 1024 - 37)) /dev/zero | tr '\0' ' '
} >"$FL_TMP/exact"
assert_eq "size of the 1 MiB body" $((1024 * 1024)) "$(stat -c %s "$FL_TMP/exact")"
req PATCH "/api/v1/destinations/$D1" "${JSONCT[@]}" --data-binary "@$FL_TMP/exact"
assert_eq "1 MiB exactly: status" 200 "$CODE"

check "Host must be the listen address or localhost (DNS rebinding)"
for h in "evil.example" "evil.example:$PORT" "127.0.0.1:1" "localhost.evil.example:$PORT" "127.0.0.2:$PORT"; do
	req GET /api/v1/stats -H "Host: $h"
	assert_eq "Host $h" 403 "$CODE"
	assert_contains "Host $h: error" "$BODY" "is not this server's address"
done
for h in "localhost:$PORT" "LOCALHOST" "127.0.0.1:$PORT" "127.0.0.1"; do
	req GET /api/v1/stats -H "Host: $h"
	assert_eq "Host $h" 200 "$CODE"
done
req GET / -H "Host: evil.example"
assert_eq "the dashboard too" 403 "$CODE"

check "GET /api/v1/layers is layers --json; PUT applies a layer, as faultline apply"
req GET /api/v1/layers
assert_eq "status" 200 "$CODE"
assert_eq "no layers yet: the CLI's array" "$("$CLI" layers --json)" "$BODY"
T0=$(now_ms)
req PUT /api/v1/layers/slow "${JSONCT[@]}" -d '{"rules": "127.0.0.1:29109 fault on=recv delay_ms=5; 127.0.0.1:29108 fault on=connect error=ECONNREFUSED", "for": "5m"}'
assert_eq "PUT status: $BODY" 200 "$CODE"
assert_eq "reply: the layer" "slow 2 300000" "$(jq_py 'j["name"], len(j["rules"]), j["expires"] - j["applied"]' | tr -d "(),'")"
req GET /api/v1/layers
assert_eq "GET after PUT: the CLI's array" "$("$CLI" layers --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin))')" "$(jq_py j)"
req PUT /api/v1/layers/slow "${JSONCT[@]}" -d '{"rules": "127.0.0.1:29109 fault on=recv delay_ms=7", "for": 60000}'
assert_eq "PUT again replaces it (for in ms): status" 200 "$CODE"
assert_eq "replaced" "1 ['127.0.0.1:29109 fault on=recv delay_ms=7']" "$("$CLI" layers --json | "$PY" -c 'import json,sys; j=json.load(sys.stdin); print(len(j), j[0]["rules"])')"

check "PUT errors: bad rules 400 naming line:column and key, as the CLI; bad for, name, body; 415; 413"
req PUT /api/v1/layers/bad "${JSONCT[@]}" -d '{"rules": "127.0.0.1:29109 fault on=connect eror=ECONNREFUSED"}'
assert_eq "bad rules: status" 400 "$CODE"
assert_eq "bad rules: error" "rules:1:34: unknown key 'eror' in fault (did you mean 'error'?)" "$(jq_py 'j["error"]')"
cli apply --name bad --rules "127.0.0.1:29109 fault on=connect eror=ECONNREFUSED"
assert_contains "the CLI's message for the same rules" "$ERR" "--$(jq_py 'j["error"]')"
req PUT /api/v1/layers/bad "${JSONCT[@]}" -d '{"rules": "127.0.0.1:29109 fault on=connect error=ECONNREFUSED;\n127.0.0.1:29109 breaker failure_thresold=3"}'
assert_eq "line 2: error" "rules:2:25: unknown key 'failure_thresold' in breaker (did you mean 'failure_threshold'?)" "$(jq_py 'j["error"]')"
req PUT /api/v1/layers/bad "${JSONCT[@]}" -d '{"rules": "127.0.0.1:29109 fault on=connect error=ECONNREFUSED", "for": "soon"}'
assert_eq "bad for: status" 400 "$CODE"
assert_contains "bad for: error" "$BODY" "for: 'soon' is not a duration"
req PUT "/api/v1/layers/a%20b" "${JSONCT[@]}" -d '{"rules": "127.0.0.1:29109 fault on=connect error=ECONNREFUSED"}'
assert_eq "bad name: status" 400 "$CODE"
assert_contains "bad name: error" "$BODY" "'a b' is not a layer name"
req PUT /api/v1/layers/bad "${JSONCT[@]}" -d '{"rule": "x"}'
assert_eq "unknown key: status" 400 "$CODE"
assert_contains "unknown key: error" "$BODY" "unknown key 'rule'"
req PUT /api/v1/layers/bad "${JSONCT[@]}" -d '{"for": "1s"}'
assert_eq "no rules: status" 400 "$CODE"
req PUT /api/v1/layers/bad "${JSONCT[@]}" -d '["x"'
assert_eq "not JSON: status" 400 "$CODE"
req PUT /api/v1/layers/bad -d '{"rules": "127.0.0.1:29109 fault on=connect error=ECONNREFUSED"}'
assert_eq "a form content type: status" 415 "$CODE"
req DELETE /api/v1/layers/slow
assert_eq "DELETE without a content type: status" 415 "$CODE"
req PUT /api/v1/layers/bad "${JSONCT[@]}" --data-binary "@$FL_TMP/big"
assert_eq "over 1 MiB: status" 413 "$CODE"
assert_eq "none of these applied anything" "['slow']" "$("$CLI" layers --json | "$PY" -c 'import json,sys; print([l["name"] for l in json.load(sys.stdin)])')"

check "DELETE /api/v1/layers/NAME removes it (404 if unknown); DELETE /api/v1/layers removes all"
req DELETE /api/v1/layers/nosuch "${JSONCT[@]}"
assert_eq "unknown layer: status" 404 "$CODE"
assert_eq "unknown layer: error" "no layer 'nosuch' in domain '$FAULTLINE_DOMAIN'" "$(jq_py 'j["error"]')"
req DELETE /api/v1/layers/slow "${JSONCT[@]}"
assert_eq "status" 200 "$CODE"
assert_eq "reply" '{"removed": 1}' "$BODY"
assert_eq "gone for the CLI" "[]" "$("$CLI" layers --json)"
"$CLI" apply --name l1 --rules "127.0.0.1:29109 fault on=recv delay_ms=1" >/dev/null
"$CLI" apply --name l2 --rules "127.0.0.1:29109 fault on=recv delay_ms=2" >/dev/null
req DELETE /api/v1/layers "${JSONCT[@]}"
assert_eq "all: status" 200 "$CODE"
assert_eq "all: reply" '{"removed": 2}' "$BODY"
assert_eq "none left" "[]" "$("$CLI" layers --json)"
req GET "/api/v1/layers?domain=it-serve-none-$$"
assert_eq "unknown domain: status" 404 "$CODE"
req DELETE "/api/v1/layers?domain=it-serve-none-$$" "${JSONCT[@]}"
assert_eq "unknown domain, DELETE: status" 404 "$CODE"
req POST /api/v1/layers "${JSONCT[@]}"
assert_eq "POST layers" 405 "$CODE"
req GET /api/v1/layers/x
assert_eq "GET one layer" 405 "$CODE"

check "a layer PUT over HTTP faults a running python loop under the shim; DELETE heals it"
"$CLI" run -- "$PY" - "$FL_TMP/loop.port" "$FL_TMP/loop.stop" >"$FL_TMP/loop.out" 2>&1 <<-'EOF' &
	import os, socket, sys, time
	lst = socket.socket()
	lst.bind(("127.0.0.1", 0))
	lst.listen(64)
	open(sys.argv[1], "w").write(str(lst.getsockname()[1]))
	deadline = time.time() + 120
	while time.time() < deadline and not os.path.exists(sys.argv[2]):
	    s = socket.socket()
	    try:
	        s.connect(lst.getsockname())
	        print("ok", flush=True)
	        lst.accept()[0].close()
	    except OSError as e:
	        print("refused", e.errno, flush=True)
	    s.close()
	    time.sleep(0.02)
EOF
LOOP=$!
wait_for "the loop to connect" 20 grep -q '^ok' "$FL_TMP/loop.out"
LPORT=$(cat "$FL_TMP/loop.port")
req PUT /api/v1/layers/outage "${JSONCT[@]}" -d "{\"rules\": \"127.0.0.1:$LPORT fault on=connect error=ECONNREFUSED\"}"
assert_eq "PUT status" 200 "$CODE"
n=$(wc -l <"$FL_TMP/loop.out")
refused_after() { tail -n +"$(($1 + 1))" "$FL_TMP/loop.out" | grep -q '^refused 111'; }
wait_for "the running loop to be refused" 10 refused_after "$n"
req DELETE /api/v1/layers/outage "${JSONCT[@]}"
assert_eq "DELETE status" 200 "$CODE"
n=$(wc -l <"$FL_TMP/loop.out")
ok_after() { tail -n +"$(($1 + 1))" "$FL_TMP/loop.out" | grep -q '^ok'; }
wait_for "the loop to connect again" 10 ok_after "$n"
assert_eq "healed: the last attempt" ok "$(tail -n 1 "$FL_TMP/loop.out")"
touch "$FL_TMP/loop.stop"
wait "$LOOP"

check "GET /api/v1/events?since=T: the events since T, as events --json --since T"
req GET "/api/v1/events?since=$T0"
assert_eq "status" 200 "$CODE"
"$CLI" events --json --since "$T0" >"$FL_TMP/ev.cli" 2>/dev/null
assert_eq "a prefix of the CLI's list, same objects" "True" \
	"$(printf '%s' "$BODY" | "$PY" -c '
import json, sys
api = json.load(sys.stdin)
cli = [json.loads(l) for l in open(sys.argv[1])]
print(len(api) > 0 and cli[:len(api)] == api)' "$FL_TMP/ev.cli")"
assert_eq "times >= T, and the layer events are there" "True applied:slow applied:slow removed:slow applied:outage removed:outage" \
	"$(jq_py "str(all(e['time'] >= $T0 for e in j)) + ' ' + ' '.join(e['what'] + ':' + e['layer'] for e in j if e['kind'] == 'layer' and e['layer'] in ('slow', 'outage'))")"
req GET "/api/v1/events?since=$(($(now_ms) + 60000))"
assert_eq "since the future: empty" "[]" "$BODY"
req GET "/api/v1/events?since=1h"
assert_eq "since a duration: status" 200 "$CODE"
req GET "/api/v1/events?since=yesterday"
assert_eq "bad since: status" 400 "$CODE"
assert_contains "bad since: error" "$BODY" "since: 'yesterday'"
req GET "/api/v1/events?domain=it-serve-none-$$"
assert_eq "unknown domain: status" 404 "$CODE"
req DELETE /api/v1/events "${JSONCT[@]}"
assert_eq "DELETE events" 405 "$CODE"

check "GET /api/v1/events/stream: server-sent events; a CLI trip arrives; Last-Event-ID resumes"
curl -sSN -D "$FL_TMP/sse.h" --max-time "$(scaled 20)" "$BASE/api/v1/events/stream" >"$FL_TMP/sse.out" 2>&1 &
SSE=$!
wait_for "the stream to open" 10 grep -q '^HTTP/1.1 200' "$FL_TMP/sse.h"
assert_contains "content type" "$(tr -d '\r' <"$FL_TMP/sse.h")" "Content-Type: text/event-stream"
t0=$(now_ms)
"$CLI" trip "$D1" || fail "trip"
wait_for "the trip on the stream" 5 grep -q '"reason": "forced"' "$FL_TMP/sse.out"
assert_took "from the trip to the stream" 2000 $(($(now_ms) - t0))
"$CLI" reset "$D1" || fail "reset"
wait_for "the reset on the stream" 5 grep -q '"reason": "reset"' "$FL_TMP/sse.out"
kill "$SSE" 2>/dev/null
wait "$SSE" 2>/dev/null
parsed=$("$PY" - "$FL_TMP/sse.out" <<-'EOF'
	import json, sys
	frames = open(sys.argv[1]).read().split("\n\n")
	evs = []
	for f in frames:
	    lines = [l for l in f.split("\n") if l and not l.startswith(":")]
	    if not lines:
	        continue
	    assert lines[0].startswith("id: ") and lines[1].startswith("data: ") and len(lines) == 2, f
	    evs.append((int(lines[0][4:]), json.loads(lines[1][6:])))
	b = [(i, e) for i, e in evs if e["kind"] == "breaker"]
	print(len(b), b[0][1]["destination"], b[0][1]["from"], b[0][1]["to"], b[1][1]["to"], b[0][0] + 1 == b[1][0], b[0][0])
EOF
)
assert_eq "frames: 2 breaker events, in order, ids consecutive" "2 $D1 closed forced_open closed True" "${parsed% *}"
id=${parsed##* }
out=$(curl -sSN --max-time "$(scaled 1)" -H "Last-Event-ID: $id" "$BASE/api/v1/events/stream" 2>/dev/null)
assert_eq "Last-Event-ID $id: resumes after it" "id: $((id + 1))" "$(printf '%s\n' "$out" | head -n 1)"
assert_contains "with the reset" "$(printf '%s\n' "$out" | sed -n 2p)" '"reason": "reset"'
out=$(curl -sSN --max-time "$(scaled 1)" "$BASE/api/v1/events/stream?since=$t0" 2>/dev/null)
assert_contains "?since=T starts at T: the trip" "$(printf '%s\n' "$out" | sed -n 2p)" '"reason": "forced"'
req GET /api/v1/events/stream -H "Last-Event-ID: x"
assert_eq "bad Last-Event-ID" 400 "$CODE"
req GET "/api/v1/events/stream?domain=it-serve-none-$$"
assert_eq "unknown domain" 404 "$CODE"

check "GET / is the dashboard, from the binary, with a content security policy"
headers=$(curl -sS -D - -o "$FL_TMP/page.html" "$BASE/" | tr -d '\r')
assert_contains "content type" "$headers" "Content-Type: text/html; charset=utf-8"
assert_contains "CSP" "$headers" "Content-Security-Policy: default-src 'self'"
assert_eq "the page is tools/dashboard.html" "$(cat "$FL_TOP/tools/dashboard.html")" "$(cat "$FL_TMP/page.html")"
assert_not_contains "no CDN or outside address" "$(grep -o 'https\?://[^"]*' "$FL_TMP/page.html" || true)" "http"

check "one log line per changing request, none for reads"
sleep 0.2 # the line is written when the reply is complete
changing=$(grep -c " -> " "$FL_TMP/srv.log")
assert_contains "a trip line" "$(cat "$FL_TMP/srv.log")" "POST /api/v1/destinations/$D1/trip domain=$FAULTLINE_DOMAIN -> 200"
assert_contains "a refused PATCH line" "$(cat "$FL_TMP/srv.log")" "PATCH /api/v1/destinations/$D1 domain=$FAULTLINE_DOMAIN -> 400"
assert_not_contains "no GET line" "$(cat "$FL_TMP/srv.log")" " GET "
assert_ge "changing requests logged" 25 "$changing"

check "slow clients hold their own connection only; idle ones are closed after the timeout"
"$PY" - "$PORT" "$(scaled 40)" >"$FL_TMP/slow.out" 2>&1 <<-'EOF' &
	import socket, sys, time
	port = int(sys.argv[1])
	conns = []
	for i in range(20):
	    s = socket.create_connection(("127.0.0.1", port))
	    s.sendall(b"GET /api/v1/stats HTTP/1.1\r\nHost: loc")  # and nothing more
	    conns.append(s)
	print("holding", flush=True)
	t0 = time.time()
	closed = 0
	deadline = t0 + float(sys.argv[2])  # bounded: a server without timeouts fails here
	for s in conns:
	    try:
	        s.settimeout(max(0.1, deadline - time.time()))
	        while s.recv(4096):
	            pass
	        closed += 1
	    except socket.timeout:
	        pass
	    except OSError:
	        closed += 1  # reset by the server: closed too
	print("closed %d after %d ms" % (closed, (time.time() - t0) * 1000))
EOF
SLOW=$!
wait_for "the slow clients to connect" 10 grep -q holding "$FL_TMP/slow.out"
t0=$(now_ms)
req GET /api/v1/stats
assert_eq "a normal request meanwhile" 200 "$CODE"
assert_took "its time" 2000 $(($(now_ms) - t0))
wait "$SLOW"
out=$(cat "$FL_TMP/slow.out")
ms=$(printf '%s\n' "$out" | sed -n 's/^closed 20 after \([0-9]*\) ms$/\1/p')
[ -n "$ms" ] || fail "slow clients: $out"
assert_ge "idle connections closed no sooner than the 10 s timeout (ms)" 9000 "$ms"
assert_took "idle connections closed" 30000 "$ms"

check "load: 50 clients polling /api/v1/stats and 10 event streams (and one that never reads) while 8 processes run traffic under the shim"
LOADDOM="it-serve-load-$$"
TEST_DOMAINS+=("$LOADDOM")
N=5000
K=50 # trip+reset pairs of a destination of its own during the traffic: 2K events per stream
FAULTLINE_DOMAIN=$LOADDOM RULES="127.0.0.1:29105 breaker" connect_ports 29105
# The streams: each counts the breaker events of 127.0.0.1:29105 until it
# has 2K (or a deadline); a stalled server would starve them. One more
# connection asks for the stream with a tiny receive buffer and never reads.
"$PY" - "$PORT" "$LOADDOM" $((2 * K)) "$(scaled 120)" >"$FL_TMP/streams.out" 2>&1 <<-'EOF' &
	import http.client, json, socket, sys, threading, time
	port, dom, want, limit = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
	deadline = time.time() + limit
	counts, opened, lock = [0] * 10, [0], threading.Lock()
	slow = socket.socket()
	slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
	slow.connect(("127.0.0.1", port))
	slow.sendall(("GET /api/v1/events/stream?domain=%s&since=0 HTTP/1.1\r\nHost: localhost\r\n\r\n" % dom).encode())
	def reader(k):
	    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
	    c.request("GET", "/api/v1/events/stream?domain=" + dom)
	    r = c.getresponse()
	    assert r.status == 200 and r.getheader("Content-Type") == "text/event-stream"
	    with lock:
	        opened[0] += 1
	        if opened[0] == 10:
	            print("open", flush=True)
	    while counts[k] < want and time.time() < deadline:
	        line = r.fp.readline()
	        if not line:
	            break
	        if line.startswith(b"data: "):
	            e = json.loads(line[6:])
	            if e["kind"] == "breaker" and e["destination"] == "127.0.0.1:29105":
	                counts[k] += 1
	threads = [threading.Thread(target=reader, args=(k,)) for k in range(10)]
	for t in threads: t.start()
	for t in threads: t.join()
	print("streams", counts, flush=True)
EOF
STREAMS=$!
wait_for "10 streams to open" 20 grep -q '^open' "$FL_TMP/streams.out"
# The pollers start first and stop when told (a file), so they overlap the
# whole run of the traffic; each counts the polls it made while it ran.
"$PY" - "$BASE/api/v1/stats?domain=$LOADDOM" "$FL_TMP/stop" >"$FL_TMP/poll.out" 2>&1 <<-'EOF' &
	import json, os, sys, threading, time, urllib.request
	url, stop = sys.argv[1], sys.argv[2]
	ok, errors, lock = [0], [], threading.Lock()
	def poller():
	    deadline = time.time() + 300
	    while time.time() < deadline and not os.path.exists(stop):
	        try:
	            with urllib.request.urlopen(url, timeout=30) as r:
	                json.load(r)
	            with lock:
	                ok[0] += 1
	        except Exception as e:
	            with lock:
	                errors.append(repr(e))
	            time.sleep(0.05)
	threads = [threading.Thread(target=poller) for _ in range(50)]
	for t in threads: t.start()
	for t in threads: t.join()
	print("polls %d errors %d %s" % (ok[0], len(errors), errors[:3]))
EOF
POLLERS=$!
pids=()
for i in 1 2 3 4 5 6 7 8; do
	FAULTLINE_DOMAIN=$LOADDOM FAULTLINE_RULES="127.0.0.1 breaker failure_threshold=100000" \
		LD_PRELOAD="$SHIM" "$HELPERS/helper_connloop" "$N" >"$FL_TMP/loop$i.out" 2>&1 &
	pids+=($!)
done
t0=$(now_ms)
for _ in $(seq 1 $K); do
	FAULTLINE_DOMAIN=$LOADDOM "$CLI" trip 127.0.0.1:29105 >/dev/null || fail "trip in the load"
	FAULTLINE_DOMAIN=$LOADDOM "$CLI" reset 127.0.0.1:29105 >/dev/null || fail "reset in the load"
done
for p in "${pids[@]}"; do wait "$p" || fail "connloop $p: $(cat "$FL_TMP"/loop*.out)"; done
echo "   traffic ran $(($(now_ms) - t0)) ms"
touch "$FL_TMP/stop"
wait "$POLLERS"
out=$(cat "$FL_TMP/poll.out")
echo "   $out"
assert_contains "no poll failed" "$out" "errors 0 []"
wait "$STREAMS"
sout=$(cat "$FL_TMP/streams.out")
echo "   $sout" | tail -n 1
assert_contains "every stream got every trip and reset" "$sout" "streams [$(printf "$((2 * K)), %.0s" $(seq 9))$((2 * K))]"
polls=$(printf '%s' "$out" | sed -n 's/^polls \([0-9]*\) .*/\1/p')
assert_ge "polls made (at least one per client)" 50 "$polls"
for i in 1 2 3 4 5 6 7 8; do
	assert_contains "connloop $i" "$(cat "$FL_TMP/loop$i.out")" "connections=$N refused=0"
done
assert_eq "the shim's figures: destinations, calls, failures" "8 $((8 * N)) 0" "$("$CLI" stats --json --domain "$LOADDOM" |
	"$PY" -c 'import json,sys; j=[d for d in json.load(sys.stdin)["destinations"] if d["destination"] != "127.0.0.1:29105"]; print(len(j), sum(d["breaker"]["calls"] for d in j), sum(d["breaker"]["failures"] for d in j))')"

check "1,000 destinations: stats and metrics answer, promtool accepts them"
BIGDOM="it-serve-big-$$"
TEST_DOMAINS+=("$BIGDOM")
FAULTLINE_DOMAIN=$BIGDOM RULES="127.0.0.1:30000-30999 breaker" connect_ports $(seq 30000 30999)
t0=$(now_ms)
req GET "/api/v1/stats?domain=$BIGDOM"
assert_took "stats of 1,000 destinations" 3000 $(($(now_ms) - t0))
assert_eq "destinations" 1000 "$(jq_py 'len(j["destinations"])')"
if command -v promtool >/dev/null 2>&1; then
	out=$(curl -sS "$BASE/metrics?domain=$BIGDOM" | promtool check metrics 2>&1)
	assert_eq "promtool on 1,000 destinations: $out" 0 "$?"
fi

check "the dashboard in headless chromium: no console error, a CLI trip shows within 2 s through the event stream, reset by a click, a layer applied and removed by the form"
if command -v chromium >/dev/null 2>&1; then
	shot=${FL_SCREENSHOT:-$FL_TMP/dashboard.png}
	# The steps (cdp.py's docstring), written by python: JSON quoting of JS quoting.
	D1=$D1 CLI=$CLI SHOT=$shot TWO=$(scaled 2) LONG=$(scaled 60) "$PY" - >"$FL_TMP/steps.json" <<-'EOF'
		import json, os
		e = os.environ
		sel = "document.querySelector('tr[data-dest=\"%s\"] td.state span')" % e["D1"]
		two = float(e["TWO"])
		print(json.dumps([
		    {"wait": "%s && %s.textContent === 'closed'" % (sel, sel), "for": float(e["LONG"])},
		    {"shell": "'%s' trip '%s'" % (e["CLI"], e["D1"])},
		    {"wait": "%s.textContent === 'forced_open' && %s.parentNode.className === 'state s-forced_open'" % (sel, sel), "for": two},
		    {"eval": "'via ' + document.querySelector('tr[data-dest=\"%s\"]').dataset.via" % e["D1"]},
		    {"eval": "document.querySelector('tr[data-dest=\"%s\"] button.reset').click() || 'clicked'" % e["D1"]},
		    {"wait": "%s.textContent === 'closed'" % sel, "for": two},
		    {"shell": "'%s' stats | grep -q '^%s .* closed '" % (e["CLI"], e["D1"])},
		    {"wait": "[...document.querySelectorAll('#feed li')].some(li => li.textContent.includes('reason=reset'))", "for": two},
		    {"eval": "(() => { document.getElementById('lname').value = 'dash-layer'; "
		             "document.getElementById('lrules').value = '%s fault on=recv delay_ms=10'; "
		             "document.getElementById('lfor').value = '10m'; "
		             "document.getElementById('layerform').requestSubmit(); return 'submitted'; })()" % e["D1"]},
		    {"wait": "[...document.querySelectorAll('#layers li')].some(li => li.textContent.includes('dash-layer'))", "for": two},
		    {"shell": "'%s' layers | grep -q '^dash-layer .*delay_ms=10'" % e["CLI"]},
		    {"wait": "[...document.querySelectorAll('#feed li')].some(li => li.textContent.includes('layer=dash-layer'))", "for": two},
		    {"screenshot": e["SHOT"]},
		    {"eval": "document.getElementById('lremove').click() || 'remove clicked'"},
		    {"wait": "document.querySelectorAll('#layers li').length === 0", "for": two},
		    {"shell": "test \"$('%s' layers --json)\" = '[]'" % e["CLI"]},
		]))
	EOF
	out=$(timeout "$(scaled 180)" "$PY" "$FL_TOP/tests/integration/cdp.py" chromium "$BASE/" "$FL_TMP/steps.json" 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed 's/^/   /'
	assert_eq "browser steps (exit status)" 0 "$rc"
	assert_not_contains "console errors" "$out" "console-error"
	trip_ms=$(printf '%s\n' "$out" | sed -n '3s/^wait ok //p')
	assert_le "ms from the CLI trip to the page showing it" 2000 "$trip_ms"
	assert_eq "shown by the event stream, not the 5 s stats refresh" 'eval "via event"' "$(printf '%s\n' "$out" | sed -n 4p)"
	assert_contains "the layer form: PUT and DELETE logged" "$(cat "$FL_TMP/srv.log")" "DELETE /api/v1/layers/dash-layer domain=$FAULTLINE_DOMAIN -> 200"
	assert_contains "reset logged as a dashboard request" "$(cat "$FL_TMP/srv.log")" "POST /api/v1/destinations/$D1/reset"
	[ -s "$shot" ] || fail "no screenshot"

	check "the dashboard holds 1,000 rows"
	cat >"$FL_TMP/steps.json" <<-EOF
		[{"wait": "document.querySelectorAll('#rows tr').length === 1000", "for": $(scaled 60)},
		 {"eval": "new Promise(r => setTimeout(() => r(document.getElementById('status').textContent), 2500))"},
		 {"eval": "document.querySelectorAll('#rows tr').length"},
		 {"eval": "'render ms ' + document.body.dataset.renderMs"}]
	EOF
	out=$(timeout "$(scaled 180)" "$PY" "$FL_TOP/tests/integration/cdp.py" chromium "$BASE/?domain=$BIGDOM" "$FL_TMP/steps.json" 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed 's/^/   /'
	assert_eq "browser steps (exit status)" 0 "$rc"
	assert_contains "rows" "$out" "eval 1000"
	render=$(printf '%s\n' "$out" | sed -n 's/^eval "render ms \([0-9]*\)"$/\1/p')
	assert_took "one refresh of 1,000 unchanged rows" 250 "$render"
else
	echo "   (chromium is not installed: skipped)"
fi

check "a Prometheus server scrapes /metrics and a query returns the breaker state"
if command -v prometheus >/dev/null 2>&1; then
	"$CLI" trip "$D1" || fail "trip for the scrape"
	PPORT=$(free_port)
	cat >"$FL_TMP/prometheus.yml" <<-EOF
		global: {scrape_interval: 1s}
		scrape_configs:
		  - job_name: faultline
		    static_configs: [{targets: ["127.0.0.1:$PORT"]}]
	EOF
	start_bg prometheus prometheus --config.file="$FL_TMP/prometheus.yml" --storage.tsdb.path="$FL_TMP/tsdb" \
		--web.listen-address="127.0.0.1:$PPORT"
	query() {
		curl -sS --max-time 5 "http://127.0.0.1:$PPORT/api/v1/query?query=faultline_breaker_state%7Bdestination%3D%22$D1%22%7D" |
			"$PY" -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "none")'
	}
	scraped_open() { [ "$(query 2>/dev/null)" = 3 ]; }
	wait_for "prometheus to scrape the breaker state (3 = forced_open)" 60 scraped_open
	assert_eq "faultline_breaker_state{destination=\"$D1\"} in Prometheus" 3 "$(query)"
	"$CLI" reset "$D1" || fail "reset after the scrape"
else
	echo "   (prometheus is not installed: skipped)"
fi

check "a taken port: exit 2, saying so"
"$CLI" serve --listen "127.0.0.1:$PORT" >"$FL_TMP/taken.out" 2>&1
assert_eq "exit status" 2 "$?"
assert_contains "message" "$(cat "$FL_TMP/taken.out")" "cannot listen on 127.0.0.1:$PORT: Address already in use"

check "usage errors: exit 2"
"$CLI" serve --listen 0.0.0.0:0 >"$FL_TMP/u.out" 2>&1
assert_eq "off loopback without a token" 2 "$?"
assert_contains "message" "$(cat "$FL_TMP/u.out")" "not a loopback address: give --token-file"
"$CLI" serve --listen nonsense >"$FL_TMP/u.out" 2>&1
assert_eq "bad --listen" 2 "$?"
printf 'shorttoken\n' >"$FL_TMP/short.tok"
chmod 600 "$FL_TMP/short.tok"
"$CLI" serve --listen 127.0.0.1:0 --token-file "$FL_TMP/short.tok" >"$FL_TMP/u.out" 2>&1
assert_eq "short token" 2 "$?"
printf 'an-open-token-of-some-length\n' >"$FL_TMP/open.tok"
chmod 644 "$FL_TMP/open.tok"
"$CLI" serve --listen 127.0.0.1:0 --token-file "$FL_TMP/open.tok" >"$FL_TMP/u.out" 2>&1
assert_eq "token file readable by others" 2 "$?"
assert_contains "message" "$(cat "$FL_TMP/u.out")" "chmod 600"

check "--token-file: 401 without the token, 403 with a wrong one, 200 with it"
TOKEN=t0k3n-$$-abcdefghijklmnop
printf '%s\n' "$TOKEN" >"$FL_TMP/tok"
chmod 600 "$FL_TMP/tok"
TPORT=$(free_port)
serve tsrv --listen "127.0.0.1:$TPORT" --token-file "$FL_TMP/tok"
BASE="http://127.0.0.1:$TPORT"
req GET /api/v1/stats
assert_eq "no Authorization" 401 "$CODE"
assert_contains "error" "$BODY" "Authorization: Bearer TOKEN"
www=$(curl -sS -o /dev/null -D - "$BASE/metrics" | tr -d '\r' | sed -n 's/^WWW-Authenticate: //p')
assert_eq "WWW-Authenticate" Bearer "$www"
req GET /api/v1/stats -H "Authorization: Bearer wrong-$TOKEN"
assert_eq "wrong token" 403 "$CODE"
req GET /api/v1/stats -H "Authorization: Basic $TOKEN"
assert_eq "not Bearer" 403 "$CODE"
req GET / -H "Authorization: Bearer $TOKEN"
assert_eq "the dashboard with the token" 200 "$CODE"
req GET /metrics -H "Authorization: Bearer $TOKEN"
assert_eq "metrics with the token" 200 "$CODE"
req POST "/api/v1/destinations/$D1/trip" -H "Authorization: Bearer $TOKEN"
assert_eq "the token does not lift the content type rule" 415 "$CODE"
req POST "/api/v1/destinations/$D1/trip" -H "Authorization: Bearer $TOKEN" "${JSONCT[@]}"
assert_eq "trip with the token" 200 "$CODE"
req GET /nowhere
assert_eq "even a missing path needs the token first" 401 "$CODE"

check "SIGTERM and SIGINT stop it cleanly (exit 0), an open event stream too"
curl -sSN -D "$FL_TMP/term.h" --max-time "$(scaled 30)" -H "Authorization: Bearer $TOKEN" \
	"$BASE/api/v1/events/stream" >"$FL_TMP/term.out" 2>&1 &
TERMSSE=$!
wait_for "the stream to open" 10 grep -q '^HTTP/1.1 200' "$FL_TMP/term.h"
t0=$(now_ms)
kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
assert_eq "exit status after SIGTERM" 0 "$?"
assert_took "stop" 3000 $(($(now_ms) - t0))
wait "$TERMSSE"
rc=$?
assert_eq "the stream's client saw a clean end (curl exit 0): $(cat "$FL_TMP/term.out")" 0 "$rc"
assert_contains "said so" "$(cat "$FL_TMP/tsrv.log")" "stopped (SIGTERM)"
port_open 127.0.0.1 "$TPORT" 2>/dev/null && fail "port $TPORT still open"
serve isrv --listen "127.0.0.1:$TPORT"
kill -INT "$SERVE_PID"
wait "$SERVE_PID"
assert_eq "exit status after SIGINT" 0 "$?"
assert_contains "said so" "$(cat "$FL_TMP/isrv.log")" "stopped (SIGINT)"

done_ok
