/*
 * inject.h - what happens around the real call on a watched socket:
 * counting it, injecting faults, and turning results into breaker outcomes.
 */
#ifndef FL_INJECT_H
#define FL_INJECT_H

#include <sys/types.h>

#include "conn.h"
#include "rules.h"

/*
 * Evaluates the connection's faults for op, in statement order; the first
 * that fires wins. Sleeps for an injected delay (errno preserved; a signal
 * handler without SA_RESTART ends it: EINTR). Returns
 * the errno to inject, or 0 to go on with the real call. The caller has
 * checked that some fault of the connection is for op (match.ops).
 */
int fl_io_inject(struct fl_conn *c, enum fl_op op);

/* An injected error on an I/O call: sets errno, tells the breaker, -1. */
int fl_io_injected(struct fl_conn *c, int err);

/*
 * fl_io_before refused the call on fd with the injected errno: an error
 * that breaks a connection (ECONNRESET, EPIPE, ECONNABORTED, ETIMEDOUT)
 * shuts the socket down, as the real error would have ended it (SPEC 5).
 * Returns -1, errno kept. Called by the wrapper, where fd is at hand and
 * nothing else is live, so the path without a fault pays nothing for it.
 */
int fl_io_refused(int fd);

/* Counts one call of op in the destination's statistics. */
static inline void fl_io_count(struct fl_conn *c, enum fl_op op)
{
	if (c->stats)
		__atomic_fetch_add(&c->stats->ops[op].calls, 1, __ATOMIC_RELAXED);
}

/*
 * Before the real call on a watched descriptor: counts the call, applies
 * the faults. Returns 0 to make the real call, or -1 with errno set to the
 * injected error (the real call must then not be made); an injected error
 * counts for the breaker exactly like a real one. Inline: a socket with no
 * fault for this op pays a counter and a test.
 */
static inline int fl_io_before(struct fl_conn *c, enum fl_op op)
{
	fl_io_count(c, op);
	if (__builtin_expect(!(c->match.ops & (1u << op)), 1))
		return 0;
	int err = fl_io_inject(c, op);
	if (__builtin_expect(err == 0, 1))
		return 0;
	return fl_io_injected(c, err);
}

/* After the real call: learns what the result says about the connection
 * (a non-blocking connect's outcome, a broken peer). Returns r; keeps errno. */
ssize_t fl_io_outcome(struct fl_conn *c, ssize_t r);

static inline ssize_t fl_io_after(struct fl_conn *c, ssize_t r)
{
	if (__builtin_expect(r >= 0 && !__atomic_load_n(&c->connecting, __ATOMIC_RELAXED), 1))
		return r;
	return fl_io_outcome(c, r);
}

/*
 * The outcome of the connection attempt: err 0 is a success, a connect
 * failure errno (ECONNREFUSED, ETIMEDOUT, ...) a failure, anything else
 * no outcome (the permit goes back). Only the first report counts.
 */
void fl_conn_outcome(struct fl_conn *c, int err);

/* A pending non-blocking connect has ended: outcome, and no longer pending. */
void fl_conn_settle(struct fl_conn *c, int err);

/* The breaker's state word, and a log line (FAULTLINE_LOG=info) when it
 * has changed state since `before`. */
uint64_t fl_breaker_word(const struct fl_conn *c);
void fl_breaker_note(const struct fl_conn *c, uint64_t before);

/* The calling thread's generator, seeded on first use. */
struct fl_rng *fl_thread_rng(void);

/* After fork, in the child: a new stream, derived, so runs stay reproducible. */
void fl_thread_rng_fork(void);

#endif
