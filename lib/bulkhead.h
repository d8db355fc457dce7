/*
 * bulkhead.h - at most N concurrent connections per destination, across
 * every process of the domain, with a bounded wait queue.
 *
 * A slot is a count in the entry plus a holder record naming the process
 * that took it, so the slots of a process that died (even by SIGKILL) can
 * be found and given back. Waiters are served first come, first served:
 * each queue place is a record with an arrival number, and a free slot is
 * taken only by a caller with no older waiter still in line (an arrival
 * finds a slot free only if it is not owed to a waiter). They sleep on a
 * futex in the shared segment (wake_seq, bumped by every release, every
 * place given up and every `faultline set`) and wake at least once a
 * second to reclaim what dead holders and waiters held, which bounds how
 * long a dead process can hold the line. A signal handler without SA_RESTART ends a
 * wait, as it would end the connect it stands in (lib/wait.h).
 */
#ifndef FL_BULKHEAD_H
#define FL_BULKHEAD_H

#include <stdbool.h>
#include <stdint.h>

#include "rules.h"
#include "segment.h"

#define FL_HOLDER_NONE	   UINT32_MAX
#define FL_HOLDER_CLAIMING UINT32_MAX /* a holder's entry_plus1 while its creator fills it */
/* A share with no record of its own (the table was full at fork): the
 * primary's index with this bit set. */
#define FL_HOLDER_BARE 0x80000000u

enum fl_bulkhead_result {
	FL_BULKHEAD_ACQUIRED = 0,
	FL_BULKHEAD_REJECTED = 1, /* full, and no room (or no will) to wait */
	FL_BULKHEAD_TIMED_OUT = 2,
	FL_BULKHEAD_BYPASSED = 3,    /* enabled=false: passes, no slot taken */
	FL_BULKHEAD_INTERRUPTED = 4, /* a signal handler without SA_RESTART ended the wait */
	FL_BULKHEAD_QUEUED = 5,	     /* fl_bulkhead_enqueue/turn: a place in the line, no slot yet */
};

/*
 * A place in the queue held without sleeping (a non-blocking socket's
 * connect, SPEC 12): the caller checks its turn whenever it likes. Like a
 * blocking waiter's, the place is a holder record (reclaimed if the
 * process dies) with an arrival number, so both kinds of waiter are
 * served in one first-come, first-served order.
 */
struct fl_bulkhead_place {
	uint32_t rec;	       /* its record, FL_HOLDER_NONE if the table was full */
	uint32_t ticket;       /* arrival number */
	uint64_t next_reap_ms; /* when the next turn check reclaims dead processes */
};

void fl_bulkhead_params_set(struct fl_seg_bulkhead_params *out, const struct fl_bulkhead_params *in);
void fl_bulkhead_params_get(struct fl_bulkhead_params *out, const struct fl_seg_bulkhead_params *in);
void fl_bulkhead_init(struct fl_seg_bulkhead *b, const struct fl_bulkhead_params *p);

/* A live change of parameters (`faultline set`): stores them, then wakes
 * every waiter to look again, so a raised limit admits them at once. */
void fl_bulkhead_set(struct fl_seg_bulkhead *b, const struct fl_bulkhead_params *p);

/*
 * Takes a slot if one is free right now and not owed to a queued waiter,
 * without queueing or counting a rejection: FL_BULKHEAD_ACQUIRED,
 * FL_BULKHEAD_BYPASSED, or
 * FL_BULKHEAD_REJECTED meaning "full, ask fl_bulkhead_acquire". Lets the
 * caller find out whether it may wait (a system call) only when it must.
 */
enum fl_bulkhead_result fl_bulkhead_try(struct fl_seg *seg, struct fl_seg_entry *e, uint32_t proc_index,
					uint32_t *holder);

/*
 * Takes a slot for the process at proc_index (FL_PROC_NONE: untracked).
 * may_wait: a blocking socket may queue; a non-blocking one never waits.
 * *holder receives the holder record (FL_HOLDER_NONE if none was free).
 * A waiter gets FL_BULKHEAD_TIMED_OUT after queue_timeout_ms,
 * FL_BULKHEAD_INTERRUPTED if a signal ended the wait (its place is given
 * back), FL_BULKHEAD_BYPASSED if the bulkhead was switched off meanwhile.
 */
enum fl_bulkhead_result fl_bulkhead_acquire(struct fl_seg *seg, struct fl_seg_entry *e, uint32_t proc_index,
					    bool may_wait, uint32_t *holder);

/*
 * The non-blocking queue. All three are lock-free and async-signal-safe.
 * enqueue: FL_BULKHEAD_ACQUIRED / BYPASSED (as fl_bulkhead_try, after
 * reclaiming the dead if full), FL_BULKHEAD_REJECTED when the queue is
 * full or max_queue_size is 0 (counted as a rejection), or
 * FL_BULKHEAD_QUEUED with *place filled. now_ms: CLOCK_MONOTONIC ms.
 * turn: FL_BULKHEAD_ACQUIRED (*holder set, the place became the slot)
 * when a slot is free and no older waiter is ahead, FL_BULKHEAD_BYPASSED
 * if the bulkhead was switched off (the place is given up), else
 * FL_BULKHEAD_QUEUED; every REAP_TICK_MS it reclaims from dead processes.
 * leave: gives the place up (once); timed_out counts it in `timeouts`.
 * The caller keeps the deadline and calls each of turn/leave from one
 * thread at a time for a given place.
 */
enum fl_bulkhead_result fl_bulkhead_enqueue(struct fl_seg *seg, struct fl_seg_entry *e, uint32_t proc_index,
					    uint64_t now_ms, struct fl_bulkhead_place *place,
					    uint32_t *holder);
enum fl_bulkhead_result fl_bulkhead_turn(struct fl_seg *seg, struct fl_seg_entry *e, uint32_t proc_index,
					 uint64_t now_ms, struct fl_bulkhead_place *place, uint32_t *holder);
void fl_bulkhead_leave(struct fl_seg *seg, struct fl_seg_entry *e, const struct fl_bulkhead_place *place,
		       bool timed_out);

/*
 * fork, in three steps, so that no moment exists where the slot is counted
 * for fewer processes than hold it: the parent reserves a share for the
 * child before the real fork; the child turns it into a record of its own
 * (adopt, which returns the child's holder); if fork failed, the parent
 * gives the reservation back (unreserve).
 */
void fl_bulkhead_reserve(struct fl_seg *seg, uint32_t holder);
uint32_t fl_bulkhead_adopt(struct fl_seg *seg, uint32_t holder, uint32_t proc);
void fl_bulkhead_unreserve(struct fl_seg *seg, uint32_t holder);

/* Gives up this process's share of the slot; the last share gives the slot
 * back. e is the entry the slot was taken from (used when there is no
 * holder record). */
void fl_bulkhead_release(struct fl_seg *seg, struct fl_seg_entry *e, uint32_t holder);

/* Releases every share and queue place held by (proc, generation);
 * returns how many. */
uint32_t fl_bulkhead_release_proc(struct fl_seg *seg, uint32_t proc, uint32_t generation);

/* The records of the shares (proc, generation) holds: up to max into out;
 * returns how many there are. Used after exec to find them again. */
uint32_t fl_bulkhead_shares_of(struct fl_seg *seg, uint32_t proc, uint32_t generation, uint32_t *out,
			       uint32_t max);

/*
 * Reclaim: gives back the shares and queue places of the process at index
 * and frees its record; returns how many. reclaim_proc is for a process
 * detaching (its own record); reclaim_judged for a record found dead as
 * registration `generation`: nothing if another reclaimer took it first,
 * or if it now belongs to a newer process.
 */
uint32_t fl_bulkhead_reclaim_proc(struct fl_seg *seg, uint32_t index);
uint32_t fl_bulkhead_reclaim_judged(struct fl_seg *seg, uint32_t index, uint32_t generation);

/* Reclaims every dead process of the registry (lib/procreg.h says what
 * dead means); returns how many shares and queue places came back. */
uint32_t fl_bulkhead_reclaim_dead(struct fl_seg *seg);

/* The entry index a holder record belongs to, or UINT32_MAX. */
uint32_t fl_bulkhead_holder_entry(struct fl_seg *seg, uint32_t holder);

#endif
