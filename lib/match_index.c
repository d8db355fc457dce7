/*
 * match_index.c - fl_match's answer without reading every statement.
 *
 * Why it is shaped so. A statement's target is an address under a prefix
 * length (exact addresses are /32 and /128, `*` is /0 of both families)
 * plus a port set, or a unix path. For one prefix length, the statements
 * that can match a destination all share one key, the destination's
 * address masked to that length: a hash probe finds them. Few rule sets use
 * more than a handful of prefix lengths, so a lookup probes a handful of
 * buckets whatever the number of statements.
 *
 * Ports split each address bucket in two: statements on a single port are
 * keyed by (address, port), the rest (ranges, any port) by address alone,
 * and the latter bucket cuts the port space into segments at every range
 * end, each segment listing the statements that cover it. A lookup finds
 * its segment by binary search.
 *
 * Every list is cut at build time to what can still matter: fl_match keeps
 * the first breaker, the first bulkhead and the first FL_MATCH_MAX_FAULTS
 * faults, so a list keeps its first breaker, first bulkhead and first
 * FL_MATCH_MAX_FAULTS + 1 faults (the extra one tells "truncated"). The
 * lists a destination finds are disjoint (a statement lands in one bucket
 * per family, and a lookup reads one family), so merging them by rule index
 * gives fl_match's answer exactly, in at most ~35 steps per list.
 *
 * The lookup runs inside connect(), possibly in a signal handler: it only
 * reads memory the build allocated, takes no lock and calls nothing but
 * memcmp (for unix paths).
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "match.h"

#define KEEP_FAULTS (FL_MATCH_MAX_FAULTS + 1)
#define MAX_RULES   (1u << 24) /* keeps every pool index well inside uint32_t */

/* A slot's meta: 0 is an empty slot, so every kind is non-zero. */
#define META_PORT  (1u << 30) /* | family << 24 | prefix << 16 | port */
#define META_RANGE (2u << 30) /* | family << 24 | prefix << 16 */
#define META_UNIX  (3u << 30) /* | path length */

#define PREFIXES 129 /* prefix lengths 0..128 */

/* Kinds of bucket present at a prefix length. */
#define HAS_PORT  1u
#define HAS_RANGE 2u

struct fl_match_slot {
	uint64_t hi, lo; /* masked address; unix: hash of the path, and a rule having it */
	uint32_t meta;
	uint32_t a; /* port and unix buckets: candidate index; range: first segment */
	uint32_t b; /* range: number of segments */
};

/* One prefix length in use, with what a lookup needs of it precomputed. */
struct fl_match_prefix {
	uint64_t mask_hi, mask_lo;
	uint32_t meta; /* family << 24 | prefix << 16 */
	uint32_t kinds;
};

/* A candidate list, cut to what can still matter (see the top). */
struct fl_match_cand {
	int32_t breaker; /* first breaker, -1 = none */
	int32_t bulkhead;
	uint32_t fault_off; /* into ix->faults, ascending */
	uint32_t nfaults;   /* <= KEEP_FAULTS */
};

/* ---- shared by build and lookup ---- */

static inline void addr_load(const uint8_t addr[16], uint64_t *hi, uint64_t *lo)
{
	memcpy(hi, addr, 8);
	memcpy(lo, addr + 8, 8);
	*hi = be64toh(*hi);
	*lo = be64toh(*lo);
}

/* The first `prefix` bits (0..128) of hi:lo, the rest cleared. An IPv4
 * address is masked in the same 128 bits: its prefixes are <= 32. */
static inline void addr_mask(uint64_t hi, uint64_t lo, unsigned prefix, uint64_t *mhi, uint64_t *mlo)
{
	if (prefix <= 64) {
		*mhi = prefix == 0 ? 0 : hi & (~0ULL << (64 - prefix));
		*mlo = 0;
	} else {
		*mhi = hi;
		*mlo = prefix == 128 ? lo : lo & (~0ULL << (128 - prefix));
	}
}

static inline uint32_t meta_ip(uint32_t kind, unsigned family, unsigned prefix, unsigned port)
{
	return kind | (uint32_t)family << 24 | (uint32_t)prefix << 16 | port;
}

/* Fibonacci hashing: one multiply spreads every key bit into the top bits,
 * which pick the slot. Keys come from the rule set, not from a peer. */
static inline uint32_t slot_hash(const struct fl_match_index *ix, uint64_t hi, uint64_t lo, uint32_t meta)
{
	uint64_t h = hi ^ lo * 0xc2b2ae3d27d4eb4fULL ^ meta * 0x165667b19e3779f9ULL;
	return (uint32_t)((h * 0x9e3779b97f4a7c15ULL) >> ix->slot_shift);
}

/* FNV-1a: paths are short and come from the rule set, not from a peer. */
static inline uint64_t path_hash(const char *path, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)path[i]) * 0x100000001b3ULL;
	return h;
}

/* ---- lookup (async-signal-safe) ---- */

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

/* The segment holding `port`: the last whose first port is <= port.
 * start[0] is 0, so there is one. */
static inline uint32_t segment_of(const uint16_t *start, uint32_t n, uint32_t port)
{
	uint32_t lo = 0, hi = n;
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (start[mid] <= port)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
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
	if (c->nfaults > 0)
		merge_faults(m, ix->faults + c->fault_off, c->nfaults);
	if (cost) {
		cost->lists++;
		cost->candidates += (c->breaker >= 0) + (c->bulkhead >= 0) + c->nfaults;
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
	return m->breaker >= 0 || m->bulkhead >= 0 || m->nfaults > 0;
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

/* ---- build (start-up: allocates) ---- */

/* A candidate list being collected, in rule order. */
struct acc {
	int32_t breaker, bulkhead;
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
	default:
		if (a->nfaults < KEEP_FAULTS)
			a->faults[a->nfaults++] = rule;
		return a->nfaults == KEEP_FAULTS;
	}
}

static bool acc_equal(const struct acc *a, const struct acc *b)
{
	return a->breaker == b->breaker && a->bulkhead == b->bulkhead && a->nfaults == b->nfaults &&
	       memcmp(a->faults, b->faults, a->nfaults * sizeof *a->faults) == 0;
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
	if (r->kind > FL_KIND_FAULT)
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
	next = malloc(3 * (nseg + 1) * sizeof *next);
	acc = malloc(nseg * sizeof *acc);
	if (next == NULL || acc == NULL)
		goto out;
	for (size_t s = 0; s < nseg; s++)
		acc_init(&acc[s]);
	for (size_t i = 0; i < 3 * (nseg + 1); i++)
		next[i] = (uint32_t)(i % (nseg + 1));
	for (size_t i = 0; i < n; i++) {
		const struct fl_rule *r = &b->rs->rules[e[i].rule];
		uint32_t *nx = next + r->kind * (nseg + 1);
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
