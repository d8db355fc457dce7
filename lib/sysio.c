/*
 * sysio.c - see sysio.h.
 *
 * Only system calls the shim does not wrap could go through libc safely,
 * and which ones it wraps changes as it grows; so every helper here is a
 * raw syscall, and nothing internal needs to know the export list.
 */
#include "sysio.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

int fl_sys_open(const char *path, int flags, mode_t mode)
{
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags | O_CLOEXEC, mode);
}

int fl_sys_open_nofollow(const char *path, int flags, mode_t mode)
{
	return fl_sys_open(path, flags | O_NOFOLLOW, mode);
}

int fl_sys_close(int fd)
{
	return (int)syscall(SYS_close, fd);
}

ssize_t fl_sys_read(int fd, void *buf, size_t size)
{
	ssize_t n;
	do
		n = syscall(SYS_read, fd, buf, size);
	while (n < 0 && errno == EINTR);
	return n;
}

int fl_sys_fstat(int fd, struct stat *st)
{
	return (int)syscall(SYS_fstat, fd, st);
}

int fl_sys_fcntl(int fd, int cmd, void *arg)
{
	return (int)syscall(SYS_fcntl, fd, cmd, arg);
}

ssize_t fl_sys_read_file(const char *path, char *buf, size_t size)
{
	if (size == 0) {
		errno = EINVAL;
		return -1;
	}
	int fd = fl_sys_open_nofollow(path, O_RDONLY, 0);
	if (fd < 0)
		return -1;
	size_t len = 0;
	ssize_t n = 0;
	while (len < size - 1 && (n = fl_sys_read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	int saved = errno;
	fl_sys_close(fd);
	buf[len] = '\0';
	if (n < 0 && len == 0) {
		errno = saved;
		return -1;
	}
	return (ssize_t)len;
}

int fl_sys_move_high(int fd, int at)
{
	int moved = fl_sys_fcntl(fd, F_DUPFD_CLOEXEC, (void *)(long)at);
	if (moved < 0 && fd < 3)
		moved = fl_sys_fcntl(fd, F_DUPFD_CLOEXEC, (void *)3L);
	if (moved < 0)
		return fd;
	fl_sys_close(fd);
	return moved;
}
