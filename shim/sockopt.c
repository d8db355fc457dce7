/*
 * sockopt.c - getsockopt(SO_ERROR): how a non-blocking connect ended.
 *
 * A program that connects without blocking learns the outcome later, from
 * SO_ERROR after poll says the socket is writable. That is the moment the
 * connection attempt is decided, and the breaker hears of it.
 */
#include <errno.h>

#include "conn.h"
#include "fdtab.h"
#include "inject.h"
#include "ready.h"
#include "real.h"
#include "shim.h"

/* SO_ERROR of a connection whose connect was deferred (ready.h): 0 while
 * its deadline is ahead (the kernel's answer for a connect in progress),
 * then, once, the error it ended with. Returns false to ask the kernel. */
static __attribute__((noinline)) bool deferred_so_error(struct fl_conn *c, int fd, void *val, socklen_t *len)
{
	int err, saved = errno;
	int still = fl_ready_connect_state(c, fd, &err);
	errno = saved;
	if (!still && !err)
		return false;
	*(int *)val = err;
	*len = sizeof(int);
	return true;
}

FL_EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	if (FL_UNLIKELY(level == SOL_SOCKET && name == SO_ERROR) && val && len && *len >= sizeof(int)) {
		struct fl_conn *c = fl_fdtab_lookup(fd);
		if (c && __atomic_load_n(&c->pending, __ATOMIC_ACQUIRE) && deferred_so_error(c, fd, val, len))
			return 0;
	}
	int r = fl_real.getsockopt(fd, level, name, val, len);
	if (FL_UNLIKELY(level == SOL_SOCKET && name == SO_ERROR && r == 0) && val && len &&
	    *len >= sizeof(int)) {
		struct fl_conn *c = fl_fdtab_lookup(fd);
		int err = *(const int *)val;
		if (c && err != EINPROGRESS && err != EALREADY) {
			int saved = errno;
			fl_conn_settle(c, err);
			errno = saved;
		}
	}
	return r;
}
