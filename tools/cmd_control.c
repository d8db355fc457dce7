/*
 * cmd_control.c - `faultline trip`, `reset` and `set`: steering breakers
 * and bulkheads of a running domain.
 *
 * DEST names entries as `stats` prints them. One name may stand for two
 * entries: a scope=rule statement on a single address keeps its breaker in
 * a rule entry and the destination's counters in a destination entry, both
 * called by that address. A command acts on every entry of the name that
 * has the part it changes.
 *
 * `set` validates KEY=VALUE exactly as the rule parser does, through
 * fl_rule_set_key on a rule filled from the entry's current parameters, so
 * ranges, errno names and "did you mean" read the same as in
 * FAULTLINE_RULES. Every pair is checked before anything is written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "breaker.h"
#include "bulkhead.h"
#include "cli.h"
#include "entry.h"
#include "entry_set.h"
#include "reader.h"
#include "segment.h"

/* An open domain and the entries a DEST names. */
struct dest_entries {
	const char *dest, *domain;
	struct fl_seg seg;
	struct fl_snapshot snap;
	struct fl_seg_entry *entries[8];
	size_t n;
	bool any_breaker, any_bulkhead;
};

static void close_dest_entries(struct dest_entries *t)
{
	fl_snapshot_free(&t->snap);
	fl_seg_close(&t->seg);
}

/* Opens the domain and finds DEST; exit 1 if it is not there. */
static int open_dest_entries(const struct fl_cli *cli, const char *dest, struct dest_entries *t)
{
	memset(t, 0, sizeof(*t));
	t->dest = dest;
	t->domain = fl_cli_domain(cli);
	int code = fl_cli_open_domain(cli, &t->seg, &t->snap);
	if (code != FL_EXIT_OK)
		return code;
	for (size_t i = 0; i < t->snap.nentries && t->n < sizeof(t->entries) / sizeof(t->entries[0]); i++) {
		const struct fl_snap_entry *s = &t->snap.entries[i];
		struct fl_seg_entry *e = fl_seg_entry_at(&t->seg, s->index);
		if (!e || strcmp(s->name, dest) != 0)
			continue;
		t->entries[t->n++] = e;
		t->any_breaker |= s->has_breaker;
		t->any_bulkhead |= s->has_bulkhead;
	}
	if (t->n == 0) {
		close_dest_entries(t);
		return fl_cli_fail(FL_EXIT_RUNTIME, "destination '%s' not found in domain '%s'", dest,
				   t->domain);
	}
	return FL_EXIT_OK;
}

/* ---- trip ---- */

/* Does the domain exist with an entry of that name that has a breaker?
 * (Quietly: if not, trip creates one.) A corrupt segment counts as
 * existing, so the usual path reports it. */
static bool known_breaker(const struct fl_cli *cli, const char *dest)
{
	struct fl_seg seg;
	struct fl_snapshot snap;
	char msg[FL_DIAG_MSG_MAX];
	int code = fl_cli_snapshot(fl_cli_domain(cli), &seg, &snap, msg, sizeof(msg), false);
	if (code != FL_EXIT_OK)
		return strstr(msg, "does not exist") == NULL;
	bool found = false;
	for (size_t i = 0; i < snap.nentries; i++)
		found |= snap.entries[i].has_breaker && strcmp(snap.entries[i].name, dest) == 0;
	fl_snapshot_free(&snap);
	fl_seg_close(&seg);
	return found;
}

int fl_cmd_trip(const struct fl_cli *cli)
{
	if (cli->noperands != 1)
		return fl_cli_fail(FL_EXIT_USAGE, "trip needs one destination: faultline trip DEST");
	if (!known_breaker(cli, cli->operands[0]))
		return fl_cli_trip_new(cli, cli->operands[0]); /* before first use (SPEC 11) */
	struct dest_entries t;
	int code = open_dest_entries(cli, cli->operands[0], &t);
	if (code != FL_EXIT_OK)
		return code;
	if (!t.any_breaker) {
		close_dest_entries(&t);
		return fl_cli_fail(FL_EXIT_RUNTIME, "destination '%s' in domain '%s' has no breaker to trip",
				   t.dest, t.domain);
	}
	uint64_t now = fl_cli_now_ms();
	for (size_t i = 0; i < t.n; i++)
		fl_entry_trip(t.entries[i], now);
	close_dest_entries(&t);
	return FL_EXIT_OK;
}

/* ---- reset ---- */

static int reset_all(const struct fl_cli *cli)
{
	struct fl_seg seg;
	struct fl_snapshot snap;
	int code = fl_cli_open_domain(cli, &seg, &snap);
	if (code != FL_EXIT_OK)
		return code;
	uint64_t now = fl_cli_now_ms();
	for (size_t i = 0; i < snap.nentries; i++) {
		struct fl_seg_entry *e = fl_seg_entry_at(&seg, snap.entries[i].index);
		if (e)
			fl_entry_reset(e, now);
	}
	fl_snapshot_free(&snap);
	fl_seg_close(&seg);
	return FL_EXIT_OK;
}

int fl_cmd_reset(const struct fl_cli *cli)
{
	if (cli->all && cli->noperands > 0)
		return fl_cli_fail(FL_EXIT_USAGE, "reset takes a destination or --all, not both");
	if (cli->all)
		return reset_all(cli);
	if (cli->noperands != 1)
		return fl_cli_fail(FL_EXIT_USAGE,
				   "reset needs one destination or --all: faultline reset [DEST | --all]");
	struct dest_entries t;
	int code = open_dest_entries(cli, cli->operands[0], &t);
	if (code != FL_EXIT_OK)
		return code;
	if (!t.any_breaker && !t.any_bulkhead) {
		close_dest_entries(&t);
		return fl_cli_fail(FL_EXIT_RUNTIME,
				   "destination '%s' in domain '%s' has no breaker or bulkhead to reset",
				   t.dest, t.domain);
	}
	uint64_t now = fl_cli_now_ms();
	for (size_t i = 0; i < t.n; i++)
		fl_entry_reset(t.entries[i], now);
	close_dest_entries(&t);
	return FL_EXIT_OK;
}

/* ---- set ---- (the work is lib/entry_set.c's, shared with serve) */

/* argv index of an operand, for "set:1:COL:" (0 if it cannot be found). */
static unsigned arg_column(const struct fl_cli *cli, const char *word)
{
	for (int i = 0; i < cli->argc; i++)
		if (cli->argv[i] == word)
			return (unsigned)i;
	return 0;
}

int fl_cmd_set(const struct fl_cli *cli)
{
	if (cli->noperands < 2)
		return fl_cli_fail(FL_EXIT_USAGE, "set needs a destination and KEY=VALUE pairs: "
						  "faultline set DEST KEY=VALUE ...");
	struct dest_entries t;
	int code = open_dest_entries(cli, cli->operands[0], &t);
	if (code != FL_EXIT_OK)
		return code;
	size_t npairs = (size_t)cli->noperands - 1;
	unsigned *cols = calloc(npairs, sizeof(*cols));
	struct fl_diag *d = calloc(1, sizeof(*d));
	if (!cols || !d) {
		free(cols);
		free(d);
		close_dest_entries(&t);
		return fl_cli_fail(FL_EXIT_RUNTIME, "out of memory");
	}
	for (size_t i = 0; i < npairs; i++)
		cols[i] = arg_column(cli, cli->operands[i + 1]);
	enum fl_set_result r =
	    fl_entry_set_pairs(t.entries, t.n, t.dest, (const char *const *)cli->operands + 1, cols, npairs,
			       arg_column(cli, cli->operands[0]), fl_cli_now_ms(), d);
	if (r == FL_SET_OK)
		fl_cli_warnings(d);
	else
		code = fl_cli_fail(r == FL_SET_BAD_INPUT ? FL_EXIT_USAGE : FL_EXIT_RUNTIME, "%s", d->error);
	free(cols);
	free(d);
	close_dest_entries(&t);
	return code;
}
