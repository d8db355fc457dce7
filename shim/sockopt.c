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
#include "real.h"
#include "shim.h"

FL_EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
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
