/*
 * fortify.h - glibc's fortified entry points (_FORTIFY_SOURCE), which no
 * public header declares: a program built with fortification calls these
 * instead of read, recv, recvfrom, poll and ppoll, so the shim wraps them
 * too. Declared here so each wrapper has a prototype the compiler checks.
 */
#ifndef FL_FORTIFY_H
#define FL_FORTIFY_H

#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags, struct sockaddr *from,
		       socklen_t *fromlen);
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);
int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask, size_t fdslen);

#endif
