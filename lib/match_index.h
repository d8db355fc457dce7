/*
 * match_index.h - the index's layout, shared by its lookup (match_index.c,
 * async-signal-safe) and its build (match_build.c, start-up, allocates).
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
 */
#ifndef FL_MATCH_INDEX_H
#define FL_MATCH_INDEX_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

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
	int32_t rate_limit;
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

#endif
