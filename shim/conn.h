/*
 * conn.h - one watched connection: what matched its destination, where its
 * shared state lives, and what it still owes that state (an outcome for the
 * breaker, a bulkhead slot). Shared by every descriptor that refers to it.
 *
 * Objects come from a pool of mmap'd chunks with a lock-free free list
 * (a tagged Treiber stack), so creating one at connect time takes no lock
 * and no malloc; chunks are never unmapped, so a stale pointer read by a
 * racing thread still points at a valid object.
 */
#ifndef FL_CONN_H
#define FL_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "breaker.h"
#include "match.h"
#include "segment.h"
#include "shape.h"
#include "target.h"

struct fl_conn {
	uint32_t refs;		 /* descriptors referring to it (atomic) */
	uint32_t index;		 /* its place in the pool */
	uint32_t next_free;	 /* free-list link: index + 1, 0 = end */
	uint8_t connecting;	 /* non-blocking connect not yet resolved (atomic) */
	uint8_t has_slot;	 /* holds a bulkhead slot */
	uint8_t peer_failed;	 /* a broken-peer I/O error was already counted */
	uint8_t counted;	 /* the attempt's outcome went to the breaker as a call */
	uint32_t holder;	 /* bulkhead holder record, or FL_HOLDER_NONE */
	uint32_t pending;	 /* 1 + its pending record (ready.c), 0 = none (atomic) */
	struct fl_permit permit; /* breaker outcome owed while permit.active */
	struct fl_seg_entry *stats, *breaker, *bulkhead;
	struct fl_dest dest;
	struct fl_match match;
	uint32_t layer_gen; /* the layer generation match was made at (shim/layers.h) */
	uint8_t rematching; /* a thread is matching it again (atomic) */
	uint32_t
	    pass_gen; /* nothing matches it: its I/O passes while layers are at this generation (layers.h) */
	/* Connection faults and shaping (SPEC 10, shim/connfault.c). */
	uint32_t cx_ops;  /* ops whose calls go through connfault.c; FL_OPS_CLOSE: a slow close (atomic) */
	uint8_t cx_reset; /* ended by close_after_bytes: calls fail with ECONNRESET (atomic) */
	uint8_t cx_count; /* a close_after_bytes statement: count bytes moved */
	uint32_t cx_decide_ops; /* ops with fault statements to decide (not shape) */
	uint32_t shape_ops;	/* ops its shape statement limits */
	uint32_t cx_fast_ops;	/* shaped ops with no statement to decide: the short path (0 once reset) */
	int32_t shape_rule;	/* its shape statement, -1 = none */
	uint64_t *shape_due;	/* that statement's bucket (lib/shape.h) */
	uint64_t shape_local;	/* the bucket of scope=connection */
	struct fl_shape shape;	/* the statement's rate, burst */
	uint64_t moved[2];	/* bytes received, sent (atomic) */
};

/* A new object with refs = 1 and no shared state, or NULL when the pool
 * cannot grow. */
struct fl_conn *fl_conn_new(const struct fl_dest *d, const struct fl_match *m);

void fl_conn_ref(struct fl_conn *c);

/* Drops one reference; the last one gives back the bulkhead slot, counts
 * a connect still pending as given up on (a failure, ETIMEDOUT), and
 * returns the object to the pool. */
void fl_conn_unref(struct fl_conn *c);

/*
 * In a forked child: the outcomes of inherited attempts are the parent's
 * to report (it made them), so the child's copies owe none - closing an
 * inherited connecting socket in the child counts nothing.
 */
void fl_conn_fork_child(void);

/*
 * The outcome of the connection attempt: err 0 is a success, a connect
 * failure errno (ECONNREFUSED, ETIMEDOUT, ...) a failure, anything else
 * no outcome (the permit goes back). Only the first report counts.
 */
void fl_conn_outcome(struct fl_conn *c, int err);

/* A pending non-blocking connect has ended: outcome, and no longer pending. */
void fl_conn_settle(struct fl_conn *c, int err);

/* A connect that ended before any real call was made for it (rejected or
 * given up while queued in the bulkhead): no longer pending, its breaker
 * permit goes back uncounted - the destination was never tried. */
void fl_conn_withdraw(struct fl_conn *c);

/* c now holds a bulkhead slot (holder: its record). */
void fl_conn_slot_taken(struct fl_conn *c, uint32_t holder);

/* After the real call: learns what the result says about the connection
 * (a non-blocking connect's outcome, a broken peer). Returns r; keeps errno. */
ssize_t fl_io_outcome(struct fl_conn *c, ssize_t r);

static inline ssize_t fl_io_after(struct fl_conn *c, ssize_t r)
{
	if (__builtin_expect(r >= 0 && !__atomic_load_n(&c->connecting, __ATOMIC_RELAXED), 1))
		return r;
	return fl_io_outcome(c, r);
}

/* The breaker's state word, and a log line (FAULTLINE_LOG=info) when it
 * has changed state since `before`. */
uint64_t fl_breaker_word(const struct fl_conn *c);
void fl_breaker_note(const struct fl_conn *c, uint64_t before);

#endif
