/*
 * fdtab.h - which descriptors are sockets connected to a matched destination.
 *
 * A descriptor maps to the connection object it refers to (several
 * descriptors may share one after dup). Lookup is the first thing every
 * wrapper does, so it is built for the miss: descriptors below
 * FL_FDTAB_LOW sit in one static array (bounds check, load, test); higher
 * ones, up to the kernel's limit, in pages mapped on first use and never
 * unmapped, so a reader can never touch freed memory. No locks: slots are
 * single words read and written atomically.
 */
#ifndef FL_FDTAB_H
#define FL_FDTAB_H

#include <stdbool.h>
#include <stddef.h>

#include "shim.h"

#define FL_FDTAB_LOW	   1024u
#define FL_FDTAB_PAGE_BITS 12u
#define FL_FDTAB_PAGE	   (1u << FL_FDTAB_PAGE_BITS)
#define FL_FDTAB_PAGES	   2048u /* 8 Mi descriptors: beyond fs.nr_open's maximum */

struct fl_conn;

extern FL_HIDDEN struct fl_conn *fl_fdtab_low[FL_FDTAB_LOW];

struct fl_conn *fl_fdtab_lookup_high(int fd);

/*
 * The pass-through test every wrapper starts with: a low descriptor with
 * an empty slot. Everything else (a watched socket, a high descriptor)
 * goes to the wrapper's out-of-line path, so the common case compiles to
 * a compare, a load, a test and a tail jump to the real function.
 */
static inline bool fl_fd_unwatched(int fd)
{
	return FL_LIKELY((unsigned)fd < FL_FDTAB_LOW) &&
	       FL_LIKELY(__atomic_load_n(&fl_fdtab_low[fd], __ATOMIC_RELAXED) == NULL);
}

/* The connection behind fd, or NULL. Async-signal-safe, lock-free. */
static inline struct fl_conn *fl_fdtab_lookup(int fd)
{
	if (FL_LIKELY((unsigned)fd < FL_FDTAB_LOW))
		return __atomic_load_n(&fl_fdtab_low[fd], __ATOMIC_ACQUIRE);
	return fl_fdtab_lookup_high(fd);
}

/*
 * Puts c in fd's slot and returns what was there (the caller drops that
 * reference). Returns (struct fl_conn *)-1 if fd is out of range or a page
 * cannot be mapped; the caller then keeps its reference.
 */
struct fl_conn *fl_fdtab_exchange(int fd, struct fl_conn *c);
#define FL_FDTAB_FAILED ((struct fl_conn *)-1)

/* Empties every slot in [lo, hi], dropping each reference. */
void fl_fdtab_clear_range(unsigned lo, unsigned hi);

/* Calls fn on every occupied slot (used after fork). */
void fl_fdtab_each(void (*fn)(int fd, struct fl_conn *c, void *arg), void *arg);

#endif
