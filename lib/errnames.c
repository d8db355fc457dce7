/*
 * errnames.c - errno names both ways, and which errnos each watched call can
 * really return.
 *
 * The names let rules say error=ECONNRESET and let logs and statistics print
 * it back; fl_errno_name runs on the shim's logging path, so it is a plain
 * scan of a const table (async-signal-safe, no strerror, no locale).
 *
 * The per-call lists are the libfiu idea: a fault that injects an errno the
 * real call never returns tests a code path that cannot happen in
 * production, so the parser warns about it. Each list is the man page's
 * ERRORS section plus what the kernel returns on sockets in practice
 * (ECONNRESET and ETIMEDOUT on an established TCP connection, ICMP errors
 * surfacing on the next send or recv), kept in alphabetical order so the
 * warning can print it as is.
 */
#include "errnames.h"

#include <errno.h>
#include <string.h>

#include "textbuf.h"

static const char *const errno_names[] = {
#define FL_ERRNO(e) #e,
#include "errnames.def"
#undef FL_ERRNO
    NULL,
};

static const int errno_values[] = {
#define FL_ERRNO(e) e,
#include "errnames.def"
#undef FL_ERRNO
};

#define ERRNO_COUNT (sizeof errno_values / sizeof errno_values[0])
_Static_assert(sizeof errno_names / sizeof errno_names[0] == ERRNO_COUNT + 1,
	       "errno names and values expand from one list");

static const int connect_errnos[] = {
    EACCES,	  EADDRINUSE,	EADDRNOTAVAIL, EAFNOSUPPORT, EAGAIN,	   EALREADY,	EBADF,
    ECONNABORTED, ECONNREFUSED, ECONNRESET,    EFAULT,	     EHOSTUNREACH, EINPROGRESS, EINTR,
    EINVAL,	  EISCONN,	ENETDOWN,      ENETUNREACH,  ENOBUFS,	   ENOENT,	ENOMEM,
    ENOTSOCK,	  EPERM,	EPROTOTYPE,    ETIMEDOUT,
};

static const int send_errnos[] = {
    EACCES,	  EAGAIN,   EALREADY, EBADF,	  ECONNREFUSED, ECONNRESET, EDESTADDRREQ, EFAULT,
    EHOSTUNREACH, EINTR,    EINVAL,   EISCONN,	  EMSGSIZE,	ENETDOWN,   ENETUNREACH,  ENOBUFS,
    ENOMEM,	  ENOTCONN, ENOTSOCK, EOPNOTSUPP, EPIPE,	ETIMEDOUT,
};

static const int recv_errnos[] = {
    EAGAIN, EBADF,  ECONNABORTED, ECONNREFUSED, ECONNRESET, EFAULT,   EHOSTUNREACH,
    EINTR,  EINVAL, ENETUNREACH,  ENOMEM,	ENOTCONN,   ENOTSOCK, ETIMEDOUT,
};

static const int write_errnos[] = {
    EAGAIN,	  EBADF,  ECONNREFUSED, ECONNRESET, EDESTADDRREQ, EDQUOT,    EFAULT,	  EFBIG,
    EHOSTUNREACH, EINTR,  EINVAL,	EIO,	    EMSGSIZE,	  ENETDOWN,  ENETUNREACH, ENOBUFS,
    ENOMEM,	  ENOSPC, ENOTCONN,	EPERM,	    EPIPE,	  ETIMEDOUT,
};

static const int read_errnos[] = {
    EAGAIN, EBADF, ECONNABORTED, ECONNREFUSED, ECONNRESET, EFAULT,   EHOSTUNREACH, EINTR,
    EINVAL, EIO,   EISDIR,	 ENETUNREACH,  ENOMEM,	   ENOTCONN, ETIMEDOUT,
};

struct errno_list {
	const int *values;
	size_t count;
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
static const struct errno_list op_errnos[FL_OP_COUNT] = {
    [FL_OP_CONNECT] = {connect_errnos, ARRAY_LEN(connect_errnos)},
    [FL_OP_SEND] = {send_errnos, ARRAY_LEN(send_errnos)},
    [FL_OP_RECV] = {recv_errnos, ARRAY_LEN(recv_errnos)},
    [FL_OP_WRITE] = {write_errnos, ARRAY_LEN(write_errnos)},
    [FL_OP_READ] = {read_errnos, ARRAY_LEN(read_errnos)},
};

int fl_errno_from_name(const char *name, size_t len)
{
	for (size_t i = 0; i < ERRNO_COUNT; i++)
		if (strlen(errno_names[i]) == len && memcmp(errno_names[i], name, len) == 0)
			return errno_values[i];
	return -1;
}

const char *fl_errno_name(int err)
{
	for (size_t i = 0; i < ERRNO_COUNT; i++)
		if (errno_values[i] == err)
			return errno_names[i];
	return NULL;
}

const char *const *fl_errno_names(void)
{
	return errno_names;
}

bool fl_errno_valid_for(enum fl_op op, int err)
{
	if ((unsigned)op >= FL_OP_COUNT)
		return false;
	const struct errno_list *l = &op_errnos[op];
	for (size_t i = 0; i < l->count; i++)
		if (l->values[i] == err)
			return true;
	return false;
}

size_t fl_errno_valid_list(enum fl_op op, char *buf, size_t size)
{
	struct fl_textbuf b;
	fl_tb_init(&b, buf, size);
	if ((unsigned)op >= FL_OP_COUNT)
		return 0;
	const struct errno_list *l = &op_errnos[op];
	for (size_t i = 0; i < l->count; i++) {
		if (i > 0)
			fl_tb_puts(&b, ", ");
		fl_tb_puts(&b, fl_errno_name(l->values[i]));
	}
	return b.len < size ? b.len : (size > 0 ? size - 1 : 0);
}
