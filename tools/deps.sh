#!/bin/sh
# tools/deps.sh - installs what `make`, `make check` and `make demo` need,
# when it is missing. As root it runs apt-get; otherwise through sudo if
# that works without a password; otherwise it stops with the exact command.
set -eu

# package:probe (a file or a command that shows the package is there)
need="
gcc:cc
libc6-dev:/usr/include/stdio.h
libconfig-dev:/usr/include/libconfig.h
check:/usr/include/check.h
libsubunit-dev:/usr/include/subunit/child.h
pkg-config:pkg-config
curl:curl
socat:socat
python3:/usr/bin/python3
bc:bc
strace:strace
tmux:tmux
man-db:man
groff-base:groff
redis-server:redis-server
redis-tools:redis-cli
"
missing=""
for item in $need; do
	pkg=${item%%:*} probe=${item#*:}
	case $probe in
	/*) [ -e "$probe" ] && continue ;;
	*) command -v "$probe" >/dev/null 2>&1 && continue ;;
	esac
	missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" = 0 ]; then
	sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	sudo="sudo"
else
	echo "faultline: missing packages:$missing" >&2
	echo "faultline: install them with:  sudo apt-get update && sudo $cmd" >&2
	exit 2
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "faultline: missing packages:$missing (no apt-get here: install them with your package manager)" >&2
	exit 2
fi
echo "faultline: installing$missing" >&2
$sudo apt-get update -qq >/dev/null || true
DEBIAN_FRONTEND=noninteractive $sudo $cmd >/dev/null
