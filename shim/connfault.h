/*
 * connfault.h - connection faults beyond errno and bandwidth shaping
 * (SPEC 10): max_bytes, eof, hang_ms, close_after_bytes, corrupt, a slow
 * close, and the `shape` kind.
 *
 * A connection whose statements have none of these never comes here:
 * fl_call_fault tests one mask (c->cx_ops) and goes on as before. When a
 * call's op is in it, fl_cx_call decides the faults and the shaping and
 * leaves a plan in thread-local storage (FL_PLANNED); the wrapper then
 * makes the real call through fl_cx_io, which carries the plan out: a
 * shorter length, then the bytes moved counted (close_after_bytes, the
 * shaping budget) and received bytes corrupted.
 */
#ifndef FL_CONNFAULT_H
#define FL_CONNFAULT_H

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "conn.h"
#include "rules.h"

/* At connect: which ops need this file, the shape statement and its bucket. */
void fl_cx_setup(struct fl_conn *c);

/* fl_call_fault for an op in c->cx_ops: an errno, 0, FL_DEFERRED or FL_PLANNED. */
int fl_cx_call(struct fl_conn *c, enum fl_op op, int fd, int flags);

/* How the planned real call is made. */
enum fl_cx_how {
	FL_CX_READV,   /* read, readv, __read_chk */
	FL_CX_RECVMSG, /* recv, recvfrom, recvmsg, recvmmsg, __recv_chk, __recvfrom_chk */
	FL_CX_WRITEV,  /* write, writev */
	FL_CX_SENDMSG, /* send, sendto, sendmsg, sendmmsg */
};

/* The real call with the plan of fl_cx_call (after fl_io_before returned
 * 1): msg's iov (and name, control, for the *MSG forms) is the caller's;
 * returns what the call returns, errno as it left it. */
ssize_t fl_cx_io(struct fl_conn *c, int fd, struct msghdr *msg, int flags, enum fl_cx_how how);

static inline ssize_t fl_cx_buf(struct fl_conn *c, int fd, const void *buf, size_t n, int flags,
				enum fl_cx_how how)
{
	struct iovec v = {(void *)buf, n};
	struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
	return fl_cx_io(c, fd, &m, flags, how);
}

static inline ssize_t fl_cx_vec(struct fl_conn *c, int fd, const struct iovec *iov, int n, enum fl_cx_how how)
{
	struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = n > 0 ? (size_t)n : 0};
	return fl_cx_io(c, fd, &m, 0, how);
}

/* recvfrom / sendto: the address travels in the msghdr. */
static inline ssize_t fl_cx_addr(struct fl_conn *c, int fd, const void *buf, size_t n, int flags,
				 const struct sockaddr *sa, socklen_t *len, socklen_t send_len,
				 enum fl_cx_how how)
{
	struct iovec v = {(void *)buf, n};
	struct msghdr m = {.msg_name = (void *)sa,
			   .msg_namelen = how == FL_CX_SENDMSG ? send_len : (sa && len ? *len : 0),
			   .msg_iov = &v,
			   .msg_iovlen = 1};
	if (how == FL_CX_SENDMSG && !sa)
		m.msg_namelen = 0;
	ssize_t r = fl_cx_io(c, fd, &m, flags, how);
	if (r >= 0 && how == FL_CX_RECVMSG && sa && len)
		*len = m.msg_namelen;
	return r;
}

/* sendmmsg / recvmmsg: the first message only (a short batch, as the
 * kernel may answer). */
int fl_cx_mmsg(struct fl_conn *c, int fd, struct mmsghdr *vec, unsigned int n, int flags, enum fl_cx_how how);

/* Before the real close of a watched descriptor: a slow close (on=close delay_ms). */
void fl_cx_close(struct fl_conn *c, int fd);

#endif
