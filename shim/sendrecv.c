/*
 * sendrecv.c - the send and recv families, and the fortified recv variants.
 *
 * sendto on an unconnected socket names its destination per call; the
 * descriptor table only knows connected sockets, so such datagrams pass
 * through (SPEC: only sockets connected to a matched destination are
 * watched).
 *
 * Each call is split as in readwrite.c: exported test, *_watched (the
 * inline fl_io_quick case), *_slow (fl_io_before and connection faults);
 * send, sendto, recv and recvfrom also *_shaped (readwrite.c says why).
 */
#include "connfault.h"
#include "fdtab.h"
#include "inject.h"
#include "real.h"
#include "fortify.h"
#include "shim.h"

static __attribute__((noinline)) ssize_t send_slow(int fd, const void *buf, size_t n, int flags,
						   struct fl_conn *c)
{
	if (!c)
		c = fl_fdtab_lookup(fd);
	int b;
	if (c && (b = fl_io_before(c, FL_OP_SEND, fd, flags)) != 0)
		return b < 0 ? fl_io_refused(fd)
			     : fl_cx_after(c, fl_real.send(fd, buf, fl_cx_len(n), flags), (void *)buf, n);
	ssize_t r = fl_real.send(fd, buf, n, flags);
	return c ? fl_io_after(c, r) : r;
}

static __attribute__((noinline)) ssize_t send_shaped(int fd, const void *buf, size_t n, int flags,
						     struct fl_conn *c)
{
	uint64_t now, have;
	if (!fl_io_shaped(c, FL_OP_SEND) || (have = fl_cx_budget(c, &now)) == 0)
		return send_slow(fd, buf, n, flags, c);
	fl_io_count(c, FL_OP_SEND);
	return fl_cx_shaped(c, fl_real.send(fd, buf, n < have ? n : have, flags), FL_OP_SEND, now);
}

static __attribute__((noinline)) ssize_t send_watched(int fd, const void *buf, size_t n, int flags,
						      struct fl_conn *c)
{
	if (FL_LIKELY(fl_io_quick(c, FL_OP_SEND)))
		return fl_io_after(c, fl_real.send(fd, buf, n, flags));
	if (fl_io_shaped_op(c, FL_OP_SEND))
		return send_shaped(fd, buf, n, flags, c);
	return send_slow(fd, buf, n, flags, c);
}

FL_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	struct fl_conn *c;
	if (fl_fd_io_passes(fd, &c))
		return fl_real.send(fd, buf, n, flags);
	return c ? send_watched(fd, buf, n, flags, c) : send_slow(fd, buf, n, flags, NULL);
}

static __attribute__((noinline)) ssize_t sendto_slow(int fd, const void *buf, size_t n, int flags,
						     const struct sockaddr *sa, socklen_t len,
						     struct fl_conn *c)
{
	if (!c)
		c = fl_fdtab_lookup(fd);
	int b;
	if (c && (b = fl_io_before(c, FL_OP_SEND, fd, flags)) != 0)
		return b < 0 ? fl_io_refused(fd)
			     : fl_cx_after(c, fl_real.sendto(fd, buf, fl_cx_len(n), flags, sa, len),
					   (void *)buf, n);
	ssize_t r = fl_real.sendto(fd, buf, n, flags, sa, len);
	return c ? fl_io_after(c, r) : r;
}

static __attribute__((noinline)) ssize_t sendto_shaped(int fd, const void *buf, size_t n, int flags,
						       const struct sockaddr *sa, socklen_t len,
						       struct fl_conn *c)
{
	uint64_t now, have;
	if (!fl_io_shaped(c, FL_OP_SEND) || (have = fl_cx_budget(c, &now)) == 0)
		return sendto_slow(fd, buf, n, flags, sa, len, c);
	fl_io_count(c, FL_OP_SEND);
	return fl_cx_shaped(c, fl_real.sendto(fd, buf, n < have ? n : have, flags, sa, len), FL_OP_SEND, now);
}

static __attribute__((noinline)) ssize_t sendto_watched(int fd, const void *buf, size_t n, int flags,
							const struct sockaddr *sa, socklen_t len,
							struct fl_conn *c)
{
	if (FL_LIKELY(fl_io_quick(c, FL_OP_SEND)))
		return fl_io_after(c, fl_real.sendto(fd, buf, n, flags, sa, len));
	if (fl_io_shaped_op(c, FL_OP_SEND))
		return sendto_shaped(fd, buf, n, flags, sa, len, c);
	return sendto_slow(fd, buf, n, flags, sa, len, c);
}

FL_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *sa,
			 socklen_t len)
{
	struct fl_conn *c;
	if (fl_fd_io_passes(fd, &c))
		return fl_real.sendto(fd, buf, n, flags, sa, len);
	return c ? sendto_watched(fd, buf, n, flags, sa, len, c)
		 : sendto_slow(fd, buf, n, flags, sa, len, NULL);
}

static __attribute__((noinline)) ssize_t sendmsg_slow(int fd, const struct msghdr *msg, int flags,
						      struct fl_conn *c)
{
	if (!c)
		c = fl_fdtab_lookup(fd);
	int b;
	if (c && (b = fl_io_before(c, FL_OP_SEND, fd, flags)) != 0)
		return b < 0 ? fl_io_refused(fd)
			     : fl_cx_io(c, fd, (struct msghdr *)msg, flags, FL_CX_SENDMSG);
	ssize_t r = fl_real.sendmsg(fd, msg, flags);
	return c ? fl_io_after(c, r) : r;
}

static __attribute__((noinline)) ssize_t sendmsg_watched(int fd, const struct msghdr *msg, int flags,
							 struct fl_conn *c)
{
	if (FL_LIKELY(fl_io_quick(c, FL_OP_SEND)))
		return fl_io_after(c, fl_real.sendmsg(fd, msg, flags));
	return sendmsg_slow(fd, msg, flags, c);
}

FL_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct fl_conn *c;
	if (fl_fd_io_passes(fd, &c))
		return fl_real.sendmsg(fd, msg, flags);
	return c ? sendmsg_watched(fd, msg, flags, c) : sendmsg_slow(fd, msg, flags, NULL);
}

static __attribute__((noinline)) int sendmmsg_slow(int fd, struct mmsghdr *vec, unsigned int n, int flags,
						   struct fl_conn *c)
{
	if (!c)
		c = fl_fdtab_lookup(fd);
	int b;
	if (c && (b = fl_io_before(c, FL_OP_SEND, fd, flags)) != 0)
		return b < 0 ? fl_io_refused(fd) : fl_cx_mmsg(c, fd, vec, n, flags, FL_CX_SENDMSG);
	int r = fl_real.sendmmsg(fd, vec, n, flags);
	return c ? (int)fl_io_after(c, r) : r;
}

static __attribute__((noinline)) int sendmmsg_watched(int fd, struct mmsghdr *vec, unsigned int n, int flags,
						      struct fl_conn *c)
{
	if (FL_LIKELY(fl_io_quick(c, FL_OP_SEND)))
		return (int)fl_io_after(c, fl_real.sendmmsg(fd, vec, n, flags));
	return sendmmsg_slow(fd, vec, n, flags, c);
}

FL_EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int n, int flags)
{
	struct fl_conn *c;
	if (fl_fd_io_passes(fd, &c))
		return fl_real.sendmmsg(fd, vec, n, flags);
	return c ? sendmmsg_watched(fd, vec, n, flags, c) : sendmmsg_slow(fd, vec, n, flags, NULL);
}

static __attribute__((noinline)) ssize_t recv_slow(int fd, void *buf, size_t n, int flags, struct fl_conn *c)
{
	if (!c)
		c = fl_fdtab_lookup(fd);
	int b;
	if (c && (b = fl_io_before(c, FL_OP_RECV, fd, flags)) != 0)
		return b < 0 ? fl_io_refused(fd)
			     : fl_cx_after(c, fl_real.recv(fd, buf, fl_cx_len(n), flags), buf, n);
	ssize_t r = fl_real.recv(fd, buf, n, flags);
	return c ? fl_io_after(c, r) : r;
}

static __attribute__((noinline)) ssize_t recv_shaped(int fd, void *buf, size_t n, int flags,
						     struct fl_conn *c)
{
	uint64_t now, have;
	if (!fl_io_shaped(c, FL_OP_RECV) || (have = fl_cx_budget(c, &now)) == 0)
		return recv_slow(fd, buf, n, flags, c);
	fl_io_count(c, FL_OP_RECV);
	return fl_cx_shaped(c, fl_real.recv(fd, buf, n < have ? n : have, flags), FL_OP_RECV, now);
}

static __attribute__((noinline)) ssize_t recv_watched(int fd, void *buf, size_t n, int flags,
						      struct fl_conn *c)
{
	if (FL_LIKELY(fl_io_quick(c, FL_OP_RECV)))
		return fl_io_after(c, fl_real.recv(fd, buf, n, flags));
	if (fl_io_shaped_op(c, FL_OP_RECV))
		return recv_shaped(fd, buf, n, flags, c);
	return recv_slow(fd, buf, n, flags, c);
}

FL_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	struct fl_conn *c;
	if (fl_fd_io_passes(fd, &c))
		return fl_real.recv(fd, buf, n, flags);
	return c ? recv_watched(fd, buf, n, flags, c) : recv_slow(fd, buf, n, flags, NULL);
}

static __attribute__((noinline)) ssize_t recvfrom_slow(int fd, void *buf, size_t n, int flags,
						       struct sockaddr *sa, socklen_t *len, struct fl_conn *c)
{
	if (!c)
		c = fl_fdtab_lookup(fd);
	int b;
	if (c && (b = fl_io_before(c, FL_OP_RECV, fd, flags)) != 0)
		return b < 0
			   ? fl_io_refused(fd)
			   : fl_cx_after(c, fl_real.recvfrom(fd, buf, fl_cx_len(n), flags, sa, len), buf, n);
	ssize_t r = fl_real.recvfrom(fd, buf, n, flags, sa, len);
	return c ? fl_io_after(c, r) : r;
}

static __attribute__((noinline)) ssize_t recvfrom_shaped(int fd, void *buf, size_t n, int flags,
							 struct sockaddr *sa, socklen_t *len,
							 struct fl_conn *c)
{
	uint64_t now, have;
	if (!fl_io_shaped(c, FL_OP_RECV) || (have = fl_cx_budget(c, &now)) == 0)
		return recvfrom_slow(fd, buf, n, flags, sa, len, c);
	fl_io_count(c, FL_OP_RECV);
	return fl_cx_shaped(c, fl_real.recvfrom(fd, buf, n < have ? n : have, flags, sa, len), FL_OP_RECV,
			    now);
}

static __attribute__((noinline)) ssize_t recvfrom_watched(int fd, void *buf, size_t n, int flags,
							  struct sockaddr *sa, socklen_t *len,
							  struct fl_conn *c)
{
	if (FL_LIKELY(fl_io_quick(c, FL_OP_RECV)))
		return fl_io_after(c, fl_real.recvfrom(fd, buf, n, flags, sa, len));
	if (fl_io_shaped_op(c, FL_OP_RECV))
		return recvfrom_shaped(fd, buf, n, flags, sa, len, c);
	return recvfrom_slow(fd, buf, n, flags, sa, len, c);
}

FL_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *sa, socklen_t *len)
{
	struct fl_conn *c;
	if (fl_fd_io_passes(fd, &c))
		return fl_real.recvfrom(fd, buf, n, flags, sa, len);
	return c ? recvfrom_watched(fd, buf, n, flags, sa, len, c)
		 : recvfrom_slow(fd, buf, n, flags, sa, len, NULL);
}

static __attribute__((noinline)) ssize_t recvmsg_slow(int fd, struct msghdr *msg, int flags,
						      struct fl_conn *c)
{
	if (!c)
		c = fl_fdtab_lookup(fd);
	int b;
	if (c && (b = fl_io_before(c, FL_OP_RECV, fd, flags)) != 0)
		return b < 0 ? fl_io_refused(fd) : fl_cx_io(c, fd, msg, flags, FL_CX_RECVMSG);
	ssize_t r = fl_real.recvmsg(fd, msg, flags);
	return c ? fl_io_after(c, r) : r;
}

static __attribute__((noinline)) ssize_t recvmsg_watched(int fd, struct msghdr *msg, int flags,
							 struct fl_conn *c)
{
	if (FL_LIKELY(fl_io_quick(c, FL_OP_RECV)))
		return fl_io_after(c, fl_real.recvmsg(fd, msg, flags));
	return recvmsg_slow(fd, msg, flags, c);
}

FL_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct fl_conn *c;
	if (fl_fd_io_passes(fd, &c))
		return fl_real.recvmsg(fd, msg, flags);
	return c ? recvmsg_watched(fd, msg, flags, c) : recvmsg_slow(fd, msg, flags, NULL);
}

static __attribute__((noinline)) int recvmmsg_slow(int fd, struct mmsghdr *vec, unsigned int n, int flags,
						   struct timespec *timeout, struct fl_conn *c)
{
	if (!c)
		c = fl_fdtab_lookup(fd);
	int b;
	if (c && (b = fl_io_before(c, FL_OP_RECV, fd, flags)) != 0)
		return b < 0 ? fl_io_refused(fd) : fl_cx_mmsg(c, fd, vec, n, flags, FL_CX_RECVMSG);
	int r = fl_real.recvmmsg(fd, vec, n, flags, timeout);
	return c ? (int)fl_io_after(c, r) : r;
}

static __attribute__((noinline)) int recvmmsg_watched(int fd, struct mmsghdr *vec, unsigned int n, int flags,
						      struct timespec *timeout, struct fl_conn *c)
{
	if (FL_LIKELY(fl_io_quick(c, FL_OP_RECV)))
		return (int)fl_io_after(c, fl_real.recvmmsg(fd, vec, n, flags, timeout));
	return recvmmsg_slow(fd, vec, n, flags, timeout, c);
}

FL_EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned int n, int flags, struct timespec *timeout)
{
	struct fl_conn *c;
	if (fl_fd_io_passes(fd, &c))
		return fl_real.recvmmsg(fd, vec, n, flags, timeout);
	return c ? recvmmsg_watched(fd, vec, n, flags, timeout, c)
		 : recvmmsg_slow(fd, vec, n, flags, timeout, NULL);
}

static __attribute__((noinline)) ssize_t recv_chk_slow(int fd, void *buf, size_t n, size_t buflen, int flags,
						       struct fl_conn *c)
{
	if (!c)
		c = fl_fdtab_lookup(fd);
	int b;
	if (c && (b = fl_io_before(c, FL_OP_RECV, fd, flags)) != 0)
		return b < 0	    ? fl_io_refused(fd)
		       : n > buflen ? fl_real.recv_chk(fd, buf, n, buflen, flags)
				    : fl_cx_after(c, fl_real.recv(fd, buf, fl_cx_len(n), flags), buf, n);
	ssize_t r = fl_real.recv_chk(fd, buf, n, buflen, flags);
	return c ? fl_io_after(c, r) : r;
}

static __attribute__((noinline)) ssize_t recv_chk_watched(int fd, void *buf, size_t n, size_t buflen,
							  int flags, struct fl_conn *c)
{
	if (FL_LIKELY(fl_io_quick(c, FL_OP_RECV)))
		return fl_io_after(c, fl_real.recv_chk(fd, buf, n, buflen, flags));
	return recv_chk_slow(fd, buf, n, buflen, flags, c);
}

FL_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	struct fl_conn *c;
	if (fl_fd_io_passes(fd, &c))
		return fl_real.recv_chk(fd, buf, n, buflen, flags);
	return c ? recv_chk_watched(fd, buf, n, buflen, flags, c)
		 : recv_chk_slow(fd, buf, n, buflen, flags, NULL);
}

static __attribute__((noinline)) ssize_t recvfrom_chk_slow(int fd, void *buf, size_t n, size_t buflen,
							   int flags, struct sockaddr *sa, socklen_t *len,
							   struct fl_conn *c)
{
	if (!c)
		c = fl_fdtab_lookup(fd);
	int b;
	if (c && (b = fl_io_before(c, FL_OP_RECV, fd, flags)) != 0)
		return b < 0 ? fl_io_refused(fd)
		       : n > buflen
			   ? fl_real.recvfrom_chk(fd, buf, n, buflen, flags, sa, len)
			   : fl_cx_after(c, fl_real.recvfrom(fd, buf, fl_cx_len(n), flags, sa, len), buf, n);
	ssize_t r = fl_real.recvfrom_chk(fd, buf, n, buflen, flags, sa, len);
	return c ? fl_io_after(c, r) : r;
}

static __attribute__((noinline)) ssize_t recvfrom_chk_watched(int fd, void *buf, size_t n, size_t buflen,
							      int flags, struct sockaddr *sa, socklen_t *len,
							      struct fl_conn *c)
{
	if (FL_LIKELY(fl_io_quick(c, FL_OP_RECV)))
		return fl_io_after(c, fl_real.recvfrom_chk(fd, buf, n, buflen, flags, sa, len));
	return recvfrom_chk_slow(fd, buf, n, buflen, flags, sa, len, c);
}

FL_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags, struct sockaddr *sa,
				 socklen_t *len)
{
	struct fl_conn *c;
	if (fl_fd_io_passes(fd, &c))
		return fl_real.recvfrom_chk(fd, buf, n, buflen, flags, sa, len);
	return c ? recvfrom_chk_watched(fd, buf, n, buflen, flags, sa, len, c)
		 : recvfrom_chk_slow(fd, buf, n, buflen, flags, sa, len, NULL);
}
