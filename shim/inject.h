/*
 * inject.h - what happens before the real call on a watched socket:
 * counting it, and deciding and applying the faults that hit it. What the
 * result tells the breaker is conn.h's.
 */
#ifndef FL_INJECT_H
#define FL_INJECT_H

#include <errno.h>
#include <sys/types.h>

#include "conn.h"
#include "layers.h"
#include "ready.h"
#include "rules.h"

/*
 * Decides whether a fault hits this call of op and applies it: evaluates
 * the connection's faults for op, in statement order; the first
 * that fires wins. fd is the call's descriptor, flags its MSG_ flags (0
 * for read/write): an injected delay on a non-blocking socket becomes a
 * pending deadline (FL_DEFERRED, ready.h); on a blocking one the thread
 * sleeps (errno preserved; a signal handler without SA_RESTART ends it:
 * EINTR), bounded by SO_RCVTIMEO/SO_SNDTIMEO. Returns the errno to inject,
 * or 0 to go on with the real call. The caller has checked that some
 * fault of the connection is for op (match.ops).
 */
int fl_call_fault(struct fl_conn *c, enum fl_op op, int fd, int flags);
/* The same for a connection whose op has no connection fault or shaping
 * (c->cx_ops clear for op): fl_io_before tests that itself. */
int fl_call_fault_plain(struct fl_conn *c, enum fl_op op, int fd, int flags);

/*
 * Connection faults and shaping (shim/connfault.c). FL_PLANNED: the call
 * goes on with a plan (a shorter length, corruption, a shaping debit, an
 * end of file) that the wrapper carries out through fl_cx_io; fl_io_before
 * then returns 1. fl_cx_ripe: a deferred shaping wait (or delay) has
 * passed on a connection with such statements: the plan without deciding
 * faults again; returns as fl_io_before does.
 */
#define FL_PLANNED (-3)
int fl_cx_call(struct fl_conn *c, enum fl_op op, int fd, int flags);
int fl_cx_ripe(struct fl_conn *c, enum fl_op op, int fd, int flags);

/* A fault statement fired (its decision in *f): counts, logs, applies its
 * delay and error as any fault does. Returns as fl_call_fault. */
struct fl_fault_decision;
int fl_fault_fire(struct fl_conn *c, enum fl_op op, const struct fl_fault_decision *f, int fd, int flags,
		  uint32_t rule);

/* Fails the call with an injected error: sets errno, tells the breaker
 * (as a real error would), returns -1. */
int fl_call_fail(struct fl_conn *c, int err);

/* Delays a connect by ms as a connect fault's delay would (sleep, or a
 * pending deadline on a non-blocking socket: FL_DEFERRED). For rate_limit
 * action=delay. Returns 0, EINTR or FL_DEFERRED. */
int fl_delay_connect(struct fl_conn *c, int fd, uint32_t ms);

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
 * Before the real call on a watched descriptor fd (flags: the call's MSG_
 * flags, 0 for read/write): counts the call, acts on pending state (a
 * delay decided earlier whose deadline is ahead answers EAGAIN; once
 * passed, the real call is made without deciding again), applies the
 * faults. Returns 0 to make the real call, or -1 with errno set to the
 * injected error (the real call must then not be made); an injected
 * error counts for the breaker exactly like a real one. Inline: a socket
 * with no fault for this op and nothing pending pays a counter and two
 * tests.
 */
static inline __attribute__((always_inline)) int fl_io_before(struct fl_conn *c, enum fl_op op, int fd,
							      int flags)
{
	fl_io_count(c, op);
	if (__builtin_expect(__atomic_load_n(&c->pending, __ATOMIC_RELAXED) != 0, 0)) {
		int r = fl_ready_before(c, fd, op);
		if (r == -2)
			return fl_call_fail(c, errno);
		if (r <= 0)
			return r == 0 && (c->cx_ops & (1u << op)) ? fl_cx_ripe(c, op, fd, flags) : r;
	}
	/* Layers changed since c was matched (one shared load): match again. */
	if (__builtin_expect(__atomic_load_n(fl_layer_gen, __ATOMIC_RELAXED) != c->layer_gen, 0))
		fl_layers_refresh(c);
	if (__builtin_expect(!(c->match.ops & (1u << op)), 1))
		return 0;
	int err;
	if (c->cx_ops & (1u << op)) {
		err = fl_cx_call(c, op, fd, flags);
		if (err == FL_PLANNED)
			return 1; /* connection faults or shaping: the wrapper calls connfault.c */
	} else {
		err = fl_call_fault_plain(c, op, fd, flags);
	}
	if (__builtin_expect(err == 0, 1))
		return 0;
	if (err == FL_DEFERRED) {
		errno = EAGAIN;
		return -1;
	}
	return fl_call_fail(c, err);
}

/*
 * The common case of a call on a watched socket, decided inline: nothing
 * pending, layers unchanged since c was matched, no fault statement for op.
 * Then it counts the call and returns true: the wrapper makes the real call
 * with its arguments as they are and ends with fl_io_after. Otherwise
 * nothing is counted and the wrapper's slow path runs fl_io_before. Only
 * loads, tests and the counter's add: no call, no stack frame, so the
 * arguments stay in their registers for the real call.
 */
static inline bool fl_io_quick(struct fl_conn *c, enum fl_op op)
{
	if (__builtin_expect(
		(__atomic_load_n(&c->pending, __ATOMIC_RELAXED) | (c->match.ops & (1u << op))) != 0, 0))
		return false;
	if (__builtin_expect(__atomic_load_n(fl_layer_gen, __ATOMIC_RELAXED) != c->layer_gen, 0))
		return false;
	fl_io_count(c, op);
	return true;
}

/*
 * fl_io_quick failed: is it a shaped call with nothing to decide? The
 * wrapper's *_watched tests the op's bit of c->cx_fast_ops (one test, so
 * other calls that leave the quick path pay little for it) and goes to its
 * *_shaped function, which tests the rest (fl_io_shaped: nothing pending,
 * layers unchanged), reads the budget (connfault.h fl_cx_budget) and, once
 * it has one, counts the call (fl_io_count) and makes it; anything else
 * goes on to *_slow. cx_fast_ops is within match.ops (fl_cx_setup), so
 * this is the case fl_io_before would send to fl_cx_call's short path.
 */
static inline bool fl_io_shaped_op(const struct fl_conn *c, enum fl_op op)
{
	return __atomic_load_n(&c->cx_fast_ops, __ATOMIC_RELAXED) & (1u << op);
}

static inline bool fl_io_shaped(struct fl_conn *c, enum fl_op op)
{
	if (__builtin_expect((__atomic_load_n(&c->pending, __ATOMIC_RELAXED) |
			      (~__atomic_load_n(&c->cx_fast_ops, __ATOMIC_RELAXED) & (1u << op))) != 0,
			     0))
		return false;
	return __atomic_load_n(fl_layer_gen, __ATOMIC_RELAXED) == c->layer_gen;
}

/* The calling thread's generator, seeded on first use. */
struct fl_rng *fl_thread_rng(void);

/* After fork, in the child: a new stream, derived, so runs stay reproducible. */
void fl_thread_rng_fork(void);

#endif
