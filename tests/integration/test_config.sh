# test_config.sh - configuration: inline rules and libconfig files compile to
# the same rule set; errors name SOURCE:LINE:COL and the key, with a
# suggestion; what a configuration error does to the program
# (FAULTLINE_ON_ERROR), FAULTLINE_DISABLE, and the warning for an errno the
# call can never return.
. "$(dirname "$0")/lib.sh"
need_build helper_io
[ -x "$CLI" ] || fail "no CLI at $CLI (run make)"

# --- inline and file compile to the same rules ---------------------------------

check "the SPEC's inline example and its libconfig example print the same canonical rules"
INLINE='127.0.0.1:6379 breaker failure_threshold=3 timeout_ms=2000;
        127.0.0.1:6379 bulkhead max_concurrent_requests=10 max_queue_size=0;
        127.0.0.1:6379 fault on=connect delay_ms=200 jitter_ms=50 probability=0.5
        127.0.0.1:6379 fault on=recv,read error=ECONNRESET probability=0.01   # a comment'
cat >"$FL_TMP/spec.cfg" <<'EOF'
seed = 42;                               # optional, like FAULTLINE_SEED
destinations = (
  {
    match = "127.0.0.1:6379";
    circuit_breaker = { failure_threshold = 3; timeout_ms = 2000; };
    bulkhead = { max_concurrent_requests = 10; max_queue_size = 0; };
    faults = (
      { on = ["connect"]; delay_ms = 200; jitter_ms = 50; probability = 0.5; },
      { on = ["recv", "read"]; error = "ECONNRESET"; probability = 0.01; }
    );
  }
);
EOF
from_inline=$("$CLI" check --rules "$INLINE") || fail "check --rules failed"
from_file=$("$CLI" check --config "$FL_TMP/spec.cfg") || fail "check --config failed"
assert_eq "canonical rules (file, less its seed line) vs inline" "$from_inline" \
	"$(printf '%s\n' "$from_file" | grep -v '^# seed')"
assert_eq "number of statements" 4 "$(printf '%s\n' "$from_inline" | grep -c .)"
assert_contains "the file's seed is shown" "$from_file" "42"

check "the canonical form is itself valid input and prints back unchanged"
again=$("$CLI" check --rules "$from_inline") || fail "canonical output does not parse"
assert_eq "canonical rules after a round trip" "$from_inline" "$again"

check "the canonical form spells every default out"
one=$("$CLI" check --rules "127.0.0.1 fault error=ECONNRESET")
for kv in "on=" "error=ECONNRESET" "probability=" "after=0" "every=1" "times=0"; do
	assert_contains "canonical fault" "$one" "$kv"
done
one=$("$CLI" check --rules "127.0.0.1 breaker")
for k in failure_threshold=5 success_threshold=2 timeout_ms=60000 half_open_max_requests=1 \
	min_requests_for_rate=20 rolling_window_ms=10000 reject_errno=ECONNREFUSED scope=destination; do
	assert_contains "canonical breaker" "$one" "$k"
done

check "the alias circuit_breaker is the kind breaker"
assert_eq "canonical of 'circuit_breaker'" "$("$CLI" check --rules "127.0.0.1 breaker")" \
	"$("$CLI" check --rules "127.0.0.1 circuit_breaker")"

check "inline rules come before file rules, in faultline check and when matching"
both=$(FAULTLINE_RULES="127.0.0.1:7 fault on=connect error=EHOSTUNREACH" \
	FAULTLINE_CONFIG="$FL_TMP/spec.cfg" "$CLI" check)
assert_contains "first statement" "$(printf '%s\n' "$both" | grep -v '^#' | head -n1)" "127.0.0.1:7 fault"
cat >"$FL_TMP/refuse.cfg" <<'EOF'
destinations = ( { match = "127.0.0.1"; faults = ( { on = ["connect"]; error = "ECONNREFUSED"; } ); } );
EOF
probe_port=$(free_port)
FAULTLINE_CONFIG="$FL_TMP/refuse.cfg" probe "127.0.0.1 fault on=connect error=EHOSTUNREACH" "4:127.0.0.1:$probe_port"
expect_probe "4:127.0.0.1:$probe_port" EHOSTUNREACH
FAULTLINE_CONFIG="$FL_TMP/refuse.cfg" probe "" "4:127.0.0.1:$probe_port"
expect_probe "4:127.0.0.1:$probe_port" ECONNREFUSED

# --- errors ---------------------------------------------------------------------

# bad WHAT EXPECTED-STDERR-FRAGMENT -- faultline check ARGS: must exit 2 and say it.
bad() {
	local what=$1 want=$2 err
	shift 3
	err=$("$CLI" check "$@" 2>&1 >/dev/null)
	local rc=$?
	assert_eq "$what: exit status" 2 "$rc"
	assert_contains "$what: message" "$err" "$want"
}

check "an unknown key names source:line:col and suggests the right one (the SPEC's example)"
rules='127.0.0.1:6379 breaker failure_threshold=3
                 127.0.0.1:6379 breaker failur_threshold=3'
line2=${rules#*$'\n'}
prefix=${line2%%failur_threshold*}
col=$((${#prefix} + 1))
bad "unknown key" "faultline: --rules:2:$col: unknown key 'failur_threshold' in breaker (did you mean 'failure_threshold'?)" \
	-- --rules "$rules"

check "unknown kind, errno name, out-of-range number, bad address, duplicate key: all errors"
bad "unknown kind" "--rules:1:11: unknown kind 'breakr'" -- --rules "127.0.0.1 breakr"
bad "unknown kind suggestion" "did you mean 'breaker'" -- --rules "127.0.0.1 breakr"
bad "unknown errno" "'ECONNRESTE'" -- --rules "127.0.0.1 fault error=ECONNRESTE"
bad "unknown errno suggestion" "did you mean 'ECONNRESET'" -- --rules "127.0.0.1 fault error=ECONNRESTE"
bad "out of range" "--rules:1:17:" -- --rules "127.0.0.1 fault delay_ms=-5"
bad "out of range probability" "'probability'" -- --rules "127.0.0.1 fault delay_ms=1 probability=1.5"
bad "bad address" "127.0.0.300" -- --rules "127.0.0.300 fault delay_ms=5"
bad "bad port" "--rules:1:" -- --rules "127.0.0.1:70000 fault delay_ms=5"
bad "duplicate key" "duplicate key 'error'" -- --rules "127.0.0.1 fault error=ECONNRESET error=EPIPE"
bad "fault without error or delay" "--rules:1:1:" -- --rules "127.0.0.1 fault"
bad "unknown op" "did you mean 'connect'" -- --rules "127.0.0.1 fault on=conect error=ECONNRESET"
bad "unknown key in bulkhead" "did you mean 'max_queue_size'" -- --rules "127.0.0.1 bulkhead max_queue_sise=1"

check "a libconfig file's errors name path:line:col and the key, with a suggestion"
cat >"$FL_TMP/typo.cfg" <<'EOF'
destinations = (
  {
    match = "127.0.0.1:6379";
    circuit_breaker = { failur_threshold = 3; };
  }
);
EOF
bad "unknown key in a file" "$FL_TMP/typo.cfg:4:25: unknown key 'failur_threshold'" -- --config "$FL_TMP/typo.cfg"
bad "unknown key in a file: suggestion" "did you mean 'failure_threshold'" -- --config "$FL_TMP/typo.cfg"
printf 'destinations = ( { match = "127.0.0.1"; faults = ( { on = ["connect"]; error = "ECONNRESET"; } ); } );\nseeed = 1;\n' >"$FL_TMP/top.cfg"
bad "unknown top-level setting" "$FL_TMP/top.cfg:2:" -- --config "$FL_TMP/top.cfg"
bad "unknown top-level setting: suggestion" "did you mean 'seed'" -- --config "$FL_TMP/top.cfg"
printf 'destinations = (\n  { match = "127.0.0.1" ;; }\n);\n' >"$FL_TMP/syntax.cfg"
bad "libconfig syntax error" "$FL_TMP/syntax.cfg:2" -- --config "$FL_TMP/syntax.cfg"
bad "missing file" "$FL_TMP/missing.cfg" -- --config "$FL_TMP/missing.cfg"

# --- what an error does to the program -------------------------------------------

BADRULES="127.0.0.1 breaker failur_threshold=3"

check "FAULTLINE_ON_ERROR unset (exit): exit 2 before main, message on stderr"
out=$(FAULTLINE_RULES="$BADRULES" shim /bin/echo main ran 2>"$FL_TMP/err")
assert_eq "exit status" 2 "$?"
assert_eq "program output (main never ran)" "" "$out"
assert_contains "stderr" "$(cat "$FL_TMP/err")" "faultline: FAULTLINE_RULES:1:19: unknown key 'failur_threshold'"

check "FAULTLINE_ON_ERROR=exit: the same, for an error in a file"
out=$(FAULTLINE_ON_ERROR=exit FAULTLINE_CONFIG="$FL_TMP/typo.cfg" shim /bin/echo main ran 2>"$FL_TMP/err")
assert_eq "exit status" 2 "$?"
assert_eq "program output (main never ran)" "" "$out"
assert_contains "stderr" "$(cat "$FL_TMP/err")" "$FL_TMP/typo.cfg:4:25:"

check "FAULTLINE_ON_ERROR=passthrough: message, then the program runs with no rules at all"
port=$(free_port)
other=$(free_port)
FAULTLINE_ON_ERROR=passthrough \
	FAULTLINE_RULES="127.0.0.1:$port fault on=connect error=ECONNREFUSED; $BADRULES" \
	shim "$HELPERS/helper_io" connect-delay "$port" 0 >"$FL_TMP/out" 2>"$FL_TMP/err"
assert_eq "exit status (connect was not refused: no rules)" 0 "$?"
assert_contains "program output" "$(cat "$FL_TMP/out")" "ok delayed-connect-completes"
assert_contains "stderr" "$(cat "$FL_TMP/err")" "unknown key 'failur_threshold'"

check "FAULTLINE_ON_ERROR with a bad value is itself an error (exit 2)"
FAULTLINE_ON_ERROR=ignore FAULTLINE_RULES="$BADRULES" shim /bin/echo main ran >/dev/null 2>"$FL_TMP/err"
assert_eq "exit status" 2 "$?"
assert_contains "stderr" "$(cat "$FL_TMP/err")" "FAULTLINE_ON_ERROR"

check "bad FAULTLINE_SEED, FAULTLINE_DOMAIN, FAULTLINE_LOG values are configuration errors"
for var in FAULTLINE_SEED=abc FAULTLINE_DOMAIN=no/slash FAULTLINE_LOG=loud; do
	out=$(env "$var" FAULTLINE_RULES="127.0.0.1 fault delay_ms=1" LD_PRELOAD="$SHIM" /bin/echo main ran 2>"$FL_TMP/err")
	assert_eq "$var: exit status" 2 "$?"
	assert_eq "$var: program output" "" "$out"
	assert_contains "$var: stderr" "$(cat "$FL_TMP/err")" "${var%%=*}"
done

check "FAULTLINE_DISABLE=1: bad rules are not even read; the program runs silently"
out=$(FAULTLINE_DISABLE=1 FAULTLINE_RULES="$BADRULES" shim /bin/echo main ran 2>"$FL_TMP/err")
assert_eq "exit status" 0 "$?"
assert_eq "program output" "main ran" "$out"
assert_eq "stderr" "" "$(cat "$FL_TMP/err")"

check "FAULTLINE_DISABLE=1: a valid refusal rule injects nothing"
port=$(free_port)
FAULTLINE_DISABLE=1 FAULTLINE_RULES="127.0.0.1:$port fault on=all error=ECONNREFUSED" \
	shim "$HELPERS/helper_io" io "$port" ECONNRESET none >"$FL_TMP/out" 2>&1
assert_eq "helper exit status (every call passed)" 0 "$?"

# --- errnos the call can never return ------------------------------------------------

check "EPIPE on connect is accepted with a warning that names connect's valid errnos"
out=$("$CLI" check --rules "127.0.0.1 fault on=connect error=EPIPE" 2>"$FL_TMP/err")
assert_eq "check exit status" 0 "$?"
assert_contains "canonical rule" "$out" "error=EPIPE"
warning=$(cat "$FL_TMP/err")
assert_contains "warning" "$warning" "EPIPE"
assert_contains "warning" "$warning" "connect"
assert_contains "warning lists valid errnos" "$warning" "ECONNREFUSED"
assert_contains "warning lists valid errnos" "$warning" "ETIMEDOUT"

check "the shim warns too, and then injects the EPIPE as asked"
port=$(free_port)
other=$(free_port)
FAULTLINE_RULES="127.0.0.1:$port fault on=connect error=EPIPE" \
	shim "$HELPERS/helper_io" connect "$port" EPIPE "$other" >"$FL_TMP/out" 2>"$FL_TMP/err"
assert_eq "helper exit status" 0 "$?"
assert_contains "shim's warning" "$(cat "$FL_TMP/err")" "EPIPE"
assert_contains "shim's warning" "$(cat "$FL_TMP/err")" "ECONNREFUSED"

check "an errno the call can return (ECONNRESET on recv) gives no warning"
"$CLI" check --rules "127.0.0.1 fault on=recv error=ECONNRESET" >/dev/null 2>"$FL_TMP/err"
assert_eq "check exit status" 0 "$?"
assert_eq "stderr" "" "$(cat "$FL_TMP/err")"

done_ok
