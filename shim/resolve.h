/*
 * resolve.h - host names (SPEC 9): what the resolver wrappers learned,
 * asked on the connect path.
 *
 * The wrappers (resolve.c) remember, per process, which addresses a name
 * some statement covers resolved to. A connect asks fl_resolve_match:
 * when nothing was ever remembered it costs one load; otherwise one hash
 * probe (or a few) in a fixed table, lock-free, allocation-free and
 * async-signal-safe, like the rest of connect.
 */
#ifndef FL_RESOLVE_H
#define FL_RESOLVE_H

#include <stdbool.h>
#include <stdint.h>

#include "match.h"
#include "target.h"

/* Addresses remembered so far (atomic; only grows). */
extern uint32_t fl_resolve_remembered;
/* How many of the process's own statements on names a connect can match
 * (set once at start-up). */
extern uint32_t fl_resolve_own_names;

/* The address table (resolve.c): a slot is empty while name_plus1 is 0. */
#define FL_RESOLVE_ADDRS 1024u
struct fl_resolve_slot {
	uint32_t name_plus1; /* atomic; published last */
	uint8_t family;
	uint8_t addr[16];
};
extern struct fl_resolve_slot fl_resolve_addrs[FL_RESOLVE_ADDRS];

/* The slot an address hashes to (10 bits). fl_dest zeroes the bytes an
 * IPv4 address does not use, so one formula serves both families. */
static inline uint32_t fl_resolve_hash(uint8_t family, const uint8_t addr[16])
{
	uint64_t lo, hi;
	__builtin_memcpy(&lo, addr, 8);
	__builtin_memcpy(&hi, addr + 8, 8);
	uint64_t h = (lo ^ hi * 0xc2b2ae3d27d4eb4fULL ^ family) * 0x9e3779b97f4a7c15ULL;
	return (uint32_t)(h >> 54);
}

/* Out of line: the probe from slot i on, found the address, adds the
 * statements of its name that cover d's port to *m and names d. */
bool fl_resolve_match_slow(struct fl_dest *d, struct fl_match *m, uint32_t i);

/* Adds the statements of the name d's address came from; true if any.
 * Inline, so that a connect to an address never resolved from a covered
 * name pays a load and a test (nothing remembered) or a hash and one
 * probe of an empty slot. */
static inline bool fl_resolve_match(struct fl_dest *d, struct fl_match *m)
{
	/* No own statement on a name: nothing to add (a joined process may
	 * still remember names, for layers: shim/layers.c asks the map). */
	if (__builtin_expect(fl_resolve_own_names == 0, 1) ||
	    __builtin_expect(__atomic_load_n(&fl_resolve_remembered, __ATOMIC_RELAXED) == 0, 1))
		return false;
	uint32_t i = fl_resolve_hash(d->family, d->addr);
	if (__builtin_expect(__atomic_load_n(&fl_resolve_addrs[i].name_plus1, __ATOMIC_ACQUIRE) == 0, 1))
		return false;
	return fl_resolve_match_slow(d, m, i);
}

/* The name d's address was last resolved from, if the map knows it:
 * sets d->name / d->name_len. Allocation-free (layers.c asks it for layer
 * statements on names, whatever the process's own rules); lock-free
 * except after new lookups, whose ring entries it first moves into the
 * map under the writers' bounded try-lock (resolve.c "The ring"). */
bool fl_resolve_name_of(struct fl_dest *d);
/* The same for an address: *name / *len, unchanged when unknown. */
bool fl_resolve_name_of_addr(uint8_t family, const uint8_t addr[16], const char **name, uint16_t *len);

/* In the child of a fork (one thread): frees the map's writer lock and the
 * ring entries threads of the parent were writing when it forked. */
void fl_resolve_fork_child(void);

/* At start-up, once the rules are loaded: lists the name statements. */
void fl_resolve_setup(void);

#endif
