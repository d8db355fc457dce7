/*
 * readwrite.c - read, readv, __read_chk, write, writev.
 *
 * These are the calls every program makes on files, pipes and terminals
 * too, so their pass-through path is the one that matters most: the
 * exported function only tests the descriptor and tail-jumps to the real
 * function; a watched descriptor goes to the *_watched companion.
 *
 * Three steps, each paying only for what it needs (docs/performance.md):
 * the exported function (the descriptor test; a socket followed only for
 * layers passes on one compare of the layer counter), *_watched with the
 * connection the wrapper already loaded (fl_io_quick: nothing pending, no
 * layer change, no fault for the op: count, real call, fl_io_after, with
 * the arguments left in their registers), and *_slow (everything else:
 * pending deadlines, a layer change, faults, connection faults, a
 * descriptor beyond the low table, which it looks up itself). read and
 * write have a fourth, *_shaped, for a shaped op with nothing to decide
 * and its budget at hand (inject.h fl_io_shaped, connfault.h
 * fl_cx_budget): the budget, the real call and the debit in one frame.
 */
#include "connfault.h"
#include "fdtab.h"
#include "inject.h"
#include "real.h"
#include "fortify.h"
#include "shim.h"

static __attribute__((noinline)) ssize_t write_slow(int fd, const void *buf, size_t n, struct fl_conn *c)
{
	if (!c)
		c = fl_fdtab_lookup(fd);
	int b;
	if (c && (b = fl_io_before(c, FL_OP_WRITE, fd, 0)) != 0)
		return b < 0 ? fl_io_refused(fd)
			     : fl_cx_after(c, fl_real.write(fd, buf, fl_cx_len(n)), (void *)buf, n);
	ssize_t r = fl_real.write(fd, buf, n);
	return c ? fl_io_after(c, r) : r;
}

static __attribute__((noinline)) ssize_t write_shaped(int fd, const void *buf, size_t n, struct fl_conn *c)
{
	uint64_t now, have;
	if (!fl_io_shaped(c, FL_OP_WRITE) || (have = fl_cx_budget(c, &now)) == 0)
		return write_slow(fd, buf, n, c);
	fl_io_count(c, FL_OP_WRITE);
	return fl_cx_shaped(c, fl_real.write(fd, buf, n < have ? n : have), FL_OP_WRITE, now);
}

static __attribute__((noinline)) ssize_t write_watched(int fd, const void *buf, size_t n, struct fl_conn *c)
{
	if (FL_LIKELY(fl_io_quick(c, FL_OP_WRITE)))
		return fl_io_after(c, fl_real.write(fd, buf, n));
	if (fl_io_shaped_op(c, FL_OP_WRITE))
		return write_shaped(fd, buf, n, c);
	return write_slow(fd, buf, n, c);
}

FL_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	struct fl_conn *c;
	if (fl_fd_io_passes(fd, &c))
		return fl_real.write(fd, buf, n);
	return c ? write_watched(fd, buf, n, c) : write_slow(fd, buf, n, NULL);
}

static __attribute__((noinline)) ssize_t writev_slow(int fd, const struct iovec *iov, int n,
						     struct fl_conn *c)
{
	if (!c)
		c = fl_fdtab_lookup(fd);
	int b;
	if (c && (b = fl_io_before(c, FL_OP_WRITE, fd, 0)) != 0)
		return b < 0 ? fl_io_refused(fd) : fl_cx_vec(c, fd, iov, n, FL_CX_WRITEV);
	ssize_t r = fl_real.writev(fd, iov, n);
	return c ? fl_io_after(c, r) : r;
}

static __attribute__((noinline)) ssize_t writev_watched(int fd, const struct iovec *iov, int n,
							struct fl_conn *c)
{
	if (FL_LIKELY(fl_io_quick(c, FL_OP_WRITE)))
		return fl_io_after(c, fl_real.writev(fd, iov, n));
	return writev_slow(fd, iov, n, c);
}

FL_EXPORT ssize_t writev(int fd, const struct iovec *iov, int n)
{
	struct fl_conn *c;
	if (fl_fd_io_passes(fd, &c))
		return fl_real.writev(fd, iov, n);
	return c ? writev_watched(fd, iov, n, c) : writev_slow(fd, iov, n, NULL);
}

static __attribute__((noinline)) ssize_t read_slow(int fd, void *buf, size_t n, struct fl_conn *c)
{
	if (!c)
		c = fl_fdtab_lookup(fd);
	int b;
	if (c && (b = fl_io_before(c, FL_OP_READ, fd, 0)) != 0)
		return b < 0 ? fl_io_refused(fd)
			     : fl_cx_after(c, fl_real.read(fd, buf, fl_cx_len(n)), buf, n);
	ssize_t r = fl_real.read(fd, buf, n);
	return c ? fl_io_after(c, r) : r;
}

static __attribute__((noinline)) ssize_t read_shaped(int fd, void *buf, size_t n, struct fl_conn *c)
{
	uint64_t now, have;
	if (!fl_io_shaped(c, FL_OP_READ) || (have = fl_cx_budget(c, &now)) == 0)
		return read_slow(fd, buf, n, c);
	fl_io_count(c, FL_OP_READ);
	return fl_cx_shaped(c, fl_real.read(fd, buf, n < have ? n : have), FL_OP_READ, now);
}

static __attribute__((noinline)) ssize_t read_watched(int fd, void *buf, size_t n, struct fl_conn *c)
{
	if (FL_LIKELY(fl_io_quick(c, FL_OP_READ)))
		return fl_io_after(c, fl_real.read(fd, buf, n));
	if (fl_io_shaped_op(c, FL_OP_READ))
		return read_shaped(fd, buf, n, c);
	return read_slow(fd, buf, n, c);
}

FL_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	struct fl_conn *c;
	if (fl_fd_io_passes(fd, &c))
		return fl_real.read(fd, buf, n);
	return c ? read_watched(fd, buf, n, c) : read_slow(fd, buf, n, NULL);
}

static __attribute__((noinline)) ssize_t readv_slow(int fd, const struct iovec *iov, int n, struct fl_conn *c)
{
	if (!c)
		c = fl_fdtab_lookup(fd);
	int b;
	if (c && (b = fl_io_before(c, FL_OP_READ, fd, 0)) != 0)
		return b < 0 ? fl_io_refused(fd) : fl_cx_vec(c, fd, iov, n, FL_CX_READV);
	ssize_t r = fl_real.readv(fd, iov, n);
	return c ? fl_io_after(c, r) : r;
}

static __attribute__((noinline)) ssize_t readv_watched(int fd, const struct iovec *iov, int n,
						       struct fl_conn *c)
{
	if (FL_LIKELY(fl_io_quick(c, FL_OP_READ)))
		return fl_io_after(c, fl_real.readv(fd, iov, n));
	return readv_slow(fd, iov, n, c);
}

FL_EXPORT ssize_t readv(int fd, const struct iovec *iov, int n)
{
	struct fl_conn *c;
	if (fl_fd_io_passes(fd, &c))
		return fl_real.readv(fd, iov, n);
	return c ? readv_watched(fd, iov, n, c) : readv_slow(fd, iov, n, NULL);
}

static __attribute__((noinline)) ssize_t read_chk_slow(int fd, void *buf, size_t n, size_t buflen,
						       struct fl_conn *c)
{
	if (!c)
		c = fl_fdtab_lookup(fd);
	int b;
	if (c && (b = fl_io_before(c, FL_OP_READ, fd, 0)) != 0)
		return b < 0	    ? fl_io_refused(fd)
		       : n > buflen ? fl_real.read_chk(fd, buf, n, buflen)
				    : fl_cx_after(c, fl_real.read(fd, buf, fl_cx_len(n)), buf, n);
	ssize_t r = fl_real.read_chk(fd, buf, n, buflen);
	return c ? fl_io_after(c, r) : r;
}

static __attribute__((noinline)) ssize_t read_chk_watched(int fd, void *buf, size_t n, size_t buflen,
							  struct fl_conn *c)
{
	if (FL_LIKELY(fl_io_quick(c, FL_OP_READ)))
		return fl_io_after(c, fl_real.read_chk(fd, buf, n, buflen));
	return read_chk_slow(fd, buf, n, buflen, c);
}

FL_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	struct fl_conn *c;
	if (fl_fd_io_passes(fd, &c))
		return fl_real.read_chk(fd, buf, n, buflen);
	return c ? read_chk_watched(fd, buf, n, buflen, c) : read_chk_slow(fd, buf, n, buflen, NULL);
}
