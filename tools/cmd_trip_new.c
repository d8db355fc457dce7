/*
 * cmd_trip_new.c - `faultline trip DEST` for a destination no process has
 * contacted yet (SPEC 11): the domain's segment is created if need be,
 * the destination's entry is created, and its breaker filled in and
 * forced open, so the first connect of any process finds it open.
 *
 * The breaker's parameters come from the first breaker statement that
 * matches DEST in the rules given (--rules / --config, or FAULTLINE_RULES
 * / FAULTLINE_CONFIG), else the defaults; `faultline set` changes them
 * later like any other. It acts on connects once a breaker statement
 * matches the destination in the program's rules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "entry.h"
#include "match.h"
#include "segment.h"

static void init_entry(struct fl_seg_entry *e, void *arg)
{
	e->created_ms = *(const uint64_t *)arg;
}

/* DEST as one destination: ADDR:PORT, [V6]:PORT or unix:/path. */
static bool parse_dest(const char *text, struct fl_dest *d)
{
	struct fl_target t;
	const char *why;
	if (fl_target_parse(text, strlen(text), &t, &why) < 0)
		return false;
	memset(d, 0, sizeof(*d));
	d->family = t.family;
	if (t.family == FL_AF_UNIX) {
		d->path_len = t.path_len;
		memcpy(d->path, t.path, t.path_len);
		return true;
	}
	if ((t.family != FL_AF_INET4 && t.family != FL_AF_INET6) ||
	    t.prefix != (t.family == FL_AF_INET4 ? 32 : 128) || t.port_lo != t.port_hi || t.port_lo == 0)
		return false;
	d->port = t.port_lo;
	memcpy(d->addr, t.addr, sizeof(d->addr));
	return true;
}

/* The breaker rule DEST would get, and its statement text. */
static int breaker_rule(const struct fl_cli *cli, const struct fl_dest *d, struct fl_rule *out)
{
	fl_rule_defaults(out, FL_KIND_BREAKER);
	out->target.family = d->family;
	if (!cli->rules && !cli->config && !getenv("FAULTLINE_RULES") && !getenv("FAULTLINE_CONFIG"))
		return 0;
	struct fl_ruleset rs;
	fl_ruleset_init(&rs);
	if (fl_cli_load_rules(cli, &rs) < 0)
		return -1;
	struct fl_match m;
	if (fl_match(&rs, d, &m) && m.breaker >= 0)
		*out = rs.rules[m.breaker];
	fl_ruleset_free(&rs);
	return 0;
}

int fl_cli_trip_new(const struct fl_cli *cli, const char *dest_text)
{
	struct fl_dest d;
	const char *domain = fl_cli_domain(cli);
	if (!parse_dest(dest_text, &d))
		return fl_cli_fail(FL_EXIT_RUNTIME,
				   "destination '%s' not found in domain '%s' (to trip it before first use, "
				   "write one destination: ADDR:PORT, [V6]:PORT or unix:/path)",
				   dest_text, domain);
	struct fl_rule rule;
	if (breaker_rule(cli, &d, &rule) < 0)
		return FL_EXIT_USAGE;
	char text[FL_SEG_RULE_TEXT + 64];
	fl_rule_format_brief(&rule, text, sizeof(text));
	struct fl_diag *diag = calloc(1, sizeof(*diag));
	if (!diag)
		return fl_cli_fail(FL_EXIT_RUNTIME, "out of memory");
	struct fl_seg seg;
	uint64_t now = fl_cli_now_ms();
	int code = FL_EXIT_OK;
	if (fl_seg_open(&seg, domain, FL_SEG_CAPACITY_DEFAULT, true, now, diag) < 0) {
		code = fl_cli_fail(FL_EXIT_RUNTIME, "%s", diag->error);
		free(diag);
		return code;
	}
	struct fl_seg_key key;
	fl_seg_key_dest(&key, &d);
	struct fl_seg_entry *e = fl_seg_lookup(&seg, &key, init_entry, &now);
	if (!e)
		code =
		    fl_cli_fail(FL_EXIT_RUNTIME, "domain '%s' has no room for another destination", domain);
	else if (!fl_entry_trip_new(e, &rule.u.breaker, text, now) && !fl_entry_has_breaker(e))
		code = fl_cli_fail(FL_EXIT_RUNTIME, "the breaker of '%s' is being created: try again",
				   dest_text);
	fl_seg_close(&seg);
	free(diag);
	return code;
}
