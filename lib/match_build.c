/*
 * match_build.c - builds the index match_index.c looks up in (its shape,
 * and why, in match_index.h). Runs once at start-up and allocates; the
 * built index is only read afterwards.
 */
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "match_index.h"

#define KINDS (FL_KIND_RATE_LIMIT + 1) /* one "next open segment" map per kind */

/* A candidate list being collected, in rule order. */
struct acc {
	int32_t breaker, bulkhead, rate_limit;
	uint32_t nfaults;
	uint32_t faults[KEEP_FAULTS];
};

/* A statement placed in a bucket, named by the bucket's slot. */
struct entry {
	uint32_t slot;
	uint32_t rule;
};

struct builder {
	struct fl_match_index *ix;
	const struct fl_ruleset *rs;
	struct entry *entries;
	size_t nentries;
	uint8_t kinds4[PREFIXES], kinds6[PREFIXES];
	size_t ncands, cands_cap, nfaults, faults_cap, nsegs, segs_cap, seg_cand_cap;
};

static bool reserve(void *items, size_t *cap, size_t need, size_t elem)
{
	return fl_array_reserve(items, cap, need, elem, 64);
}

static void acc_init(struct acc *a)
{
	a->breaker = -1;
	a->bulkhead = -1;
	a->rate_limit = -1;
	a->nfaults = 0;
}

/* Adds a rule (in ascending order); true when the list wants no more of
 * that kind. */
static bool acc_add(struct acc *a, uint32_t rule, uint8_t kind)
{
	switch (kind) {
	case FL_KIND_BREAKER:
		if (a->breaker < 0)
			a->breaker = (int32_t)rule;
		return true;
	case FL_KIND_BULKHEAD:
		if (a->bulkhead < 0)
			a->bulkhead = (int32_t)rule;
		return true;
	case FL_KIND_RATE_LIMIT:
		if (a->rate_limit < 0)
			a->rate_limit = (int32_t)rule;
		return true;
	default:
		if (a->nfaults < KEEP_FAULTS)
			a->faults[a->nfaults++] = rule;
		return a->nfaults == KEEP_FAULTS;
	}
}

static bool acc_equal(const struct acc *a, const struct acc *b)
{
	return a->breaker == b->breaker && a->bulkhead == b->bulkhead && a->rate_limit == b->rate_limit &&
	       a->nfaults == b->nfaults && memcmp(a->faults, b->faults, a->nfaults * sizeof *a->faults) == 0;
}

/* Appends a candidate list; returns its index, or -1 when out of memory. */
static int64_t emit_cand(struct builder *b, const struct acc *a)
{
	struct fl_match_index *ix = b->ix;
	if (!reserve(&ix->cands, &b->cands_cap, b->ncands + 1, sizeof *ix->cands) ||
	    !reserve(&ix->faults, &b->faults_cap, b->nfaults + a->nfaults, sizeof *ix->faults))
		return -1;
	ix->cands[b->ncands] = (struct fl_match_cand){.breaker = a->breaker,
						      .bulkhead = a->bulkhead,
						      .rate_limit = a->rate_limit,
						      .fault_off = (uint32_t)b->nfaults,
						      .nfaults = a->nfaults};
	for (uint32_t i = 0; i < a->nfaults; i++) /* no memcpy: faults is NULL until one is kept */
		ix->faults[b->nfaults++] = a->faults[i];
	return (int64_t)b->ncands++;
}

/* Finds the slot of a key, claiming an empty one for a new key. */
static uint32_t slot_claim(struct builder *b, uint64_t hi, uint64_t lo, uint32_t meta,
			   const struct fl_target *unix_target, uint32_t rule)
{
	struct fl_match_index *ix = b->ix;
	for (uint32_t i = slot_hash(ix, hi, lo, meta);; i++) {
		struct fl_match_slot *s = &ix->slots[i & ix->slot_mask];
		if (s->meta == 0) {
			*s = (struct fl_match_slot){.hi = hi, .lo = unix_target ? rule : lo, .meta = meta};
			return i & ix->slot_mask;
		}
		if (s->meta != meta || s->hi != hi)
			continue;
		if (unix_target ? memcmp(b->rs->rules[s->lo].target.path, unix_target->path,
					 unix_target->path_len) == 0
				: s->lo == lo)
			return i & ix->slot_mask;
	}
}

static void place_ip(struct builder *b, uint32_t rule, unsigned family, const struct fl_target *t)
{
	uint64_t hi, lo;
	uint8_t *kinds = family == FL_AF_INET4 ? b->kinds4 : b->kinds6;
	unsigned prefix = t->family == FL_AF_ANY ? 0 : t->prefix;
	addr_load(t->addr, &hi, &lo);
	addr_mask(hi, lo, prefix, &hi, &lo);
	uint32_t meta;
	if (t->port_lo == t->port_hi) {
		meta = meta_ip(META_PORT, family, prefix, t->port_lo);
		kinds[prefix] |= HAS_PORT;
	} else {
		meta = meta_ip(META_RANGE, family, prefix, 0);
		kinds[prefix] |= HAS_RANGE;
	}
	b->entries[b->nentries++] = (struct entry){slot_claim(b, hi, lo, meta, NULL, 0), rule};
}

/* How many buckets a statement goes in (0 when it can never match), or -1
 * with a message for a target no parser produces. */
static int placements(const struct fl_rule *r, size_t i, struct fl_diag *d)
{
	const struct fl_target *t = &r->target;
	if (r->kind == FL_KIND_RESOLVE || r->kind > FL_KIND_RATE_LIMIT)
		return 0; /* fl_match ignores it too */
	switch (t->family) {
	case FL_AF_UNIX:
		if (t->path_len > FL_UNIX_PATH_MAX)
			return fl_diag_error(d, &r->loc, "rule %zu: unix path longer than %d bytes", i + 1,
					     FL_UNIX_PATH_MAX);
		return 1;
	case FL_AF_INET4:
	case FL_AF_INET6:
		if (t->prefix > 128)
			return fl_diag_error(d, &r->loc, "rule %zu: prefix length %u is out of range", i + 1,
					     t->prefix);
		return t->port_lo <= t->port_hi;
	case FL_AF_ANY:
		return t->port_lo <= t->port_hi ? 2 : 0;
	default:
		return 0;
	}
}

static void place(struct builder *b, uint32_t rule)
{
	const struct fl_target *t = &b->rs->rules[rule].target;
	if (t->family == FL_AF_UNIX) {
		uint32_t meta = META_UNIX | t->path_len;
		b->ix->any_unix = true;
		uint32_t slot = slot_claim(b, path_hash(t->path, t->path_len), 0, meta, t, rule);
		b->entries[b->nentries++] = (struct entry){slot, rule};
	} else if (t->family == FL_AF_ANY) {
		place_ip(b, rule, FL_AF_INET4, t);
		place_ip(b, rule, FL_AF_INET6, t);
	} else {
		place_ip(b, rule, t->family, t);
	}
}

static uint32_t dsu_find(uint32_t *next, uint32_t s)
{
	while (next[s] != s) {
		next[s] = next[next[s]];
		s = next[s];
	}
	return s;
}

static int cmp_port(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

/*
 * A range bucket: cut the port space at every range end, then give each
 * segment the statements covering it. Statements go in rule order, and a
 * segment that already holds all it can keep of a kind is skipped by a
 * union-find "next segment still open" per kind, so even nested ranges
 * build in about (segments x 35) steps rather than (statements x segments).
 */
static int build_ranges(struct builder *b, struct fl_match_slot *slot, const struct entry *e, size_t n)
{
	struct fl_match_index *ix = b->ix;
	size_t ncut = 0, nseg = 0;
	uint16_t *cut = malloc((2 * n + 1) * sizeof *cut); /* a cut is <= 65535 */
	uint32_t *next = NULL;
	struct acc *acc = NULL;
	int rc = -1;
	if (cut == NULL)
		goto out;
	cut[ncut++] = 0;
	for (size_t i = 0; i < n; i++) {
		const struct fl_target *t = &b->rs->rules[e[i].rule].target;
		cut[ncut++] = t->port_lo;
		if (t->port_hi < 65535)
			cut[ncut++] = (uint16_t)(t->port_hi + 1);
	}
	qsort(cut, ncut, sizeof *cut, cmp_port);
	for (size_t i = 0; i < ncut; i++)
		if (nseg == 0 || cut[i] != cut[nseg - 1])
			cut[nseg++] = cut[i];
	next = malloc(KINDS * (nseg + 1) * sizeof *next);
	acc = malloc(nseg * sizeof *acc);
	if (next == NULL || acc == NULL)
		goto out;
	for (size_t s = 0; s < nseg; s++)
		acc_init(&acc[s]);
	for (size_t i = 0; i < KINDS * (nseg + 1); i++)
		next[i] = (uint32_t)(i % (nseg + 1));
	for (size_t i = 0; i < n; i++) {
		const struct fl_rule *r = &b->rs->rules[e[i].rule];
		/* a shape statement is kept in the fault list: it fills the same row */
		uint32_t *nx = next + (r->kind == FL_KIND_SHAPE ? FL_KIND_FAULT : r->kind) * (nseg + 1);
		/* port_lo starts a segment and port_hi ends one: both are cuts */
		uint32_t first = segment_of(cut, (uint32_t)nseg, r->target.port_lo);
		uint32_t last = segment_of(cut, (uint32_t)nseg, r->target.port_hi);
		for (uint32_t s = dsu_find(nx, first); s <= last; s = dsu_find(nx, s + 1))
			if (acc_add(&acc[s], e[i].rule, r->kind))
				nx[s] = s + 1;
	}
	slot->a = (uint32_t)b->nsegs;
	for (size_t s = 0; s < nseg; s++) {
		if (s > 0 && acc_equal(&acc[s], &acc[s - 1]))
			continue; /* same statements as the segment before: extend it */
		int64_t ci = emit_cand(b, &acc[s]);
		if (ci < 0 || !reserve(&ix->seg_start, &b->segs_cap, b->nsegs + 1, sizeof *ix->seg_start) ||
		    !reserve(&ix->seg_cand, &b->seg_cand_cap, b->nsegs + 1, sizeof *ix->seg_cand))
			goto out;
		ix->seg_start[b->nsegs] = cut[s];
		ix->seg_cand[b->nsegs++] = (uint32_t)ci;
	}
	slot->b = (uint32_t)b->nsegs - slot->a;
	rc = 0;
out:
	free(cut);
	free(next);
	free(acc);
	return rc;
}

/* A port or unix bucket: one list. */
static int build_list(struct builder *b, struct fl_match_slot *slot, const struct entry *e, size_t n)
{
	struct acc a;
	acc_init(&a);
	for (size_t i = 0; i < n; i++)
		acc_add(&a, e[i].rule, b->rs->rules[e[i].rule].kind);
	int64_t ci = emit_cand(b, &a);
	if (ci < 0)
		return -1;
	slot->a = (uint32_t)ci;
	return 0;
}

/* Stable by slot, so each bucket's statements stay in rule order. */
static int cmp_entry(const void *pa, const void *pb)
{
	const struct entry *a = pa, *b = pb;
	if (a->slot != b->slot)
		return a->slot < b->slot ? -1 : 1;
	return (a->rule > b->rule) - (a->rule < b->rule);
}

static int family_list(struct fl_match_family *fam, unsigned family, const uint8_t kinds[PREFIXES])
{
	fam->count = 0;
	fam->list = calloc(PREFIXES, sizeof *fam->list);
	if (fam->list == NULL)
		return -1;
	for (unsigned p = 0; p < PREFIXES; p++) {
		if (kinds[p] == 0)
			continue;
		struct fl_match_prefix *e = &fam->list[fam->count++];
		addr_mask(~0ULL, ~0ULL, p, &e->mask_hi, &e->mask_lo);
		e->meta = meta_ip(0, family, p, 0);
		e->kinds = kinds[p];
	}
	return 0;
}

int fl_match_index_build(struct fl_match_index *ix, const struct fl_ruleset *rs, struct fl_diag *d)
{
	struct builder b = {.ix = ix, .rs = rs};
	size_t total = 0, slots = 16;
	memset(ix, 0, sizeof *ix);
	if (rs->count > MAX_RULES)
		return fl_diag_error(d, NULL, "%zu rules are too many to index (at most %u)", rs->count,
				     MAX_RULES);
	for (size_t i = 0; i < rs->count; i++) {
		int n = placements(&rs->rules[i], i, d);
		if (n < 0)
			return -1;
		total += (size_t)n;
	}
	while (slots < 2 * total)
		slots *= 2;
	ix->slots = calloc(slots, sizeof *ix->slots);
	b.entries = malloc((total ? total : 1) * sizeof *b.entries);
	if (ix->slots == NULL || b.entries == NULL)
		goto nomem;
	ix->slot_mask = (uint32_t)(slots - 1);
	ix->slot_shift = (uint8_t)(64 - __builtin_ctzll(slots));
	for (size_t i = 0; i < rs->count; i++)
		if (placements(&rs->rules[i], i, NULL) > 0)
			place(&b, (uint32_t)i);
	qsort(b.entries, b.nentries, sizeof *b.entries, cmp_entry);
	for (size_t i = 0, j; i < b.nentries; i = j) {
		struct fl_match_slot *slot = &ix->slots[b.entries[i].slot];
		for (j = i + 1; j < b.nentries && b.entries[j].slot == b.entries[i].slot; j++)
			;
		int rc = (slot->meta >> 30) == (META_RANGE >> 30)
			     ? build_ranges(&b, slot, b.entries + i, j - i)
			     : build_list(&b, slot, b.entries + i, j - i);
		if (rc < 0)
			goto nomem;
	}
	if (family_list(&ix->v4, FL_AF_INET4, b.kinds4) < 0 ||
	    family_list(&ix->v6, FL_AF_INET6, b.kinds6) < 0)
		goto nomem;
	free(b.entries);
	ix->nrules = rs->count;
	ix->built = true;
	return 0;
nomem:
	free(b.entries);
	fl_match_index_free(ix);
	return fl_diag_error(d, NULL, "out of memory building the match index of %zu rules", rs->count);
}

void fl_match_index_free(struct fl_match_index *ix)
{
	free(ix->slots);
	free(ix->cands);
	free(ix->faults);
	free(ix->seg_start);
	free(ix->seg_cand);
	free(ix->v4.list);
	free(ix->v6.list);
	memset(ix, 0, sizeof *ix);
}
