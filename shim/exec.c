/*
 * exec.c - the exec family and posix_spawn: what a watched connection
 * becomes when the program is replaced.
 *
 * Two things happen just before the real exec:
 *
 *  - Close-on-exec descriptors are emptied from the table, and a connection
 *    left with no descriptor that survives exec gives back its bulkhead
 *    share. The socket is gone once exec succeeds, and the new program may
 *    not have the shim (or no rules) to give the share back for it, so the
 *    slot must follow the socket now. Descriptors that survive exec keep
 *    their share, which the new image takes back (handoff.c).
 *
 *  - The new program is told which inherited sockets this process tree
 *    connected: an internal environment variable lists their socket inodes
 *    (device:inode, which name one socket for as long as it exists,
 *    whatever descriptor numbers it ends up on). After exec only those are
 *    adopted (init.c), so a server handing accepted connections to a child
 *    (inetd style) does not have them taken for outgoing ones. The list is
 *    exact, where guessing from addresses (is the local address one
 *    somebody listens on?) is not.
 *
 * glibc's execvp, execl and friends call its internal execve, which no
 * preload sees, so each is wrapped and calls its real counterpart with the
 * rewritten environment. In a vfork child (our memory is the parent's) the
 * table and the shares are left alone: only the list is built, on the
 * stack. If exec fails the program still has its sockets: the emptied
 * descriptors are put back, and a share that was given back is taken again
 * if a slot is free right now (never waiting: exec's caller did not ask to
 * wait); otherwise that connection stays watched without a slot.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "conn.h"
#include "domain.h"
#include "handoff.h"
#include "evsum.h"
#include "fdtab.h"
#include "real.h"
#include "shim.h"

extern char **environ;

#define EXEC_SAVED_MAX 64u   /* emptied close-on-exec descriptors put back if exec fails */
#define ENV_SCAN_MAX   4096u /* larger environments are passed on untouched */
#define LIST_TEXT      (sizeof(FL_EXEC_SOCKETS_VAR) + FL_EXEC_SOCKETS_MAX * 34u)

struct exec_state {
	bool touched; /* our own memory: the table was changed */
	uint32_t nsaved;
	struct {
		int fd;
		bool released;
		struct fl_conn *c;
	} saved[EXEC_SAVED_MAX];
	uint32_t nsocks;
	struct {
		uint64_t dev, ino;
	} socks[FL_EXEC_SOCKETS_MAX];
	char text[LIST_TEXT];
};

static void empty_cloexec(int fd, struct fl_conn *c, void *arg)
{
	struct exec_state *st = arg;
	long flags = syscall(SYS_fcntl, fd, F_GETFD);
	if (flags < 0 || !(flags & FD_CLOEXEC))
		return;
	struct fl_conn *got = fl_fdtab_exchange(fd, NULL);
	(void)c;
	if (!got)
		return;
	if (st->nsaved < EXEC_SAVED_MAX) {
		st->saved[st->nsaved].fd = fd;
		st->saved[st->nsaved].c = got;
		st->saved[st->nsaved].released = false;
		st->nsaved++;
	} else {
		fl_conn_unref(got);
	}
}

/* Gives back the share of each emptied connection that no surviving
 * descriptor refers to (every one of its references is in saved). */
static void release_gone(struct exec_state *st)
{
	for (uint32_t i = 0; i < st->nsaved; i++) {
		struct fl_conn *c = st->saved[i].c;
		uint32_t mine = 0;
		for (uint32_t j = 0; j < st->nsaved; j++)
			mine += st->saved[j].c == c;
		if (!c->has_slot || mine != __atomic_load_n(&c->refs, __ATOMIC_ACQUIRE))
			continue;
		fl_bulkhead_release(&fl_domain.seg, c->bulkhead, c->holder);
		__atomic_fetch_sub(&fl_domain.slot_conns, 1, __ATOMIC_RELAXED);
		c->has_slot = 0;
		c->holder = FL_HOLDER_NONE;
		st->saved[i].released = true;
	}
}

static void list_socket(int fd, struct fl_conn *c, void *arg)
{
	struct exec_state *st = arg;
	struct stat sb;
	(void)c;
	if (st->nsocks >= FL_EXEC_SOCKETS_MAX || fstat(fd, &sb) < 0 || !S_ISSOCK(sb.st_mode))
		return;
	for (uint32_t i = 0; i < st->nsocks; i++)
		if (st->socks[i].dev == sb.st_dev && st->socks[i].ino == sb.st_ino)
			return;
	st->socks[st->nsocks].dev = sb.st_dev;
	st->socks[st->nsocks].ino = sb.st_ino;
	st->nsocks++;
}

static char *put_hex(char *p, uint64_t v)
{
	char tmp[16];
	int n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* "FAULTLINE_EXEC_SOCKETS=dev:ino,dev:ino" into st->text. */
static void format_list(struct exec_state *st)
{
	char *p = st->text;
	memcpy(p, FL_EXEC_SOCKETS_VAR "=", sizeof(FL_EXEC_SOCKETS_VAR));
	p += sizeof(FL_EXEC_SOCKETS_VAR);
	for (uint32_t i = 0; i < st->nsocks; i++) {
		if (i)
			*p++ = ',';
		p = put_hex(p, st->socks[i].dev);
		*p++ = ':';
		p = put_hex(p, st->socks[i].ino);
	}
	*p = '\0';
}

/* Everything before the real call. exec: also empties close-on-exec slots. */
static void prepare(struct exec_state *st, bool is_exec)
{
	st->touched = false;
	st->nsaved = 0;
	st->nsocks = 0;
	if (!__atomic_load_n(&fl_state.active, __ATOMIC_ACQUIRE))
		return;
	int saved = errno;
	if (is_exec && !fl_foreign_child()) {
		st->touched = true;
		fl_evsum_flush(); /* the new image starts its counts afresh */
		fl_fdtab_each(empty_cloexec, st);
		if (fl_domain.attached && !__atomic_load_n(&fl_domain.detached, __ATOMIC_ACQUIRE))
			release_gone(st);
	}
	fl_fdtab_each(list_socket, st);
	if (st->nsocks)
		format_list(st);
	errno = saved;
}

/* exec failed: the program still has its sockets. */
static void restore(struct exec_state *st)
{
	if (!st->touched)
		return;
	int saved = errno;
	for (uint32_t i = 0; i < st->nsaved; i++) {
		struct fl_conn *c = st->saved[i].c;
		if (st->saved[i].released && c->bulkhead) {
			uint32_t holder = FL_HOLDER_NONE;
			if (fl_bulkhead_try(&fl_domain.seg, c->bulkhead, fl_domain.proc, &holder) ==
			    FL_BULKHEAD_ACQUIRED) {
				c->holder = holder;
				c->has_slot = 1;
				__atomic_fetch_add(&fl_domain.slot_conns, 1, __ATOMIC_RELAXED);
				__atomic_store_n(&fl_domain.held_slots, true, __ATOMIC_RELEASE);
			}
		}
		struct fl_conn *old = fl_fdtab_exchange(st->saved[i].fd, c);
		if (old == FL_FDTAB_FAILED)
			fl_conn_unref(c);
		else if (old)
			fl_conn_unref(old);
	}
	errno = saved;
}

/*
 * Calls fn with envp, or with a copy of it (on this stack) where the list
 * replaces any earlier one. Too large an environment is passed on as it is:
 * the new program then adopts nothing.
 */
#define WITH_ENV(st, envp, call)                                                                             \
	do {                                                                                                 \
		char *const *env_ = (envp);                                                                  \
		size_t n_ = 0;                                                                               \
		if ((st)->nsocks)                                                                            \
			while (env_ && env_[n_] && n_ <= ENV_SCAN_MAX)                                       \
				n_++;                                                                        \
		if (!(st)->nsocks || n_ > ENV_SCAN_MAX) {                                                    \
			char *const *ENVP = env_;                                                            \
			call;                                                                                \
		} else {                                                                                     \
			char *copy_[n_ + 2];                                                                 \
			size_t k_ = 0;                                                                       \
			for (size_t i_ = 0; i_ < n_; i_++)                                                   \
				if (strncmp(env_[i_], FL_EXEC_SOCKETS_VAR "=",                               \
					    sizeof(FL_EXEC_SOCKETS_VAR)) != 0)                               \
					copy_[k_++] = env_[i_];                                              \
			copy_[k_++] = (st)->text;                                                            \
			copy_[k_] = NULL;                                                                    \
			char *const *ENVP = copy_;                                                           \
			call;                                                                                \
		}                                                                                            \
	} while (0)

FL_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	struct exec_state st;
	prepare(&st, true);
	int r;
	WITH_ENV(&st, envp, r = fl_real.execve(path, argv, ENVP));
	restore(&st);
	return r;
}

FL_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	struct exec_state st;
	prepare(&st, true);
	int r;
	WITH_ENV(&st, envp, r = fl_real.execvpe(file, argv, ENVP));
	restore(&st);
	return r;
}

FL_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	struct exec_state st;
	prepare(&st, true);
	int r;
	WITH_ENV(&st, envp, r = fl_real.fexecve(fd, argv, ENVP));
	restore(&st);
	return r;
}

FL_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
	struct exec_state st;
	prepare(&st, true);
	int r;
	WITH_ENV(&st, envp, r = fl_real.execveat(dirfd, path, argv, ENVP, flags));
	restore(&st);
	return r;
}

FL_EXPORT int execv(const char *path, char *const argv[])
{
	return execve(path, argv, environ);
}

FL_EXPORT int execvp(const char *file, char *const argv[])
{
	return execvpe(file, argv, environ);
}

/* execl*: the arguments up to the NULL, as an argv on this stack. */
static size_t count_args(const char *arg, va_list ap)
{
	size_t n = 0;
	for (const char *a = arg; a; a = va_arg(ap, const char *))
		n++;
	return n;
}

/* Leaves ap just past the terminating NULL (execle's envp follows). */
#define ARGV_FROM_VA(argv, arg, last)                                                                        \
	va_list ap;                                                                                          \
	va_start(ap, arg);                                                                                   \
	size_t argc_ = count_args(arg, ap);                                                                  \
	va_end(ap);                                                                                          \
	char *argv[argc_ + 1];                                                                               \
	va_start(ap, arg);                                                                                   \
	if (argc_) {                                                                                         \
		argv[0] = (char *)(arg);                                                                     \
		for (size_t i_ = 1; i_ < argc_; i_++)                                                        \
			argv[i_] = va_arg(ap, char *);                                                       \
		(void)va_arg(ap, char *);                                                                    \
	}                                                                                                    \
	argv[argc_] = NULL;                                                                                  \
	last;                                                                                                \
	va_end(ap)

FL_EXPORT int execl(const char *path, const char *arg, ...)
{
	ARGV_FROM_VA(argv, arg, (void)0);
	return execve(path, argv, environ);
}

FL_EXPORT int execlp(const char *file, const char *arg, ...)
{
	ARGV_FROM_VA(argv, arg, (void)0);
	return execvpe(file, argv, environ);
}

FL_EXPORT int execle(const char *path, const char *arg, ...)
{
	char *const *envp;
	ARGV_FROM_VA(argv, arg, envp = va_arg(ap, char *const *));
	return execve(path, argv, envp);
}

FL_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
			  const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	struct exec_state st;
	prepare(&st, false);
	int r;
	WITH_ENV(&st, envp, r = fl_real.posix_spawn(pid, path, fa, attr, argv, ENVP));
	return r;
}

FL_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			   const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	struct exec_state st;
	prepare(&st, false);
	int r;
	WITH_ENV(&st, envp, r = fl_real.posix_spawnp(pid, file, fa, attr, argv, ENVP));
	return r;
}
