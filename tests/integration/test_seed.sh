# test_seed.sh - FAULTLINE_SEED makes every random decision reproducible:
# the same seed and the same calls give the same faults (which calls fail,
# how long each jittered delay is); different seeds give different ones.
. "$(dirname "$0")/lib.sh"
need_build

start_server sink sink tcp4
SINK=$SERVER_PORT

# 200 sends; prints o (sent) or X (failed) for each.
SENDS='
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
out = ""
for i in range(200):
    try:
        s.send(b"p"); out += "o"
    except OSError:  # the injected ENOBUFS: transient, the socket stays usable
        out += "X"
print(out)
s.close()'

# pattern RULES [ENV...]: the pattern of SENDS under RULES.
pattern() {
	local rules=$1
	shift
	env "$@" FAULTLINE_RULES="$rules" LD_PRELOAD="$SHIM" "$PY" -c "$SENDS" "$SINK"
}

COIN="127.0.0.1:$SINK fault on=send error=ENOBUFS probability=0.5"

check "same seed, same calls: the same 200-call fault pattern"
p1=$(pattern "$COIN" FAULTLINE_SEED=12345)
p2=$(pattern "$COIN" FAULTLINE_SEED=12345)
assert_eq "pattern length" 200 "${#p1}"
assert_eq "pattern under seed 12345, second run" "$p1" "$p2"

check "the pattern is a real coin: between 60 and 140 of 200 calls fail"
fails=$(printf '%s' "$p1" | tr -cd X | wc -c)
assert_ge "failed calls" 60 "$fails"
assert_le "failed calls" 140 "$fails"

check "different seeds: different patterns"
p3=$(pattern "$COIN" FAULTLINE_SEED=54321)
assert_ne "pattern under seed 54321 vs 12345" "$p1" "$p3"

check "no seed: taken from the clock, so two runs differ"
p4=$(pattern "$COIN")
p5=$(pattern "$COIN")
assert_ne "two unseeded runs" "$p4" "$p5"

check "a config file's seed = N acts like FAULTLINE_SEED=N; the variable wins over the file"
cat >"$FL_TMP/seeded.cfg" <<EOF
seed = 12345;
destinations = (
  { match = "127.0.0.1:$SINK";
    faults = ( { on = ["send"]; error = "ENOBUFS"; probability = 0.5; } ); }
);
EOF
from_file=$(env FAULTLINE_CONFIG="$FL_TMP/seeded.cfg" LD_PRELOAD="$SHIM" "$PY" -c "$SENDS" "$SINK")
assert_eq "pattern from the file's seed vs FAULTLINE_SEED=12345" "$p1" "$from_file"
overridden=$(env FAULTLINE_SEED=54321 FAULTLINE_CONFIG="$FL_TMP/seeded.cfg" LD_PRELOAD="$SHIM" "$PY" -c "$SENDS" "$SINK")
assert_eq "pattern with FAULTLINE_SEED=54321 over the file's 12345" "$p3" "$overridden"

check "faultline run --seed N is FAULTLINE_SEED=N"
via_cli=$("$CLI" run --seed 12345 --rules "$COIN" -- "$PY" -c "$SENDS" "$SINK")
assert_eq "pattern via faultline run --seed 12345" "$p1" "$via_cli"

# delays RULES SEED: the jittered delays of 20 sends, from the debug log.
delays() {
	FAULTLINE_LOG=debug FAULTLINE_SEED=$2 FAULTLINE_RULES="$1" LD_PRELOAD="$SHIM" "$PY" -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
for i in range(20):
    s.send(b"p")' "$SINK" 2>&1 | sed -n 's/.*: delay \([0-9]*\) ms$/\1/p' | tr '\n' ' '
}

JITTER="127.0.0.1:$SINK fault on=send delay_ms=20 jitter_ms=15"
check "jitter is reproducible too: same seed, same 20 delays; another seed, others"
d1=$(delays "$JITTER" 99)
d2=$(delays "$JITTER" 99)
d3=$(delays "$JITTER" 100)
assert_eq "number of delays logged" 20 "$(echo "$d1" | wc -w)"
assert_eq "delays under seed 99, second run" "$d1" "$d2"
assert_ne "delays under seed 100 vs 99" "$d1" "$d3"
for d in $d1; do
	assert_ge "a jittered delay (ms)" 5 "$d"
	assert_le "a jittered delay (ms)" 35 "$d"
done

done_ok
