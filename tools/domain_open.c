/*
 * domain_open.c - how every command that reads a domain gets at it.
 *
 * The CLI never creates a segment (fl_seg_open with create=false): a
 * missing domain is an error, "domain 'x' does not exist", exit 1. What it
 * maps, it snapshots at once (reader.h), so a corrupt or foreign segment
 * is reported once, here, and no command formats from unchecked memory.
 */
#include <errno.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bulkhead.h"
#include "cli.h"
#include "clock.h"
#include "events.h"
#include "reader.h"
#include "report.h"
#include "segment.h"

const char *fl_cli_domain(const struct fl_cli *cli)
{
	if (cli->domain)
		return cli->domain;
	const char *env = getenv("FAULTLINE_DOMAIN");
	return env && *env ? env : "default";
}

uint64_t fl_cli_now_ms(void)
{
	return fl_clock_unix_ms();
}

/*
 * Slots and queue places of processes that died (SIGKILL) are given back by
 * the next process that reclaims (lib/bulkhead.c); when the domain has no
 * live process left, that is us. Only after the segment passed validation;
 * true if anything changed (the snapshot is then taken again).
 */
static bool reclaim_dead(struct fl_seg *seg)
{
	fl_events_bind_thread(seg); /* who reclaims a dead process writes that it is gone */
	return fl_bulkhead_reclaim_dead(seg) > 0;
}

/* " (uid N is user NAME)" for a segment another user owns, else "": the
 * shim's refusal gives the uid only (it does no NSS lookup); here a name
 * helps to find whom to ask. */
static const char *owner_name(const char *path)
{
	static char text[160];
	struct stat st;
	text[0] = '\0';
	if (lstat(path, &st) == 0 && st.st_uid != getuid()) {
		struct passwd *pw = getpwuid(st.st_uid);
		if (pw && pw->pw_name)
			snprintf(text, sizeof(text), " (uid %u is user %s)", (unsigned)st.st_uid,
				 pw->pw_name);
	}
	return text;
}

int fl_cli_snapshot(const char *domain, struct fl_seg *seg, struct fl_snapshot *snap, char *msg, size_t size,
		    bool reap)
{
	char path[FL_SEG_PATH_MAX];
	memset(seg, 0, sizeof(*seg));
	memset(snap, 0, sizeof(*snap));
	if (fl_seg_path(path, sizeof(path), (unsigned)getuid(), domain) < 0) {
		snprintf(msg, size, FL_DOMAIN_NAME_INVALID, domain);
		return FL_EXIT_USAGE;
	}
	struct stat st;
	if (lstat(path, &st) < 0 && errno == ENOENT) {
		snprintf(msg, size, "domain '%s' does not exist", domain);
		return FL_EXIT_RUNTIME;
	}
	struct fl_diag *d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(msg, size, "out of memory");
		return FL_EXIT_RUNTIME;
	}
	int code = FL_EXIT_OK;
	if (fl_seg_open(seg, domain, 0, false, 0, d) < 0) {
		code = FL_EXIT_RUNTIME;
	} else if (fl_snapshot_take(seg, fl_cli_now_ms(), path, snap, d) < 0) {
		fl_seg_close(seg);
		code = FL_EXIT_RUNTIME;
	} else if (reap && reclaim_dead(seg)) {
		/* The first snapshot is stale: free it before taking the next
		 * (it leaked one snapshot per reaping round of --watch). */
		fl_snapshot_free(snap);
		if (fl_snapshot_take(seg, fl_cli_now_ms(), path, snap, d) < 0) {
			fl_seg_close(seg);
			code = FL_EXIT_RUNTIME;
		}
	}
	if (code != FL_EXIT_OK)
		snprintf(msg, size, "%s%s", d->error, owner_name(path));
	else
		fl_events_bind_thread(seg); /* trip, reset, set: the breakers' moves go to its log */
	free(d);
	return code;
}

int fl_cli_open_domain(const struct fl_cli *cli, struct fl_seg *seg, struct fl_snapshot *snap)
{
	char msg[FL_DIAG_MSG_MAX];
	int code = fl_cli_snapshot(fl_cli_domain(cli), seg, snap, msg, sizeof(msg), false);
	if (code != FL_EXIT_OK)
		fl_cli_fail(code, "%s", msg);
	return code;
}

int fl_cli_print(const struct fl_out *o)
{
	if (o->failed)
		return fl_cli_fail(FL_EXIT_RUNTIME, "out of memory");
	if (o->len && fwrite(o->p, 1, o->len, stdout) != o->len)
		return fl_cli_fail(FL_EXIT_RUNTIME, "cannot write the output: %s", strerror(errno));
	if (fflush(stdout) != 0)
		return fl_cli_fail(FL_EXIT_RUNTIME, "cannot write the output: %s", strerror(errno));
	return FL_EXIT_OK;
}

#define INTERVAL_MIN 0.01
#define INTERVAL_MAX 86400.0

int fl_cli_parse_interval(const char *text, double *secs)
{
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	if (end == text || *end || errno || !isfinite(v) || v < INTERVAL_MIN || v > INTERVAL_MAX)
		return fl_cli_fail(FL_EXIT_USAGE,
				   "--watch '%s': give seconds from %.2f to %.0f (decimals allowed)", text,
				   INTERVAL_MIN, INTERVAL_MAX);
	*secs = v;
	return 0;
}
