/*
 * match.h - which statements apply to one destination.
 *
 * Computed once per connection, at connect time, into a fixed-size result
 * that the connection keeps: the hot path of send/recv then walks a short
 * list of fault indices instead of the whole rule set. No allocation, so it
 * is safe wherever connect is.
 *
 * Two ways to the same answer. fl_match() reads every statement: the
 * reference, and the fallback. fl_match_indexed() asks an index built once
 * at start-up, and costs about the same for ten thousand statements as for
 * one: a few hash probes per CIDR prefix length that the rule set actually
 * uses, then a merge of short, pre-cut candidate lists. For every
 * destination the two give the identical struct fl_match.
 */
#ifndef FL_MATCH_H
#define FL_MATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "diag.h"
#include "rules.h"
#include "target.h"

#define FL_MATCH_MAX_FAULTS 32 /* fault statements kept per destination */

struct fl_match {
	int32_t breaker;    /* rule index, -1 = none */
	int32_t bulkhead;   /* rule index, -1 = none */
	int32_t rate_limit; /* rule index, -1 = none (SPEC 11) */
	uint32_t ops;	    /* union of the `on` masks of the matched faults */
	uint32_t nfaults;
	bool truncated; /* more than FL_MATCH_MAX_FAULTS faults matched */
	uint32_t faults[FL_MATCH_MAX_FAULTS];
};

/* Fills *m; returns true when any statement matched. Async-signal-safe. */
bool fl_match(const struct fl_ruleset *rs, const struct fl_dest *d, struct fl_match *m);

/* ---- the index ---- */

/* Opaque parts, defined in match_index.h. */
struct fl_match_slot;
struct fl_match_cand;
struct fl_match_prefix;

/* The prefix lengths one address family's statements use (at most 129). */
struct fl_match_family {
	uint32_t count;
	struct fl_match_prefix *list;
};

/*
 * Built once from an immutable rule set; afterwards only read, so any
 * number of threads and signal handlers may look up at once. Fields are
 * private to the index (match_index.h: built by match_build.c, read by
 * match_index.c). A zeroed index (never built, failed to build, or freed)
 * is valid: fl_match_indexed() then falls back to fl_match().
 */
struct fl_match_index {
	bool built;
	size_t nrules; /* rs->count when built; a different count falls back */
	uint32_t slot_mask;
	uint8_t slot_shift;	     /* 64 - log2(slots): the hash's top bits pick a slot */
	struct fl_match_slot *slots; /* open addressing, linear probing */
	struct fl_match_cand *cands;
	uint32_t *faults;    /* pool of candidate fault lists */
	uint16_t *seg_start; /* pool of port-range segment maps: first port... */
	uint32_t *seg_cand;  /* ...and the candidates of that segment */
	struct fl_match_family v4, v6;
	bool any_unix; /* a unix destination need not hash its path otherwise */
};

/*
 * Builds *ix for rs (overwriting *ix: free a built index first). Allocates;
 * call at start-up. rs must not change while the index is in use. Returns 0,
 * or -1 with d->error set (out of memory, a malformed target) and *ix
 * zeroed, which still works, linearly.
 */
int fl_match_index_build(struct fl_match_index *ix, const struct fl_ruleset *rs, struct fl_diag *d);

/* Releases what build allocated and zeroes *ix. */
void fl_match_index_free(struct fl_match_index *ix);

/*
 * Exactly fl_match(rs, d, m), answered from the index. rs must be the set
 * the index was built from. Async-signal-safe, allocation-free, lock-free.
 * The work is one or two hash probes per prefix length in use for the
 * destination's family (at most 33 for IPv4, 129 for IPv6; `*` counts as
 * /0), a binary search over range ends where port ranges are used, and a
 * merge of lists of at most FL_MATCH_MAX_FAULTS + 3 entries each; it does
 * not grow with the number of statements.
 */
bool fl_match_indexed(const struct fl_match_index *ix, const struct fl_ruleset *rs, const struct fl_dest *d,
		      struct fl_match *m);

/* What one lookup did, for tests and benchmarks: the work it does must not
 * grow with the rule set. */
struct fl_match_cost {
	bool linear;	     /* fell back to fl_match (index not built) */
	uint32_t prefixes;   /* prefix lengths tried */
	uint32_t probes;     /* hash-table slots inspected */
	uint32_t lists;	     /* candidate lists merged */
	uint32_t candidates; /* rule indices read from those lists */
};

/* fl_match_indexed, also filling *cost (zeroed first). */
bool fl_match_indexed_cost(const struct fl_match_index *ix, const struct fl_ruleset *rs,
			   const struct fl_dest *d, struct fl_match *m, struct fl_match_cost *cost);

#endif
