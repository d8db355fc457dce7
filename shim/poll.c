/*
 * poll.c - poll, ppoll, select, pselect (and the fortified __poll_chk,
 * __ppoll_chk): readiness with injected deadlines (SPEC 12, ready.h).
 *
 * With nothing pending anywhere in the process (fl_ready_count == 0, the
 * case of every program without a delayed non-blocking socket) each
 * wrapper is a load, a test and a tail call to the real function.
 *
 * Otherwise the call becomes a loop: act on the deadlines that passed,
 * take the directions still pending out of the program's set for the
 * kernel's wait (poll: the events masked, or the descriptor negated so the
 * kernel skips it - an unconnected socket reports POLLHUP whatever it asks
 * for; select: the bits cleared in a copy), wait at most until the
 * earliest deadline, put the program's set back, and wait again when the
 * wait was cut short by a deadline and found nothing. The program sees
 * its own timeout, its own set, and readiness only where it is real.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>

#include "domain.h"
#include "ready.h"
#include "real.h"
#include "fortify.h"
#include "shim.h"

#define HIDE_MAX 64 /* descriptors of one poll set hidden per wait; more are filtered after */

static int64_t ms_of_timespec(const struct timespec *ts)
{
	if (!ts)
		return -1;
	if (ts->tv_sec < 0)
		return 0;
	return (int64_t)ts->tv_sec * 1000 + (ts->tv_nsec + 999999) / 1000000;
}

static struct timespec timespec_of_ms(int64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	return ts;
}

struct hidden_fd {
	nfds_t i;
	short events;
	uint32_t hide;
	bool off; /* negated for the wait */
};

/* One real wait with the pending directions taken out, then put back. */
static int poll_round(struct pollfd *fds, nfds_t n, int64_t t, const sigset_t *mask, bool use_ppoll)
{
	struct hidden_fd h[HIDE_MAX];
	unsigned nh = 0;
	bool more = false;
	for (nfds_t i = 0; i < n; i++) {
		uint32_t hide = fds[i].fd >= 0 ? fl_ready_hidden(fds[i].fd) : 0;
		if (!hide)
			continue;
		if (nh == HIDE_MAX) {
			more = true;
			continue;
		}
		h[nh] = (struct hidden_fd){i, fds[i].events, hide, false};
		fds[i].events = (short)(fds[i].events & ~hide);
		if (hide == ~0u || !(fds[i].events & (POLLIN | POLLOUT | POLLPRI | POLLRDHUP))) {
			fds[i].fd = ~fds[i].fd;
			h[nh].off = true;
		}
		nh++;
	}
	int r;
	if (use_ppoll) {
		struct timespec ts = timespec_of_ms(t);
		r = fl_real.ppoll(fds, n, t < 0 ? NULL : &ts, mask);
	} else {
		r = fl_real.poll(fds, n, (int)t);
	}
	int saved = errno;
	for (unsigned k = 0; k < nh; k++) {
		struct pollfd *p = &fds[h[k].i];
		if (h[k].off)
			p->fd = ~p->fd;
		p->events = h[k].events;
		p->revents = (short)(p->revents & ~h[k].hide);
	}
	if (r > 0 && (nh || more)) {
		r = 0;
		for (nfds_t i = 0; i < n; i++) {
			if (more && fds[i].revents && fds[i].fd >= 0)
				fds[i].revents = (short)(fds[i].revents & ~fl_ready_hidden(fds[i].fd));
			r += fds[i].revents != 0;
		}
	}
	errno = saved;
	return r;
}

static __attribute__((noinline)) int poll_pending(struct pollfd *fds, nfds_t n, int64_t timeout_ms,
						  const sigset_t *mask, bool use_ppoll)
{
	uint64_t end = fl_ready_end(timeout_ms);
	for (;;) {
		int64_t next = fl_ready_sweep();
		int64_t left = fl_ready_left_ms(end);
		int64_t t = fl_ready_this_wait(left, next);
		int r = poll_round(fds, n, t, mask, use_ppoll);
		if (r != 0 || t == left)
			return r;
	}
}

FL_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	if (FL_LIKELY(__atomic_load_n(&fl_ready_count, __ATOMIC_RELAXED) == 0))
		return fl_real.poll(fds, n, timeout);
	return poll_pending(fds, n, timeout < 0 ? -1 : timeout, NULL, false);
}

FL_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask)
{
	if (FL_LIKELY(__atomic_load_n(&fl_ready_count, __ATOMIC_RELAXED) == 0))
		return fl_real.ppoll(fds, n, ts, mask);
	return poll_pending(fds, n, ms_of_timespec(ts), mask, true);
}

/* The fortified variants check the array's size, as glibc's do. */
FL_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		abort();
	return poll(fds, n, timeout);
}

FL_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask,
			  size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		abort();
	return ppoll(fds, n, ts, mask);
}

struct fd_sets {
	fd_set *r, *w, *e;
};

/* The program's sets back from the copies, minus the pending directions. */
static void select_hide(int n, struct fd_sets *s, const struct fd_sets *orig)
{
	if (s->r)
		*s->r = *orig->r;
	if (s->w)
		*s->w = *orig->w;
	if (s->e)
		*s->e = *orig->e;
	for (int fd = 0; fd < n; fd++) {
		bool in_r = s->r && FD_ISSET(fd, s->r), in_w = s->w && FD_ISSET(fd, s->w);
		bool in_e = s->e && FD_ISSET(fd, s->e);
		if (!in_r && !in_w && !in_e)
			continue;
		uint32_t hide = fl_ready_hidden(fd);
		if (in_r && (hide & POLLIN))
			FD_CLR(fd, s->r);
		if (in_w && (hide & POLLOUT))
			FD_CLR(fd, s->w);
		if (in_e && hide == ~0u)
			FD_CLR(fd, s->e);
	}
}

static __attribute__((noinline)) int select_pending(int n, struct fd_sets *s, int64_t timeout_ms,
						    const sigset_t *mask, bool use_pselect)
{
	fd_set r0, w0, e0;
	struct fd_sets orig = {s->r ? &r0 : NULL, s->w ? &w0 : NULL, s->e ? &e0 : NULL};
	if (s->r)
		r0 = *s->r;
	if (s->w)
		w0 = *s->w;
	if (s->e)
		e0 = *s->e;
	uint64_t end = fl_ready_end(timeout_ms);
	for (;;) {
		int64_t next = fl_ready_sweep();
		int64_t left = fl_ready_left_ms(end);
		int64_t t = fl_ready_this_wait(left, next);
		select_hide(n, s, &orig);
		int r;
		if (use_pselect) {
			struct timespec ts = timespec_of_ms(t);
			r = fl_real.pselect(n, s->r, s->w, s->e, t < 0 ? NULL : &ts, mask);
		} else {
			struct timeval tv = {(time_t)(t / 1000), (suseconds_t)(t % 1000) * 1000};
			r = fl_real.select(n, s->r, s->w, s->e, t < 0 ? NULL : &tv);
		}
		if (r != 0 || t == left)
			return r;
	}
}

FL_EXPORT int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	if (FL_LIKELY(__atomic_load_n(&fl_ready_count, __ATOMIC_RELAXED) == 0) || n < 0 || n > FD_SETSIZE)
		return fl_real.select(n, r, w, e, tv);
	int64_t ms = -1;
	if (tv)
		ms = tv->tv_sec < 0 ? 0 : (int64_t)tv->tv_sec * 1000 + (tv->tv_usec + 999) / 1000;
	struct fd_sets s = {r, w, e};
	uint64_t end = fl_ready_end(ms);
	int res = select_pending(n, &s, ms, NULL, false);
	if (tv) { /* Linux tells the time left */
		int64_t left = fl_ready_left_ms(end);
		tv->tv_sec = (time_t)(left / 1000);
		tv->tv_usec = (suseconds_t)(left % 1000) * 1000;
	}
	return res;
}

FL_EXPORT int pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *ts, const sigset_t *mask)
{
	if (FL_LIKELY(__atomic_load_n(&fl_ready_count, __ATOMIC_RELAXED) == 0) || n < 0 || n > FD_SETSIZE)
		return fl_real.pselect(n, r, w, e, ts, mask);
	struct fd_sets s = {r, w, e};
	return select_pending(n, &s, ms_of_timespec(ts), mask, true);
}
