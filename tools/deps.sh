#!/bin/sh
# tools/deps.sh - installs what `make`, `make check` and `make demo` need,
# when it is missing. As root it runs apt-get; otherwise through sudo if
# that works without a password.
#
# What it cannot install decides how it ends. Without a package the build
# itself needs (compiler, libc headers, libconfig, pkg-config) nothing can
# run: it prints the exact command and exits 2. Without a package only some
# tests need, it says which and exits 0: `make check` goes on, and those
# tests skip, each saying why (the unit suites without check; an
# integration test without its tool exits 77). The apt-get output goes to a
# log file, shown when apt-get fails.
set -eu

# package:probe:what (the probe is a file or a command that shows the
# package is there; "build" packages are needed by everything, the others
# by the tests or the demo named)
need="
gcc:cc:build
libc6-dev:/usr/include/stdio.h:build
libconfig-dev:/usr/include/libconfig.h:build
pkg-config:pkg-config:build
libmicrohttpd-dev:/usr/include/microhttpd.h:build
libjson-c-dev:/usr/include/json-c/json.h:build
check:/usr/include/check.h:unit
libsubunit-dev:/usr/include/subunit/child.h:unit
curl:curl:tests
socat:socat:tests
python3:/usr/bin/python3:tests
bc:bc:tests
strace:strace:tests
tmux:tmux:tests
man-db:man:tests
groff-base:groff:tests
redis-server:redis-server:examples
redis-tools:redis-cli:examples
nginx:/usr/sbin/nginx:tests
nodejs:node:tests
python3-requests:/usr/lib/python3/dist-packages/requests:tests
wget:wget:tests
prometheus:promtool:tests
chromium:chromium:tests
"

missing() { # [build]: the missing packages (of the build only, with "build")
	local_out=""
	for item in $need; do
		pkg=${item%%:*} rest=${item#*:}
		probe=${rest%%:*} what=${rest#*:}
		[ "${1:-}" = build ] && [ "$what" != build ] && continue
		case $probe in
		/*) [ -e "$probe" ] && continue ;;
		*) command -v "$probe" >/dev/null 2>&1 && continue ;;
		esac
		local_out="$local_out $pkg"
	done
	printf '%s' "$local_out"
}

# give_up WHY: what is still missing decides between stopping and going on.
give_up() {
	echo "faultline: $1" >&2
	left=$(missing)
	build=$(missing build)
	echo "faultline: install them with:  sudo apt-get update && sudo apt-get install -y --no-install-recommends$left" >&2
	if [ -n "$build" ]; then
		echo "faultline: cannot build without:$build" >&2
		exit 2
	fi
	echo "faultline: going on without:$left (the tests that need them are skipped)" >&2
	exit 0
}

todo=$(missing)
[ -z "$todo" ] && exit 0

if [ "$(id -u)" = 0 ]; then
	sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	sudo="sudo"
else
	give_up "missing packages:$todo (not root, and sudo needs a password)"
fi
command -v apt-get >/dev/null 2>&1 ||
	give_up "missing packages:$todo (no apt-get here: install them with your package manager)"

log=$(mktemp "${TMPDIR:-/tmp}/faultline-deps.XXXXXX.log")
echo "faultline: installing$todo (apt-get output in $log)" >&2
{
	$sudo apt-get update -q || true
	# shellcheck disable=SC2086 # one word per package
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $todo
} >"$log" 2>&1 </dev/null || {
	echo "faultline: apt-get failed; the end of $log:" >&2
	tail -n 20 "$log" | sed 's/^/    /' >&2
	# One package apt-get does not know fails them all: the others, one by one.
	for pkg in $todo; do
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "$pkg" \
			>>"$log" 2>&1 </dev/null || echo "faultline: could not install $pkg" >&2
	done
}
todo=$(missing)
[ -z "$todo" ] || give_up "still missing after apt-get:$todo"
exit 0
