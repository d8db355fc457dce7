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
#include <sys/types.h>

#include "breaker.h"
#include "bulkhead.h"
#include "clock.h"
#include "diag.h"
#include "match.h"
#include "segment.h"

struct fl_domain {
	bool attached;
	bool detached;	     /* after exit's destructor: slots were already given back */
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
	struct fl_seg_entry *ratelimit; /* SPEC 11 */
};

int fl_domain_attach(const char *domain, uint32_t capacity, struct fl_diag *d);
void fl_domain_detach(void);

/* Records this process (pid, start time, command line) in the registry;
 * if it is full, reclaims dead processes' records and tries once more.
 * Returns the index, or FL_PROC_NONE. */
uint32_t fl_domain_register(pid_t pid, uint64_t start_ticks);

/* The counters entry of destination d (for a connection only layers
 * match), or NULL when the table is full. Async-signal-safe. */
struct fl_seg_entry *fl_domain_dest_entry(const struct fl_dest *d);

/* Finds or creates the entries of destination d. Async-signal-safe. */
void fl_domain_plan(const struct fl_dest *d, const struct fl_match *m, struct fl_plan *plan);

/* The entry a statement's scope=rule state lives in (NULL when detached). */
struct fl_seg_entry *fl_domain_rule_entry(uint32_t rule);

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
