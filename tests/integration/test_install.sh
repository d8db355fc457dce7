# test_install.sh - `make install` and `make uninstall` into a DESTDIR:
# the layout (bin/, lib/faultline/, share/man/man1 and man7, share/doc/
# faultline with the guides and examples), the installed CLI finding the
# installed shim relative to itself, both man pages rendering without a
# warning, and uninstall leaving no file behind.
. "$(dirname "$0")/lib.sh"
need_build
need_cmd make man groff
[ -x "$CLI" ] || fail "no CLI at $CLI (run make)"

DEST="$FL_TMP/x"
PREFIX=/usr/local
ROOT="$DEST$PREFIX"
DOC="$ROOT/share/doc/faultline"

# make_target TARGET: make TARGET for this build directory into $DEST.
make_target() {
	make -C "$FL_TOP" --no-print-directory "$1" BUILD="$FL_BUILD" DESTDIR="$DEST" PREFIX="$PREFIX" \
		>"$FL_TMP/make-$1.log" 2>&1 || fail "make $1 DESTDIR=$DEST PREFIX=$PREFIX failed:
$(tail -n 30 "$FL_TMP/make-$1.log")"
}

mode_of() { stat -c %a "$1"; }

# --- install -------------------------------------------------------------------

check "make install DESTDIR=... PREFIX=/usr/local puts the CLI, the shim and the man pages in place"
make_target install
[ -x "$ROOT/bin/faultline" ] || fail "no executable $ROOT/bin/faultline"
[ -f "$ROOT/lib/faultline/libfaultline.so" ] || fail "no $ROOT/lib/faultline/libfaultline.so"
[ -f "$ROOT/share/man/man1/faultline.1" ] || fail "no $ROOT/share/man/man1/faultline.1"
[ -f "$ROOT/share/man/man7/faultline.7" ] || fail "no $ROOT/share/man/man7/faultline.7"
assert_eq "mode of bin/faultline" 755 "$(mode_of "$ROOT/bin/faultline")"
assert_eq "mode of lib/faultline/libfaultline.so" 644 "$(mode_of "$ROOT/lib/faultline/libfaultline.so")"
assert_eq "mode of faultline.1" 644 "$(mode_of "$ROOT/share/man/man1/faultline.1")"
assert_eq "mode of faultline.7" 644 "$(mode_of "$ROOT/share/man/man7/faultline.7")"
cmp -s "$FL_BUILD/libfaultline.so" "$ROOT/lib/faultline/libfaultline.so" || fail "the installed shim differs from $FL_BUILD/libfaultline.so"
cmp -s "$FL_TOP/docs/faultline.7" "$ROOT/share/man/man7/faultline.7" || fail "the installed faultline.7 differs from docs/faultline.7"
unexpected=$(cd "$DEST" && find . ! -type d | grep -v -E "^\.$PREFIX/(bin/faultline|lib/faultline/libfaultline\.so|share/man/man[17]/faultline\.[17]|share/doc/faultline/.*)\$" || true)
assert_eq "files installed outside the expected places" "" "$unexpected"

check "make install puts the README, every guide and every example in share/doc/faultline"
[ -f "$DOC/README.md" ] || fail "no $DOC/README.md"
for md in "$FL_TOP"/docs/*.md; do
	[ -e "$md" ] || continue
	[ -f "$DOC/$(basename "$md")" ] || fail "docs/$(basename "$md") is not installed in $DOC"
done
for dir in "$FL_TOP"/examples/*/; do
	name=$(basename "$dir")
	[ -f "$DOC/examples/$name/README.md" ] || fail "examples/$name/README.md is not installed"
	[ -x "$DOC/examples/$name/run.sh" ] || fail "examples/$name/run.sh is not installed executable"
done

# --- the installed CLI and shim -------------------------------------------------

check "the installed CLI finds the installed shim (../lib/faultline/) and runs a program under it"
out=$("$ROOT/bin/faultline" --version) || fail "installed faultline --version failed"
assert_contains "faultline --version" "$out" "faultline "
port=$(free_port)
out=$("$ROOT/bin/faultline" run --rules "127.0.0.1:$port fault on=connect error=EHOSTUNREACH" -- "$PY" -c '
import errno, socket, sys
for line in open("/proc/self/maps"):
    if "libfaultline.so" in line:
        print("shim", line.split()[-1])
        break
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
    print("connected")
except OSError as e:
    print("error", errno.errorcode[e.errno])' "$port" 2>&1) || fail "installed faultline run failed: $out"
assert_contains "what the program saw" "$out" "shim $(realpath "$ROOT/lib/faultline/libfaultline.so")"
assert_contains "what the program saw" "$out" "error EHOSTUNREACH"
assert_eq "the installed stats: injected connect errors" 1 \
	"$("$ROOT/bin/faultline" stats --json | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["destinations"][0]["ops"]["connect"]["errors_injected"])')"

# --- the man pages --------------------------------------------------------------

check "man renders both installed pages, with no warning"
for page in man1/faultline.1 man7/faultline.7; do
	out=$(MANWIDTH=80 man --warnings -l "$ROOT/share/man/$page" 2>"$FL_TMP/man.err") || fail "man -l $page failed: $(cat "$FL_TMP/man.err")"
	assert_eq "warnings from man --warnings -l $page" "" "$(cat "$FL_TMP/man.err")"
	assert_contains "man $page" "$out" "NAME"
	assert_contains "man $page" "$out" "SEE ALSO"
done
out=$(MANWIDTH=80 man -M "$ROOT/share/man" 7 faultline 2>&1) || fail "man -M PREFIX/share/man 7 faultline failed: $out"
assert_contains "man 7 faultline from the installed tree" "$out" "FAULTLINE(7)"

# --- uninstall ------------------------------------------------------------------

check "make uninstall DESTDIR=... removes every file install put there"
make_target uninstall
left=$(cd "$DEST" && find . ! -type d)
assert_eq "files left after uninstall" "" "$left"
[ ! -e "$ROOT/lib/faultline" ] || fail "uninstall left $ROOT/lib/faultline"
[ ! -e "$DOC" ] || fail "uninstall left $DOC"

done_ok
