# test_top.sh - `faultline top` on a real terminal: a detached tmux session
# of known size. The live view shows the destination and follows changes,
# draws in place (alternate screen, cursor home, clear to end of line, no
# full clear per frame), follows a resize, colours states unless NO_COLOR,
# and q or Ctrl-C leave the terminal exactly as it was.
. "$(dirname "$0")/lib.sh"
need_cmd tmux curl
need_build
use_domain it-top

CLOSED=$(free_port)
DEST="127.0.0.1:$CLOSED"
FAULTLINE_RULES="$DEST breaker failure_threshold=5" shim curl -s "http://$DEST/" >/dev/null

SOCKET="fl-top-$$"
tmx() { tmux -L "$SOCKET" -f /dev/null "$@"; }
trap 'cleanup; tmx kill-server >/dev/null 2>&1; clear_domains' EXIT

# start_top NAME ENV... -- TOP-ARGS...: a 100x20 session running top after
# `touch $FL_TMP/NAME.go`; the stty settings before and after top, and its
# exit status (TOP-EXIT=N), are left behind.
start_top() {
	local name=$1 envs=() args=()
	shift
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	args=("$@")
	tmx new-session -d -s "$name" -x 100 -y 20 \
		"cd '$FL_TMP'; until [ -e $name.go ]; do sleep 0.05; done; stty -g >$name.stty.before;
		 printf 'BEFORE-TOP\\n'; env ${envs[*]} '$CLI' top --domain '$DOMAIN' ${args[*]};
		 echo TOP-EXIT=\$?; stty -g >$name.stty.after; sleep 600" || fail "tmux cannot start a session"
	tmx pipe-pane -t "$name" -o "cat >>'$FL_TMP/$name.stream'"
	touch "$FL_TMP/$name.go"
}
pane() { tmx capture-pane -p -t "$1"; }
pane_has() { pane "$1" | grep -qF -- "$2"; }
pane_lacks() { ! pane "$1" | grep -qF -- "$2"; }
alternate() { tmx display -p -t "$1" '#{alternate_on}'; }

check "top shows the destination row, in the alternate screen"
start_top live -u NO_COLOR -- --watch 0.2
wait_for "top to show $DEST" 10 pane_has live "$DEST"
assert_eq "alternate screen while top runs" 1 "$(alternate live)"
assert_contains "title" "$(pane live)" "faultline top - domain $DOMAIN"
row=$(pane live | grep -F "$DEST" | head -n1) # the table row; the last events below may name it too
assert_eq "row: destination kind state calls fails" "$DEST dest closed 1 1" "$(echo "$row" | awk '{print $1, $2, $3, $4, $5}')"

check "while top runs, its terminal reads keys without echo or line editing"
settings=$(stty -a -F "$(tmx display -p -t live '#{pane_tty}')") || fail "cannot read the pane's terminal settings"
settings=" $(echo $settings) " # one line, words between single spaces
assert_contains "stty of the pane" "$settings" " -icanon "
assert_contains "stty of the pane" "$settings" " -echo "
assert_contains "stty of the pane (signals still work)" "$settings" " isig "

check "states are coloured on a terminal (green closed)"
assert_contains "the pane with its escape sequences" "$(tmx capture-pane -e -p -t live)" $'\033[32mclosed'

check "the view follows the domain: trip -> forced_open in red"
"$CLI" trip "$DEST" || fail "trip"
wait_for "top to show forced_open" 5 pane_has live forced_open

check "below the table, the last events: the trip, with its reason"
wait_for "top to show the trip among its last events" 5 pane_has live "closed -> forced_open (forced)"
assert_contains "the events heading" "$(pane live)" "last events"
assert_contains "the pane with its escape sequences" "$(tmx capture-pane -e -p -t live)" $'\033[31mforced_open'

check "frames are drawn in place: home, clear to end of line; the screen is cleared once, not per frame"
sleep 1
stream=$(cat "$FL_TMP/live.stream")
frames=$(printf '%s' "$stream" | grep -o $'\033\\[H' | wc -l)
assert_ge "frames drawn (cursor home)" 4 "$frames"
assert_eq "full clears (entering only)" 1 "$(printf '%s' "$stream" | grep -o $'\033\\[2J' | wc -l)"
assert_contains "clear to end of line" "$stream" $'\033[K'
assert_contains "alternate screen on" "$stream" $'\033[?1049h'

check "q quits: exit 0, the alternate screen is left and the terminal settings restored"
tmx send-keys -t live q
wait_for "top to exit" 5 pane_has live "TOP-EXIT=0"
assert_eq "alternate screen after q" 0 "$(alternate live)"
assert_contains "the shell's screen is back" "$(pane live)" "BEFORE-TOP"
assert_contains "alternate screen off" "$(cat "$FL_TMP/live.stream")" $'\033[?1049l'
wait_for "stty after top" 5 test -s "$FL_TMP/live.stty.after"
assert_eq "stty -g after top" "$(cat "$FL_TMP/live.stty.before")" "$(cat "$FL_TMP/live.stty.after")"

check "a resize redraws at once for the new size (SIGWINCH), even with a 60 s refresh"
start_top slow NO_COLOR=1 -- --watch 60
wait_for "top to show $DEST" 10 pane_has slow "$DEST"
assert_contains "100 columns: the FAULTS column" "$(pane slow)" "FAULTS"
tmx resize-window -t slow -x 40 -y 10
wait_for "top to redraw for 40 columns" 5 pane_lacks slow "FAULTS"
assert_contains "the row at 40 columns" "$(pane slow)" "$DEST"
longest=$(pane slow | awk '{ if (length($0) > n) n = length($0) } END { print n + 0 }')
assert_le "longest line at 40 columns" 39 "$longest"

check "NO_COLOR: no colours"
assert_not_contains "the pane with its escape sequences" "$(tmx capture-pane -e -p -t slow)" $'\033[31m'

check "Ctrl-C quits too: exit 0, terminal restored"
tmx send-keys -t slow C-c
wait_for "top to exit" 5 pane_has slow "TOP-EXIT=0"
assert_eq "alternate screen after Ctrl-C" 0 "$(alternate slow)"
wait_for "stty after top" 5 test -s "$FL_TMP/slow.stty.after"
assert_eq "stty -g after top" "$(cat "$FL_TMP/slow.stty.before")" "$(cat "$FL_TMP/slow.stty.after")"

check "a missing domain: exit 1 with the message, before touching the terminal"
tmx new-session -d -s missing -x 100 -y 20 \
	"'$CLI' top --domain it-none-$$ 2>&1; echo TOP-EXIT=\$?; sleep 600"
wait_for "top to exit" 5 pane_has missing "TOP-EXIT=1"
assert_contains "message" "$(pane missing)" "faultline: domain 'it-none-$$' does not exist"
assert_eq "alternate screen" 0 "$(alternate missing)"

check "not a terminal: exit 2"
"$CLI" top --domain "$DOMAIN" </dev/null >"$FL_TMP/top.out" 2>"$FL_TMP/top.err"
assert_eq "exit status" 2 "$?"
assert_contains "message" "$(cat "$FL_TMP/top.err")" "top needs a terminal"

done_ok
