# test_docs.sh - the man pages cannot drift from the code: every command and
# every option each command accepts (the command table of tools/faultline.c)
# is in that command's --help text and in faultline(1); every kind, key, op
# and resolver error name the rule language knows (the tables of
# lib/rules.c, lib/rule_keys.c, lib/hostname.c) is in faultline(7). The
# lists are read from the sources, so a new key or command without its
# documentation fails here. (test_install.sh checks the defaults.)
. "$(dirname "$0")/lib.sh"
need_cmd man groff
[ -x "$CLI" ] || fail "no CLI at $CLI (run make)"

check "both pages render without a warning"
for page in faultline.1 faultline.7; do
	MANWIDTH=250 man --warnings -l "$FL_TOP/docs/$page" >"$FL_TMP/$page.txt" 2>"$FL_TMP/man.err" ||
		fail "man -l docs/$page failed: $(cat "$FL_TMP/man.err")"
	assert_eq "warnings of docs/$page" "" "$(cat "$FL_TMP/man.err")"
done

check "every command, and every option it accepts, is in its --help and in faultline(1); kinds, keys, ops and resolver errors are in faultline(7)"
"$CLI" check --rules "127.0.0.1 no_such_kind" >/dev/null 2>"$FL_TMP/kind.err"
"$PY" - "$FL_TMP" "$FL_TOP" "$CLI" <<'PYEOF' || fail "the man pages do not match the code (above)"
import re, subprocess, sys
tmp, top, cli = sys.argv[1:4]
page1 = open(tmp + "/faultline.1.txt").read()
page7 = open(tmp + "/faultline.7.txt").read()
src = lambda p: open(top + "/" + p).read()
problems = []

def literal(s):  # concatenated C string literals -> text
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', s)).replace('\\"', '"').replace("\\n", "\n")

# commands: {"name", fl_cmd_x, "usage" "..." , "options"},
table = re.findall(r'\{"([a-z]+)", fl_cmd_\w+,\s*((?:"(?:[^"\\]|\\.)*"\s*)+),\s*"([a-z -]*)"\}',
                   src("tools/faultline.c"))
if len(table) < 17:
    problems.append("read only %d commands from tools/faultline.c (the table changed shape?)" % len(table))
# faultline(1) SYNOPSIS: each command's entry, up to the next "faultline " line
syn = page1.split("SYNOPSIS", 1)[-1].split("DESCRIPTION", 1)[0]
synopsis = {}
for part in re.split(r"\n(?=\s+faultline )", syn):
    m = re.match(r"\s+faultline (\w+)", part)
    if m:
        synopsis[m.group(1)] = synopsis.get(m.group(1), "") + part
top_help = subprocess.run([cli, "--help"], capture_output=True, text=True).stdout
for name, usage, options in table:
    h = subprocess.run([cli, name, "--help"], capture_output=True, text=True)
    if h.returncode != 0 or "faultline " + name not in h.stdout:
        problems.append("faultline %s --help failed or does not name it" % name)
    if not re.search(r"^\s+faultline %s\b" % name, top_help, re.M):
        problems.append("faultline --help does not list %s" % name)
    if not re.search(r"^\s+faultline %s\b" % name, page1, re.M):
        problems.append("faultline(1) SYNOPSIS lacks 'faultline %s'" % name)
    if not re.search(r"^\s{7}%s\b" % name, page1, re.M):
        problems.append("faultline(1) COMMANDS does not describe %s" % name)
    for opt in options.split():
        if "--" + opt not in h.stdout:
            problems.append("faultline %s --help does not show --%s, which it accepts" % (name, opt))
        if not re.search(r"--%s\b" % opt, synopsis.get(name, "")) or \
           not re.search(r"^\s{7}--%s\b" % opt, page1, re.M):
            problems.append("faultline(1) lacks option --%s of %s (SYNOPSIS and OPTIONS)" % (opt, name))

# kinds
kinds = re.search(r"fl_kind_words\[\] = \{(.*?)NULL", src("lib/rules.c"), re.S)
kinds = re.findall(r'"(\w+)"', kinds.group(1)) if kinds else []
if len(kinds) < 7:
    problems.append("read only %d kinds from lib/rules.c" % len(kinds))
kind_err = open(tmp + "/kind.err").read()
for k in kinds:
    if not re.search(r"^\s+\S*\b%s\b" % k, page7, re.M):
        problems.append("faultline(7) lacks kind %s" % k)
    if k != "circuit_breaker" and k not in kind_err:
        problems.append("the unknown-kind message does not list %s: %s" % (k, kind_err.strip()))

# keys of every kind, including those check prints only when used
keys = set(re.findall(r'X\("(\w+)", KEY_', src("lib/rule_keys.c")))
if len(keys) < 40:
    problems.append("read only %d keys from lib/rule_keys.c" % len(keys))
for k in sorted(keys):
    if not re.search(r"^\s+%s=" % k, page7, re.M):
        problems.append("faultline(7) has no entry '%s=...' for key %s" % (k, k))

# ops (on=) and the op words
ops = re.search(r"fl_op_names\[[^]]*\] = \{(.*?)\}", src("lib/rules.c"), re.S)
ops = re.findall(r'"(\w+)"', ops.group(1)) if ops else []
if len(ops) < 6:
    problems.append("read only %d ops from lib/rules.c" % len(ops))
for op in ops + ["io", "all", "close"]:
    if not re.search(r"\b%s\b" % op, page7):
        problems.append("faultline(7) lacks op %s" % op)

# resolver errors
eai = sorted(set(re.findall(r'"(EAI_\w+)"', src("lib/hostname.c"))))
if len(eai) < 6:
    problems.append("read only %d resolver errors from lib/hostname.c" % len(eai))
for e in eai:
    if e not in page7:
        problems.append("faultline(7) lacks resolver error %s" % e)

# host name targets
for t in ["NAME:PORT", "*.SUFFIX"]:
    if t not in page7:
        problems.append("faultline(7) lacks the host name target %s" % t)

for p in problems:
    print("   ", p)
sys.exit(1 if problems else 0)
PYEOF

done_ok
