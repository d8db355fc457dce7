# test_install.sh - `make install` and `make uninstall` into a DESTDIR:
# the layout (bin/, lib/faultline/, share/man/man1 and man7, share/doc/
# faultline with the guides and examples), the installed CLI finding the
# installed shim relative to itself, an installed example running against
# it, both man pages rendering without a warning and covering every
# command, option, key and default this build has (as docs/configuration.md
# must), and uninstall leaving no file behind (the standard directories
# bin/, share/man/man1, ... stay, empty, as `make uninstall` leaves them).
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

check "an installed example runs against the installed faultline found on PATH"
if command -v curl >/dev/null 2>&1; then
	PATH="$ROOT/bin:$PATH" "$DOC/examples/curl-retry/run.sh" >"$FL_TMP/installed-example.log" 2>&1 ||
		fail "the installed examples/curl-retry/run.sh failed:
$(tail -n 30 "$FL_TMP/installed-example.log")"
	assert_contains "its last line" "$(tail -n1 "$FL_TMP/installed-example.log")" "all checks passed"
else
	echo "   (curl is not installed: not run)"
fi

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

check "the man pages and docs/configuration.md cover every command, option, key and default of this build"
MANWIDTH=250 man -l "$ROOT/share/man/man1/faultline.1" >"$FL_TMP/faultline.1.txt" 2>/dev/null
MANWIDTH=250 man -l "$ROOT/share/man/man7/faultline.7" >"$FL_TMP/faultline.7.txt" 2>/dev/null
"$CLI" --help >"$FL_TMP/help.txt"
for kind in breaker bulkhead "fault delay_ms=1" "fault error=EIO"; do
	"$CLI" check --rules "127.0.0.1 $kind" 2>/dev/null
done >"$FL_TMP/defaults.txt" || fail "faultline check of default statements failed"
"$PY" - "$FL_TMP" "$FL_TOP/docs/configuration.md" <<'PYEOF' || fail "the documentation does not match this build (above)"
import re, sys
tmp, config_md = sys.argv[1], sys.argv[2]
page1 = open(tmp + "/faultline.1.txt").read()
page7 = open(tmp + "/faultline.7.txt").read()
conf = open(config_md).read()
problems = []

# Every command and every option `faultline --help` lists is in faultline(1).
for line in open(tmp + "/help.txt"):
    m = re.match(r"\s+faultline (\w+)(.*)", line)
    if not m:
        continue
    cmd, rest = m.groups()
    if not re.search(r"^\s+faultline %s\b" % cmd, page1, re.M):
        problems.append("faultline(1) SYNOPSIS lacks 'faultline %s'" % cmd)
    for opt in re.findall(r"--[a-z]+", rest):
        if opt not in page1:
            problems.append("faultline(1) lacks option %s (of %s)" % (opt, cmd))

# Every key, with the default `faultline check` prints, in faultline(7) and
# in configuration.md. Keys given in the statements above are not defaults.
given = {"delay_ms", "error"}
def same(doc, code):
    doc = doc.strip().strip("`")
    try:
        return float(doc) == float(code)
    except ValueError:
        return doc == code
for line in open(tmp + "/defaults.txt"):
    words = line.split()
    kind = words[1]
    for kv in words[2:]:
        key, value = kv.split("=", 1)
        m = re.search(r"^\s+%s=\S+ \(default ([^;)]+)" % key, page7, re.M)
        if not m:
            problems.append("faultline(7) does not list %s key %s with its default" % (kind, key))
        elif key not in given and not same(m.group(1), value):
            problems.append("faultline(7): %s default %s, the build says %s" % (key, m.group(1), value))
        rows = re.findall(r"^\| `%s` \| ([^|]+) \|" % key, conf, re.M)
        if not rows:
            problems.append("configuration.md has no table row for %s key %s" % (kind, key))
        elif key not in given and not any(same(r, value) for r in rows):
            problems.append("configuration.md: %s default %s, the build says %s" % (key, rows, value))

# Every variable the shim reads is documented in both.
for var in ["FAULTLINE_RULES", "FAULTLINE_CONFIG", "FAULTLINE_DOMAIN", "FAULTLINE_SEED",
            "FAULTLINE_LOG", "FAULTLINE_LOG_FILE", "FAULTLINE_ON_ERROR", "FAULTLINE_DISABLE",
            "FAULTLINE_CAPACITY"]:
    if not re.search(r"^\s+%s$" % var, page7, re.M):
        problems.append("faultline(7) ENVIRONMENT lacks %s" % var)
    if "| `%s` |" % var not in conf:
        problems.append("configuration.md lacks a row for %s" % var)

for p in problems:
    print("   ", p)
sys.exit(1 if problems else 0)
PYEOF

# --- uninstall ------------------------------------------------------------------

check "make uninstall DESTDIR=... removes every file install put there"
make_target uninstall
left=$(cd "$DEST" && find . ! -type d)
assert_eq "files left after uninstall" "" "$left"
[ ! -e "$ROOT/lib/faultline" ] || fail "uninstall left $ROOT/lib/faultline"
[ ! -e "$DOC" ] || fail "uninstall left $DOC"

done_ok
