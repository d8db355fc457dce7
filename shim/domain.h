/*
 * domain.h - this process's place in its domain's shared segment.
 *
 * Attached once at start-up (when there are rules), registered in the
 * process registry, detached at exit. At connect time it finds (or
 * creates) the entries that hold a destination's counters, breaker and
 * bulkhead; the connection keeps pointers to them, so later calls on the
 * socket do no lookups at all.
 */
#ifndef FL_DOMAIN_H
#define FL_DOMAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "breaker.h"
#include "bulkhead.h"
#include "clock.h"
#include "diag.h"
#include "match.h"
#include "segment.h"

struct fl_domain {
	bool attached;
	bool detached; /* after exit's destructor: slots were already given back */
	uint32_t slot_conns; /* connections holding a slot (atomic): fork skips its scan at 0 */
	bool held_slots;     /* ever held a share: exit must scan the holders */
	struct fl_seg seg;
	uint32_t proc; /* registry index, or FL_PROC_NONE */
	/* Process-local stand-ins, one per rule, for when the shared table is
	 * full even for the rule's own entry: limits still hold per process. */
	struct fl_seg_entry *local;
};

extern struct fl_domain fl_domain;

/* Where a connection's state lives. Any pointer may be NULL (no such rule). */
struct fl_plan {
	struct fl_seg_entry *stats;
	struct fl_seg_entry *breaker;
	struct fl_seg_entry *bulkhead;
};

int fl_domain_attach(const char *domain, uint32_t capacity, struct fl_diag *d);
void fl_domain_detach(void);

/* exec hands the new program the socket inodes (hex dev:ino, comma
 * separated) this process tree connected; only those are adopted. */
#define FL_EXEC_SOCKETS_VAR "FAULTLINE_EXEC_SOCKETS"
#define FL_EXEC_SOCKETS_MAX 64u

/* After exec: an adopted connection takes back its share of a bulkhead slot
 * from before exec; then the shares nobody took are released. */
struct fl_conn;
void fl_domain_exec_take_share(struct fl_conn *c);
void fl_domain_exec_release_rest(void);

/*
 * fork: prepare (in the parent, before the real fork) reserves a share of
 * every held bulkhead slot for the child, recording each reservation in
 * res (at most max; returns how many); the child registers itself, takes
 * the shares of the connections it still has and gives back the rest
 * (fork_child); if fork failed the parent gives them all back (fork_failed).
 */
struct fl_fork_share {
	struct fl_conn *conn;
	uint32_t holder;
	uint32_t adopted;
};
#define FL_FORK_SHARES_MAX 128u

uint32_t fl_domain_fork_prepare(struct fl_fork_share *res, uint32_t max);

/* A child whose fork our wrapper never saw: registers itself, and takes no
 * share of inherited slots (none was reserved for it): the parent keeps
 * them, and the child's close of an inherited socket gives nothing back. */
void fl_domain_fork_unseen(void);
void fl_domain_fork_child(struct fl_fork_share *res, uint32_t n);
void fl_domain_fork_failed(struct fl_fork_share *res, uint32_t n);

/* Finds or creates the entries of destination d. Async-signal-safe. */
void fl_domain_plan(const struct fl_dest *d, const struct fl_match *m, struct fl_plan *plan);

/* The shim's clocks, from lib/clock.h: monotonic for decisions, Unix
 * time for display. */
static inline uint64_t fl_now_ns(void)
{
	return fl_clock_mono_ns();
}
static inline uint64_t fl_now_ms(void)
{
	return fl_clock_unix_ms();
}

#endif
