# test_eventloop_nginx.sh - nginx as a reverse proxy, one worker, two
# upstreams, a 3 s recv delay on one of them (issue 17, SPEC 12).
#
# nginx serves every connection from one epoll loop. SPEC 12: a recv delay
# on a non-blocking socket returns EAGAIN and hides readability until the
# delay has passed, so one slow upstream never stalls the others: while a
# request to upstream 1 waits for its delayed response, requests to
# upstream 2 through the same worker answer at once. A shim that sleeps
# inside recv() stops the whole worker for 3 s.
#
# nginx runs as the test user with everything in $FL_TMP: its own prefix
# (-p), configuration (-c), error log (-e and error_log), pid file and temp
# directories; `daemon off; master_process off;` makes the one process the
# worker, so the shim (LD_PRELOAD) is in the process that proxies. Only
# nginx runs under the shim; curl measures from outside.
. "$(dirname "$0")/lib.sh"
need_build
need_cmd curl
NGINX=$(command -v nginx || ls /usr/sbin/nginx 2>/dev/null) ||
	skip "'nginx' is not installed (tools/deps.sh installs it)"
DELAY=3000

start_server up1 http tcp4
UP1=$SERVER_PORT
start_server up2 http tcp4
UP2=$SERVER_PORT
NPORT=$(free_port)
N="$FL_TMP/nginx"
mkdir -p "$N/logs" "$N/tmp"
cat >"$N/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $N/nginx.pid;
error_log $N/logs/error.log info;
events { worker_connections 256; }
http {
	access_log $N/logs/access.log;
	client_body_temp_path $N/tmp/body;
	proxy_temp_path $N/tmp/proxy;
	fastcgi_temp_path $N/tmp/fastcgi;
	uwsgi_temp_path $N/tmp/uwsgi;
	scgi_temp_path $N/tmp/scgi;
	proxy_read_timeout 60s;
	server {
		listen 127.0.0.1:$NPORT;
		location /up1/ { proxy_pass http://127.0.0.1:$UP1; }
		location /up2/ { proxy_pass http://127.0.0.1:$UP2; }
	}
}
EOF
"$NGINX" -t -p "$N/" -e "$N/logs/error.log" -c "$N/nginx.conf" >"$FL_TMP/nginx-t.log" 2>&1 ||
	fail "nginx rejects the test configuration: $(cat "$FL_TMP/nginx-t.log")"

start_bg nginx env FAULTLINE_RULES="127.0.0.1:$UP1 fault on=recv delay_ms=$DELAY" FAULTLINE_LOG=debug \
	FAULTLINE_LOG_FILE="$N/logs/faultline.log" LD_PRELOAD="$SHIM" \
	"$NGINX" -p "$N/" -e "$N/logs/error.log" -c "$N/nginx.conf"
NGINX_PID=$!
wait_port "$NPORT"
nginx_state() { echo "nginx error log: $(tail -n 5 "$N/logs/error.log" 2>/dev/null)"; }

# get PATH: one request through nginx; "CODE TIME_MS" on stdout.
get() {
	curl -sS --max-time 30 -o /dev/null -w '%{http_code} %{time_total}\n' "http://127.0.0.1:$NPORT$1" |
		awk '{ printf "%s %d\n", $1, $2 * 1000 }'
}

check "baseline: both upstreams answer through nginx"
assert_eq "upstream 2 through nginx (code)" 200 "$(get /up2/warm | cut -d' ' -f1)"
wait_events up2 "request 1 GET /up2/warm" 1

check "a request to upstream 1 waits for its delayed response (in the background)"
t0=$(now_ms)
curl -sS --max-time 30 -o "$FL_TMP/up1.body" -w '%{http_code}\n' "http://127.0.0.1:$NPORT/up1/slow" \
	>"$FL_TMP/up1.code" 2>"$FL_TMP/up1.err" &
SLOW=$!
BG_PIDS+=("$SLOW")
# Upstream 1 got the request and answered it at once (server.py): from now
# on nginx's reading of the response is what is delayed.
wait_events up1 "request 1 GET /up1/slow" 1

check "meanwhile, 5 requests to upstream 2 through the same worker answer in well under 100 ms each"
for i in 1 2 3 4 5; do
	r=$(get "/up2/fast$i")
	code=${r% *} ms=${r#* }
	kill -0 "$SLOW" 2>/dev/null ||
		fail "the request to upstream 1 ended before request $i to upstream 2 was answered ($(($(now_ms) - t0)) ms after it started): upstream 2 waited for upstream 1's delayed response; request $i took $ms ms (the shim stalled nginx's worker inside recv() instead of returning EAGAIN, SPEC 12). $(nginx_state)"
	assert_eq "request $i to upstream 2: HTTP code" 200 "$code"
	assert_took "request $i to upstream 2 (curl time_total) while upstream 1 is delayed" 100 "$ms"
done
kill -0 "$SLOW" 2>/dev/null ||
	fail "the request to upstream 1 was no longer pending after the upstream 2 requests ($(($(now_ms) - t0)) ms): its response was not delayed by $DELAY ms"

check "the delayed request to upstream 1 gets its page after at least $DELAY ms"
bh_finish "$SLOW" "the request to upstream 1" 30
elapsed=$(($(now_ms) - t0))
assert_eq "upstream 1 request: curl exit status; it said: $(cat "$FL_TMP/up1.err")" 0 "$RC"
assert_eq "upstream 1 request: HTTP code" 200 "$(cat "$FL_TMP/up1.code")"
assert_eq "upstream 1 request: body" "hello from the faultline test server" "$(cat "$FL_TMP/up1.body")"
assert_ge "upstream 1 request: wall time (ms)" "$DELAY" "$elapsed"
assert_took "upstream 1 request: wall time" $((3 * DELAY + 5000)) "$elapsed"
n=$(json_get "d('127.0.0.1:$UP1')['ops']['recv']['delays_injected']")
assert_ge "recv delays injected on upstream 1 (stats); the shim's log: $(tail -n 3 "$N/logs/faultline.log")" 1 "$n"
kill -0 "$NGINX_PID" 2>/dev/null || fail "nginx died; $(nginx_state)"

done_ok
