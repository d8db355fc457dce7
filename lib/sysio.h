/*
 * sysio.h - the shim's own I/O, made with raw system calls.
 *
 * lib/ is linked into libfaultline.so, which exports read, close, fcntl,
 * fclose... A call to read() from lib/ code inside the shim resolves to
 * the shim's own wrapper, so a descriptor number that the program had
 * watched (a matched socket, or a stale entry left by a raw close) would
 * turn the shim's read of /proc into an injected fault, counted in the
 * program's statistics. Every internal open, read, close and fcntl goes
 * through here instead: syscall(2) reaches the kernel directly, whatever
 * the program or the shim interposes. errno is set as by libc.
 */
#ifndef FL_SYSIO_H
#define FL_SYSIO_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* open(2) relative to the working directory; always O_CLOEXEC. */
int fl_sys_open(const char *path, int flags, mode_t mode);

/* The same, refusing a symbolic link as the last component (ELOOP). */
int fl_sys_open_nofollow(const char *path, int flags, mode_t mode);

int fl_sys_close(int fd);

/* read(2), retried on EINTR. */
ssize_t fl_sys_read(int fd, void *buf, size_t size);

int fl_sys_fstat(int fd, struct stat *st);

/* fcntl(2) with an integer or pointer argument (locks, F_DUPFD_CLOEXEC). */
int fl_sys_fcntl(int fd, int cmd, void *arg);

/*
 * Reads up to size - 1 bytes of a small file (/proc/PID/stat,
 * /proc/self/cmdline) and NUL-terminates them; returns the number of
 * bytes read, or -1 with errno set. Does not follow a final symlink.
 */
ssize_t fl_sys_read_file(const char *path, char *buf, size_t size);

/*
 * Moves fd to the lowest free number at or above `at` (close-on-exec),
 * closing the original; falls back to any number at or above 3, then to
 * fd itself. A descriptor the shim keeps must not take the low number a
 * program expects its next open() to return.
 */
int fl_sys_move_high(int fd, int at);

#endif
