# test_cli.sh - the faultline CLI: `run` (finding the shim, the environment
# it sets, keeping the user's LD_PRELOAD, exit status) and `check`.
. "$(dirname "$0")/lib.sh"
need_build
[ -x "$CLI" ] || fail "no CLI at $CLI (run make)"

SHIM_REAL=$(realpath "$SHIM")
# A library cat does not link itself, to see that a user's preload survives.
LIBM=$(ldd "$PY" | awk '/libm\.so/ {print $3; exit}')
[ -f "$LIBM" ] || fail "cannot find libm next to python ($LIBM)"

# --- run -----------------------------------------------------------------------

check "run: finds the shim next to itself and preloads it"
maps=$("$CLI" run -- cat /proc/self/maps) || fail "faultline run -- cat failed"
assert_contains "the command's memory map" "$maps" "$SHIM_REAL"

check "run: the rules take effect in the command"
port=$(free_port)
out=$("$CLI" run --rules "127.0.0.1:$port fault on=connect error=EHOSTUNREACH" -- "$PY" -c '
import errno, socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
except OSError as e:
    print(errno.errorcode[e.errno])' "$port")
assert_eq "python's connect error" EHOSTUNREACH "$out"

check "run: sets FAULTLINE_RULES, FAULTLINE_SEED, FAULTLINE_DOMAIN and an absolute FAULTLINE_CONFIG"
printf 'destinations = ( { match = "127.0.0.1"; faults = ( { delay_ms = 1; } ); } );\n' >"$FL_TMP/one.cfg"
TEST_DOMAINS+=("it-cli-$$")
environment=$(cd "$FL_TMP" && "$CLI" run --config one.cfg --seed 7 --domain "it-cli-$$" -- env) || fail "run -- env failed"
assert_contains "environment" "$environment" "FAULTLINE_CONFIG=$(realpath "$FL_TMP/one.cfg")"
assert_contains "environment" "$environment" "FAULTLINE_SEED=7"
assert_contains "environment" "$environment" "FAULTLINE_DOMAIN=it-cli-$$"
environment=$("$CLI" run --rules "127.0.0.1 fault delay_ms=1" -- env)
assert_contains "environment" "$environment" "FAULTLINE_RULES=127.0.0.1 fault delay_ms=1"
assert_contains "environment" "$environment" "LD_PRELOAD=$SHIM_REAL"

check "run: keeps the LD_PRELOAD the user already has"
environment=$(LD_PRELOAD="$LIBM" "$CLI" run -- env)
preload=$(printf '%s\n' "$environment" | sed -n 's/^LD_PRELOAD=//p')
assert_contains "LD_PRELOAD" "$preload" "$SHIM_REAL"
assert_contains "LD_PRELOAD" "$preload" "$LIBM"
maps=$(LD_PRELOAD="$LIBM" "$CLI" run -- cat /proc/self/maps)
assert_contains "the command's memory map (shim)" "$maps" "$SHIM_REAL"
assert_contains "the command's memory map (user's preload)" "$maps" "$(realpath "$LIBM")"
environment=$(LD_PRELOAD="$SHIM_REAL" "$CLI" run -- env)
assert_eq "LD_PRELOAD when the shim is already there (not doubled)" "LD_PRELOAD=$SHIM_REAL" \
	"$(printf '%s\n' "$environment" | grep '^LD_PRELOAD=')"

check "run: the exit status is the command's own"
"$CLI" run -- sh -c 'exit 3'
assert_eq "exit status" 3 "$?"

check "run: what follows -- belongs to the command, options and all"
out=$("$CLI" run -- /bin/echo --rules x --seed)
assert_eq "command output" "--rules x --seed" "$out"

check "run: a copy of the CLI with the shim beside it uses that shim"
mkdir -p "$FL_TMP/beside"
cp "$CLI" "$SHIM" "$FL_TMP/beside/"
maps=$("$FL_TMP/beside/faultline" run -- cat /proc/self/maps)
assert_contains "the command's memory map" "$maps" "$FL_TMP/beside/libfaultline.so"

check "run: the installed layout, bin/faultline and lib/faultline/libfaultline.so"
mkdir -p "$FL_TMP/prefix/bin" "$FL_TMP/prefix/lib/faultline"
cp "$CLI" "$FL_TMP/prefix/bin/"
cp "$SHIM" "$FL_TMP/prefix/lib/faultline/"
maps=$("$FL_TMP/prefix/bin/faultline" run -- cat /proc/self/maps)
assert_contains "the command's memory map" "$maps" "$FL_TMP/prefix/lib/faultline/libfaultline.so"

check "run: no shim to be found is exit 1 with a message, and the command does not run"
mkdir -p "$FL_TMP/lonely"
cp "$CLI" "$FL_TMP/lonely/"
out=$("$FL_TMP/lonely/faultline" run -- /bin/echo ran 2>"$FL_TMP/err")
assert_eq "exit status" 1 "$?"
assert_eq "command output" "" "$out"
assert_contains "message" "$(cat "$FL_TMP/err")" "faultline: "
assert_contains "message" "$(cat "$FL_TMP/err")" "FAULTLINE_LIB"

check "run: FAULTLINE_LIB points it at a shim elsewhere"
maps=$(FAULTLINE_LIB="$SHIM" "$FL_TMP/lonely/faultline" run -- cat /proc/self/maps)
assert_contains "the command's memory map" "$maps" "$SHIM_REAL"
FAULTLINE_LIB="$FL_TMP/nowhere.so" "$CLI" run -- /bin/echo ran >/dev/null 2>"$FL_TMP/err"
assert_eq "exit status for a FAULTLINE_LIB that does not exist" 1 "$?"
assert_contains "message" "$(cat "$FL_TMP/err")" "$FL_TMP/nowhere.so"

check "run: bad rules are reported once, exit 2, and the command does not run"
out=$("$CLI" run --rules "127.0.0.1 breaker failur_threshold=3" -- /bin/echo ran 2>"$FL_TMP/err")
assert_eq "exit status" 2 "$?"
assert_eq "command output" "" "$out"
assert_eq "messages" 1 "$(grep -c 'failur_threshold' "$FL_TMP/err")"
assert_contains "message" "$(cat "$FL_TMP/err")" "--rules:1:19:"

check "run: no command is a usage error (exit 2)"
"$CLI" run --rules "127.0.0.1 fault delay_ms=1" >/dev/null 2>&1
assert_eq "exit status" 2 "$?"

# --- check ---------------------------------------------------------------------

check "check: valid rules print canonically, exit 0"
out=$("$CLI" check --rules "*:443 fault on=connect delay_ms=200 jitter_ms=50 probability=0.5")
assert_eq "exit status" 0 "$?"
assert_contains "canonical form" "$out" "*:443 fault on=connect delay_ms=200 jitter_ms=50 probability=0.5"

check "check: reads FAULTLINE_RULES and FAULTLINE_CONFIG when given no options"
out=$(FAULTLINE_RULES="127.0.0.1:1 fault delay_ms=5" FAULTLINE_CONFIG="$FL_TMP/one.cfg" "$CLI" check)
assert_contains "canonical form" "$out" "127.0.0.1:1 fault"
assert_contains "canonical form" "$out" "127.0.0.1 fault on=all delay_ms=1"

check "check: an invalid rule is exit 2 with the message on stderr and nothing on stdout"
out=$("$CLI" check --rules "127.0.0.1 fault error=ECONNRESTE" 2>"$FL_TMP/err")
assert_eq "exit status" 2 "$?"
assert_eq "stdout" "" "$out"
assert_contains "stderr" "$(cat "$FL_TMP/err")" "faultline: --rules:1:"

check "options may stand before the command"
assert_eq "check output" "$("$CLI" check --rules "127.0.0.1 fault delay_ms=1")" \
	"$("$CLI" --rules "127.0.0.1 fault delay_ms=1" check)"

check "usage errors are exit 2: unknown command, unknown option, an option the command does not take"
"$CLI" frobnicate >/dev/null 2>&1
assert_eq "unknown command" 2 "$?"
"$CLI" check --frobnicate >/dev/null 2>&1
assert_eq "unknown option" 2 "$?"
"$CLI" check --seed 1 --rules "127.0.0.1 fault delay_ms=1" >/dev/null 2>&1
assert_eq "check --seed" 2 "$?"

check "--help lists run and check; --version prints a version"
help=$("$CLI" --help)
assert_eq "--help exit status" 0 "$?"
assert_contains "--help" "$help" "faultline run"
assert_contains "--help" "$help" "faultline check"
assert_contains "--version" "$("$CLI" --version)" "faultline "

done_ok
