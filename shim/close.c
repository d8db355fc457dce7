/*
 * close.c - forgetting descriptors: close, close_range, fclose.
 *
 * The slot is emptied before the real close: once the kernel frees the
 * number, another thread may get it from socket() and connect it, and
 * clearing afterwards would wipe that new entry. The same holds for
 * close_range and closefrom (glibc's closefrom calls its internal
 * close_range, which we cannot see, so it is wrapped itself); a lingering
 * socket (SO_LINGER) keeps the real call busy for seconds after its number
 * is free, so the window is not small. A vfork child closing its
 * copies (posix_spawn, subprocess) leaves our table alone: it is the
 * parent's memory.
 */
#include <errno.h>
#include <linux/close_range.h>
#include <stdio.h>

#include "conn.h"
#include "connfault.h"
#include "layers.h"
#include "fdtab.h"
#include "ready.h"
#include "real.h"
#include "shim.h"

static __attribute__((noinline)) void forget(int fd)
{
	if (fl_foreign_child())
		return;
	struct fl_conn *c = fl_fdtab_exchange(fd, NULL);
	if (c) {
		fl_ready_epoll_forget(fd); /* the kernel drops its epoll registrations */
		fl_conn_unref(c);
	}
}

static __attribute__((noinline)) int close_watched(int fd)
{
	struct fl_conn *c = fl_fdtab_lookup(fd);
	/* Layers changed since its last call: a slow close of a layer applies. */
	if (c != NULL && __atomic_load_n(fl_layer_gen, __ATOMIC_RELAXED) != c->layer_gen)
		fl_layers_refresh(c);
	if (c != NULL && (__atomic_load_n(&c->cx_ops, __ATOMIC_RELAXED) & FL_OPS_CLOSE))
		fl_cx_close(c, fd); /* on=close delay_ms: a slow close */
	if (c != NULL)
		forget(fd);
	return fl_real.close(fd);
}

FL_EXPORT int close(int fd)
{
	if (fl_fd_unwatched(fd))
		return fl_real.close(fd);
	return close_watched(fd);
}

/* Empties [lo, hi] before the descriptors are closed. Nothing to do with
 * CLOSE_RANGE_CLOEXEC: those close at exec (exec.c), and stay open until. */
static void forget_range(unsigned int lo, unsigned int hi)
{
	if (fl_foreign_child())
		return;
	int saved = errno;
	fl_fdtab_clear_range(lo, hi);
	errno = saved;
}

FL_EXPORT int close_range(unsigned int lo, unsigned int hi, int flags)
{
	if (lo <= hi && !(flags & CLOSE_RANGE_CLOEXEC))
		forget_range(lo, hi);
	return fl_real.close_range(lo, hi, flags);
}

FL_EXPORT void closefrom(int lo)
{
	if (lo >= 0)
		forget_range((unsigned int)lo, ~0u);
	fl_real.closefrom(lo);
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
