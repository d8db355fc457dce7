/*
 * real.c - resolving the real functions; raw-syscall fallbacks until then.
 *
 * Why fallbacks and not lazy dlsym in each wrapper: dlsym may allocate and
 * may itself call functions we wrap, and a check on every call costs the
 * pass-through path. With a table that is always callable, a wrapper is
 * "look up the fd, call fl_real.x" and nothing else.
 */
#include "real.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static int raw_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	return (int)syscall(SYS_connect, fd, sa, len);
}
static ssize_t raw_send(int fd, const void *b, size_t n, int fl)
{
	return syscall(SYS_sendto, fd, b, n, fl, NULL, 0);
}
static ssize_t raw_sendto(int fd, const void *b, size_t n, int fl, const struct sockaddr *sa, socklen_t len)
{
	return syscall(SYS_sendto, fd, b, n, fl, sa, len);
}
static ssize_t raw_sendmsg(int fd, const struct msghdr *m, int fl)
{
	return syscall(SYS_sendmsg, fd, m, fl);
}
static int raw_sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int fl)
{
	return (int)syscall(SYS_sendmmsg, fd, v, n, fl);
}
static ssize_t raw_recv(int fd, void *b, size_t n, int fl)
{
	return syscall(SYS_recvfrom, fd, b, n, fl, NULL, NULL);
}
static ssize_t raw_recvfrom(int fd, void *b, size_t n, int fl, struct sockaddr *sa, socklen_t *len)
{
	return syscall(SYS_recvfrom, fd, b, n, fl, sa, len);
}
static ssize_t raw_recvmsg(int fd, struct msghdr *m, int fl)
{
	return syscall(SYS_recvmsg, fd, m, fl);
}
static int raw_recvmmsg(int fd, struct mmsghdr *v, unsigned int n, int fl, struct timespec *t)
{
	return (int)syscall(SYS_recvmmsg, fd, v, n, fl, t);
}
static ssize_t raw_write(int fd, const void *b, size_t n)
{
	return syscall(SYS_write, fd, b, n);
}
static ssize_t raw_writev(int fd, const struct iovec *v, int n)
{
	return syscall(SYS_writev, fd, v, n);
}
static ssize_t raw_read(int fd, void *b, size_t n)
{
	return syscall(SYS_read, fd, b, n);
}
static ssize_t raw_readv(int fd, const struct iovec *v, int n)
{
	return syscall(SYS_readv, fd, v, n);
}
/* The _chk variants abort on a too-small buffer, as glibc's do. */
static ssize_t raw_read_chk(int fd, void *b, size_t n, size_t blen)
{
	if (n > blen)
		abort();
	return raw_read(fd, b, n);
}
static ssize_t raw_recv_chk(int fd, void *b, size_t n, size_t blen, int fl)
{
	if (n > blen)
		abort();
	return raw_recv(fd, b, n, fl);
}
static ssize_t raw_recvfrom_chk(int fd, void *b, size_t n, size_t blen, int fl, struct sockaddr *sa,
				socklen_t *len)
{
	if (n > blen)
		abort();
	return raw_recvfrom(fd, b, n, fl, sa, len);
}
static int raw_getsockopt(int fd, int lvl, int name, void *v, socklen_t *len)
{
	return (int)syscall(SYS_getsockopt, fd, lvl, name, v, len);
}
static int raw_close(int fd)
{
	return (int)syscall(SYS_close, fd);
}
static int raw_close_range(unsigned int lo, unsigned int hi, int fl)
{
	return (int)syscall(SYS_close_range, lo, hi, fl);
}
static int raw_dup(int fd)
{
	return (int)syscall(SYS_dup, fd);
}
static int raw_dup3(int old, int new, int fl)
{
	return (int)syscall(SYS_dup3, old, new, fl);
}
/* dup2(fd, fd) must check fd and return it; dup3 would fail with EINVAL. */
static int raw_dup2(int old, int new)
{
	if (old == new)
		return syscall(SYS_fcntl, old, F_GETFD) < 0 ? -1 : new;
	return raw_dup3(old, new, 0);
}
/* Every fcntl argument fits in a pointer-sized word. */
static int raw_fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return (int)syscall(SYS_fcntl, fd, cmd, arg);
}

/* closefrom is glibc 2.34's; before it, the system call does the same. */
static void raw_closefrom(int lo)
{
	syscall(SYS_close_range, (unsigned int)lo, ~0u, 0);
}
static int raw_execve(const char *path, char *const argv[], char *const envp[])
{
	return (int)syscall(SYS_execve, path, argv, envp);
}
static int raw_execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int fl)
{
	return (int)syscall(SYS_execveat, dirfd, path, argv, envp, fl);
}

/* The readiness calls, as system calls (the kernel's sigset is 8 bytes). */
#define KSIGSET 8
static int raw_ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask)
{
	return (int)syscall(SYS_ppoll, fds, n, ts, mask, KSIGSET);
}
static int raw_poll(struct pollfd *fds, nfds_t n, int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	return raw_ppoll(fds, n, ms < 0 ? NULL : &ts, NULL);
}
static int raw_pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *ts,
		       const sigset_t *mask)
{
	struct {
		const sigset_t *mask;
		size_t size;
	} data = {mask, KSIGSET};
	return (int)syscall(SYS_pselect6, n, r, w, e, ts, mask ? &data : NULL);
}
static int raw_select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	struct timespec ts;
	if (tv) {
		ts.tv_sec = tv->tv_sec;
		ts.tv_nsec = tv->tv_usec * 1000L;
	}
	return raw_pselect(n, r, w, e, tv ? &ts : NULL, NULL);
}
static int raw_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	return (int)syscall(SYS_epoll_ctl, epfd, op, fd, ev);
}
static int raw_epoll_pwait(int epfd, struct epoll_event *ev, int max, int ms, const sigset_t *mask)
{
	return (int)syscall(SYS_epoll_pwait, epfd, ev, max, ms, mask, KSIGSET);
}
static int raw_epoll_wait(int epfd, struct epoll_event *ev, int max, int ms)
{
	return raw_epoll_pwait(epfd, ev, max, ms, NULL);
}
#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441 /* the same number on every architecture */
#endif
static int raw_epoll_pwait2(int epfd, struct epoll_event *ev, int max, const struct timespec *ts,
			    const sigset_t *mask)
{
	return (int)syscall(SYS_epoll_pwait2, epfd, ev, max, ts, mask, KSIGSET);
}

/* fclose and fork are not system calls: resolve on demand. */
static int lazy_fclose(FILE *f)
{
	fl_real_resolve();
	if (fl_real.fclose == lazy_fclose) {
		errno = ENOSYS;
		return EOF;
	}
	return fl_real.fclose(f);
}
static pid_t lazy_fork(void)
{
	fl_real_resolve();
	if (fl_real.fork == lazy_fork) {
		errno = ENOSYS;
		return -1;
	}
	return fl_real.fork();
}

static int lazy_execvpe(const char *file, char *const argv[], char *const envp[])
{
	fl_real_resolve();
	if (fl_real.execvpe == lazy_execvpe) {
		errno = ENOSYS;
		return -1;
	}
	return fl_real.execvpe(file, argv, envp);
}
static int lazy_fexecve(int fd, char *const argv[], char *const envp[])
{
	fl_real_resolve();
	if (fl_real.fexecve == lazy_fexecve)
		return raw_execveat(fd, "", argv, envp, AT_EMPTY_PATH);
	return fl_real.fexecve(fd, argv, envp);
}
static int lazy_posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
			    const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	fl_real_resolve();
	if (fl_real.posix_spawn == lazy_posix_spawn)
		return ENOSYS;
	return fl_real.posix_spawn(pid, path, fa, attr, argv, envp);
}
static int lazy_posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			     const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	fl_real_resolve();
	if (fl_real.posix_spawnp == lazy_posix_spawnp)
		return ENOSYS;
	return fl_real.posix_spawnp(pid, file, fa, attr, argv, envp);
}

struct fl_real fl_real = {
    .connect = raw_connect,
    .send = raw_send,
    .sendto = raw_sendto,
    .sendmsg = raw_sendmsg,
    .sendmmsg = raw_sendmmsg,
    .recv = raw_recv,
    .recvfrom = raw_recvfrom,
    .recvmsg = raw_recvmsg,
    .recvmmsg = raw_recvmmsg,
    .write = raw_write,
    .writev = raw_writev,
    .read = raw_read,
    .readv = raw_readv,
    .read_chk = raw_read_chk,
    .recv_chk = raw_recv_chk,
    .recvfrom_chk = raw_recvfrom_chk,
    .getsockopt = raw_getsockopt,
    .close = raw_close,
    .close_range = raw_close_range,
    .fclose = lazy_fclose,
    .dup = raw_dup,
    .dup2 = raw_dup2,
    .dup3 = raw_dup3,
    .fcntl = raw_fcntl,
    .fcntl64 = raw_fcntl,
    .fork = lazy_fork,
    .closefrom = raw_closefrom,
    .execve = raw_execve,
    .execvpe = lazy_execvpe,
    .fexecve = lazy_fexecve,
    .execveat = raw_execveat,
    .posix_spawn = lazy_posix_spawn,
    .posix_spawnp = lazy_posix_spawnp,
    .poll = raw_poll,
    .ppoll = raw_ppoll,
    .select = raw_select,
    .pselect = raw_pselect,
    .epoll_ctl = raw_epoll_ctl,
    .epoll_wait = raw_epoll_wait,
    .epoll_pwait = raw_epoll_pwait,
    .epoll_pwait2 = raw_epoll_pwait2,
};

/* Stores the symbol only if found, so a libc without it keeps the fallback. */
#define RESOLVE(field, name)                                                                                 \
	do {                                                                                                 \
		void *sym_ = dlsym(RTLD_NEXT, name);                                                         \
		if (sym_)                                                                                    \
			__atomic_store_n((void **)&fl_real.field, sym_, __ATOMIC_RELEASE);                   \
	} while (0)

void fl_real_resolve(void)
{
	int saved = errno;
	RESOLVE(connect, "connect");
	RESOLVE(send, "send");
	RESOLVE(sendto, "sendto");
	RESOLVE(sendmsg, "sendmsg");
	RESOLVE(sendmmsg, "sendmmsg");
	RESOLVE(recv, "recv");
	RESOLVE(recvfrom, "recvfrom");
	RESOLVE(recvmsg, "recvmsg");
	RESOLVE(recvmmsg, "recvmmsg");
	RESOLVE(write, "write");
	RESOLVE(writev, "writev");
	RESOLVE(read, "read");
	RESOLVE(readv, "readv");
	RESOLVE(read_chk, "__read_chk");
	RESOLVE(recv_chk, "__recv_chk");
	RESOLVE(recvfrom_chk, "__recvfrom_chk");
	RESOLVE(getsockopt, "getsockopt");
	RESOLVE(close, "close");
	RESOLVE(close_range, "close_range");
	RESOLVE(fclose, "fclose");
	RESOLVE(dup, "dup");
	RESOLVE(dup2, "dup2");
	RESOLVE(dup3, "dup3");
	RESOLVE(fcntl, "fcntl");
	RESOLVE(fcntl64, "fcntl64");
	RESOLVE(fork, "fork");
	RESOLVE(closefrom, "closefrom");
	RESOLVE(execve, "execve");
	RESOLVE(execvpe, "execvpe");
	RESOLVE(fexecve, "fexecve");
	RESOLVE(execveat, "execveat");
	RESOLVE(posix_spawn, "posix_spawn");
	RESOLVE(posix_spawnp, "posix_spawnp");
	RESOLVE(poll, "poll");
	RESOLVE(ppoll, "ppoll");
	RESOLVE(select, "select");
	RESOLVE(pselect, "pselect");
	RESOLVE(epoll_ctl, "epoll_ctl");
	RESOLVE(epoll_wait, "epoll_wait");
	RESOLVE(epoll_pwait, "epoll_pwait");
	RESOLVE(epoll_pwait2, "epoll_pwait2");
	errno = saved;
}
