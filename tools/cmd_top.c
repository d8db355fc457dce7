/*
 * cmd_top.c - `faultline top`: the stats table, live, redrawn in place.
 *
 * Drawing: the alternate screen (the user's scrollback is left alone),
 * then every frame is one write: cursor home, each line followed by
 * "clear to end of line", and "clear to end of screen" after the last.
 * Nothing is ever cleared wholesale, so there is no flicker. Lines are cut
 * one column short of the width: writing the last column would leave the
 * cursor in the "pending wrap" state, where clear-to-end-of-line erases
 * the character just written. The size is asked for on every frame
 * (TIOCGWINSZ), and SIGWINCH only makes the next frame come at once.
 *
 * Terminal state: keys are read without echo or line buffering (ICANON,
 * ECHO off; ISIG stays on so Ctrl-C and Ctrl-Z keep working). Everything
 * is put back on every way out: q, Ctrl-C, SIGTERM, SIGHUP, and around
 * Ctrl-Z (restored while stopped, raw again on SIGCONT). Signals are
 * blocked except inside ppoll, so a handler only sets a flag and the main
 * loop never misses one between checking the flags and sleeping.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "events.h"
#include "procreg.h"
#include "reader.h"
#include "report.h"
#include "segment.h"

#define ENTER_SCREEN "\033[?1049h\033[?25l\033[H\033[2J"
#define LEAVE_SCREEN "\033[0m\033[?25h\033[?1049l"
#define HEADER_LINES 2 /* title, blank */
#define EVENT_LINES  4 /* the last events, below the table, when the terminal has room */

static volatile sig_atomic_t stop_signal, resized, suspended;

static void on_signal(int sig)
{
	if (sig == SIGWINCH)
		resized = 1;
	else if (sig == SIGTSTP)
		suspended = 1;
	else
		stop_signal = sig;
}

static const int handled[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH, SIGTSTP};

struct screen {
	int keys; /* descriptor keys come from (a terminal), or -1 */
	bool raw, alternate;
	struct termios saved;
};

static void write_all(const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDOUT_FILENO, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void screen_enter(struct screen *sc)
{
	if (sc->keys >= 0 && tcgetattr(sc->keys, &sc->saved) == 0) {
		struct termios raw = sc->saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		sc->raw = tcsetattr(sc->keys, TCSAFLUSH, &raw) == 0;
	}
	write_all(ENTER_SCREEN, strlen(ENTER_SCREEN));
	sc->alternate = true;
}

static void screen_leave(struct screen *sc)
{
	if (sc->alternate)
		write_all(LEAVE_SCREEN, strlen(LEAVE_SCREEN));
	if (sc->raw)
		tcsetattr(sc->keys, TCSAFLUSH, &sc->saved);
	sc->alternate = sc->raw = false;
}

static bool want_colour(void)
{
	const char *no = getenv("NO_COLOR"), *term = getenv("TERM");
	return !(no && *no) && !(term && strcmp(term, "dumb") == 0);
}

static void terminal_size(unsigned *rows, unsigned *cols)
{
	struct winsize ws;
	*rows = 24;
	*cols = 80;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
		*rows = ws.ws_row;
		*cols = ws.ws_col;
	}
}

static unsigned alive_count(const struct fl_seg *seg, const struct fl_snapshot *snap)
{
	unsigned n = 0;
	for (size_t i = 0; i < snap->nprocs; i++)
		n += fl_proc_alive(seg, snap->procs[i].index, &snap->procs[i].rec);
	return n;
}

/* The newest (up to) max events of the log, oldest first. A corrupt record
 * ends the list: `faultline events` says what is wrong with it. */
static int last_events(const struct fl_seg *seg, struct fl_event *out, int max)
{
	struct fl_event_reader r;
	fl_event_reader_init(&r, seg, 0);
	uint64_t head = fl_events_head(seg);
	r.next = head > (uint64_t)max ? head - (uint64_t)max : 0;
	struct fl_diag *d = calloc(1, sizeof(*d));
	int n = d ? fl_events_read(seg, &r, fl_clock_mono_ms(), out, (size_t)max, d) : 0;
	free(d);
	return n < 0 ? 0 : n;
}

/* The frame's lines, '\n'-separated, each within cols - 1 columns. */
static void compose(struct fl_out *body, const char *domain, double secs, unsigned rows, unsigned cols,
		    bool colour)
{
	struct fl_seg seg;
	struct fl_snapshot snap;
	char msg[FL_DIAG_MSG_MAX], clock[16], title[256];
	time_t now = time(NULL);
	struct tm tm;
	strftime(clock, sizeof(clock), "%H:%M:%S", localtime_r(&now, &tm));
	unsigned width = cols > 1 ? cols - 1 : 1;
	int code = fl_cli_snapshot(domain, &seg, &snap, msg, sizeof(msg), true);
	if (code != FL_EXIT_OK) {
		snprintf(title, sizeof(title), "faultline top - domain %s - %s - every %gs - q quits", domain,
			 clock, secs);
		fl_out_printf(body, "%.*s\n\n", (int)width, title);
		char safe[sizeof(msg)];
		fl_report_sanitize(msg, safe, sizeof(safe));
		fl_out_printf(body, "%.*s (waiting)\n", (int)(width > 10 ? width - 10 : 1), safe);
		return;
	}
	unsigned alive = alive_count(&seg, &snap);
	struct fl_event last[EVENT_LINES];
	bool room = rows > HEADER_LINES + EVENT_LINES + 6;
	int nlast = room ? last_events(&seg, last, EVENT_LINES) : 0;
	char layers[512];
	fl_layers_summary(&seg, layers, sizeof(layers)); /* "" when there are none */
	fl_seg_close(&seg);
	snprintf(
	    title, sizeof(title),
	    "faultline top - domain %s - %s - %zu destination%s, %u process%s attached - every %gs - q quits",
	    domain, clock, snap.nentries, snap.nentries == 1 ? "" : "s", alive, alive == 1 ? "" : "es", secs);
	fl_out_printf(body, "%.*s\n\n", (int)width, title);
	unsigned extra = 0;
	if (layers[0]) {
		fl_out_printf(body, "%.*s\n", (int)width, layers);
		extra = 1;
	}
	struct fl_table_style style = {
	    .width = width,
	    .max_rows = rows > HEADER_LINES + 2 + extra
			    ? rows - HEADER_LINES - 1 - extra - (room ? EVENT_LINES + 2 : 0)
			    : 1,
	    .colour = colour,
	};
	fl_report_table(body, &snap, &style);
	fl_snapshot_free(&snap);
	if (room) {
		fl_out_printf(body, "\nlast events%s\n", nlast ? "" : ": none yet");
		for (int i = 0; i < nlast; i++) {
			struct fl_out line = {0};
			fl_cli_event_line(&line, &last[i], false);
			if (line.len)
				fl_out_printf(body, "%.*s\n",
					      (int)(width < line.len - 1 ? width : line.len - 1), line.p);
			free(line.p);
		}
	}
}

/* Home, the lines (each cleared to its end), clear below: one write. */
static void draw(struct fl_out *frame, struct fl_out *body, const char *domain, double secs, bool colour)
{
	unsigned rows, cols;
	terminal_size(&rows, &cols);
	fl_out_reset(body);
	fl_out_reset(frame);
	compose(body, domain, secs, rows, cols, colour);
	fl_out_puts(frame, "\033[H");
	const char *p = body->p ? body->p : "";
	for (unsigned line = 0; *p && line < rows; line++) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if (line > 0)
			fl_out_puts(frame, "\r\n");
		fl_out_putn(frame, p, n);
		fl_out_puts(frame, "\033[K");
		p += n + (nl != NULL);
	}
	fl_out_puts(frame, "\033[J");
	if (!frame->failed)
		write_all(frame->p, frame->len);
}

enum key_action { KEY_NONE, KEY_REDRAW, KEY_QUIT };

/* Reads what was typed: q quits, any other key redraws at once. */
static enum key_action read_keys(struct screen *sc)
{
	char buf[64];
	ssize_t n = read(sc->keys, buf, sizeof(buf));
	if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
		sc->keys = -1; /* end of input: from now on only a signal quits */
		return KEY_NONE;
	}
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == 'q' || buf[i] == 'Q' || buf[i] == 3 /* Ctrl-C without ISIG */)
			return KEY_QUIT;
	return n > 0 ? KEY_REDRAW : KEY_NONE;
}

static void install(sigset_t *blocked, sigset_t *waiting)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(blocked);
	for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++) {
		sigaction(handled[i], &sa, NULL);
		sigaddset(blocked, handled[i]);
	}
	sigprocmask(SIG_BLOCK, blocked, waiting);
	for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++)
		sigdelset(waiting, handled[i]);
}

/* Ctrl-Z: the terminal as it was while stopped, our mode again after. */
static void suspend(struct screen *sc)
{
	sigset_t tstp;
	sigemptyset(&tstp);
	sigaddset(&tstp, SIGTSTP);
	screen_leave(sc);
	signal(SIGTSTP, SIG_DFL);
	sigprocmask(SIG_UNBLOCK, &tstp, NULL);
	raise(SIGTSTP); /* stops here until SIGCONT */
	sigprocmask(SIG_BLOCK, &tstp, NULL);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTSTP, &sa, NULL);
	screen_enter(sc);
}

static int run_screen(const char *domain, double secs)
{
	struct screen sc = {.keys = isatty(STDIN_FILENO) ? STDIN_FILENO : -1};
	struct fl_out frame, body;
	sigset_t blocked, waiting;
	bool colour = want_colour(), quit = false;
	int64_t interval = (int64_t)(secs * 1e9), next = 0;
	fl_out_init(&frame);
	fl_out_init(&body);
	install(&blocked, &waiting);
	screen_enter(&sc);
	while (!quit && !stop_signal) {
		if (suspended) {
			suspended = 0;
			suspend(&sc);
			next = 0;
		}
		if (resized) {
			resized = 0;
			next = 0;
		}
		int64_t now = (int64_t)fl_clock_mono_ns();
		if (now >= next) {
			draw(&frame, &body, domain, secs, colour);
			next = now + interval;
		}
		int64_t wait = next - (int64_t)fl_clock_mono_ns();
		struct timespec ts = {.tv_sec = wait > 0 ? (time_t)(wait / 1000000000LL) : 0,
				      .tv_nsec = wait > 0 ? (long)(wait % 1000000000LL) : 0};
		struct pollfd pfd = {.fd = sc.keys, .events = POLLIN};
		int r = ppoll(&pfd, sc.keys >= 0 ? 1 : 0, &ts, &waiting);
		if (r > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR))) {
			enum key_action key = read_keys(&sc);
			quit = key == KEY_QUIT;
			if (key == KEY_REDRAW)
				next = 0;
		}
	}
	screen_leave(&sc);
	fl_out_free(&frame);
	fl_out_free(&body);
	sigprocmask(SIG_UNBLOCK, &blocked, NULL);
	if (stop_signal && stop_signal != SIGINT)
		return 128 + stop_signal;
	return FL_EXIT_OK;
}

int fl_cmd_top(const struct fl_cli *cli)
{
	if (cli->noperands > 0)
		return fl_cli_fail(FL_EXIT_USAGE,
				   "top takes no operands ('%s'; a domain is given with --domain)",
				   cli->operands[0]);
	double secs = 1.0;
	if (cli->watch && fl_cli_parse_interval(cli->watch, &secs) != 0)
		return FL_EXIT_USAGE;
	if (!isatty(STDOUT_FILENO))
		return fl_cli_fail(
		    FL_EXIT_USAGE,
		    "top needs a terminal (for a stream of tables: faultline stats --watch %g)", secs);
	const char *domain = fl_cli_domain(cli);
	struct fl_seg seg;
	struct fl_snapshot snap;
	int code = fl_cli_open_domain(cli, &seg, &snap); /* a missing or corrupt domain: say so, exit 1 */
	if (code != FL_EXIT_OK)
		return code;
	fl_snapshot_free(&snap);
	fl_seg_close(&seg);
	return run_screen(domain, secs);
}
