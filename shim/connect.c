/*
 * connect.c - where a socket becomes watched, and where breakers and
 * bulkheads act.
 *
 * The destination is matched against the rules once, here. In order: the
 * breaker may reject at once (no system call); the bulkhead takes a slot
 * (a blocking socket may queue for one); connect faults apply; then the
 * real connect. Its outcome goes to the breaker now (blocking) or later
 * (non-blocking: SO_ERROR or the first I/O, see inject.c; or the close of
 * a socket whose connect was given up on, see conn.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bulkhead.h"
#include "conn.h"
#include "domain.h"
#include "fdtab.h"
#include "connfault.h"
#include "inject.h"
#include "layers.h"
#include "log.h"
#include "ready.h"
#include "real.h"
#include "resolve.h"
#include "resil.h"
#include "shim.h"

/* Replaces whatever fd referred to with c (which may be NULL). */
static void fdtab_replace(int fd, struct fl_conn *c)
{
	struct fl_conn *old = fl_fdtab_exchange(fd, c);
	if (old == FL_FDTAB_FAILED) {
		fl_conn_unref(c);
		return;
	}
	if (old)
		fl_conn_unref(old);
}

static void log_reject(const struct fl_conn *c, const char *why)
{
	if (!fl_log_on(FL_LOG_DEBUG))
		return;
	char storage[256], dest[FL_DEST_STR_MAX];
	struct fl_textbuf b;
	fl_dest_format(&c->dest, dest, sizeof(dest));
	fl_log_begin(&b, storage, sizeof(storage));
	fl_tb_puts(&b, "connect ");
	fl_tb_puts(&b, dest);
	fl_tb_puts(&b, ": rejected by ");
	fl_tb_puts(&b, why);
	fl_log_end(&b);
}

/* Fails the attempt before any system call: gives back what it took. */
static int refuse(struct fl_conn *c, int err)
{
	if (c->breaker)
		fl_breaker_cancel(&c->breaker->breaker, &c->permit);
	fl_conn_unref(c);
	errno = err;
	return -1;
}

#define QUEUED (-1) /* admit: a place in the bulkhead's queue, in *place */

/* Breaker, then bulkhead. Returns 0 to go on, QUEUED (a non-blocking
 * socket's place in a full bulkhead's queue), or the errno to fail with. */
static int admit(struct fl_conn *c, int fd, struct fl_bulkhead_place *place)
{
	if (c->breaker) {
		uint64_t before = fl_breaker_word(c);
		bool pass = fl_breaker_admit(&c->breaker->breaker, fl_now_ns(), fl_now_ms(), &c->permit);
		fl_breaker_note(c, before);
		if (!pass) {
			log_reject(c, "open breaker");
			return __atomic_load_n(&c->breaker->breaker.p.reject_errno, __ATOMIC_RELAXED);
		}
	}
	if (!c->bulkhead)
		return 0;
	enum fl_bulkhead_result got =
	    fl_bulkhead_try(&fl_domain.seg, c->bulkhead, fl_domain.proc, &c->holder);
	if (got == FL_BULKHEAD_REJECTED && fl_resil_has_fallback(c)) {
		/* Full, with a fallback: no waiting, fail over at once (counted
		 * as the bulkhead's rejection). */
		got = fl_bulkhead_acquire(&fl_domain.seg, c->bulkhead, fl_domain.proc, false, &c->holder);
	} else if (got == FL_BULKHEAD_REJECTED) {
		/* Full: only now does it matter whether the socket may wait. */
		int flags = fl_real.fcntl(fd, F_GETFL);
		if (flags >= 0 && !(flags & O_NONBLOCK))
			got = fl_bulkhead_acquire(&fl_domain.seg, c->bulkhead, fl_domain.proc, true,
						  &c->holder);
		else /* SPEC 12: queues through readiness, never sleeps here */
			got = fl_bulkhead_enqueue(&fl_domain.seg, c->bulkhead, fl_domain.proc,
						  fl_now_ns() / 1000000u, place, &c->holder);
	}
	switch (got) {
	case FL_BULKHEAD_ACQUIRED:
		c->has_slot = 1;
		__atomic_fetch_add(&fl_domain.slot_conns, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&fl_domain.held_slots, true, __ATOMIC_RELEASE);
		return 0;
	case FL_BULKHEAD_BYPASSED:
		return 0;
	case FL_BULKHEAD_INTERRUPTED:
		return EINTR; /* as the connect it stands in would be: no real call made */
	case FL_BULKHEAD_QUEUED:
		return QUEUED;
	default:
		log_reject(c, "full bulkhead");
		return __atomic_load_n(&c->bulkhead->bulkhead.p.reject_errno, __ATOMIC_RELAXED);
	}
}

/* fd is beyond what the table can hold: the attempt is settled here if it
 * ends here, else nothing can learn its outcome and the permit goes back. */
static int connect_untracked(struct fl_conn *c, int fd, const struct sockaddr *sa, socklen_t len)
{
	int err = (c->match.ops & (1u << FL_OP_CONNECT)) ? fl_call_fault(c, FL_OP_CONNECT, fd, 0) : 0;
	int r = err ? -1 : fl_real.connect(fd, sa, len);
	int saved = err ? err : errno;
	if (r == 0 || (saved != EINPROGRESS && saved != EINTR)) {
		fl_conn_settle(c, r == 0 ? 0 : saved);
	} else {
		__atomic_store_n(&c->connecting, 0, __ATOMIC_RELEASE);
		if (c->breaker)
			fl_breaker_cancel(&c->breaker->breaker, &c->permit);
	}
	fl_conn_unref(c);
	errno = saved;
	return r;
}

/* Puts c in fd's slot; false if the table cannot hold fd (c stays ours). */
static bool install(int fd, struct fl_conn *c)
{
	struct fl_conn *old = fl_fdtab_exchange(fd, c);
	if (old == FL_FDTAB_FAILED)
		return false;
	if (old)
		fl_conn_unref(old);
	return true;
}

/* The attempt failed before or in the real call: out of the table. */
static void uninstall(int fd, struct fl_conn *c)
{
	if (fl_fdtab_lookup(fd) != c)
		return; /* closed meanwhile: that close dropped it */
	struct fl_conn *old = fl_fdtab_exchange(fd, NULL);
	if (old && old != FL_FDTAB_FAILED)
		fl_conn_unref(old);
}

/* A non-blocking connect queued in the bulkhead (ready.h): EINPROGRESS,
 * the rest happens through readiness. Refused at once when it cannot be
 * followed there (fd beyond the table, no pending record). */
static int connect_queued(struct fl_conn *c, int fd, const struct sockaddr *sa, socklen_t len,
			  const struct fl_bulkhead_place *place)
{
	int reject = (int)__atomic_load_n(&c->bulkhead->bulkhead.p.reject_errno, __ATOMIC_RELAXED);
	__atomic_store_n(&c->connecting, 1, __ATOMIC_RELEASE);
	if (!install(fd, c)) {
		fl_bulkhead_leave(&fl_domain.seg, c->bulkhead, place, false);
		__atomic_store_n(&c->connecting, 0, __ATOMIC_RELEASE);
		return refuse(c, reject);
	}
	fl_ready_connect_addr(sa, len);
	bool queued = fl_ready_queue(
	    c, fd, place, __atomic_load_n(&c->bulkhead->bulkhead.p.queue_timeout_ms, __ATOMIC_RELAXED));
	fl_ready_connect_addr(NULL, 0);
	if (!queued) {
		fl_bulkhead_leave(&fl_domain.seg, c->bulkhead, place, false);
		fl_conn_withdraw(c);
		uninstall(fd, c);
		errno = reject;
		return -1;
	}
	errno = EINPROGRESS;
	return -1;
}

/*
 * The attempt is put in the descriptor table, marked connecting (permit
 * owed, slot held), before the real connect: a program may never come
 * back from that call (siglongjmp out of a blocking connect, as wget's
 * alarm timeout does), and then the close that follows must find it, give
 * the slot back and count the abandoned attempt (conn.c). The table's
 * reference is the only one, so a concurrent close of fd may end the
 * object while we wait: after the call, c is touched only if fd still
 * refers to it.
 */
static int connect_to(int fd, const struct sockaddr *sa, socklen_t len, bool fell_over);

/* Rejected by the breaker or a full bulkhead: the breaker's fallback
 * instead, if it has one and this connect is not already its fallback. */
static int refuse_or_fail_over(struct fl_conn *c, int fd, const struct sockaddr *sa, int err, bool fell_over)
{
	struct sockaddr_storage to;
	socklen_t to_len;
	if (fell_over || err == EINTR || !fl_resil_fallback(c, sa, &to, &to_len))
		return refuse(c, err);
	if (c->breaker)
		fl_breaker_cancel(&c->breaker->breaker, &c->permit);
	fl_conn_unref(c);
	return connect_to(fd, (const struct sockaddr *)&to, to_len, true);
}

static int connect_watched(int fd, const struct sockaddr *sa, socklen_t len, const struct fl_dest *d,
			   const struct fl_match *m, uint32_t layer_gen, bool fell_over)
{
	struct fl_conn *c = fl_conn_new(d, m);
	if (!c) {
		fl_log_msg(FL_LOG_ERROR, "connection pool exhausted: socket not watched");
		fdtab_replace(fd, NULL);
		return fl_real.connect(fd, sa, len);
	}
	c->layer_gen = layer_gen;
	struct fl_plan plan = {.stats = NULL};
	/* A socket followed only for layers that match nothing yet: no entry. */
	if (m->breaker >= 0 || m->bulkhead >= 0 || m->rate_limit >= 0 || m->nfaults > 0)
		fl_domain_plan(d, m, &plan);
	c->stats = plan.stats;
	c->breaker = plan.breaker;
	c->bulkhead = plan.bulkhead;
	fl_cx_setup(c);
	fl_io_count(c, FL_OP_CONNECT);
	struct fl_bulkhead_place place;
	int err = admit(c, fd, &place);
	if (err == QUEUED)
		return connect_queued(c, fd, sa, len, &place);
	if (err)
		return refuse_or_fail_over(c, fd, sa, err, fell_over);
	uint32_t rate_delay = 0;
	if (plan.ratelimit && (err = fl_resil_rate(plan.ratelimit, c, &rate_delay)) != 0)
		return refuse(c, err); /* SPEC 11: after the bulkhead, before any fault */
	__atomic_store_n(&c->connecting, 1, __ATOMIC_RELEASE);
	if (!install(fd, c))
		return connect_untracked(c, fd, sa, len);
	fl_layers_connected(c, layer_gen);
	if (FL_UNLIKELY(rate_delay)) {
		fl_ready_connect_addr(sa, len);
		err = fl_delay_connect(c, fd, rate_delay);
		fl_ready_connect_addr(NULL, 0);
	}
	if (err == 0 && (c->match.ops & (1u << FL_OP_CONNECT))) {
		fl_ready_connect_addr(sa, len); /* a delay on a non-blocking socket defers the real call */
		err = fl_call_fault(c, FL_OP_CONNECT, fd, 0);
		fl_ready_connect_addr(NULL, 0);
	}
	if (err == FL_DEFERRED) {
		/* Pending (ready.c): the real connect is made at the deadline;
		 * till then the socket shows no readiness, like a SYN unanswered. */
		errno = EINPROGRESS;
		return -1;
	}
	if (err) {
		if (fl_fdtab_lookup(fd) == c) {
			fl_conn_settle(c, err);
			uninstall(fd, c);
		}
		errno = err;
		return -1;
	}
	int r = fl_real.connect(fd, sa, len);
	int saved = errno;
	if (fl_fdtab_lookup(fd) == c) {
		if (r == 0) {
			fl_conn_settle(c, 0);
		} else if (saved != EINPROGRESS && saved != EINTR) {
			fl_conn_settle(c, saved);
			uninstall(fd, c);
		}
	}
	errno = saved;
	return r;
}

/* connect() again on a socket whose non-blocking connect is under way:
 * no new attempt, just its outcome (EALREADY: still going; 0 or EISCONN:
 * connected). */
static int connect_again(struct fl_conn *c, int fd, const struct sockaddr *sa, socklen_t len)
{
	if (__atomic_load_n(&c->pending, __ATOMIC_ACQUIRE)) {
		int err;
		if (fl_ready_connect_state(c, fd, &err)) {
			errno = EALREADY; /* deferred: its deadline is ahead */
			return -1;
		}
		if (err) {
			errno = err;
			return -1;
		}
	}
	int r = fl_real.connect(fd, sa, len);
	int saved = errno;
	if (r == 0 || saved == EISCONN)
		fl_conn_settle(c, 0);
	else if (saved != EALREADY && saved != EINPROGRESS && saved != EINTR)
		fl_conn_settle(c, saved);
	errno = saved;
	return r;
}

/* Once per process: more fault statements match than a connection keeps. */
static void warn_truncated(const struct fl_dest *d)
{
	static int warned; /* atomic */
	if (__atomic_exchange_n(&warned, 1, __ATOMIC_ACQ_REL) || !fl_log_on(FL_LOG_ERROR))
		return;
	char storage[256], dest[FL_DEST_STR_MAX];
	struct fl_textbuf b;
	fl_dest_format(d, dest, sizeof(dest));
	fl_log_begin(&b, storage, sizeof(storage));
	fl_tb_puts(&b, "warning: more than ");
	fl_tb_putu(&b, FL_MATCH_MAX_FAULTS);
	fl_tb_puts(&b, " fault statements match ");
	fl_tb_puts(&b, dest);
	fl_tb_puts(&b, ": only the first ");
	fl_tb_putu(&b, FL_MATCH_MAX_FAULTS);
	fl_tb_puts(&b, " apply");
	fl_log_end(&b);
}

static bool same_dest(const struct fl_dest *a, const struct fl_dest *b)
{
	return a->family == b->family && a->port == b->port && memcmp(a->addr, b->addr, 16) == 0 &&
	       a->path_len == b->path_len && memcmp(a->path, b->path, a->path_len) == 0;
}

/* Is fd connected to a peer (a TCP connection up, a UDP socket connected)? */
static bool peer_connected(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int saved = errno;
	bool yes = syscall(SYS_getpeername, fd, &ss, &len) == 0;
	errno = saved;
	return yes;
}

static bool is_datagram(int fd)
{
	int type = 0;
	socklen_t len = sizeof(type);
	int saved = errno;
	bool yes = syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_DGRAM;
	errno = saved;
	return yes;
}

/*
 * connect() on a socket that already has a connection: the same socket to
 * the same destination is the same connection (one slot, one call), and a
 * stream socket cannot change destination (the kernel answers EISCONN or
 * EALREADY); both go to the kernel as they are. Returns false when this is
 * a new attempt: a datagram socket re-connected elsewhere (the old
 * connection is released when the new one takes fd's slot), or a socket
 * whose earlier attempt failed.
 */
static bool reconnect(struct fl_conn *prev, int fd, const struct fl_dest *d, const struct sockaddr *sa,
		      socklen_t len, int *r)
{
	bool same = same_dest(&prev->dest, d);
	if (__atomic_load_n(&prev->connecting, __ATOMIC_ACQUIRE)) {
		if (same)
			*r = connect_again(prev, fd, sa, len);
		else if (!is_datagram(fd))
			*r = fl_real.connect(fd, sa, len);
		else
			return false;
		return true;
	}
	if (!peer_connected(fd) || (!same && is_datagram(fd)))
		return false;
	*r = fl_real.connect(fd, sa, len);
	return true;
}

/*
 * Own statements, then the layers' (SPEC 7). A process joined to a domain
 * follows every connected socket, matched or not, so that a layer applied
 * later reaches connections made before it: true then, with *gen the
 * layer generation the match was made at.
 */
static bool match_dest(struct fl_dest *d, struct fl_match *m, uint32_t *gen)
{
	bool own = fl_state.active &&
		   (fl_match_indexed(&fl_state.match_index, &fl_state.rules, d, m) | fl_resolve_match(d, m));
	*gen = 0;
	if (!fl_layers_joined)
		return own;
	if (!own) {
		memset(m, 0, sizeof(*m));
		m->breaker = m->bulkhead = m->rate_limit = -1;
	}
	fl_match_drop_dead(m);
	bool named;
	*gen = fl_layers_match_named(d, m, &named);
	if (named && d->name == NULL)
		fl_resolve_name_of(d); /* a layer's name statement: the entry is NAME:PORT */
	return true;
}

FL_EXPORT int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	return connect_to(fd, sa, len, false);
}

/* fell_over: this is the fallback of a rejected connect (it fails over no further). */
static int connect_to(int fd, const struct sockaddr *sa, socklen_t len, bool fell_over)
{
	struct fl_dest d;
	struct fl_match m;
	uint32_t gen;
	if ((FL_LIKELY(!fl_state.active) && FL_LIKELY(!fl_layers_joined)) ||
	    !fl_dest_from_sockaddr(sa, len, &d) || !match_dest(&d, &m, &gen)) {
		if (FL_UNLIKELY(fl_fdtab_lookup(fd) != NULL)) {
			int saved = errno;
			fdtab_replace(fd, NULL);
			errno = saved;
		}
		return fl_real.connect(fd, sa, len);
	}
	struct fl_conn *prev = fl_fdtab_lookup(fd);
	int r;
	if (prev && reconnect(prev, fd, &d, sa, len, &r))
		return r;
	if (!fl_layers_joined)
		fl_match_drop_dead(&m); /* joined: match_dest did, before the layers' */
	if (FL_UNLIKELY(m.truncated))
		warn_truncated(&d);
	return connect_watched(fd, sa, len, &d, &m, gen, fell_over);
}
