/*
 * rule_keys_x.c - the whole-statement checks of SPEC 11's keys: the new
 * breaker keys and the rate_limit kind. Kept apart from rules.c so the
 * checks of one feature sit together (and merge without touching the
 * other kinds' checks).
 */
#include <string.h>

#include "rules.h"

int fl_breaker_x_finish(struct fl_rule *r, const struct fl_loc *loc, struct fl_diag *d)
{
	struct fl_breaker_params *p = &r->u.breaker;
	if (p->timeout_max_ms != 0 && p->timeout_max_ms < p->timeout_ms)
		return fl_diag_error(
		    d, loc,
		    "timeout_max_ms=%u is below timeout_ms=%u (the open time only grows from "
		    "timeout_ms; 0 keeps it fixed)",
		    (unsigned)p->timeout_max_ms, (unsigned)p->timeout_ms);
	const struct fl_target *t = &r->target;
	const struct fl_fallback *f = &p->fallback;
	bool one = t->family == f->family && t->prefix == (t->family == FL_AF_INET4 ? 32 : 128) &&
		   t->port_lo == t->port_hi;
	if (f->family != 0 && one && t->port_lo == f->port && memcmp(t->addr, f->addr, 16) == 0)
		return fl_diag_error(d, loc,
				     "fallback is the statement's own destination (it would fail "
				     "over to itself)");
	if (f->family == FL_AF_NAME && t->family == FL_AF_NAME && !t->name_wild && t->port_lo == t->port_hi &&
	    t->port_lo == f->port && strcmp(t->name, r->fallback_name) == 0)
		return fl_diag_error(d, loc,
				     "fallback %s:%u is the statement's own destination (it would fail "
				     "over to itself)",
				     r->fallback_name, (unsigned)f->port);
	return 0;
}

int fl_ratelimit_finish(struct fl_rule *r, const struct fl_loc *loc, struct fl_diag *d)
{
	struct fl_ratelimit_params *p = &r->u.ratelimit;
	if (p->rate == 0)
		return fl_diag_error(d, loc, "rate_limit needs rate= (connections per second)");
	if (p->burst == 0)
		p->burst = p->rate;
	return 0;
}
