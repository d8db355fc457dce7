/*
 * match.c - first breaker, first bulkhead, every fault, in statement order.
 *
 * The reference: reads every statement, so it is obviously right and costs
 * O(statements). match_index.c answers the same from an index and is
 * tested against this function on random rule sets.
 */
#include "match.h"

bool fl_match(const struct fl_ruleset *rs, const struct fl_dest *d, struct fl_match *m)
{
	m->breaker = -1;
	m->bulkhead = -1;
	m->rate_limit = -1;
	m->ops = 0;
	m->nfaults = 0;
	m->truncated = false;
	for (size_t i = 0; i < rs->count; i++) {
		const struct fl_rule *r = &rs->rules[i];
		if (!fl_target_match(&r->target, d))
			continue;
		switch (r->kind) {
		case FL_KIND_BREAKER:
			if (m->breaker < 0)
				m->breaker = (int32_t)i;
			break;
		case FL_KIND_BULKHEAD:
			if (m->bulkhead < 0)
				m->bulkhead = (int32_t)i;
			break;
		case FL_KIND_RATE_LIMIT:
			if (m->rate_limit < 0)
				m->rate_limit = (int32_t)i;
			break;
		case FL_KIND_FAULT:
		case FL_KIND_SHAPE: /* kept with the faults: shim/connfault.c picks it out */
			if (m->nfaults == FL_MATCH_MAX_FAULTS) {
				m->truncated = true;
				break;
			}
			m->faults[m->nfaults++] = (uint32_t)i;
			m->ops |= r->u.fault.ops;
			break;
		}
	}
	return m->breaker >= 0 || m->bulkhead >= 0 || m->rate_limit >= 0 || m->nfaults > 0;
}
