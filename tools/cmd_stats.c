/*
 * cmd_stats.c - `faultline stats`: the domain's counters as a table, as
 * JSON (SPEC section 6) or in Prometheus text format, once or every
 * --watch SECS.
 *
 * Each round maps the domain afresh, so a domain cleared and created again
 * while being watched is followed, and a round never shows memory that has
 * been unlinked. Rounds are paced on the monotonic clock, to absolute
 * deadlines, so slow rounds do not drift.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "reader.h"
#include "report.h"
#include "segment.h"

enum stats_format { FORMAT_TABLE, FORMAT_JSON, FORMAT_PROMETHEUS };

/* One round: snapshot, format, print. `msg` gets the error of a failed round. */
static int stats_round(const char *domain, enum stats_format format, bool clear, char *msg, size_t size)
{
	struct fl_seg seg;
	struct fl_snapshot snap;
	msg[0] = '\0';
	int code = fl_cli_snapshot(domain, &seg, &snap, msg, size, true);
	if (code != FL_EXIT_OK)
		return code;
	fl_seg_close(&seg);
	struct fl_out o;
	fl_out_init(&o);
	if (clear)
		fl_out_puts(&o, "\033[H\033[2J");
	if (format == FORMAT_JSON)
		fl_report_json(&o, &snap);
	else if (format == FORMAT_PROMETHEUS)
		fl_report_prometheus(&o, &snap);
	else
		fl_report_table(&o, &snap, NULL);
	fl_snapshot_free(&snap);
	code = fl_cli_print(&o);
	fl_out_free(&o);
	return code;
}

static void sleep_until(struct timespec *deadline, double secs)
{
	long long ns = (long long)(secs * 1e9);
	deadline->tv_sec += (time_t)(ns / 1000000000LL);
	deadline->tv_nsec += (long)(ns % 1000000000LL);
	if (deadline->tv_nsec >= 1000000000L) {
		deadline->tv_sec++;
		deadline->tv_nsec -= 1000000000L;
	}
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec > deadline->tv_sec + 1) /* far behind (suspended?): restart the pace from now */
		*deadline = now;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, deadline, NULL) == EINTR)
		;
}

/*
 * Until interrupted. On a terminal the screen is cleared before each round;
 * in a pipe, rounds follow each other (tables separated by a blank line).
 * A domain that disappears after the first round is reported and waited for.
 */
static int watch(const char *domain, enum stats_format format, double secs)
{
	bool tty = isatty(STDOUT_FILENO);
	char msg[FL_DIAG_MSG_MAX];
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	for (unsigned round = 0;; round++) {
		if (!tty && round > 0 && format == FORMAT_TABLE)
			fputc('\n', stdout);
		int code = stats_round(domain, format, tty, msg, sizeof(msg));
		if (code != FL_EXIT_OK && msg[0] == '\0')
			return code; /* the output failed, and said so */
		if (code != FL_EXIT_OK && (round == 0 || code == FL_EXIT_USAGE))
			return fl_cli_fail(code, "%s", msg);
		if (code != FL_EXIT_OK) {
			if (tty)
				fputs("\033[H\033[2J", stdout);
			fflush(stdout);
			fprintf(stderr, "faultline: %s (still watching)\n", msg);
		}
		sleep_until(&deadline, secs);
	}
}

int fl_cmd_stats(const struct fl_cli *cli)
{
	if (cli->noperands > 0)
		return fl_cli_fail(FL_EXIT_USAGE,
				   "stats takes no operands ('%s'; a domain is given with --domain)",
				   cli->operands[0]);
	if (cli->json && cli->prometheus)
		return fl_cli_fail(FL_EXIT_USAGE, "--json and --prometheus cannot be combined");
	enum stats_format format = cli->json	     ? FORMAT_JSON
				   : cli->prometheus ? FORMAT_PROMETHEUS
						     : FORMAT_TABLE;
	const char *domain = fl_cli_domain(cli);
	double secs = 0;
	if (cli->watch)
		return fl_cli_parse_interval(cli->watch, &secs) ? FL_EXIT_USAGE : watch(domain, format, secs);
	char msg[FL_DIAG_MSG_MAX];
	int code = stats_round(domain, format, false, msg, sizeof(msg));
	if (code != FL_EXIT_OK && msg[0])
		fl_cli_fail(code, "%s", msg);
	return code;
}
