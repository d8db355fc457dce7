/*
 * epoll.c - epoll_ctl, epoll_wait, epoll_pwait, epoll_pwait2: readiness
 * with injected deadlines (SPEC 12, ready.h).
 *
 * The kernel hands epoll_wait the program's data, not the descriptor, so
 * events cannot be filtered after the wait. Instead the shim keeps the
 * kernel from reporting what is not due: it remembers, per descriptor,
 * the registration the program made last (epoll set, events, data - a
 * table indexed by descriptor, filled by epoll_ctl for every descriptor,
 * since event loops such as nginx's register a socket before they connect
 * it), and while a direction of a connection is pending it changes that
 * registration in the kernel: EPOLL_CTL_MOD without the pending events,
 * or EPOLL_CTL_DEL while the connect itself is deferred (an unconnected
 * socket reports EPOLLHUP whatever it asks for). At the deadline the
 * registration is put back (MOD, or ADD) with the program's events and
 * data - which re-arms it, so an edge-triggered or one-shot registration
 * reports the readiness it finds then exactly once, as after a real
 * readiness change. Every event the program receives was produced by the
 * kernel from its own registration: its data is always its own.
 *
 * epoll_wait with nothing pending (fl_ready_count == 0) is a load, a test
 * and a tail call. With deadlines pending it waits at most until the
 * earliest one, acts on it, and waits again until the program's timeout.
 *
 * The table keeps one registration per descriptor (the last epoll set it
 * was added to): a socket registered in two epoll sets at once is hidden
 * only in the last (docs/limits.md). Entries of closed descriptors may be
 * stale; a stale one is found out when the kernel refuses the change
 * (ENOENT, EBADF) and is then dropped, and close() of a watched socket
 * forgets its entry.
 */
#include <errno.h>
#include <sys/epoll.h>
#include <sys/mman.h>

#include "domain.h"
#include "layers.h"
#include "ready.h"
#include "real.h"
#include "shim.h"

#define PAGE_BITS  10u
#define PAGE	   (1u << PAGE_BITS)
#define PAGES	   1024u /* descriptors below 1 Mi; higher ones are not tracked */
#define ALL_HIDDEN (~0u)

struct reg {
	int32_t epfd1;	 /* epoll set + 1; 0 = none */
	uint32_t events; /* the program's */
	uint64_t data;	 /* the program's */
	uint32_t hidden; /* what the kernel's copy leaves out (ALL_HIDDEN: not there) */
	uint32_t pad;
};

static struct reg *pages[PAGES];

/* fd's entry, mapping its page (once per 1,024 descriptors) if asked to. */
static struct reg *reg_of(int fd, bool create)
{
	if (fd < 0 || (unsigned)fd >= PAGES * PAGE)
		return NULL;
	struct reg **pp = &pages[(unsigned)fd >> PAGE_BITS];
	struct reg *page = __atomic_load_n(pp, __ATOMIC_ACQUIRE);
	if (!page) {
		if (!create)
			return NULL;
		void *m = mmap(NULL, PAGE * sizeof(struct reg), PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return NULL;
		struct reg *none = NULL;
		if (__atomic_compare_exchange_n(pp, &none, (struct reg *)m, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			page = m;
		else {
			munmap(m, PAGE * sizeof(struct reg));
			page = none;
		}
	}
	return &page[(unsigned)fd & (PAGE - 1)];
}

void fl_ready_epoll_forget(int fd)
{
	struct reg *r = reg_of(fd, false);
	if (r)
		__atomic_store_n(&r->epfd1, 0, __ATOMIC_RELEASE);
}

/* Brings the kernel's copy of fd's registration to the program's events
 * minus hidden. */
void fl_ready_epoll_sync(int fd, uint32_t hidden)
{
	struct reg *r = reg_of(fd, false);
	if (!r || !__atomic_load_n(&r->epfd1, __ATOMIC_ACQUIRE) || r->hidden == hidden)
		return;
	int saved = errno, epfd = r->epfd1 - 1, res;
	if (hidden == ALL_HIDDEN) {
		res = fl_real.epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
	} else {
		struct epoll_event ev = {.events = r->events & ~hidden, .data.u64 = r->data};
		res =
		    fl_real.epoll_ctl(epfd, r->hidden == ALL_HIDDEN ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev);
	}
	if (res < 0)
		__atomic_store_n(&r->epfd1, 0, __ATOMIC_RELEASE); /* stale: the kernel has none */
	else
		r->hidden = hidden;
	errno = saved;
}

static void remember(struct reg *r, int epfd, const struct epoll_event *ev, uint32_t hidden)
{
	r->events = ev->events;
	r->data = ev->data.u64;
	r->hidden = hidden;
	__atomic_store_n(&r->epfd1, epfd + 1, __ATOMIC_RELEASE);
}

/* A registration of a descriptor whose connection has a pending direction. */
static int ctl_hidden(int epfd, int op, int fd, struct epoll_event *ev, struct reg *r, uint32_t hidden)
{
	bool held_out = __atomic_load_n(&r->epfd1, __ATOMIC_ACQUIRE) == epfd + 1 && r->hidden == ALL_HIDDEN;
	if (held_out && op == EPOLL_CTL_ADD) {
		errno = EEXIST;
		return -1;
	}
	if (hidden == ALL_HIDDEN) {
		if (op == EPOLL_CTL_MOD && !held_out && fl_real.epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL) < 0)
			return -1; /* ENOENT: never registered, as MOD would say */
		remember(r, epfd, ev, ALL_HIDDEN);
		return 0;
	}
	struct epoll_event k = *ev;
	k.events &= ~hidden;
	int res = fl_real.epoll_ctl(epfd, held_out ? EPOLL_CTL_ADD : op, fd, &k);
	if (res == 0)
		remember(r, epfd, ev, hidden);
	return res;
}

static __attribute__((noinline)) int ctl_tracked(int epfd, int op, int fd, struct epoll_event *ev)
{
	if (op == EPOLL_CTL_DEL) {
		struct reg *r = reg_of(fd, false);
		if (r && __atomic_load_n(&r->epfd1, __ATOMIC_ACQUIRE) == epfd + 1) {
			bool out = r->hidden == ALL_HIDDEN;
			__atomic_store_n(&r->epfd1, 0, __ATOMIC_RELEASE);
			if (out)
				return 0; /* the shim holds it out of the kernel */
		}
		return fl_real.epoll_ctl(epfd, op, fd, ev);
	}
	struct reg *r = (op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD) && ev ? reg_of(fd, true) : NULL;
	if (!r)
		return fl_real.epoll_ctl(epfd, op, fd, ev);
	uint32_t hidden = __atomic_load_n(&fl_ready_count, __ATOMIC_ACQUIRE) ? fl_ready_hidden(fd) : 0;
	if (hidden || (r->epfd1 == epfd + 1 && r->hidden == ALL_HIDDEN))
		return ctl_hidden(epfd, op, fd, ev, r, hidden);
	int res = fl_real.epoll_ctl(epfd, op, fd, ev);
	if (res == 0)
		remember(r, epfd, ev, 0);
	return res;
}

FL_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	if (FL_LIKELY(!fl_state.active) && FL_LIKELY(!fl_layers_joined))
		return fl_real.epoll_ctl(epfd, op, fd, ev);
	return ctl_tracked(epfd, op, fd, ev);
}

/* One wait of the loop: t ms (-1: for ever). */
static int wait_round(int epfd, struct epoll_event *ev, int max, int64_t t, const sigset_t *mask, int how)
{
	if (how == 2) {
		struct timespec ts = {(time_t)(t / 1000), (long)(t % 1000) * 1000000L};
		return fl_real.epoll_pwait2(epfd, ev, max, t < 0 ? NULL : &ts, mask);
	}
	if (how == 1)
		return fl_real.epoll_pwait(epfd, ev, max, (int)t, mask);
	return fl_real.epoll_wait(epfd, ev, max, (int)t);
}

/* how: 0 epoll_wait, 1 epoll_pwait, 2 epoll_pwait2. */
static __attribute__((noinline)) int wait_pending(int epfd, struct epoll_event *ev, int max,
						  int64_t timeout_ms, const sigset_t *mask, int how)
{
	uint64_t end = fl_ready_end(timeout_ms);
	for (;;) {
		int64_t next = fl_ready_sweep();
		int64_t left = fl_ready_left_ms(end);
		int64_t t = fl_ready_this_wait(left, next);
		int r = wait_round(epfd, ev, max, t, mask, how);
		if (r != 0 || t == left)
			return r;
	}
}

FL_EXPORT int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
	if (FL_LIKELY(__atomic_load_n(&fl_ready_count, __ATOMIC_RELAXED) == 0))
		return fl_real.epoll_wait(epfd, ev, max, timeout);
	return wait_pending(epfd, ev, max, timeout < 0 ? -1 : timeout, NULL, 0);
}

FL_EXPORT int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout, const sigset_t *mask)
{
	if (FL_LIKELY(__atomic_load_n(&fl_ready_count, __ATOMIC_RELAXED) == 0))
		return fl_real.epoll_pwait(epfd, ev, max, timeout, mask);
	return wait_pending(epfd, ev, max, timeout < 0 ? -1 : timeout, mask, 1);
}

FL_EXPORT int epoll_pwait2(int epfd, struct epoll_event *ev, int max, const struct timespec *ts,
			   const sigset_t *mask)
{
	if (FL_LIKELY(__atomic_load_n(&fl_ready_count, __ATOMIC_RELAXED) == 0))
		return fl_real.epoll_pwait2(epfd, ev, max, ts, mask);
	int64_t ms = -1;
	if (ts)
		ms = ts->tv_sec < 0 ? 0 : (int64_t)ts->tv_sec * 1000 + (ts->tv_nsec + 999999) / 1000000;
	return wait_pending(epfd, ev, max, ms, mask, 2);
}
