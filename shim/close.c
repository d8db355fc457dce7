/*
 * close.c - forgetting descriptors: close, close_range, fclose.
 *
 * The slot is emptied before the real close: once the kernel frees the
 * number, another thread may get it from socket() and connect it, and
 * clearing afterwards would wipe that new entry. A vfork child closing its
 * copies (posix_spawn, subprocess) leaves our table alone: it is the
 * parent's memory.
 */
#include <errno.h>
#include <linux/close_range.h>
#include <stdio.h>

#include "conn.h"
#include "fdtab.h"
#include "real.h"
#include "shim.h"

static __attribute__((noinline)) void forget(int fd)
{
	if (fl_foreign_child())
		return;
	struct fl_conn *c = fl_fdtab_exchange(fd, NULL);
	if (c)
		fl_conn_unref(c);
}

static __attribute__((noinline)) int close_watched(int fd)
{
	if (fl_fdtab_lookup(fd) != NULL)
		forget(fd);
	return fl_real.close(fd);
}

FL_EXPORT int close(int fd)
{
	if (fl_fd_unwatched(fd))
		return fl_real.close(fd);
	return close_watched(fd);
}

FL_EXPORT int close_range(unsigned int lo, unsigned int hi, int flags)
{
	int r = fl_real.close_range(lo, hi, flags);
	if (r == 0 && !(flags & CLOSE_RANGE_CLOEXEC) && !fl_foreign_child()) {
		int saved = errno;
		fl_fdtab_clear_range(lo, hi);
		errno = saved;
	}
	return r;
}

FL_EXPORT int fclose(FILE *f)
{
	/* fclose closes through libc's internal close, which we cannot see. */
	if (f) {
		int fd = fileno(f);
		if (FL_UNLIKELY(fl_fdtab_lookup(fd) != NULL))
			forget(fd);
	}
	return fl_real.fclose(f);
}
