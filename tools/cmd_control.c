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

int fl_cmd_trip(const struct fl_cli *cli)
{
	if (cli->noperands != 1)
		return fl_cli_fail(FL_EXIT_USAGE, "trip needs one destination: faultline trip DEST");
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

/* ---- set ---- */

/* The new parameters, built from the first entry that has each part. */
struct settings {
	struct fl_rule rule[2];	 /* [FL_KIND_BREAKER], [FL_KIND_BULKHEAD] */
	bool has[2], touched[2]; /* the destination has the part / a key changes it */
	uint64_t seen[2];	 /* keys already given, per part (duplicates are errors) */
	uint8_t scope[2];	 /* as it is now: scope cannot change live */
	struct fl_diag d;
};

static bool kind_has_key(enum fl_kind kind, const char *key, size_t len)
{
	for (const char *const *k = fl_kind_keys(kind); *k; k++)
		if (strlen(*k) == len && strncmp(*k, key, len) == 0)
			return true;
	return false;
}

/* argv index of an operand, for "set:1:COL:" (0 if it cannot be found). */
static unsigned arg_column(const struct fl_cli *cli, const char *word)
{
	for (int i = 0; i < cli->argc; i++)
		if (cli->argv[i] == word)
			return (unsigned)i;
	return 0;
}

/* A key with neither part: let the part with a close name explain it. */
static enum fl_kind explaining_kind(const struct settings *s, const char *key, size_t len)
{
	if (s->has[FL_KIND_BULKHEAD] && fl_suggest(key, len, fl_kind_keys(FL_KIND_BULKHEAD)) &&
	    !(s->has[FL_KIND_BREAKER] && fl_suggest(key, len, fl_kind_keys(FL_KIND_BREAKER))))
		return FL_KIND_BULKHEAD;
	return s->has[FL_KIND_BREAKER] ? FL_KIND_BREAKER : FL_KIND_BULKHEAD;
}

static int set_one(struct settings *s, enum fl_kind kind, const char *key, size_t key_len, const char *value,
		   const struct fl_loc *loc)
{
	struct fl_rule *r = &s->rule[kind];
	if (fl_rule_set_key(r, key, key_len, value, strlen(value), &s->seen[kind], loc, &s->d) < 0)
		return fl_cli_fail(FL_EXIT_USAGE, "%s", s->d.error);
	uint8_t scope = kind == FL_KIND_BREAKER ? r->u.breaker.scope : r->u.bulkhead.scope;
	if (scope != s->scope[kind]) {
		fl_diag_error(&s->d, loc,
			      "'scope' of a %s cannot be changed live (it decides which entry holds "
			      "the state): change the rule and restart the program",
			      fl_kind_name(kind));
		return fl_cli_fail(FL_EXIT_USAGE, "%s", s->d.error);
	}
	s->touched[kind] = true;
	return 0;
}

/* One KEY=VALUE (or breaker.KEY=VALUE): into every part it applies to. */
static int parse_pair(struct settings *s, const char *dest, const char *word, const struct fl_loc *loc)
{
	const char *eq = strchr(word, '=');
	if (!eq || eq == word) {
		fl_diag_error(&s->d, loc, "'%s' is not KEY=VALUE", word);
		return fl_cli_fail(FL_EXIT_USAGE, "%s", s->d.error);
	}
	const char *key = word, *dot = memchr(word, '.', (size_t)(eq - word));
	int only = -1;
	if (dot) {
		only = fl_kind_from_name(word, (size_t)(dot - word));
		if (only != FL_KIND_BREAKER && only != FL_KIND_BULKHEAD) {
			fl_diag_error(&s->d, loc, "'%.*s' is not a part: write breaker.KEY or bulkhead.KEY",
				      (int)(dot - word), word);
			return fl_cli_fail(FL_EXIT_USAGE, "%s", s->d.error);
		}
		key = dot + 1;
	}
	size_t len = (size_t)(eq - key);
	bool applies[2];
	for (int k = FL_KIND_BREAKER; k <= FL_KIND_BULKHEAD; k++)
		applies[k] = (only < 0 || only == k) && kind_has_key((enum fl_kind)k, key, len);
	if (!applies[FL_KIND_BREAKER] && !applies[FL_KIND_BULKHEAD]) {
		enum fl_kind k = only >= 0 ? (enum fl_kind)only : explaining_kind(s, key, len);
		int code = set_one(s, k, key, len, eq + 1, loc); /* fails: the key is unknown */
		return code ? code : FL_EXIT_USAGE;
	}
	bool done = false;
	for (int k = FL_KIND_BREAKER; k <= FL_KIND_BULKHEAD; k++) {
		if (!applies[k] || !s->has[k])
			continue;
		if (set_one(s, (enum fl_kind)k, key, len, eq + 1, loc) != 0)
			return FL_EXIT_USAGE;
		done = true;
	}
	if (!done)
		return fl_cli_fail(FL_EXIT_RUNTIME, "destination '%s' has no %s ('%.*s' is a %s key)", dest,
				   applies[FL_KIND_BREAKER] ? "breaker" : "bulkhead", (int)len, key,
				   applies[FL_KIND_BREAKER] ? "breaker" : "bulkhead");
	return FL_EXIT_OK;
}

static void load_settings(struct settings *s, const struct dest_entries *t)
{
	for (size_t i = t->n; i-- > 0;) {
		const struct fl_seg_entry *e = t->entries[i];
		if (fl_entry_has_breaker(e)) {
			fl_rule_defaults(&s->rule[FL_KIND_BREAKER], FL_KIND_BREAKER);
			fl_breaker_params_get(&s->rule[FL_KIND_BREAKER].u.breaker, &e->breaker.p);
			s->scope[FL_KIND_BREAKER] = s->rule[FL_KIND_BREAKER].u.breaker.scope;
			s->has[FL_KIND_BREAKER] = true;
		}
		if (fl_entry_has_bulkhead(e)) {
			fl_rule_defaults(&s->rule[FL_KIND_BULKHEAD], FL_KIND_BULKHEAD);
			fl_bulkhead_params_get(&s->rule[FL_KIND_BULKHEAD].u.bulkhead, &e->bulkhead.p);
			s->scope[FL_KIND_BULKHEAD] = s->rule[FL_KIND_BULKHEAD].u.bulkhead.scope;
			s->has[FL_KIND_BULKHEAD] = true;
		}
	}
}

static void write_settings(const struct settings *s, const struct dest_entries *t)
{
	uint64_t now = fl_cli_now_ms();
	for (size_t i = 0; i < t->n; i++) {
		if (s->touched[FL_KIND_BREAKER])
			fl_entry_set_breaker(t->entries[i], &s->rule[FL_KIND_BREAKER].u.breaker, now);
		if (s->touched[FL_KIND_BULKHEAD])
			fl_entry_set_bulkhead(t->entries[i], &s->rule[FL_KIND_BULKHEAD].u.bulkhead);
	}
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
	struct settings *s = calloc(1, sizeof(*s));
	if (!s) {
		close_dest_entries(&t);
		return fl_cli_fail(FL_EXIT_RUNTIME, "out of memory");
	}
	load_settings(s, &t);
	if (!s->has[FL_KIND_BREAKER] && !s->has[FL_KIND_BULKHEAD])
		code = fl_cli_fail(FL_EXIT_RUNTIME,
				   "destination '%s' in domain '%s' has no breaker or bulkhead to set",
				   t.dest, t.domain);
	for (int i = 1; code == FL_EXIT_OK && i < cli->noperands; i++) {
		struct fl_loc loc = {.source = "set", .line = 1, .col = arg_column(cli, cli->operands[i])};
		code = parse_pair(s, t.dest, cli->operands[i], &loc);
	}
	struct fl_loc start = {.source = "set", .line = 1, .col = arg_column(cli, cli->operands[0])};
	for (int k = FL_KIND_BREAKER; code == FL_EXIT_OK && k <= FL_KIND_BULKHEAD; k++)
		if (s->touched[k] && fl_rule_finish(&s->rule[k], &start, &s->d) < 0)
			code = fl_cli_fail(FL_EXIT_USAGE, "%s", s->d.error);
	if (code == FL_EXIT_OK) {
		fl_cli_warnings(&s->d);
		write_settings(s, &t);
	}
	free(s);
	close_dest_entries(&t);
	return code;
}
