/*
 * connfault.h - connection faults beyond errno and bandwidth shaping
 * (SPEC 10): max_bytes, eof, hang_ms, close_after_bytes, corrupt, a slow
 * close, and the `shape` kind.
 *
 * A connection whose statements have none of these never comes here:
 * fl_call_fault tests one mask (c->cx_ops) and goes on as before. When a
 * call's op is in it, fl_cx_call decides the faults and the shaping and
 * leaves a plan in thread-local storage (FL_PLANNED); the wrapper then
 * makes its own real call with the plan's length (fl_cx_len) and hands the
 * result to fl_cx_after - or, for the vector and message forms, makes it
 * through fl_cx_io - which counts the bytes moved (close_after_bytes, the
 * shaping budget) and corrupts received bytes.
 */
#ifndef FL_CONNFAULT_H
#define FL_CONNFAULT_H

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "clock.h"
#include "conn.h"
#include "rules.h"

/* The plan of the call being made on this thread (between fl_cx_call and
 * the wrapper's real call). */
struct fl_cx_plan {
	uint64_t limit;	  /* bytes the call may move (0: eof=true, the call returns 0) */
	uint64_t now;	  /* when the shaping budget was taken */
	uint64_t corrupt; /* probability threshold per received byte, 0 = none (read when slow) */
	union {
		struct {
			uint8_t shaped; /* debit the shape bucket with what moved */
			uint8_t cut;	/* max_bytes set: a call cut by it is short I/O (read when slow) */
			uint8_t op;	/* enum fl_op */
			uint8_t slow;	/* decided on the slow path: fl_cx_after_slow accounts */
		};
		uint32_t flags; /* the four at once (one store on the fast path) */
	};
	int fd, msg_flags; /* the call's, kept across the clock read */
};
extern __thread struct fl_cx_plan fl_cx_plan __attribute__((tls_model("initial-exec")));

/* The length a planned buffer call passes to the real call. A stream
 * socket answers a 0-byte read with 0 at once, consuming nothing: that is
 * eof=true's answer. */
static inline size_t fl_cx_len(size_t n)
{
	return n < fl_cx_plan.limit ? n : (size_t)fl_cx_plan.limit;
}

/* After a planned buffer call (buf, n as the program asked) returned r:
 * outcomes (fl_io_after), bytes counted, shaping debited, corruption.
 * Returns r, errno kept. A shaped call only debits its bucket. */
ssize_t fl_cx_after_slow(struct fl_conn *c, ssize_t r, void *buf, size_t n);

ssize_t fl_cx_after(struct fl_conn *c, ssize_t r, void *buf, size_t n);

/*
 * The shaped short path of the buffer calls (send, sendto, recv, recvfrom,
 * read, write), for a connection whose op is in c->cx_fast_ops (shaping,
 * nothing to decide): the wrapper's *_shaped function reads the budget
 * here, makes the real call with at most that many bytes and debits what
 * moved, all in one frame: no plan in thread-local storage, no second
 * test of what the wrapper tested. fl_cx_budget returns the bytes the call
 * may move now (the clock in *now), or 0 when less than the bucket's
 * quantum is at hand: the wrapper then takes its slow path, which waits or
 * defers (fl_cx_call). It is fl_cx_call's short path, and fl_cx_shaped
 * fl_cx_after's, without the plan.
 */
static inline uint64_t fl_cx_budget(struct fl_conn *c, uint64_t *now)
{
	uint64_t t = fl_clock_mono_ns();
	const struct fl_shape *sh = &c->shape;
	uint64_t due = __atomic_load_n(c->shape_due, __ATOMIC_ACQUIRE);
	uint64_t floor = t > sh->burst_ns ? t - sh->burst_ns : 0;
	uint64_t have = sh->burst;
	if (due >= floor)
		have = t > due ? fl_shape_bytes_in(sh, t - due) : 0;
	else /* an idle bucket: its ledger starts at the floor (as fl_cx_call) */
		__atomic_compare_exchange_n(c->shape_due, &due, floor, false, __ATOMIC_ACQ_REL,
					    __ATOMIC_RELAXED);
	*now = t;
	return __builtin_expect(have < sh->quantum, 0) ? 0 : have;
}

/* The end of a shaped call whose budget was read at now: outcome, debit,
 * the shaped-bytes counter; errno kept. */
ssize_t fl_cx_shaped_slow(struct fl_conn *c, ssize_t r, enum fl_op op, uint64_t now);

static inline ssize_t fl_cx_shaped(struct fl_conn *c, ssize_t r, enum fl_op op, uint64_t now)
{
	if (__builtin_expect((r <= 0) | __atomic_load_n(&c->connecting, __ATOMIC_RELAXED), 0))
		return fl_cx_shaped_slow(c, r, op, now);
	/* a settled connection that moved bytes: what fl_cx_after's short
	 * path does (touches no errno) */
	__atomic_fetch_add(c->shape_due, fl_shape_cost_ns(&c->shape, (uint64_t)r), __ATOMIC_RELEASE);
	if (c->stats)
		__atomic_fetch_add(&c->stats->conn[op].shaped_bytes, (uint64_t)r, __ATOMIC_RELAXED);
	return r;
}

/* At connect: which ops need this file, the shape statement and its bucket. */
void fl_cx_setup(struct fl_conn *c);

/* fl_call_fault for an op in c->cx_ops: an errno, 0, FL_DEFERRED or FL_PLANNED. */
int fl_cx_call(struct fl_conn *c, enum fl_op op, int fd, int flags);

/* How the planned real call is made. */
enum fl_cx_how {
	FL_CX_READV,   /* read, readv, __read_chk */
	FL_CX_RECVMSG, /* recv, recvfrom, recvmsg, recvmmsg, __recv_chk, __recvfrom_chk */
	FL_CX_WRITEV,  /* write, writev */
	FL_CX_SENDMSG, /* send, sendto, sendmsg, sendmmsg */
};

/* The real call with the plan of fl_cx_call (after fl_io_before returned
 * 1): msg's iov (and name, control, for the *MSG forms) is the caller's;
 * returns what the call returns, errno as it left it. */
ssize_t fl_cx_io(struct fl_conn *c, int fd, struct msghdr *msg, int flags, enum fl_cx_how how);

static inline ssize_t fl_cx_vec(struct fl_conn *c, int fd, const struct iovec *iov, int n, enum fl_cx_how how)
{
	struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = n > 0 ? (size_t)n : 0};
	return fl_cx_io(c, fd, &m, 0, how);
}

/* sendmmsg / recvmmsg: the first message only (a short batch, as the
 * kernel may answer). */
int fl_cx_mmsg(struct fl_conn *c, int fd, struct mmsghdr *vec, unsigned int n, int flags, enum fl_cx_how how);

/* Before the real close of a watched descriptor: a slow close (on=close delay_ms). */
void fl_cx_close(struct fl_conn *c, int fd);

#endif
