/*
 * ready.c - see ready.h.
 *
 * Pending records live in one static array (BSS: untouched pages cost no
 * memory), claimed with a CAS on their owner, so deferring a delay takes no
 * lock and no allocation and is async-signal-safe. A connection points at
 * its record (conn->pending = index + 1). Each record has one word of
 * state bits, changed only by atomic read-modify-writes: the thread whose
 * RMW clears a "waiting" bit is the one that acts on that deadline, so two
 * threads that notice it together do not both make the deferred connect.
 *
 * Scans (fl_ready_sweep) stop at the highest record ever claimed; records
 * are claimed lowest first, so that bound follows the number of
 * connections delayed at once, not their total.
 */
#include "ready.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "bulkhead.h"
#include "conn.h"
#include "domain.h"
#include "fdtab.h"
#include "inject.h"
#include "real.h"
#include "shim.h"

#define TLS	    __thread __attribute__((tls_model("initial-exec")))
#define MAX_RECORDS 4096u

/* State bits of a record. Kind 0 = connect, 1 = in (recv/read), 2 = out. */
#define WAIT(k)	    (1u << (k))	      /* a deadline ahead: the direction is hidden */
#define RIPE(k)	    (1u << (3 + (k))) /* its deadline passed: the next call goes real */
#define WAITING	    (WAIT(0) | WAIT(1) | WAIT(2))
#define CONN_FAILED (1u << 6) /* a deferred connect ended in err[0]: for SO_ERROR */
#define QUEUED	    (1u << 7) /* WAIT(0) is a bulkhead queue place; due[0] its queue timeout */
#define CHECKING    (1u << 8) /* a thread is checking the place's turn */
#define FOREIGN	    (1u << 9) /* inherited by a forked child: the parent's connect, not ours */

/* While a connect waits in a bulkhead queue, readiness waits are cut at
 * this tick to look at its turn (see fl_ready_queue in ready.h). */
#define QUEUE_TICK_NS (10u * 1000000u)

#define HIDE_IN	 (POLLIN | POLLRDNORM | POLLRDBAND | POLLPRI | POLLRDHUP)
#define HIDE_OUT (POLLOUT | POLLWRNORM | POLLWRBAND)

struct pending {
	struct fl_conn *conn; /* owner; NULL = free (atomic) */
	uint32_t bits;	      /* atomic */
	int fd;
	int err[3];
	uint64_t due[3]; /* CLOCK_MONOTONIC ns */
	socklen_t addr_len;
	struct sockaddr_storage addr;
	struct fl_bulkhead_place place; /* while QUEUED */
	struct fl_seg_entry *bulkhead;	/* the entry the place is in */
};

uint32_t fl_ready_count;
static struct pending records[MAX_RECORDS];
static uint32_t top; /* records ever claimed (atomic) */

static TLS const struct sockaddr *connect_sa;
static TLS socklen_t connect_len;

static int kind_of(enum fl_op op)
{
	if (op == FL_OP_CONNECT)
		return 0;
	return (op == FL_OP_RECV || op == FL_OP_READ) ? 1 : 2;
}

static uint32_t hidden_of(uint32_t bits)
{
	if (bits & WAIT(0))
		return ~0u;
	return ((bits & WAIT(1)) ? HIDE_IN : 0) | ((bits & WAIT(2)) ? HIDE_OUT : 0);
}

static uint32_t set_bits(struct pending *p, uint32_t add)
{
	uint32_t old = __atomic_fetch_or(&p->bits, add, __ATOMIC_ACQ_REL);
	if (!(old & WAITING) && (add & WAITING))
		__atomic_fetch_add(&fl_ready_count, 1, __ATOMIC_RELEASE);
	return old;
}

/* Clears rm; returns the bits before. */
static uint32_t take_bits(struct pending *p, uint32_t rm)
{
	uint32_t old = __atomic_fetch_and(&p->bits, ~rm, __ATOMIC_ACQ_REL);
	if ((old & WAITING) && !(old & ~rm & WAITING))
		__atomic_fetch_sub(&fl_ready_count, 1, __ATOMIC_RELEASE);
	return old;
}

/* True when this caller cleared one of rm (it then owns what follows). */
static bool clear_bits(struct pending *p, uint32_t rm)
{
	return (take_bits(p, rm) & rm) != 0;
}

static struct pending *record_of(struct fl_conn *c)
{
	uint32_t i = __atomic_load_n(&c->pending, __ATOMIC_ACQUIRE);
	return i ? &records[i - 1] : NULL;
}

static struct pending *record_claim(struct fl_conn *c)
{
	struct pending *p = record_of(c);
	if (p)
		return p;
	for (uint32_t i = 0; i < MAX_RECORDS; i++) {
		struct fl_conn *none = NULL;
		if (__atomic_load_n(&records[i].conn, __ATOMIC_RELAXED) ||
		    !__atomic_compare_exchange_n(&records[i].conn, &none, c, false, __ATOMIC_ACQ_REL,
						 __ATOMIC_RELAXED))
			continue;
		__atomic_store_n(&records[i].bits, 0, __ATOMIC_RELAXED);
		uint32_t t = __atomic_load_n(&top, __ATOMIC_RELAXED);
		while (t < i + 1 && !__atomic_compare_exchange_n(&top, &t, i + 1, true, __ATOMIC_ACQ_REL,
								 __ATOMIC_RELAXED))
			;
		__atomic_store_n(&c->pending, i + 1, __ATOMIC_RELEASE);
		return &records[i];
	}
	return NULL;
}

/* Frees c's record once nothing is left in it. A thread deferring on the
 * same connection at this very moment may lose its deadline (the call it
 * answered EAGAIN then waits for the kernel's own readiness): two threads
 * doing delayed I/O on one socket at once, a case left simple. */
static void record_free_if_empty(struct fl_conn *c, struct pending *p)
{
	if (__atomic_load_n(&p->bits, __ATOMIC_ACQUIRE) != 0)
		return;
	uint32_t want = (uint32_t)(p - records) + 1;
	if (__atomic_compare_exchange_n(&c->pending, &want, 0, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		__atomic_store_n(&p->conn, NULL, __ATOMIC_RELEASE);
}

void fl_ready_release(struct fl_conn *c)
{
	struct pending *p = record_of(c);
	if (!p)
		return;
	uint32_t old = take_bits(p, ~0u);
	if ((old & QUEUED) && !(old & FOREIGN) && !__atomic_load_n(&fl_domain.detached, __ATOMIC_ACQUIRE)) {
		/* Closed while queued: the place is given up, and the attempt
		 * counts nothing (no connect was made: docs/how-it-works.md). */
		int saved = errno;
		fl_bulkhead_leave(&fl_domain.seg, p->bulkhead, &p->place, false);
		fl_conn_withdraw(c);
		errno = saved;
	}
	__atomic_store_n(&c->pending, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&p->conn, NULL, __ATOMIC_RELEASE);
}

bool fl_ready_nonblocking(int fd, int msg_flags)
{
	if (msg_flags & MSG_DONTWAIT)
		return true;
	int saved = errno;
	long fl = syscall(SYS_fcntl, fd, F_GETFL);
	errno = saved;
	return fl >= 0 && (fl & O_NONBLOCK);
}

uint32_t fl_ready_timeout_ms(int fd, enum fl_op op)
{
	struct timeval tv = {0, 0};
	socklen_t len = sizeof(tv);
	int name = kind_of(op) == 1 ? SO_RCVTIMEO : SO_SNDTIMEO;
	int saved = errno;
	long r = syscall(SYS_getsockopt, fd, SOL_SOCKET, name, &tv, &len);
	errno = saved;
	if (r < 0 || tv.tv_sec < 0 || (tv.tv_sec == 0 && tv.tv_usec <= 0))
		return 0;
	uint64_t ms = (uint64_t)tv.tv_sec * 1000u + ((uint64_t)tv.tv_usec + 999u) / 1000u;
	return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

void fl_ready_connect_addr(const struct sockaddr *sa, socklen_t len)
{
	connect_sa = sa;
	connect_len = len;
}

bool fl_ready_defer(struct fl_conn *c, int fd, enum fl_op op, uint32_t ms, int err)
{
	int k = kind_of(op);
	if (fl_fdtab_lookup(fd) != c)
		return false; /* beyond the table: no readiness call could find it */
	if (k == 0 && (!connect_sa || connect_len > sizeof(struct sockaddr_storage)))
		return false;
	struct pending *p = record_claim(c);
	if (!p)
		return false;
	p->fd = fd;
	p->err[k] = err;
	p->due[k] = fl_now_ns() + (uint64_t)ms * 1000000u;
	if (k == 0 && connect_sa != (const struct sockaddr *)&p->addr) {
		memcpy(&p->addr, connect_sa, connect_len);
		p->addr_len = connect_len;
	}
	clear_bits(p, RIPE(k));
	/* Hidden in epoll sets before the bit is set: nobody can show it
	 * again (a sweep acts only on set bits) before it was hidden. */
	fl_ready_epoll_sync(fd, hidden_of(__atomic_load_n(&p->bits, __ATOMIC_ACQUIRE) | WAIT(k)));
	set_bits(p, WAIT(k));
	return true;
}

bool fl_ready_queue(struct fl_conn *c, int fd, const struct fl_bulkhead_place *place, uint32_t timeout_ms)
{
	if (fl_fdtab_lookup(fd) != c || !connect_sa || connect_len > sizeof(struct sockaddr_storage))
		return false;
	struct pending *p = record_claim(c);
	if (!p)
		return false;
	p->fd = fd;
	p->err[0] = 0;
	p->due[0] = fl_now_ns() + (uint64_t)timeout_ms * 1000000u;
	memcpy(&p->addr, connect_sa, connect_len);
	p->addr_len = connect_len;
	p->place = *place;
	p->bulkhead = c->bulkhead;
	clear_bits(p, RIPE(0) | CONN_FAILED | FOREIGN | CHECKING);
	fl_ready_epoll_sync(fd, ~0u);
	set_bits(p, QUEUED); /* before WAIT(0): whoever sees the wait sees it is a queue place */
	set_bits(p, WAIT(0));
	return true;
}

/* The deferred connect is due: make it, non-blocking as the socket is.
 * A forked child's copy only shows the socket again: the parent connects. */
static void connect_now(struct pending *p)
{
	int err = p->err[0];
	uint32_t was = take_bits(p, QUEUED | FOREIGN);
	if (!err && !(was & FOREIGN)) {
		int saved = errno;
		int r = fl_real.connect(p->fd, (const struct sockaddr *)&p->addr, p->addr_len);
		if (r == 0)
			fl_conn_settle(p->conn, 0);
		else if (errno != EINPROGRESS && errno != EINTR && errno != EALREADY)
			err = errno;
		errno = saved;
	}
	if (err) {
		p->err[0] = err;
		set_bits(p, CONN_FAILED);
		fl_conn_settle(p->conn, err);
	}
}

/* Kind k's deadline has passed: the thread that clears its bit acts. */
static void settle(struct pending *p, int k)
{
	if (!clear_bits(p, WAIT(k)))
		return;
	if (k == 0)
		connect_now(p);
	else
		set_bits(p, RIPE(k));
	fl_ready_epoll_sync(p->fd, hidden_of(__atomic_load_n(&p->bits, __ATOMIC_ACQUIRE)));
}

/* Admitted by the bulkhead: the connect's own faults are decided now (a
 * delay defers it again, an error fails it), then the real connect. */
static void admitted(struct pending *p, struct fl_conn *c, uint64_t now)
{
	int err = 0;
	if (c->match.ops & (1u << FL_OP_CONNECT)) {
		const struct sockaddr *sa = connect_sa;
		socklen_t len = connect_len;
		fl_ready_connect_addr((const struct sockaddr *)&p->addr, p->addr_len);
		err = fl_call_fault(c, FL_OP_CONNECT, p->fd, 0);
		fl_ready_connect_addr(sa, len);
	}
	if (err == FL_DEFERRED)
		return; /* a connect delay: due[0] is its deadline now */
	p->err[0] = err == EINTR ? 0 : err;
	p->due[0] = now;
	settle(p, 0);
}

/* Refused by the bulkhead's queue timeout: reject_errno through SO_ERROR,
 * writable as a failed connect is; the breaker's permit goes back. */
static void rejected(struct pending *p, struct fl_conn *c, uint64_t now)
{
	fl_bulkhead_leave(&fl_domain.seg, p->bulkhead, &p->place, true);
	p->err[0] = (int)__atomic_load_n(&p->bulkhead->bulkhead.p.reject_errno, __ATOMIC_RELAXED);
	p->due[0] = now;
	fl_conn_withdraw(c);
	settle(p, 0);
}

/*
 * A connect queued in the bulkhead: is it its turn? One thread checks at
 * a time (CHECKING; the others carry on). Returns when to look again.
 * A close racing the check (another thread) is noticed when QUEUED turns
 * out to be gone: what the check took is given back.
 */
static uint64_t queue_check(struct pending *p, uint64_t now)
{
	uint64_t next = p->due[0] < now + QUEUE_TICK_NS ? p->due[0] : now + QUEUE_TICK_NS;
	if ((set_bits(p, CHECKING) & CHECKING) || __atomic_load_n(&fl_domain.detached, __ATOMIC_ACQUIRE)) {
		return next;
	}
	struct fl_conn *c = __atomic_load_n(&p->conn, __ATOMIC_ACQUIRE);
	uint32_t holder = FL_HOLDER_NONE;
	int saved = errno;
	enum fl_bulkhead_result r =
	    fl_bulkhead_turn(&fl_domain.seg, p->bulkhead, fl_domain.proc, now / 1000000u, &p->place, &holder);
	bool timed_out = r == FL_BULKHEAD_QUEUED && p->due[0] <= now;
	if (r == FL_BULKHEAD_QUEUED && !timed_out) {
		take_bits(p, CHECKING);
		errno = saved;
		return next;
	}
	uint64_t due = p->due[0];
	p->due[0] = UINT64_MAX; /* once QUEUED is gone, nobody settles it before us */
	if (!c || !(take_bits(p, QUEUED) & QUEUED)) {
		p->due[0] = due;
		if (r == FL_BULKHEAD_ACQUIRED) /* closed meanwhile */
			fl_bulkhead_release(&fl_domain.seg, p->bulkhead, holder);
		errno = saved;
		return UINT64_MAX;
	}
	if (r == FL_BULKHEAD_ACQUIRED)
		fl_conn_slot_taken(c, holder);
	if (timed_out)
		rejected(p, c, now);
	else
		admitted(p, c, now);
	uint32_t b = take_bits(p, CHECKING);
	errno = saved;
	return (b & WAIT(0)) ? p->due[0] : UINT64_MAX;
}

/* The connect of p (deferred or queued): acted on if due; returns when to
 * look again (UINT64_MAX: nothing left). */
static uint64_t settle_connect(struct pending *p, uint64_t now)
{
	uint32_t b = __atomic_load_n(&p->bits, __ATOMIC_ACQUIRE);
	if (!(b & WAIT(0)))
		return UINT64_MAX;
	if ((b & QUEUED) && !(b & FOREIGN))
		return queue_check(p, now);
	if (p->due[0] > now)
		return p->due[0];
	settle(p, 0);
	return UINT64_MAX;
}

/* Settles what is due in p; returns the earliest deadline still ahead. */
static uint64_t settle_due(struct pending *p, uint64_t now)
{
	uint64_t next = settle_connect(p, now);
	uint32_t b = __atomic_load_n(&p->bits, __ATOMIC_ACQUIRE);
	for (int k = 1; k < 3; k++) {
		if (!(b & WAIT(k)))
			continue;
		if (p->due[k] <= now)
			settle(p, k);
		else if (p->due[k] < next)
			next = p->due[k];
	}
	return next;
}

int64_t fl_ready_sweep(void)
{
	if (__atomic_load_n(&fl_ready_count, __ATOMIC_ACQUIRE) == 0)
		return -1;
	uint64_t now = fl_now_ns(), next = UINT64_MAX;
	uint32_t n = __atomic_load_n(&top, __ATOMIC_ACQUIRE);
	for (uint32_t i = 0; i < n; i++) {
		struct pending *p = &records[i];
		if (!(__atomic_load_n(&p->bits, __ATOMIC_ACQUIRE) & WAITING) ||
		    !__atomic_load_n(&p->conn, __ATOMIC_ACQUIRE))
			continue;
		uint64_t d = settle_due(p, now);
		if (d < next)
			next = d;
	}
	if (next == UINT64_MAX)
		return -1;
	return (int64_t)((next - now + 999999u) / 1000000u);
}

uint32_t fl_ready_hidden(int fd)
{
	struct fl_conn *c = fl_fdtab_lookup(fd);
	struct pending *p = c ? record_of(c) : NULL;
	return p ? hidden_of(__atomic_load_n(&p->bits, __ATOMIC_ACQUIRE)) : 0;
}

int fl_ready_before(struct fl_conn *c, int fd, enum fl_op op)
{
	struct pending *p = record_of(c);
	if (!p)
		return 1;
	(void)fd;
	int k = kind_of(op);
	uint64_t now = fl_now_ns();
	settle_connect(p, now);
	uint32_t b = __atomic_load_n(&p->bits, __ATOMIC_ACQUIRE);
	if ((b & WAIT(k)) && k != 0 && p->due[k] <= now)
		settle(p, k);
	b = __atomic_load_n(&p->bits, __ATOMIC_ACQUIRE);
	if (b & (WAIT(0) | WAIT(k))) {
		errno = EAGAIN; /* as the kernel answers for a socket still connecting */
		return -1;
	}
	if (k != 0 && (b & RIPE(k)) && clear_bits(p, RIPE(k))) {
		int err = p->err[k];
		record_free_if_empty(c, p);
		if (err) {
			errno = err;
			return -2;
		}
		return 0;
	}
	record_free_if_empty(c, p);
	return 1;
}

int fl_ready_connect_state(struct fl_conn *c, int fd, int *err)
{
	(void)fd;
	*err = 0;
	struct pending *p = record_of(c);
	if (!p)
		return 0;
	settle_connect(p, fl_now_ns());
	if (__atomic_load_n(&p->bits, __ATOMIC_ACQUIRE) & WAIT(0))
		return 1;
	if (clear_bits(p, CONN_FAILED))
		*err = p->err[0];
	return 0;
}

void fl_ready_fork_child(void)
{
	uint32_t n = __atomic_load_n(&top, __ATOMIC_ACQUIRE);
	for (uint32_t i = 0; i < n; i++) {
		struct pending *p = &records[i];
		if (!__atomic_load_n(&p->conn, __ATOMIC_ACQUIRE))
			continue;
		take_bits(p, CHECKING); /* a parent thread's check does not go on here */
		if (__atomic_load_n(&p->bits, __ATOMIC_ACQUIRE) & WAIT(0))
			set_bits(p, FOREIGN);
	}
}
