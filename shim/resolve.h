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

/* Out of line: d's address was resolved from a name that name statements
 * cover at d's port; adds them to *m and names d (d->name). */
bool fl_resolve_match_slow(struct fl_dest *d, struct fl_match *m);

/* Adds the statements of the name d's address came from; true if any. */
static inline bool fl_resolve_match(struct fl_dest *d, struct fl_match *m)
{
	if (__builtin_expect(__atomic_load_n(&fl_resolve_remembered, __ATOMIC_RELAXED) == 0, 1))
		return false;
	return fl_resolve_match_slow(d, m);
}

/* At start-up, once the rules are loaded: lists the name statements. */
void fl_resolve_setup(void);

#endif
