# test_targets.sh - which destinations a TARGET matches, for IPv4 addresses,
# CIDR blocks, ports, port ranges, `*`, `*:PORT` and `unix:/path`.
#
# Each rule is `TARGET fault on=connect error=EHOSTUNREACH`: a matched
# destination fails with EHOSTUNREACH (which loopback never gives), an
# unmatched one connects to its listening server.
. "$(dirname "$0")/lib.sh"
need_build

start_server a sink tcp4
A=$SERVER_PORT
start_server b sink tcp4
B=$SERVER_PORT
start_server u sink "unix:$FL_TMP/u.sock"
U=$FL_TMP/u.sock
DESTS=("4:127.0.0.1:$A" "4:127.0.0.1:$B" "u:$U")

hits() { # TARGET, then per dest: hit or miss (in DESTS order)
	local target=$1 i=0 want
	shift
	check "target '$target'"
	probe "$target fault on=connect error=EHOSTUNREACH" "${DESTS[@]}"
	for want in "$@"; do
		case $want in
		hit) expect_probe "${DESTS[$i]}" EHOSTUNREACH ;;
		miss) expect_probe "${DESTS[$i]}" connected ;;
		esac
		i=$((i + 1))
	done
}

#    target                     port A  port B  unix
hits "127.0.0.1:$A"             hit     miss    miss
hits "127.0.0.1"                hit     hit     miss
hits "127.0.0.2"                miss    miss    miss
hits "127.0.0.0/8:$A"           hit     miss    miss
hits "127.0.0.0/8"              hit     hit     miss
hits "127.0.0.1/32"             hit     hit     miss
hits "0.0.0.0/1"                hit     hit     miss
hits "128.0.0.0/1"              miss    miss    miss
hits "10.0.0.0/8"               miss    miss    miss
hits "*:$A"                     hit     miss    miss
hits "*"                        hit     hit     miss
hits "unix:$U"                  miss    miss    hit
hits "unix:$FL_TMP/other.sock"  miss    miss    miss

lo=$((A < B ? A : B)) hi=$((A > B ? A : B))
hits "127.0.0.1:$lo-$hi"        hit     hit     miss
hits "*:$lo-$hi"                hit     hit     miss
if [ $((hi + 1)) -le 65535 ]; then
	hits "127.0.0.1:$((hi + 1))-65535" miss miss miss
fi
# A range that holds A but not B.
if [ "$A" -lt "$B" ]; then
	hits "127.0.0.1:$((A > 1 ? A - 1 : 1))-$A" hit miss miss
else
	hits "127.0.0.1:$A-$((A < 65535 ? A + 1 : 65535))" hit miss miss
fi

check "statements are independent: two targets, each matching its own destination"
probe "127.0.0.1:$A fault on=connect error=EHOSTUNREACH; unix:$U fault on=connect error=ENETUNREACH" "${DESTS[@]}"
expect_probe "4:127.0.0.1:$A" EHOSTUNREACH
expect_probe "4:127.0.0.1:$B" connected
expect_probe "u:$U" ENETUNREACH

done_ok
