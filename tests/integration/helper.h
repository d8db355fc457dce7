/*
 * helper.h - what the integration helpers share: loopback sockets, errno
 * names, timing and a terse way to report checks.
 *
 * The helpers are ordinary programs run under the shim. Each check prints
 * "ok NAME" or "FAIL NAME: why" and a failed check makes the program exit 1,
 * so the shell test that ran it fails with the reason in its output.
 */
#ifndef FL_TEST_HELPER_H
#define FL_TEST_HELPER_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Not every helper uses every function. */
#define HELPER static inline __attribute__((unused))

static int helper_failures __attribute__((unused));

HELPER void ok(const char *name)
{
	printf("ok %s\n", name);
	fflush(stdout);
}

HELPER void __attribute__((format(printf, 2, 3))) bad(const char *name, const char *fmt, ...)
{
	va_list ap;
	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	helper_failures++;
}

/* Stops at once: the rest of the program depends on this step. */
HELPER void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	printf("FAIL setup: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" (errno %s)\n", strerrorname_np(saved) ? strerrorname_np(saved) : "?");
	fflush(stdout);
	exit(1);
}

HELPER const char *ename(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "E?";
}

/* "ECONNRESET" -> ECONNRESET, through libc's own names. */
HELPER int errno_from_name(const char *name)
{
	for (int e = 1; e < 4096; e++) {
		const char *n = strerrorname_np(e);
		if (n && strcmp(n, name) == 0)
			return e;
	}
	die("unknown errno name '%s'", name);
}

HELPER int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

HELPER int port_arg(const char *s)
{
	int p = atoi(s);
	if (p <= 0 || p > 65535)
		die("bad port '%s'", s);
	return p;
}

HELPER struct sockaddr_in loopback(int port)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

/* A listening socket on 127.0.0.1:port. Listening sockets are never
 * watched: only connect() makes a socket watched. */
HELPER int listen_on(int port)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	struct sockaddr_in a = loopback(port);
	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 64) < 0)
		die("cannot listen on 127.0.0.1:%d", port);
	return s;
}

/* A client connected to 127.0.0.1:port (must not be failed by the rules). */
HELPER int connect_to(int port)
{
	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = loopback(port);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("cannot connect to 127.0.0.1:%d", port);
	return c;
}

HELPER int accept_one(int listener)
{
	int s = accept(listener, NULL, NULL);
	if (s < 0)
		die("accept");
	return s;
}

#endif
