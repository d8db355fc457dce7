/*
 * dup.c - new descriptors for watched connections: dup, dup2, dup3 and
 * fcntl(F_DUPFD, F_DUPFD_CLOEXEC).
 *
 * A duplicate shares its connection object (one more reference), so the
 * connection lives until the last descriptor that refers to it is closed.
 * dup2/dup3 onto a watched descriptor closes that one implicitly.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>

#include "conn.h"
#include "fdtab.h"
#include "real.h"
#include "shim.h"

/* After a successful dup of `from` to `to`: `to` now refers to what `from`
 * does (or to nothing we watch). */
static void copy_slot(int from, int to)
{
	if (fl_foreign_child())
		return; /* a vfork child's dup2 onto 0, 1, 2 is not the parent's */
	int saved = errno;
	struct fl_conn *c = fl_fdtab_lookup(from);
	if (c)
		fl_conn_ref(c);
	struct fl_conn *old = fl_fdtab_exchange(to, c);
	if (old == FL_FDTAB_FAILED)
		fl_conn_unref(c);
	else if (old)
		fl_conn_unref(old);
	errno = saved;
}

FL_EXPORT int dup(int fd)
{
	int r = fl_real.dup(fd);
	if (FL_UNLIKELY(r >= 0) && (fl_fdtab_lookup(fd) || fl_fdtab_lookup(r)))
		copy_slot(fd, r);
	return r;
}

FL_EXPORT int dup2(int from, int to)
{
	int r = fl_real.dup2(from, to);
	if (r >= 0 && from != to && (fl_fdtab_lookup(from) || fl_fdtab_lookup(to)))
		copy_slot(from, to);
	return r;
}

FL_EXPORT int dup3(int from, int to, int flags)
{
	int r = fl_real.dup3(from, to, flags);
	if (r >= 0 && (fl_fdtab_lookup(from) || fl_fdtab_lookup(to)))
		copy_slot(from, to);
	return r;
}

static int fcntl_common(int (*real)(int, int, ...), int fd, int cmd, void *arg)
{
	int r = real(fd, cmd, arg);
	if ((cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && r >= 0 &&
	    (fl_fdtab_lookup(fd) || fl_fdtab_lookup(r)))
		copy_slot(fd, r);
	return r;
}

/* Every fcntl argument (int, long or pointer) is passed in one word. */
FL_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(fl_real.fcntl, fd, cmd, arg);
}

FL_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(fl_real.fcntl64, fd, cmd, arg);
}
