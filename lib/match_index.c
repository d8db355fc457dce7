/*
 * match_index.c - fl_match's answer without reading every statement: the
 * lookup. The index's shape, and why, is in match_index.h; match_build.c
 * builds it.
 *
 * The lookup runs inside connect(), possibly in a signal handler: it only
 * reads memory the build allocated, takes no lock and calls nothing but
 * memcmp (for unix paths).
 */
#include "match_index.h"

static inline __attribute__((always_inline)) const struct fl_match_slot *
probe_ip(const struct fl_match_index *ix, uint64_t hi, uint64_t lo, uint32_t meta, struct fl_match_cost *cost)
{
	for (uint32_t i = slot_hash(ix, hi, lo, meta);; i++) {
		const struct fl_match_slot *s = &ix->slots[i & ix->slot_mask];
		if (cost)
			cost->probes++;
		if (s->meta == meta && s->hi == hi && s->lo == lo)
			return s;
		if (s->meta == 0)
			return NULL; /* the table is at most half full: a miss ends soon */
	}
}

static inline __attribute__((always_inline)) const struct fl_match_slot *
probe_unix(const struct fl_match_index *ix, const struct fl_ruleset *rs, const struct fl_dest *d,
	   struct fl_match_cost *cost)
{
	uint64_t h = path_hash(d->path, d->path_len);
	uint32_t meta = META_UNIX | d->path_len;
	for (uint32_t i = slot_hash(ix, h, 0, meta);; i++) {
		const struct fl_match_slot *s = &ix->slots[i & ix->slot_mask];
		if (cost)
			cost->probes++;
		if (s->meta == meta && s->hi == h &&
		    memcmp(rs->rules[s->lo].target.path, d->path, d->path_len) == 0)
			return s;
		if (s->meta == 0)
			return NULL;
	}
}

/* m->faults and b are ascending and disjoint; keeps the smallest. */
static void merge_faults(struct fl_match *m, const uint32_t *b, uint32_t nb)
{
	uint32_t na = m->nfaults, total = na + nb;
	if (total > FL_MATCH_MAX_FAULTS) {
		m->truncated = true;
		total = FL_MATCH_MAX_FAULTS;
	}
	m->nfaults = total;
	if (na == 0) { /* the usual case: the first list with faults */
		for (uint32_t k = 0; k < total; k++)
			m->faults[k] = b[k];
		return;
	}
	uint32_t out[FL_MATCH_MAX_FAULTS];
	uint32_t i = 0, j = 0;
	for (uint32_t k = 0; k < total; k++)
		out[k] = j == nb || (i < na && m->faults[i] < b[j]) ? m->faults[i++] : b[j++];
	for (uint32_t k = 0; k < total; k++)
		m->faults[k] = out[k];
}

static inline __attribute__((always_inline)) void merge_cand(const struct fl_match_index *ix, uint32_t ci,
							     struct fl_match *m, struct fl_match_cost *cost)
{
	const struct fl_match_cand *c = &ix->cands[ci];
	/* As unsigned, -1 ("none") is larger than any rule index. */
	if ((uint32_t)c->breaker < (uint32_t)m->breaker)
		m->breaker = c->breaker;
	if ((uint32_t)c->bulkhead < (uint32_t)m->bulkhead)
		m->bulkhead = c->bulkhead;
	if ((uint32_t)c->rate_limit < (uint32_t)m->rate_limit)
		m->rate_limit = c->rate_limit;
	if (c->nfaults > 0)
		merge_faults(m, ix->faults + c->fault_off, c->nfaults);
	if (cost) {
		cost->lists++;
		cost->candidates +=
		    (c->breaker >= 0) + (c->bulkhead >= 0) + (c->rate_limit >= 0) + c->nfaults;
	}
}

static inline __attribute__((always_inline)) void match_ip(const struct fl_match_index *ix,
							   const struct fl_dest *d, struct fl_match *m,
							   struct fl_match_cost *cost)
{
	const struct fl_match_family *fam = d->family == FL_AF_INET4 ? &ix->v4 : &ix->v6;
	uint64_t hi, lo;
	addr_load(d->addr, &hi, &lo);
	for (uint32_t i = 0; i < fam->count; i++) {
		const struct fl_match_prefix *p = &fam->list[i];
		uint64_t mhi = hi & p->mask_hi, mlo = lo & p->mask_lo;
		const struct fl_match_slot *s;
		if (cost)
			cost->prefixes++;
		if ((p->kinds & HAS_PORT) &&
		    (s = probe_ip(ix, mhi, mlo, p->meta | META_PORT | d->port, cost)))
			merge_cand(ix, s->a, m, cost);
		if ((p->kinds & HAS_RANGE) && (s = probe_ip(ix, mhi, mlo, p->meta | META_RANGE, cost)))
			merge_cand(ix, ix->seg_cand[s->a + segment_of(ix->seg_start + s->a, s->b, d->port)],
				   m, cost);
	}
}

static inline __attribute__((always_inline)) bool lookup(const struct fl_match_index *ix,
							 const struct fl_ruleset *rs, const struct fl_dest *d,
							 struct fl_match *m, struct fl_match_cost *cost)
{
	if (!ix->built || ix->nrules != rs->count) {
		if (cost)
			cost->linear = true;
		return fl_match(rs, d, m);
	}
	m->breaker = -1;
	m->bulkhead = -1;
	m->rate_limit = -1;
	m->ops = 0;
	m->nfaults = 0;
	m->truncated = false;
	if (d->family == FL_AF_INET4 || d->family == FL_AF_INET6) {
		match_ip(ix, d, m, cost);
	} else if (d->family == FL_AF_UNIX && ix->any_unix && d->path_len <= FL_UNIX_PATH_MAX) {
		const struct fl_match_slot *s = probe_unix(ix, rs, d, cost);
		if (s)
			merge_cand(ix, s->a, m, cost);
	}
	for (uint32_t i = 0; i < m->nfaults; i++)
		m->ops |= rs->rules[m->faults[i]].u.fault.ops;
	return m->breaker >= 0 || m->bulkhead >= 0 || m->rate_limit >= 0 || m->nfaults > 0;
}

bool fl_match_indexed(const struct fl_match_index *ix, const struct fl_ruleset *rs, const struct fl_dest *d,
		      struct fl_match *m)
{
	return lookup(ix, rs, d, m, NULL);
}

bool fl_match_indexed_cost(const struct fl_match_index *ix, const struct fl_ruleset *rs,
			   const struct fl_dest *d, struct fl_match *m, struct fl_match_cost *cost)
{
	memset(cost, 0, sizeof *cost);
	return lookup(ix, rs, d, m, cost);
}
