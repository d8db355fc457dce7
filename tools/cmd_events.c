/*
 * cmd_events.c - `faultline events`: the domain's event log (lib/events.h),
 * one line per event, or one JSON object per line with --json (SPEC 7).
 *
 * The log is a ring: what it no longer holds is reported as dropped, and
 * a record whose writer died between taking its place and publishing it
 * is waited for a moment, then reported as lost - never shown torn. The
 * counts go to standard error, so standard output stays one event a line.
 * --follow polls the ring's head (every POLL_MS, a bounded sleep) and
 * stops when the domain is removed; --since starts at a time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "errnames.h"
#include "events.h"
#include "reader.h"
#include "report.h"
#include "rules.h"
#include "segment.h"

#define POLL_MS	     50u  /* --follow: how often the head is looked at */
#define GRACE_MS     200u /* how long an unpublished record is waited for */
#define BATCH	     64u
#define DOMAIN_CHECK 20u /* --follow: polls between checks that the domain still exists */

static const char *state_name(unsigned s)
{
	static const char *const names[] = {"closed", "open", "half_open", "forced_open", "disabled"};
	return s < 5 ? names[s] : "?";
}

/* "connect,send" from an op mask. */
static void ops_text(unsigned mask, char *buf, size_t size)
{
	size_t n = 0;
	buf[0] = '\0';
	for (unsigned op = 0; op < FL_OP_COUNT; op++)
		if (mask & (1u << op))
			n += (size_t)snprintf(buf + n, n < size ? size - n : 0, "%s%s", n ? "," : "",
					      fl_op_names[op]);
	if (mask & FL_OPS_CLOSE)
		n += (size_t)snprintf(buf + n, n < size ? size - n : 0, "%sclose", n ? "," : "");
}

/* JSON string body: quotes, backslashes and control bytes escaped. */
static void json_text(struct fl_out *o, const char *s)
{
	fl_out_printf(o, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fl_out_printf(o, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fl_out_printf(o, "\\u%04x", c);
		else
			fl_out_printf(o, "%c", c);
	}
	fl_out_printf(o, "\"");
}

void fl_cli_event_json(struct fl_out *o, const struct fl_event *ev)
{
	fl_out_printf(o,
		      "{\"time\": %llu, \"kind\": \"%s\", \"destination\": ", (unsigned long long)ev->time_ms,
		      fl_event_kind_name(ev->kind));
	json_text(o, ev->dest);
	fl_out_printf(o, ", \"pid\": %u", ev->pid);
	const char *what = fl_event_what_name(ev->kind, ev->what);
	switch (ev->kind) {
	case FL_EVENT_BREAKER:
		fl_out_printf(o, ", \"from\": \"%s\", \"to\": \"%s\", \"reason\": \"%s\"", state_name(ev->a),
			      state_name(ev->b), what);
		break;
	case FL_EVENT_BULKHEAD:
		fl_out_printf(o, ", \"what\": \"%s\", \"total\": %llu, \"active\": %u, \"limit\": %u", what,
			      (unsigned long long)ev->count, ev->v2, ev->v1);
		break;
	case FL_EVENT_LAYER:
		fl_out_printf(o, ", \"what\": \"%s\", \"layer\": ", what);
		json_text(o, ev->text);
		break;
	case FL_EVENT_PROCESS:
		fl_out_printf(o, ", \"what\": \"%s\", \"command\": ", what);
		json_text(o, ev->text);
		break;
	case FL_EVENT_FAULT: {
		char ops[64];
		ops_text(ev->a, ops, sizeof(ops));
		const char *err = ev->v1 ? fl_errno_name((int)ev->v1) : NULL;
		fl_out_printf(o,
			      ", \"what\": \"%s\", \"second\": %llu, \"count\": %llu, \"statement\": %u, "
			      "\"ops\": \"%s\"",
			      what, (unsigned long long)(ev->time_ms / 1000), (unsigned long long)ev->count,
			      ev->v3, ops);
		if (err)
			fl_out_printf(o, ", \"error\": \"%s\"", err);
		else
			fl_out_printf(o, ", \"error\": null");
		fl_out_printf(o, ", \"delay_ms\": %u", ev->v2);
		break;
	}
	case FL_EVENT_CONNECTION: {
		char ops[64];
		ops_text(ev->a, ops, sizeof(ops));
		fl_out_printf(o,
			      ", \"what\": \"%s\", \"second\": %llu, \"count\": %llu, \"statement\": %u, "
			      "\"ops\": \"%s\"",
			      what, (unsigned long long)(ev->time_ms / 1000), (unsigned long long)ev->count,
			      ev->v3, ops);
		if (ev->what == FL_CONN_CORRUPT)
			fl_out_printf(o, ", \"bytes\": %u", ev->v1);
		else if (ev->what == FL_CONN_SHAPED || ev->what == FL_CONN_CLOSE_DELAY)
			fl_out_printf(o, ", \"ms\": %u", ev->v1);
		break;
	}
	case FL_EVENT_RATE_LIMIT:
		fl_out_printf(o, ", \"what\": \"%s\", \"total\": %llu, \"rate\": %u, \"burst\": %u", what,
			      (unsigned long long)ev->count, ev->v1, ev->v2);
		break;
	case FL_EVENT_FALLBACK:
		fl_out_printf(o, ", \"what\": \"%s\", \"total\": %llu, \"fallback\": ", what,
			      (unsigned long long)ev->count);
		json_text(o, ev->text);
		break;
	default:
		break;
	}
	fl_out_printf(o, "}\n");
}

void fl_cli_event_line(struct fl_out *o, const struct fl_event *ev, bool with_date)
{
	time_t secs = (time_t)(ev->time_ms / 1000);
	struct tm tm;
	char when[32];
	strftime(when, sizeof(when), with_date ? "%Y-%m-%d %H:%M:%S" : "%H:%M:%S", localtime_r(&secs, &tm));
	char dest[FL_SEG_EVENT_DEST], text[FL_SEG_EVENT_TEXT];
	fl_report_sanitize(ev->dest, dest, sizeof(dest));
	fl_report_sanitize(ev->text, text, sizeof(text));
	fl_out_printf(o, "%s.%03u  %-8s  %-21s  pid %-7u  ", when, (unsigned)(ev->time_ms % 1000),
		      fl_event_kind_name(ev->kind), dest[0] ? dest : "-", ev->pid);
	const char *what = fl_event_what_name(ev->kind, ev->what);
	switch (ev->kind) {
	case FL_EVENT_BREAKER:
		fl_out_printf(o, "%s -> %s (%s)", state_name(ev->a), state_name(ev->b), what);
		break;
	case FL_EVENT_BULKHEAD:
		fl_out_printf(o, "%s (%llu in all; %u of %u slots in use)", what,
			      (unsigned long long)ev->count, ev->v2, ev->v1);
		break;
	case FL_EVENT_LAYER:
		fl_out_printf(o, "layer %s %s", text, what);
		break;
	case FL_EVENT_PROCESS:
		fl_out_printf(o, "%s%s%s", what, text[0] ? ": " : "", text);
		break;
	case FL_EVENT_FAULT: {
		char ops[64];
		ops_text(ev->a, ops, sizeof(ops));
		const char *err = ev->v1 ? fl_errno_name((int)ev->v1) : NULL;
		fl_out_printf(o, "%llu injected in that second by statement %u (on=%s",
			      (unsigned long long)ev->count, ev->v3, ops);
		if (err)
			fl_out_printf(o, " error=%s", err);
		if (ev->v2)
			fl_out_printf(o, " delay_ms=%u", ev->v2);
		fl_out_printf(o, ")");
		break;
	}
	case FL_EVENT_CONNECTION: {
		char ops[64];
		ops_text(ev->a, ops, sizeof(ops));
		fl_out_printf(o, "%s x%llu in that second by statement %u (on=%s", what,
			      (unsigned long long)ev->count, ev->v3, ops);
		if (ev->what == FL_CONN_CORRUPT)
			fl_out_printf(o, "; %u bytes flipped", ev->v1);
		else if (ev->what == FL_CONN_SHAPED || ev->what == FL_CONN_CLOSE_DELAY)
			fl_out_printf(o, "; %u ms", ev->v1);
		fl_out_printf(o, ")");
		break;
	}
	case FL_EVENT_RATE_LIMIT:
		fl_out_printf(o, "%s (%llu in all; rate %u/s, burst %u)", what, (unsigned long long)ev->count,
			      ev->v1, ev->v2);
		break;
	case FL_EVENT_FALLBACK:
		fl_out_printf(o, "failed over to %s (%llu in all)", text, (unsigned long long)ev->count);
		break;
	default:
		break;
	}
	fl_out_printf(o, "\n");
}

/*
 * --since: a bare number is a Unix time in milliseconds; a number with a
 * unit (250ms, 30s, 5m, 2h) is a duration, meaning that long ago.
 */
int fl_events_since_parse(const char *text, uint64_t now_ms, uint64_t *since)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (end == text || errno || text[0] == '-' || text[0] == '+')
		return -1;
	uint64_t scale;
	if (*end == '\0') {
		*since = v;
		return 0;
	}
	if (strcmp(end, "ms") == 0)
		scale = 1;
	else if (strcmp(end, "s") == 0)
		scale = 1000;
	else if (strcmp(end, "m") == 0)
		scale = 60000;
	else if (strcmp(end, "h") == 0)
		scale = 3600000;
	else
		return -1;
	if (v > UINT64_MAX / scale)
		return -1;
	uint64_t ago = v * scale;
	*since = ago >= now_ms ? 0 : now_ms - ago;
	return 0;
}

static void report_gaps(struct fl_event_reader *r, uint64_t *dropped, uint64_t *lost)
{
	if (r->dropped > *dropped)
		fprintf(stderr, "faultline: %llu event%s dropped: the log holds the last %u\n",
			(unsigned long long)(r->dropped - *dropped), r->dropped - *dropped == 1 ? "" : "s",
			FL_SEG_EVENTS);
	if (r->lost > *lost)
		fprintf(stderr, "faultline: %llu event%s lost: a writer died before finishing it\n",
			(unsigned long long)(r->lost - *lost), r->lost - *lost == 1 ? "" : "s");
	*dropped = r->dropped;
	*lost = r->lost;
}

static bool domain_still_there(const char *domain, const struct fl_seg *seg)
{
	char path[FL_SEG_PATH_MAX];
	struct stat st;
	if (fl_seg_path(path, sizeof(path), (unsigned)getuid(), domain) < 0 || stat(path, &st) < 0)
		return false;
	return (uint64_t)st.st_dev == seg->dev && (uint64_t)st.st_ino == seg->ino;
}

static void sleep_ms(unsigned ms)
{
	struct timespec t = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	nanosleep(&t, NULL);
}

/* Reads what there is from r->next up to `until` (or the head), printing;
 * waits out unpublished records (each GRACE_MS at most). -1: corrupt. */
static int drain(const struct fl_seg *seg, struct fl_event_reader *r, uint64_t until, uint64_t since,
		 bool json, int *code)
{
	struct fl_event batch[BATCH];
	struct fl_diag *d = calloc(1, sizeof(*d));
	if (!d)
		return fl_cli_fail(FL_EXIT_RUNTIME, "out of memory"), -1;
	int ret = 0;
	while (r->next < until) {
		int n = fl_events_read(seg, r, fl_clock_mono_ms(), batch, BATCH, d);
		if (n < 0) {
			*code = fl_cli_fail(FL_EXIT_RUNTIME, "%s", d->error);
			ret = -1;
			break;
		}
		struct fl_out o = {0};
		for (int i = 0; i < n; i++)
			if (batch[i].time_ms >= since) {
				if (json)
					fl_cli_event_json(&o, &batch[i]);
				else
					fl_cli_event_line(&o, &batch[i], true);
			}
		if (o.len && fl_cli_print(&o) != FL_EXIT_OK) {
			free(o.p);
			*code = FL_EXIT_RUNTIME;
			ret = -1;
			break;
		}
		free(o.p);
		fflush(stdout);
		if (n == 0 && r->next < until)
			sleep_ms(5); /* a record being written: its writer, or the grace, ends this */
	}
	free(d);
	return ret;
}

int fl_cmd_events(const struct fl_cli *cli)
{
	if (cli->noperands > 0)
		return fl_cli_fail(FL_EXIT_USAGE, "events: unexpected operand '%s'", cli->operands[0]);
	uint64_t since = 0;
	if (cli->since && fl_events_since_parse(cli->since, fl_cli_now_ms(), &since) < 0)
		return fl_cli_fail(
		    FL_EXIT_USAGE,
		    "--since: '%s' is neither a Unix time in ms nor a duration (250ms, 30s, 5m, 2h)",
		    cli->since);
	struct fl_seg seg;
	struct fl_snapshot snap;
	int code = fl_cli_open_domain(cli, &seg, &snap); /* missing or corrupt: said, exit 1 */
	if (code != FL_EXIT_OK)
		return code;
	fl_snapshot_free(&snap);
	const char *domain = fl_cli_domain(cli);
	struct fl_event_reader r;
	fl_event_reader_init(&r, &seg, GRACE_MS);
	uint64_t dropped = 0, lost = 0;
	if (r.next > 0)
		fprintf(stderr, "faultline: %llu older event%s dropped: the log holds the last %u\n",
			(unsigned long long)r.next, r.next == 1 ? "" : "s", FL_SEG_EVENTS);
	if (drain(&seg, &r, fl_events_head(&seg), since, cli->json, &code) == 0) {
		report_gaps(&r, &dropped, &lost);
		for (unsigned polls = 0; cli->follow; polls++) {
			uint64_t head = fl_events_head(&seg);
			if (head > r.next) {
				if (drain(&seg, &r, head, since, cli->json, &code) < 0)
					break;
				report_gaps(&r, &dropped, &lost);
				continue;
			}
			if (polls % DOMAIN_CHECK == 0 && !domain_still_there(domain, &seg)) {
				fprintf(stderr, "faultline: domain '%s' was removed\n", domain);
				break;
			}
			sleep_ms(POLL_MS);
		}
	}
	fl_seg_close(&seg);
	return code;
}
